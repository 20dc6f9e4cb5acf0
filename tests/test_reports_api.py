"""POST /api/reports: stored once, matched to a case, every bad field named, nothing stored on error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import api_client, at_once

# Airton substation in the demo (approximate position from the file).
AIRTON = (-6.35804367082056, 53.29423775)


def report(**overrides):
    body = {
        "id": str(uuid.uuid4()), "lon": AIRTON[0], "lat": AIRTON[1], "accuracy_m": 8.0,
        "observed_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(), "kind": "substation",
        "severity": "severe", "status": "out_of_service", "components": ["transformer", "busbar"],
        "hazards": ["fire"], "repair_hours": 6, "crew_size": 4, "materials": "110/38 kV transformer",
        "notes": "Transformer burnt out",
    }
    body.update(overrides)
    return body


def facility_id(db, name: str) -> int:
    return db.execute("SELECT id FROM facility WHERE name = %s", (name,)).fetchone()["id"]


def count_reports(db, report_id: str) -> int:
    return db.execute("SELECT count(*) AS n FROM report WHERE id = %s", (report_id,)).fetchone()["n"]


def total_rows(db) -> tuple[int, int, int]:
    row = db.execute("""SELECT (SELECT count(*) FROM report) AS r, (SELECT count(*) FROM damage_case) AS c,
                               (SELECT count(*) FROM case_event) AS e""").fetchone()
    return row["r"], row["c"], row["e"]


def test_report_round_trip(demo_loaded, client, db):
    body = report(facility_id=facility_id(db, "Airton"))
    response = client.post("/api/reports", json=body)
    assert response.status_code == 201
    stored = response.json["report"]
    assert stored["id"] == body["id"] and stored["case_id"] > 0
    assert stored["components"] == ["busbar", "transformer"] and stored["hazards"] == ["fire"]
    assert "content_hash" not in stored
    assert client.get(response.headers["Location"]).json["report"] == stored
    assert count_reports(db, body["id"]) == 1


def test_same_report_sent_twice_is_stored_once(demo_loaded, client, db):
    body = report()
    first = client.post("/api/reports", json=body)
    again = client.post("/api/reports", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert count_reports(db, body["id"]) == 1


def test_concurrent_copies_of_one_report_are_stored_once(demo_loaded, db, tokens):
    body = report()
    clients = [api_client(demo_loaded, tokens["crew"]) for _ in range(8)]
    statuses = at_once([lambda c=c: c.post("/api/reports", json=body).status_code for c in clients])
    assert sorted(statuses) == [200] * 7 + [201]
    assert count_reports(db, body["id"]) == 1


def test_concurrent_first_reports_on_one_facility_open_one_case(demo_loaded, db, tokens):
    fid = facility_id(db, "Finglas")
    bodies = [report(facility_id=fid, lon=-6.3, lat=53.39) for _ in range(6)]
    clients = [api_client(demo_loaded, tokens["crew"]) for _ in bodies]
    results = at_once([lambda c=c, b=b: c.post("/api/reports", json=b).json["report"]["case_id"]
                       for c, b in zip(clients, bodies, strict=True)])
    assert len(set(results)) == 1
    assert db.execute("""SELECT count(*) AS n FROM damage_case WHERE facility_id = %s
                         AND status NOT IN ('repaired', 'rejected', 'duplicate')""", (fid,)).fetchone()["n"] == 1


def test_same_id_with_different_content_is_409_and_changes_nothing(demo_loaded, client, db):
    body = report()
    assert client.post("/api/reports", json=body).status_code == 201
    before = total_rows(db)
    response = client.post("/api/reports", json={**body, "severity": "minor"})
    assert response.status_code == 409
    assert total_rows(db) == before
    assert db.execute("SELECT severity FROM report WHERE id = %s", (body["id"],)).fetchone()["severity"] == "severe"


@pytest.mark.parametrize(("change", "field"), [
    ({"lon": 181}, "lon"),
    ({"lat": -90.5}, "lat"),
    ({"lon": "east"}, "lon"),
    ({"lat": True}, "lat"),
    ({"lat": None}, "lat"),
    ({"kind": "windmill"}, "kind"),
    ({"severity": "catastrophic"}, "severity"),
    ({"status": "broken"}, "status"),
    ({"hazards": ["zombies"]}, "hazards"),
    ({"hazards": "fire"}, "hazards"),
    ({"components": ["turbine"]}, "components"),  # not a substation component
    ({"facility_id": 999_999_999}, "facility_id"),
    ({"facility_id": "12"}, "facility_id"),
    ({"case_id": 999_999_999}, "case_id"),
    ({"observed_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "observed_at"),
    ({"observed_at": "yesterday"}, "observed_at"),
    ({"observed_at": "2026-11-25T08:00:00"}, "observed_at"),
    ({"notes": "x" * 4001}, "notes"),
    ({"repair_hours": -1}, "repair_hours"),
    ({"crew_size": 0}, "crew_size"),
    ({"id": "not-a-uuid"}, "id"),
    ({"colour": "red"}, "colour"),
])
def test_each_bad_field_is_named_and_nothing_is_stored(demo_loaded, client, db, change, field):
    before = total_rows(db)
    response = client.post("/api/reports", json=report(**change))
    assert response.status_code == 422
    assert field in response.json["errors"], response.json
    assert total_rows(db) == before


def test_every_bad_field_is_reported_at_once(demo_loaded, client):
    response = client.post("/api/reports", json=report(lon=500, severity="x", notes=3))
    assert set(response.json["errors"]) == {"lon", "severity", "notes"}


def test_body_that_is_not_json_is_400(demo_loaded, client):
    response = client.post("/api/reports", data="lon=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "body" in response.json["errors"]


def test_payload_over_the_limit_is_413(demo_loaded, client, db):
    before = total_rows(db)
    response = client.post("/api/reports", json=report(materials="x" * 70_000))
    assert response.status_code == 413
    assert total_rows(db) == before


def test_report_without_facility_is_matched_to_the_nearest_of_its_kind_within_range(demo_loaded, client, db):
    near_airton = (AIRTON[0] + 0.001, AIRTON[1])  # about 70 m east
    stored = client.post("/api/reports", json=report(lon=near_airton[0], lat=near_airton[1])).json["report"]
    case = db.execute("SELECT facility_id FROM damage_case WHERE id = %s", (stored["case_id"],)).fetchone()
    assert case["facility_id"] == facility_id(db, "Airton")
    assert stored["facility_id"] is None  # the report keeps what the crew said


def test_report_far_from_any_facility_opens_a_case_of_its_own(demo_loaded, client, db):
    stored = client.post("/api/reports", json=report(lon=-7.5, lat=53.0, kind="line",
                                                     components=["tower"])).json["report"]
    case = db.execute("SELECT facility_id, status FROM damage_case WHERE id = %s", (stored["case_id"],)).fetchone()
    assert case == {"facility_id": None, "status": "reported"}


def test_reports_on_the_same_facility_join_its_open_case_and_follow_ups_move_it(demo_loaded, client, db):
    fid = facility_id(db, "Cherrywood")
    first = client.post("/api/reports", json=report(facility_id=fid)).json["report"]
    second = client.post("/api/reports", json=report(facility_id=fid, severity="moderate")).json["report"]
    assert first["case_id"] == second["case_id"]
    # The case is assigned to this crew's account: its follow-up's progress moves the case on.
    db.execute("UPDATE damage_case SET assigned_user_id = (SELECT id FROM app_user WHERE username = 'crew') "
               "WHERE id = %s", (first["case_id"],))
    follow_up = client.post("/api/reports", json=report(case_id=first["case_id"], progress="repair_started",
                                                        status="degraded"))
    assert follow_up.status_code == 201
    case = db.execute("SELECT status FROM damage_case WHERE id = %s", (first["case_id"],)).fetchone()
    assert case["status"] == "in_repair"
    actions = [r["action"] for r in db.execute("SELECT action FROM case_event WHERE case_id = %s ORDER BY id",
                                               (first["case_id"],))]
    assert actions == ["opened", "report_added", "report_added", "report_added", "status_changed"]


def test_follow_ups_only_on_cases_of_ones_own_and_progress_only_on_follow_ups(demo_loaded, client, db, tokens):
    mine = client.post("/api/reports", json=report(lon=-7.61, lat=52.61, kind="other", components=[])).json["report"]
    other = api_client(demo_loaded, tokens["crew2"])
    refused = other.post("/api/reports", json=report(case_id=mine["case_id"], progress="restored",
                                                     lon=-7.61, lat=52.61, kind="other", components=[]))
    unknown = other.post("/api/reports", json=report(case_id=999_999_999, kind="other", components=[]))
    # Another crew's case is refused exactly like a case that does not exist: no way to probe case ids.
    assert refused.status_code == unknown.status_code == 422
    assert refused.json["errors"] == unknown.json["errors"] and "case_id" in refused.json["errors"]
    assert db.execute("SELECT status FROM damage_case WHERE id = %s", (mine["case_id"],)).fetchone()["status"] \
        == "reported"
    no_case = client.post("/api/reports", json=report(progress="repair_started", kind="other", components=[]))
    assert no_case.status_code == 422 and "progress" in no_case.json["errors"]
    # The reporter may follow up, but its progress is only recorded (the case is assigned to nobody's account);
    # a coordinator may follow up any case, and its progress applies.
    ok = client.post("/api/reports", json=report(case_id=mine["case_id"], progress="repair_started",
                                                 lon=-7.61, lat=52.61, kind="other", components=[]))
    assert ok.status_code == 201
    assert db.execute("SELECT status FROM damage_case WHERE id = %s", (mine["case_id"],)).fetchone()["status"] \
        == "reported"
    desk = api_client(demo_loaded, tokens["coordinator"])
    assert desk.post("/api/reports", json=report(case_id=mine["case_id"], progress="restored", lon=-7.61,
                                                 lat=52.61, kind="other", components=[])).status_code == 201
    assert db.execute("SELECT status FROM damage_case WHERE id = %s", (mine["case_id"],)).fetchone()["status"] \
        == "repaired"


def test_reports_geojson_filters_by_bbox_and_since(demo_loaded, client):
    marker = datetime.now(UTC)
    inside = client.post("/api/reports", json=report(lon=-6.25, lat=53.35, kind="other", components=[])).json
    client.post("/api/reports", json=report(lon=-8.0, lat=52.0, kind="other", components=[]))
    body = client.get("/api/reports", query_string={"bbox": "-6.3,53.3,-6.2,53.4",
                                                    "since": marker.isoformat()}).json
    assert [f["id"] for f in body["features"]] == [inside["report"]["id"]]
    assert body["features"][0]["geometry"] == {"type": "Point", "coordinates": [-6.25, 53.35]}


@pytest.mark.parametrize("query", [{"since": "last week"}, {"since": "2026-01-01T00:00:00"}, {"limit": "0"},
                                   {"bbox": "1,2"}])
def test_bad_report_query_is_400_naming_the_parameter(client, query):
    response = client.get("/api/reports", query_string=query)
    assert response.status_code == 400
    assert set(response.json["errors"]) == set(query)


def test_nearest_facilities_are_sorted_with_distances(demo_loaded, client):
    rows = client.get("/api/facilities/nearest", query_string={"lon": AIRTON[0], "lat": AIRTON[1]}).json
    facilities = rows["facilities"]
    assert len(facilities) == 5 and facilities[0]["name"] == "Airton" and facilities[0]["distance_m"] < 1
    distances = [f["distance_m"] for f in facilities]
    assert distances == sorted(distances)
    assert client.get("/api/facilities/nearest?lon=1").status_code == 400
