"""GET /api/triage and /api/plan on the issue's worked example, stored in PostGIS and served through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.db import upgrade
from tests.conftest import PASSWORD, api_client, make_app

# S feeds A (no people, 4 h) and C (6,000 people, 2 h); A feeds B (12,000 people, 1 h).
NETWORK = {"S": (None, 0), "A": ("S", 0), "B": ("A", 12_000), "C": ("S", 6_000)}
DAMAGE = {"A": 4, "B": 1, "C": 2}


@pytest.fixture(scope="module")
def example(pg_server):
    """A database holding only the worked example, with a coordinator and a crew account."""
    url = pg_server.create_database("gt_triage")
    upgrade(url)
    app = make_app(url)
    with psycopg.connect(url, autocommit=True) as conn:
        ids = {}
        for position, name in enumerate(NETWORK):
            ids[name] = conn.execute(
                "INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, 'substation', "
                "ST_Point(%s, 50, 4326)) RETURNING id", (name, name, 10 + position / 100)).fetchone()[0]
        for name, (parent, _) in NETWORK.items():
            if parent:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[parent], ids[name]))
        dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('t', 't') RETURNING id").fetchone()[0]
        layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) "
                             "VALUES ('t', 'points', %s, 18000) RETURNING id", (dataset,)).fetchone()[0]
        for name, (_, people) in NETWORK.items():
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))
    runner = app.test_cli_runner()
    tokens = {}
    for name, role in (("coord", "coordinator"), ("crew", "crew")):
        runner.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        tokens[name] = runner.invoke(args=["create-token", name]).output.strip()
    crew = api_client(app, tokens["crew"])
    observed = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for name, hours in DAMAGE.items():
        body = {"id": str(uuid.uuid4()), "facility_id": ids[name], "lon": 10, "lat": 50, "observed_at": observed,
                "kind": "substation", "severity": "severe", "status": "out_of_service", "repair_hours": hours}
        assert crew.post("/api/reports", json=body).status_code == 201
    yield app, tokens, ids
    app.extensions["db_pool"].close()
    pg_server.drop_database(url)


def test_triage_ranks_the_small_quick_repair_first(example):
    app, tokens, _ = example
    body = api_client(app, tokens["coord"]).get("/api/triage").json
    queue = body["queue"]
    assert [row["facility"].split(" (facility ")[0] for row in queue] == ["C", "A", "B"]
    first, a_row, b_row = queue
    assert first["gain_now"] == 6000 and first["ratio"] == pytest.approx(3000)
    assert a_row["gain_now"] == 0 and a_row["gain_with_blockers"] == 0  # B is still broken below it
    assert b_row["gain_now"] == 0 and b_row["gain_with_blockers"] == 12_000
    assert b_row["blocked_by"] == [a_row["case_id"]]
    assert all(not row["repair_hours_is_default"] for row in queue)
    assert "C" in first["explanation"] and body["exact"] is True


@pytest.mark.parametrize(
    ("crews", "phu", "naive_phu", "sequences", "etr"),
    [
        # One crew: C 0-2, A 2-6, B 6-7: C's 6,000 back at 2, B's 12,000 at 7 = 96,000. Naive (by population
        # served: A, B, C): A 0-4, B 4-5, C 5-7 = 12,000 x 5 + 6,000 x 7 = 102,000.
        (1, 96_000, 102_000, [[("C", 0, 2), ("A", 2, 6), ("B", 6, 7)]], {"A": 6, "B": 7, "C": 2}),
        # Two crews: A 0-4 | C 0-2, B 2-3: C back at 2, B when A is done at 4 = 12,000 + 48,000 = 60,000. Naive
        # list schedule: A 0-4 | B 0-1, C 1-3: B waits for A until 4, C back at 3 = 48,000 + 18,000 = 66,000.
        (2, 60_000, 66_000, [[("A", 0, 4)], [("C", 0, 2), ("B", 2, 3)]], {"A": 4, "B": 4, "C": 2}),
    ],
)
def test_plan_costs_match_the_hand_computed_figures(example, crews, phu, naive_phu, sequences, etr):
    app, tokens, _ = example
    body = api_client(app, tokens["coord"]).get(f"/api/plan?crews={crews}").json
    assert body["kpis"]["phu"] == pytest.approx(phu)
    assert body["quality"]["naive_phu"] == pytest.approx(naive_phu)
    # The bound is the optimum here: exact for one crew; for two, B's 12,000 wait at least A's 4 h and C's 6,000
    # at least its 2 h (60,000). So the gap is 0.
    assert body["quality"]["phu_lower_bound"] == pytest.approx(phu) and body["quality"]["gap"] == 0
    assert body["quality"]["improvement_vs_naive"] == pytest.approx((naive_phu - phu) / naive_phu)
    # No critical sites or bumps here: the optimised (weighted) figures are the plain ones.
    quality = body["quality"]
    assert quality["optimised"] == "objective" and quality["objective"] == pytest.approx(phu)
    assert quality["objective_gap"] == 0
    assert quality["objective_improvement_vs_naive"] == pytest.approx((naive_phu - phu) / naive_phu)
    name = {job["case_id"]: job["facility"].split(" (facility ")[0] for crew in body["crews"] for job in crew}
    assert sorted([(name[j["case_id"]], j["start_hours"], j["finish_hours"]) for j in crew]
                  for crew in body["crews"]) == sequences
    assert {name[int(case)]: h for case, h in body["etr_by_case"].items()} == etr
    areas = {a["facility"].split(" (facility ")[0]: a["etr_hours"] for a in body["etr_by_area"]}
    assert areas == etr  # every damaged facility is its own area here; S never loses power
    ppc = app.config["PERSONS_PER_CUSTOMER"]
    k = body["kpis"]
    assert (k["affected_population"], k["customers_interrupted"]) == (18_000, pytest.approx(18_000 / ppc))
    assert k["cmi"] == pytest.approx(phu * 60 / ppc)
    assert (k["t50_hours"], k["t90_hours"], k["t100_hours"]) == (max(etr.values()),) * 3  # 6,000 of 18,000 first


def test_plan_and_triage_need_a_coordinator(example):
    app, tokens, _ = example
    crew = api_client(app, tokens["crew"])
    assert crew.get("/api/triage").status_code == 403
    assert crew.get("/api/plan?crews=2").status_code == 403


@pytest.mark.parametrize("query", ["crews=0", "crews=two", "crews=2&time_limit=-1"])
def test_bad_plan_parameters_are_400(example, query):
    app, tokens, _ = example
    response = api_client(app, tokens["coord"]).get(f"/api/plan?{query}")
    assert response.status_code == 400


def test_default_repair_hours_are_flagged(demo_loaded, coordinator, client, db):
    from tests.test_reports_api import report

    # A substation that no other test has damaged yet, so this report opens its case.
    free = db.execute("""SELECT id, name FROM facility f WHERE kind = 'substation' AND NOT EXISTS
                           (SELECT 1 FROM damage_case c WHERE c.facility_id = f.id)
                         ORDER BY id DESC LIMIT 1""").fetchone()
    body = report(facility_id=free["id"], repair_hours=None, severity="destroyed")
    assert client.post("/api/reports", json=body).status_code == 201
    queue = coordinator.get("/api/triage").json["queue"]
    row = next(r for r in queue if r["facility_id"] == free["id"])
    assert row["repair_hours_is_default"] and row["repair_hours"] == 168
    assert row["repair_hours_source"] == "default for a destroyed substation"


# On the session's shared demo database: each test damages a substation no test has damaged, away from the
# facilities other tests name, and reads only its own case's rows.
NAMED_ELSEWHERE = ["Airton", "Belfield", "Cherrywood", "Finglas"]


def untouched_substation(db) -> dict:
    """A substation with no case ever and nothing feeding it (its area is dark only through its own damage)."""
    return db.execute("""SELECT f.id, f.name, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat FROM facility f
                         WHERE f.kind = 'substation' AND f.name <> ALL(%s)
                           AND NOT EXISTS (SELECT 1 FROM damage_case c WHERE c.facility_id = f.id)
                           AND NOT EXISTS (SELECT 1 FROM feed_link l WHERE l.child_id = f.id)
                         ORDER BY f.id LIMIT 1""", (NAMED_ELSEWHERE,)).fetchone()


def open_case(client, facility: dict, **overrides) -> int:
    from tests.test_reports_api import report

    body = report(facility_id=facility["id"], lon=facility["lon"], lat=facility["lat"], **overrides)
    response = client.post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    return response.json["report"]["case_id"]


def queue_row(coordinator, case_id: int) -> dict | None:
    return next((r for r in coordinator.get("/api/triage").json["queue"] if r["case_id"] == case_id), None)


def act(coordinator, case_id: int, **body) -> None:
    response = coordinator.post(f"/api/cases/{case_id}/actions", json=body)
    assert response.status_code == 200, response.json


def test_a_repair_hours_override_says_who_set_it_and_why(demo_loaded, client, coordinator, db):
    case_id = open_case(client, untouched_substation(db), repair_hours=6)
    row = queue_row(coordinator, case_id)
    assert row["repair_hours"] == 6 and row["repair_hours_source"] == "crew estimate"
    assert "override" not in row["explanation"]

    act(coordinator, case_id, action="override_hours", hours=2.5, reason="spare transformer <on site>")
    row = queue_row(coordinator, case_id)
    assert row["repair_hours"] == 2.5 and row["repair_hours_source"] == "coordinator override"
    assert not row["repair_hours_is_default"]
    assert row["explanation"].endswith("; 2.5 h repair (override by coordinator: spare transformer <on site>).")
    assert "in 2.5 h" in row["explanation"]  # the engine's own sentence uses the overridden hours

    # A priority bump reads the same way, after it; a later override shows its own reason, not the first one's.
    act(coordinator, case_id, action="bump_priority", bump=300, reason="school used as a shelter")
    act(coordinator, case_id, action="override_hours", hours=3, reason="crew revised it.")
    row = queue_row(coordinator, case_id)
    assert row["repair_hours"] == 3 and row["priority_bump"] == 300
    assert row["explanation"].endswith("; 3 h repair (override by coordinator: crew revised it); priority raised by "
                                       "coordinator (+300 people-equivalents): school used as a shelter.")
    assert "spare transformer" not in row["explanation"] and ".;" not in row["explanation"]
    plan_row = next(job for crew in coordinator.get("/api/plan").json["crews"] for job in crew
                    if job["case_id"] == case_id)
    assert plan_row["repair_hours_source"] == "coordinator override"


def test_a_temporarily_restored_case_leaves_the_repair_queue_and_counts_as_restored(demo_loaded, client, coordinator,
                                                                                   db):
    facility = untouched_substation(db)
    case_id = open_case(client, facility, repair_hours=5)
    assert queue_row(coordinator, case_id) is not None
    plan = coordinator.get("/api/plan").json
    assert str(case_id) in plan["etr_by_case"]
    assert facility["id"] in {a["facility_id"] for a in plan["etr_by_area"]}

    act(coordinator, case_id, action="assign", crew="Mobile generator team")
    act(coordinator, case_id, action="temporarily_restore", reason="mobile generator connected")
    assert queue_row(coordinator, case_id) is None
    assert case_id not in [c["case_id"] for c in coordinator.get("/api/triage").json["unplaced"]]
    plan = coordinator.get("/api/plan").json
    assert str(case_id) not in plan["etr_by_case"]
    assert case_id not in [job["case_id"] for crew in plan["crews"] for job in crew]
    # Its area has power (from the generator): its people are no longer counted as without power.
    assert facility["id"] not in {a["facility_id"] for a in plan["etr_by_area"]}
    # The case itself stays open as temporarily restored, with the event, and the map lists it under that status.
    case = coordinator.get(f"/api/cases/{case_id}").json
    assert case["case"]["status"] == "temporarily_restored"
    assert case["events"][-1]["action"] == "temporarily_restore"
    assert case["events"][-1]["reason"] == "mobile generator connected"
    restored = coordinator.get("/api/map/case-index?zoom=0&status=temporarily_restored").json["cases"]
    still_out = coordinator.get("/api/map/case-index?zoom=0&status=reported,confirmed,assigned,in_repair").json["cases"]
    assert case_id in {c["case_id"] for c in restored} and case_id not in {c["case_id"] for c in still_out}


def test_the_triage_views_pause_the_collector_only_while_they_run(example):
    import gc

    app, tokens, _ = example
    coord = api_client(app, tokens["coord"])
    assert gc.isenabled()
    assert coord.get("/api/triage").status_code == 200 and gc.isenabled()
    assert coord.get("/api/plan?crews=2").status_code == 200 and gc.isenabled()
    assert coord.get("/api/plan?crews=0").status_code == 400 and gc.isenabled()  # refused inside the view
    gc.disable()
    try:
        assert coord.get("/api/triage").status_code == 200 and not gc.isenabled()  # a caller's pause is kept
    finally:
        gc.enable()
