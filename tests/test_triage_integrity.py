"""What an outside test broke in the triage's inputs: zero-hour repairs (Infinity in JSON), progress from crews a
case is not assigned to, a report id reused by another account, and numbers of hundreds of digits."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import api_client, create_accounts, make_app

ACCOUNTS = {"ti_crew": "crew", "ti_other": "crew", "ti_coord": "coordinator"}


def strict(text: str):
    """Parse JSON as a strict parser does: NaN, Infinity and -Infinity are not JSON."""
    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def grid(new_database):
    """Two substations of their own, a crew, another crew and a coordinator."""
    url = new_database()
    app = make_app(url)
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, 'substation', "
                            "ST_Point(%s, 48, 4326)) RETURNING id", (f"ti{i}", f"Sub {i}", 30 + i)).fetchone()[0]
               for i in range(3)]
    tokens = create_accounts(app, ACCOUNTS)
    yield app, tokens, ids, url
    app.extensions["db_pool"].close()


def send(app, token, **fields):
    body = {"id": str(uuid.uuid4()), "lon": 30, "lat": 48, "kind": "substation", "severity": "moderate",
            "status": "out_of_service", "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            **fields}
    return api_client(app, token).post("/api/reports", json=body)


def status(url, case_id):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT status::text FROM damage_case WHERE id = %s", (case_id,)).fetchone()[0]


@pytest.mark.parametrize("hours", [0, 5e-324, 0.1, -1])
def test_a_crew_estimate_below_the_minimum_repair_is_refused_naming_the_field(grid, hours):
    app, tokens, ids, _ = grid
    refused = send(app, tokens["ti_crew"], facility_id=ids[0], repair_hours=hours)
    assert refused.status_code == 422 and "repair_hours" in refused.json["errors"]


@pytest.mark.parametrize("field", ["lon", "lat", "accuracy_m", "repair_hours", "crew_size"])
def test_a_number_of_401_digits_is_a_422_not_a_500(grid, field):
    app, tokens, ids, _ = grid
    body = json.dumps({"id": str(uuid.uuid4()), "lon": 30, "lat": 48, "kind": "substation", "severity": "moderate",
                       "status": "out_of_service", "observed_at": datetime.now(UTC).isoformat(), field: 0})
    body = body.replace(f'"{field}": 0', f'"{field}": {"9" * 401}')
    response = api_client(app, tokens["ti_crew"]).post("/api/reports", data=body, content_type="application/json")
    assert response.status_code == 422 and field in response.json["errors"]


def test_a_zero_hour_repair_in_the_database_never_makes_the_triage_answer_infinity(grid):
    app, tokens, ids, url = grid
    case_id = send(app, tokens["ti_crew"], facility_id=ids[1], repair_hours=6).json["report"]["case_id"]
    coord = api_client(app, tokens["ti_coord"])
    refused = coord.post(f"/api/cases/{case_id}/actions", json={"action": "override_hours", "hours": 0,
                                                                 "reason": "free"})
    assert refused.status_code == 422 and "hours" in refused.json["errors"]
    with psycopg.connect(url, autocommit=True) as conn:  # a row from before the minimum (reports are append-only)
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE report SET repair_hours = 0 WHERE case_id = %s", (case_id,))
    response = coord.get("/api/triage")
    body = strict(response.get_data(as_text=True))
    (row,) = [r for r in body["queue"] if r["case_id"] == case_id]
    assert row["repair_hours"] == 0.25 and row["ratio"] is not None
    assert strict(coord.get("/api/plan?crews=2").get_data(as_text=True))["etr_by_case"][str(case_id)] > 0


def test_the_app_never_writes_nan_or_infinity_into_json(grid):
    app = grid[0]
    with app.app_context():
        text = app.json.dumps({"ratio": float("inf"), "rows": [float("nan"), 1.5], "nested": {"x": -float("inf")}})
    assert strict(text) == {"ratio": None, "rows": [None, 1.5], "nested": {"x": None}}


def test_an_implausible_estimate_is_flagged_on_the_queue_and_the_case_page_until_accepted(grid):
    app, tokens, ids, _ = grid
    case_id = send(app, tokens["ti_crew"], facility_id=ids[2], repair_hours=0.5).json["report"]["case_id"]
    coord = api_client(app, tokens["ti_coord"])

    def row():
        (found,) = [r for r in coord.get("/api/triage").json["queue"] if r["case_id"] == case_id]
        return found

    flagged = row()
    assert flagged["repair_hours"] == 0.5 and flagged["repair_hours_source"] == "crew estimate"
    assert "far below the plausible 3–48 h for a moderate substation" in flagged["repair_hours_flag"]
    login = app.test_client()
    login.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['ti_coord']}"
    page = login.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="hours-flag"' in page and 'id="form-accept_hours"' in page
    assert coord.post(f"/api/cases/{case_id}/actions", json={"action": "accept_hours"}).status_code == 200
    assert row()["repair_hours_flag"] is None and row()["repair_hours"] == 0.5
    assert 'id="hours-flag"' not in login.get(f"/cases/{case_id}").get_data(as_text=True)
    # A new, different implausible estimate is flagged again.
    send(app, tokens["ti_crew"], case_id=case_id, repair_hours=0.3)
    assert row()["repair_hours_flag"] is not None


def test_progress_from_a_crew_the_case_is_not_assigned_to_is_kept_but_not_applied(grid):
    app, tokens, ids, url = grid
    case_id = send(app, tokens["ti_crew"], facility_id=ids[0], repair_hours=6).json["report"]["case_id"]
    coord = api_client(app, tokens["ti_coord"])
    assert coord.post(f"/api/cases/{case_id}/actions", json={"action": "assign", "crew": "A",
                                                             "crew_account": "ti_crew"}).status_code == 200
    # Another crew joins the case with a report on the facility, then follows it up as restored.
    joined = send(app, tokens["ti_other"], facility_id=ids[0])
    assert joined.json["report"]["case_id"] == case_id
    follow_up = send(app, tokens["ti_other"], case_id=case_id, progress="restored", status="operating")
    assert follow_up.status_code == 201
    assert status(url, case_id) == "assigned"
    events = coord.get(f"/api/cases/{case_id}").json["events"]
    assert events[-1]["action"] == "progress_not_applied"
    assert events[-1]["data"] == {"report_id": follow_up.json["report"]["id"], "would_be": "repaired"}
    # The assigned crew's progress applies.
    assert send(app, tokens["ti_crew"], case_id=case_id, progress="repair_started").status_code == 201
    assert status(url, case_id) == "in_repair"


def test_another_accounts_reuse_of_a_report_id_is_a_409_that_reveals_nothing(grid):
    app, tokens, ids, _ = grid
    body = {"id": str(uuid.uuid4()), "facility_id": ids[1], "lon": 30, "lat": 48, "kind": "substation",
            "severity": "moderate", "status": "degraded", "notes": "secret note",
            "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    first = api_client(app, tokens["ti_crew"]).post("/api/reports", json=body)
    assert first.status_code == 201
    again = api_client(app, tokens["ti_crew"]).post("/api/reports", json=body)
    assert again.status_code == 200 and again.json == first.json  # the owner's retry is a no-op
    stolen = api_client(app, tokens["ti_other"]).post("/api/reports", json=body)
    altered = api_client(app, tokens["ti_other"]).post("/api/reports", json={**body, "notes": "other"})
    assert stolen.status_code == altered.status_code == 409
    assert stolen.json == altered.json  # the same answer whatever the body: nothing to learn
    text = stolen.get_data(as_text=True)
    assert list(stolen.json) == ["error"] and "secret note" not in text and "ti_crew" not in text
    assert "case" not in text and "report" not in json.loads(text)
