"""The case workflow: each action records one event, merges keep every report and photo, bad input changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import api_client, create_accounts, make_app

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64


@pytest.fixture(scope="module")
def world(new_database):
    """An own database: source S feeds A and B; a coordinator and a crew account."""
    url = new_database()
    app = make_app(url)
    ids = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name, lon in (("S", 10.0), ("A", 10.01), ("B", 10.02)):
            ids[name] = conn.execute(
                "INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, 'substation', "
                "ST_Point(%s, 50, 4326)) RETURNING id", (name, name, lon)).fetchone()[0]
        for child in ("A", "B"):
            conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                         (ids["S"], ids[child]))
        layer = conn.execute("INSERT INTO population_layer (name, kind, total) VALUES ('t', 'points', 3000) "
                             "RETURNING id").fetchone()[0]
        for name, people in (("S", 0), ("A", 1000), ("B", 2000)):
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))
    tokens = create_accounts(app, {"coord": "coordinator", "crew": "crew"})
    yield app, tokens, ids, url
    app.extensions["db_pool"].close()


def send(app, tokens, **overrides):
    body = {"id": str(uuid.uuid4()), "lon": 10.01, "lat": 50.0, "kind": "substation", "severity": "severe",
            "status": "out_of_service", "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "notes": "test"}
    body.update(overrides)
    response = api_client(app, tokens["crew"]).post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    return response.json["report"]


def act(app, tokens, case_id, **body):
    return api_client(app, tokens["coord"]).post(f"/api/cases/{case_id}/actions", json=body)


def events(url, case_id):
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT e.*, u.username FROM case_event e LEFT JOIN app_user u ON u.id = e.actor_id "
                            "WHERE case_id = %s ORDER BY id", (case_id,)).fetchall()


def case_row(url, case_id):
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM damage_case WHERE id = %s", (case_id,)).fetchone()


def fresh_case(app, tokens, lon=20.0):
    """A case of its own at a site with no registered facility (kind 'other' matches nothing)."""
    return send(app, tokens, kind="other", lon=lon, lat=45.0)["case_id"]


WALK = [
    ({"action": "confirm"}, "confirmed"),
    ({"action": "assign", "crew": "Crew 7", "crew_account": "crew"}, "assigned"),
    ({"action": "override_hours", "hours": 5, "reason": "crew on site says five hours"}, "assigned"),
    ({"action": "bump_priority", "bump": 500, "reason": "feeds the water works"}, "assigned"),
    ({"action": "start_repair"}, "in_repair"),
    ({"action": "temporarily_restore", "reason": "generator"}, "temporarily_restored"),
    ({"action": "repaired"}, "repaired"),
]


def test_every_workflow_action_writes_one_event_with_who_what_and_why(world):
    app, tokens, _, url = world
    case_id = fresh_case(app, tokens, lon=21.0)
    for body, status in WALK:
        before = len(events(url, case_id))
        previous = case_row(url, case_id)["status"]
        response = act(app, tokens, case_id, **body)
        assert response.status_code == 200, response.json
        assert response.json["case"]["status"] == status
        new = events(url, case_id)[before:]
        assert len(new) == 1
        assert new[0]["action"] == body["action"] and new[0]["username"] == "coord"
        assert (new[0]["from_status"], new[0]["to_status"]) == (previous, status)
        assert new[0]["reason"] == body.get("reason")
    row = case_row(url, case_id)
    assert row["assigned_crew"] == "Crew 7" and row["repair_hours_override"] == 5 and row["priority_bump"] == 500
    assert row["assigned_user_id"] is not None
    assign = next(e for e in events(url, case_id) if e["action"] == "assign")
    assert assign["data"]["after"]["assigned_user"] == "crew" and assign["data"]["before"]["assigned_user"] is None
    bump = next(e for e in events(url, case_id) if e["action"] == "bump_priority")
    assert bump["data"] == {"before": {"priority_bump": 0.0}, "after": {"priority_bump": 500}}


@pytest.mark.parametrize("steps", [[], [{"action": "confirm"}]])
def test_reject_writes_one_event_with_its_reason_and_closes_the_case(world, steps):
    app, tokens, _, url = world
    case_id = fresh_case(app, tokens, lon=24.0 + len(steps))
    for step in steps:
        assert act(app, tokens, case_id, **step).status_code == 200
    previous = case_row(url, case_id)["status"]
    before = events(url, case_id)
    reason = "  not our asset: a <b>private</b> line  "
    response = act(app, tokens, case_id, action="reject", reason=reason)
    assert response.status_code == 200 and response.json["case"]["status"] == "rejected"
    new = events(url, case_id)[len(before):]
    assert len(new) == 1
    event = new[0]
    assert (event["action"], event["username"], event["from_status"], event["to_status"]) == (
        "reject", "coord", previous, "rejected")
    assert event["reason"] == reason.strip()  # stored as sent, trimmed; escaped only where it is shown
    assert event["data"] == {"before": {"status": previous}, "after": {"status": "rejected"}}
    assert case_row(url, case_id)["status"] == "rejected"
    # Closed: nothing further, and the refusal writes nothing.
    assert act(app, tokens, case_id, action="reject", reason="again").status_code == 409
    assert len(events(url, case_id)) == len(before) + 1


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "reject"}, "reason"),
    ({"action": "reject", "reason": "   "}, "reason"),
    ({"action": "override_hours", "hours": 3}, "reason"),
    ({"action": "override_hours", "reason": "x"}, "hours"),
    ({"action": "bump_priority", "bump": 10}, "reason"),
    ({"action": "bump_priority", "bump": -1, "reason": "x"}, "bump"),
    ({"action": "assign"}, "crew"),
    ({"action": "assign", "crew_account": "crew"}, "crew"),
    ({"action": "assign", "crew": "Crew 7", "crew_account": "nobody"}, "crew_account"),
    ({"action": "assign", "crew": "Crew 7", "crew_account": ["crew"]}, "crew_account"),
    ({"action": "merge"}, "duplicate_id"),
    ({"action": "explode"}, "action"),
])
def test_missing_or_bad_fields_are_422_naming_the_field_and_change_nothing(world, body, field):
    app, tokens, _, url = world
    case_id = fresh_case(app, tokens, lon=22.0)
    before = (case_row(url, case_id), len(events(url, case_id)))
    response = act(app, tokens, case_id, **body)
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert (case_row(url, case_id), len(events(url, case_id))) == before


def test_invalid_transitions_are_409_with_the_reason(world):
    app, tokens, _, url = world
    case_id = fresh_case(app, tokens, lon=23.0)
    response = act(app, tokens, case_id, action="start_repair")
    assert response.status_code == 409 and "reported" in response.json["error"]
    assert act(app, tokens, case_id, action="reject", reason="not ours").status_code == 200
    for body in ({"action": "confirm"}, {"action": "bump_priority", "bump": 1, "reason": "x"},
                 {"action": "repaired"}):
        response = act(app, tokens, case_id, **body)
        assert response.status_code == 409 and "rejected" in response.json["error"]
    assert case_row(url, case_id)["status"] == "rejected"
    assert act(app, tokens, 999_999, action="confirm").status_code == 404


def test_merge_keeps_every_report_and_photo_and_records_both_cases(world):
    app, tokens, _, url = world
    coord = api_client(app, tokens["coord"])
    crew = api_client(app, tokens["crew"])
    first = send(app, tokens, kind="other", lon=30.0, lat=45.0, hazards=["fire"], severity="minor")
    second = send(app, tokens, kind="other", lon=30.001, lat=45.0, hazards=["uxo"], severity="destroyed")
    survivor, duplicate = first["case_id"], second["case_id"]
    assert survivor != duplicate
    photo = str(uuid.uuid4())
    assert crew.put(f"/api/reports/{second['id']}/photos/{photo}", data=PNG,
                    content_type="image/png").status_code == 201
    suggested = coord.get(f"/api/cases/{survivor}/duplicates").json["duplicates"]
    assert duplicate in [d["id"] for d in suggested]
    response = act(app, tokens, survivor, action="merge", duplicate_id=duplicate)
    assert response.status_code == 200, response.json
    assert case_row(url, duplicate)["status"] == "duplicate" and case_row(url, duplicate)["merged_into"] == survivor
    assert [e["action"] for e in events(url, duplicate)][-1] == "merged_into"
    assert [e["action"] for e in events(url, survivor)][-1] == "merge"
    view = coord.get(f"/api/cases/{survivor}").json
    assert {r["id"] for r in view["reports"]} == {first["id"], second["id"]}
    assert photo in next(r for r in view["reports"] if r["id"] == second["id"])["photo_ids"]
    with psycopg.connect(url) as conn:  # the report itself is untouched: it stays on its original case
        assert conn.execute("SELECT case_id FROM report WHERE id = %s", (second["id"],)).fetchone()[0] == duplicate
    assert act(app, tokens, survivor, action="merge", duplicate_id=duplicate).status_code == 409
    assert act(app, tokens, survivor, action="merge", duplicate_id=survivor).status_code == 409
    assert duplicate not in [d["id"] for d in coord.get(f"/api/cases/{survivor}/duplicates").json["duplicates"]]


def test_unmerge_restores_both_cases_exactly_and_is_audited(world):
    app, tokens, ids, url = world
    coord = api_client(app, tokens["coord"])
    a = send(app, tokens, facility_id=ids["A"], severity="minor", repair_hours=2)
    b = send(app, tokens, facility_id=ids["B"], lon=10.02, hazards=["live_wires"], repair_hours=9)
    survivor, duplicate = a["case_id"], b["case_id"]
    assert act(app, tokens, duplicate, action="confirm").status_code == 200
    before = {cid: case_row(url, cid) for cid in (survivor, duplicate)}
    queue_before = {r["case_id"]: r for r in coord.get("/api/triage").json["queue"]}
    assert act(app, tokens, survivor, action="merge", duplicate_id=duplicate).status_code == 200
    assert {r["id"] for r in coord.get(f"/api/cases/{survivor}").json["reports"]} == {a["id"], b["id"]}
    assert [m["id"] for m in coord.get(f"/api/cases/{survivor}").json["merged"]] == [duplicate]
    # Undone: each case is as it was (the duplicate confirmed again), each holds its own report again, and the
    # queue is the one before the merge.
    response = act(app, tokens, survivor, action="unmerge", duplicate_id=duplicate, reason="different transformers")
    assert response.status_code == 200, response.json
    after = {cid: case_row(url, cid) for cid in (survivor, duplicate)}
    moved = ("status", "merged_into", "assigned_crew", "repair_hours_override", "priority_bump", "facility_id")
    assert {cid: {k: row[k] for k in moved} for cid, row in after.items()} == \
        {cid: {k: row[k] for k in moved} for cid, row in before.items()}
    assert after[duplicate]["status"] == "confirmed"
    assert {r["id"] for r in coord.get(f"/api/cases/{survivor}").json["reports"]} == {a["id"]}
    assert {r["id"] for r in coord.get(f"/api/cases/{duplicate}").json["reports"]} == {b["id"]}
    assert coord.get(f"/api/cases/{survivor}").json["merged"] == []
    queue_after = {r["case_id"]: r for r in coord.get("/api/triage").json["queue"]}
    assert {cid: (r["rank"], r["reports"], r["repair_hours"]) for cid, r in queue_after.items()} == \
        {cid: (r["rank"], r["reports"], r["repair_hours"]) for cid, r in queue_before.items()}
    # Audited on both cases, with who and why.
    last_survivor, last_duplicate = events(url, survivor)[-1], events(url, duplicate)[-1]
    assert last_survivor["action"] == "unmerge" and last_survivor["data"] == {"duplicate_id": duplicate}
    assert last_survivor["reason"] == "different transformers" and last_survivor["actor_id"] is not None
    assert (last_duplicate["action"], last_duplicate["from_status"], last_duplicate["to_status"]) == (
        "unmerged_from", "duplicate", "confirmed")
    assert last_duplicate["data"] == {"unmerged_from": survivor}
    # Only a case merged into this one can be taken out of it, and only once.
    again = act(app, tokens, survivor, action="unmerge", duplicate_id=duplicate)
    assert again.status_code == 409 and again.json["errors"] == {
        "duplicate_id": f"case {duplicate} is not merged into case {survivor}"}
    assert act(app, tokens, survivor, action="unmerge", duplicate_id=10**9).status_code == 422
    assert act(app, tokens, survivor, action="unmerge").status_code == 422
    for cid in (survivor, duplicate):  # closed, so that the next tests' reports on A and B open cases of their own
        assert act(app, tokens, cid, action="reject", reason="test over").status_code == 200


def test_merged_reports_count_for_the_surviving_case_in_the_triage(world):
    app, tokens, ids, _ = world
    coord = api_client(app, tokens["coord"])
    a = send(app, tokens, facility_id=ids["A"], severity="minor", repair_hours=2)
    b = send(app, tokens, facility_id=ids["B"], lon=10.02, hazards=["live_wires"], repair_hours=9)
    # The coordinator decides B's report was really about A: merge B's case into A's.
    assert act(app, tokens, a["case_id"], action="merge", duplicate_id=b["case_id"]).status_code == 200
    queue = coord.get("/api/triage").json["queue"]
    row = next(r for r in queue if r["case_id"] == a["case_id"])
    assert row["reports"] == 2 and row["hazards"] == ["live_wires"] and row["repair_hours"] == 9
    assert b["case_id"] not in [r["case_id"] for r in queue]
    # A priority bump adds weight and says who raised it and why.
    assert act(app, tokens, a["case_id"], action="bump_priority", bump=5000,
               reason="hospital on backup power").status_code == 200
    row = next(r for r in coord.get("/api/triage").json["queue"] if r["case_id"] == a["case_id"])
    assert row["priority_bump"] == 5000
    assert "priority raised by coord" in row["explanation"] and "hospital on backup power" in row["explanation"]
    assert act(app, tokens, a["case_id"], action="override_hours", hours=1.5, reason="spare on site").status_code == 200
    row = next(r for r in coord.get("/api/triage").json["queue"] if r["case_id"] == a["case_id"])
    assert row["repair_hours"] == 1.5 and row["repair_hours_source"] == "coordinator override"

