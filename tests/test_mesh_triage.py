"""Meshed registries in the live product (issue 15): a ring fed round the other way has power in /api/triage,
the queue says exactly what each repair restores and /api/plan's figures are the exact simulation; a pandapower
network with closed rings, imported by import-facilities, is triaged as a brute force over its stored feed links
says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.db import upgrade
from geo.network import Facility, build_network, energised_at_start
from tests.conftest import PASSWORD, api_client, make_app
from tests.test_import_facilities import ok
from tests.test_import_real_data import one
from tests.test_mesh import brute
from tests.test_pandapower_import import pn, pp, rings, save  # noqa: F401 (pn, pp: the fixtures)

# S - L1 - A - L2 - B - L3 - C - L4 - S, stored as an importer orients it: by distance from S, B fed by both.
RING = {"S": ((), 0), "L1": (("S",), 0), "L4": (("S",), 0), "A": (("L1",), 1000), "C": (("L4",), 300),
        "L2": (("A",), 0), "L3": (("C",), 0), "B": (("L2", "L3"), 200)}


def seeded(pg_server, prefix: str):
    """A database holding the ring, a coordinator and a crew: (app, coordinator client, report(name, hours), url)."""
    url = pg_server.create_database(prefix)
    upgrade(url)
    app = make_app(url)
    with psycopg.connect(url, autocommit=True) as conn:
        ids = {name: conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, 'line', "
                                  "ST_Point(%s, 50, 4326)) RETURNING id", (name, name, 10 + k / 100)).fetchone()[0]
               for k, name in enumerate(RING)}
        for name, (parents, _) in RING.items():
            for parent in parents:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[parent], ids[name]))
        dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('t', 't') RETURNING id").fetchone()[0]
        layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) "
                             "VALUES ('t', 'points', %s, 1500) RETURNING id", (dataset,)).fetchone()[0]
        for name, (_, people) in RING.items():
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))
    runner = app.test_cli_runner()
    tokens = {}
    for name, role in (("coord", "coordinator"), ("crew", "crew")):
        runner.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        tokens[name] = runner.invoke(args=["create-token", name]).output.strip()
    crew = api_client(app, tokens["crew"])

    def report(name: str, hours: float) -> None:
        body = {"id": str(uuid.uuid4()), "facility_id": ids[name], "lon": 10, "lat": 50, "kind": "line",
                "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "severity": "severe",
                "status": "out_of_service", "repair_hours": hours}
        assert crew.post("/api/reports", json=body).status_code == 201

    return app, api_client(app, tokens["coord"]), report, url


@pytest.fixture
def ring_db(pg_server):
    made = seeded(pg_server, "gt_mesh_ring")
    yield made
    made[0].extensions["db_pool"].close()
    pg_server.drop_database(made[3])


def name_of(row: dict) -> str:
    return row["facility"].split(" (facility ")[0]


def test_a_ring_cut_once_keeps_power_round_the_other_way_and_a_second_cut_is_ranked_exactly(ring_db):
    _, coordinator, report, _ = ring_db
    report("L1", 4)
    body = coordinator.get("/api/triage").json
    assert body["summary"]["people_without_power"] == 0  # A is fed through L4, C, L3, B, L2
    (row,) = body["queue"]
    assert name_of(row) == "L1" and row["gain_now"] == 0 and row["without_power_now"] == 0
    report("L2", 1)
    body = coordinator.get("/api/triage").json
    assert body["summary"]["people_without_power"] == 1000  # A alone, between the two cuts
    by_name = {name_of(r): r for r in body["queue"]}
    assert by_name["L1"]["gain_now"] == 1000 and by_name["L2"]["gain_now"] == 1000  # either side brings A back
    assert name_of(body["queue"][0]) == "L2"  # the same people in 1 h rather than 4 h
    first = body["queue"][0]
    assert f"L2 (facility {first['facility_id']}) restores 1,000" in first["explanation"]
    plan = coordinator.get("/api/plan?crews=1").json
    finish = {name_of(job): job["finish_hours"] for crew in plan["crews"] for job in crew}
    assert finish == {"L2": 1, "L1": 5}  # the same people in 1 h rather than 4 h
    assert plan["quality"]["phu"] == pytest.approx(1000 * 1) == plan["kpis"]["phu"]
    assert plan["quality"]["objective_lower_bound"] <= plan["quality"]["objective"]
    areas = {name_of(a): a["etr_hours"] for a in plan["etr_by_area"]}
    assert areas["A"] == 1 and areas["L1"] == 5


def test_a_pandapower_network_with_closed_rings_is_triaged_as_its_undirected_feed_links_say(
        fresh, tmp_path, pp, pn):  # noqa: F811 (the fixtures)
    app, conn = fresh
    ok(app, "import-facilities", save(pp, rings(pn), tmp_path / "rings.json"))
    dataset = one(conn, "INSERT INTO dataset (name, source) VALUES ('people', 'test') RETURNING id")
    layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) "
                         "VALUES ('people', 'points', %s, 0) RETURNING id", (dataset,)).fetchone()["id"]
    conn.execute("""INSERT INTO facility_population (facility_id, layer_id, population, population_served, method)
                    SELECT id, %s, 100, 100, 'given' FROM facility WHERE kind = 'substation'""", (layer,))
    rows = conn.execute("""SELECT f.id, f.external_id, f.kind, COALESCE(p.population, 0) AS people,
                                  COALESCE(array_agg(l.parent_id) FILTER (WHERE l.parent_id IS NOT NULL), '{}')
                                  AS parents
                           FROM facility f LEFT JOIN facility_population p ON p.facility_id = f.id
                           LEFT JOIN feed_link l ON l.child_id = f.id
                           GROUP BY f.id, f.external_id, f.kind, p.population ORDER BY f.id""").fetchall()
    assert any(len(r["parents"]) > 1 for r in rows)  # the rings are meshed in the registry

    def facilities(damaged: set[int]) -> list[Facility]:
        return [Facility(str(r["id"]), tuple(str(p) for p in r["parents"]), float(r["people"]), r["id"] in damaged,
                         8.0 if r["id"] in damaged else None) for r in rows]

    def dark(damaged: set[int]) -> tuple[float, float]:
        """People without power: exact (undirected) and as the directed feed links alone would count them."""
        items = facilities(damaged)
        on = brute(items)
        network = build_network(items)
        directed = sum(f.population for f, lit in zip(items, energised_at_start(network), strict=True) if not lit)
        return sum(f.population for f in items if f.id not in on), directed

    # A line whose loss the directed links miscount: its ring feeds the far side round the other way.
    line = next(r["id"] for r in rows if r["kind"] == "line" and dark({r["id"]})[0] < dark({r["id"]})[1])
    exact, directed = dark({line})
    crew_token = app.test_cli_runner()
    tokens = {}
    for name, role in (("coord", "coordinator"), ("crew", "crew")):
        crew_token.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        tokens[name] = crew_token.invoke(args=["create-token", name]).output.strip()
    body = {"id": str(uuid.uuid4()), "facility_id": line, "lon": 7.8, "lat": 48.4, "kind": "line",
            "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "severity": "severe",
            "status": "out_of_service", "repair_hours": 8}
    assert api_client(app, tokens["crew"]).post("/api/reports", json=body).status_code == 201
    triage = api_client(app, tokens["coord"]).get("/api/triage").json
    assert triage["summary"]["people_without_power"] == pytest.approx(exact) and exact < directed
    (row,) = triage["queue"]
    assert row["gain_now"] == pytest.approx(exact)  # its repair brings back everyone still dark
