"""GET /api/triage and /api/plan on the issue's worked example, stored in PostGIS and served through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.migrate import upgrade
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
    assert [row["facility"].split(" #")[0] for row in queue] == ["C", "A", "B"]
    first, a_row, b_row = queue
    assert first["gain_now"] == 6000 and first["ratio"] == pytest.approx(3000)
    assert a_row["gain_now"] == 0 and a_row["gain_with_blockers"] == 0  # B is still broken below it
    assert b_row["gain_now"] == 0 and b_row["gain_with_blockers"] == 12_000
    assert b_row["blocked_by"] == [a_row["case_id"]]
    assert all(not row["repair_hours_is_default"] for row in queue)
    assert "C" in first["explanation"] and body["exact"] is True


@pytest.mark.parametrize(("crews", "phu"), [(1, 96_000), (2, 60_000)])
def test_plan_costs_match_the_hand_computed_figures(example, crews, phu):
    app, tokens, _ = example
    body = api_client(app, tokens["coord"]).get(f"/api/plan?crews={crews}").json
    assert body["kpis"]["phu"] == pytest.approx(phu)
    assert body["quality"]["naive_phu"] == pytest.approx(102_000 if crews == 1 else body["quality"]["naive_phu"])
    assert body["quality"]["phu_lower_bound"] <= body["kpis"]["phu"] + 1e-6
    assert len(body["crews"]) == crews
    assert sorted(body["etr_by_case"].values())[-1] == pytest.approx(body["kpis"]["t100_hours"])
    areas = {a["facility"].split(" #")[0]: a["etr_hours"] for a in body["etr_by_area"]}
    assert set(areas) == {"A", "B", "C"}


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
