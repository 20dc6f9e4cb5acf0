"""Tie switches in the live product: /api/triage proposes closing a normally-open tie that back-feeds a dark
feeder and ranks the queue after it; /api/plan's plan that switches beats the one that only repairs (simulated
exactly over the undirected network); a coordinator records that a step was done (audited, idempotent), and the
next triage counts those people as supplied."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.db import upgrade
from tests.conftest import PASSWORD, api_client, make_app

# Two sources. S1 - L7 (damaged, 6 h) - A (1,200) - B (3,000); a ring S1 - M1 (damaged, 2 h, 500) - X (800) -
# M2 (400) - S1, so X keeps power through M2; S2 - C (500). Tie S12, normally open, between B and C: manual.
NETWORK = {"S1": ((), 0), "L7": (("S1",), 0), "A": (("L7",), 1200), "B": (("A",), 3000),
           "M1": (("S1",), 500), "M2": (("S1",), 400), "X": (("M1", "M2"), 800), "S2": ((), 0), "C": (("S2",), 500)}
DAMAGE = {"L7": 6, "M1": 2}


def make_grid(pg_server, prefix: str):
    """A database holding only this grid with its tie, a coordinator and a crew account ("coord", "crew"), and
    the crew's reports of the damage: (app, tokens, facility ids by name, the switch's id, database url)."""
    url = pg_server.create_database(prefix)
    upgrade(url)
    app = make_app(url)
    with psycopg.connect(url, autocommit=True) as conn:
        ids = {}
        for position, name in enumerate(NETWORK):
            ids[name] = conn.execute(
                "INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, 'substation', "
                "ST_Point(%s, 50, 4326)) RETURNING id", (name, name, 10 + position / 100)).fetchone()[0]
        for name, (parents, _) in NETWORK.items():
            for parent in parents:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[parent], ids[name]))
        dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('t', 't') RETURNING id").fetchone()[0]
        layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) "
                             "VALUES ('t', 'points', %s, 6400) RETURNING id", (dataset,)).fetchone()[0]
        for name, (_, people) in NETWORK.items():
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))
        switch = conn.execute("INSERT INTO tie_switch (external_id, name, facility_a, facility_b) "
                              "VALUES ('sw-12', 'S12', %s, %s) RETURNING id", (ids["B"], ids["C"])).fetchone()[0]
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
    return app, tokens, ids, switch, url


@pytest.fixture(scope="module")
def grid(pg_server):
    made = make_grid(pg_server, "gt_switching")
    yield made
    made[0].extensions["db_pool"].close()
    pg_server.drop_database(made[4])


def exact_people_hours(finish: dict[str, float], closed_at: float | None) -> float:
    """People-hours without power, simulated exactly: at every event, breadth-first search from the sources over
    the facilities repaired or undamaged, feed links both ways, and the tie once closed."""
    events = sorted({0.0, *finish.values(), *([closed_at] if closed_at is not None else [])})
    total = 0.0
    for start, end in zip(events, events[1:], strict=False):
        ok = {f for f in NETWORK if f not in DAMAGE or finish[f] <= start}
        edges = [(p, f) for f, (ps, _) in NETWORK.items() for p in ps]
        if closed_at is not None and closed_at <= start:
            edges.append(("B", "C"))
        seen = {f for f in ok if not NETWORK[f][0]}
        frontier = list(seen)
        while frontier:
            here = frontier.pop()
            for a, b in edges:
                for x, y in ((a, b), (b, a)):
                    if x == here and y in ok and y not in seen:
                        seen.add(y)
                        frontier.append(y)
        total += sum(people for f, (_, people) in NETWORK.items() if f not in seen) * (end - start)
    return total


def name_of(row: dict) -> str:
    return row["facility"].split(" (facility ")[0]


def test_triage_proposes_the_tie_and_ranks_the_queue_after_it(grid):
    app, tokens, ids, switch, _ = grid
    body = api_client(app, tokens["coord"]).get("/api/triage").json
    assert body["summary"]["people_without_power"] == 4700  # the open tie is a proposal, not supply
    (step,) = body["switching"]
    by_name = {name_of(r): r for r in body["queue"]}
    assert step["switch_id"] == switch and step["external_id"] == "sw-12" and step["name"] == "S12"
    assert (step["remote"], step["hours"], step["people_restored"]) == (False, 0.5, 4200)
    assert step["bridges"] == {"case_ids": [by_name["L7"]["case_id"]], "case_facility_names": ["L7"],
                               "facility_ids": [ids["L7"]]}
    assert sorted(step["restores_facility_ids"]) == sorted([ids["A"], ids["B"]])
    assert step["people_hours_saved"] == pytest.approx(4200 * 5.5)
    assert step["flow"] == {"status": "not_possible",
                            "reason": "the power-flow check was not possible: the registry holds no electrical data"}
    assert step["sentence"] == "close switch S12: restores 4,200 people in 0.5 h while L7 is repaired"
    assert step["lon"] == pytest.approx((10.03 + 10.08) / 2) and step["lat"] == pytest.approx(50)
    # Ranked on the switched network: L7's people are back-fed, so M1's repair comes first and L7 restores nobody.
    assert [name_of(r) for r in body["queue"]] == ["M1", "L7"]
    assert by_name["L7"]["gain_now"] == 0 and by_name["M1"]["gain_now"] == 500
    assert by_name["L7"]["without_power_now"] == 4200  # the live figure: nobody has closed the switch yet
    assert by_name["L7"]["explanation"].endswith(
        "; closing switch S12 (proposed) back-feeds 4,200 people in 0.5 h that this repair would restore.")
    assert "S12" not in by_name["M1"]["explanation"]


def test_the_plan_that_switches_beats_the_one_that_only_repairs_simulated_exactly(grid):
    app, tokens, ids, _, _ = grid
    body = api_client(app, tokens["coord"]).get("/api/plan?crews=1").json
    block = body["switching"]
    (step,) = block["steps"]
    finish = {name_of(job): job["finish_hours"] for crew in body["crews"] for job in crew}
    case_name = {str(r["case_id"]): name_of(r) for crew in body["crews"] for r in crew}
    only = {case_name[c]: h for c, h in block["repairs_only_etr_by_case"].items()}
    assert finish == {"M1": 2, "L7": 8} and only == {"L7": 6, "M1": 8}
    with_switching = exact_people_hours(finish, step["ready_hours"])
    repairs_only = exact_people_hours(only, None)
    assert with_switching == pytest.approx(4200 * 0.5 + 500 * 2)
    assert repairs_only == pytest.approx(4200 * 6 + 500 * 8)
    assert block["objective_with_switching"] == pytest.approx(with_switching)
    assert block["objective_repairs_only"] == pytest.approx(repairs_only)
    assert block["objective_with_switching"] < block["objective_repairs_only"]
    assert body["quality"]["phu"] == pytest.approx(with_switching) == body["kpis"]["phu"]
    assert block["waiting_phu"] == pytest.approx(4200 * 0.5)
    assert "not by the repair crews" in block["done_by"]
    # The back-fed areas are back when the step is done, the others when the repairs after it bring them back.
    areas = {a["facility"].split(" (facility ")[0]: a["etr_hours"] for a in body["etr_by_area"]}
    assert areas == {"A": 0.5, "B": 0.5, "M1": 2, "L7": 8}


def test_a_coordinator_closes_the_switch_once_audited_and_the_next_triage_counts_those_people_supplied(grid):
    app, tokens, ids, switch, url = grid
    coord = api_client(app, tokens["coord"])
    assert api_client(app, tokens["crew"]).post(f"/api/switches/{switch}/close", json={}).status_code == 403
    done = coord.post(f"/api/switches/{switch}/close", json={"reason": "closed by the control room"})
    assert done.status_code == 200 and done.json["changed"] is True
    assert done.json["switch"]["state"] == "closed" and done.json["switch"]["closed_by"] == "coord"
    again = coord.post(f"/api/switches/{switch}/close")
    assert again.status_code == 200 and again.json["changed"] is False
    with psycopg.connect(url) as conn:
        events = conn.execute("SELECT action, reason, before, after FROM audit_event WHERE entity = 'tie_switch' "
                              "AND entity_id = %s ORDER BY id", (str(switch),)).fetchall()
    assert events == [("close_switch", "closed by the control room", {"state": "open"}, {"state": "closed"})]
    try:
        body = coord.get("/api/triage").json
        assert body["summary"]["people_without_power"] == 500 and body["switching"] == []
        by_name = {name_of(r): r for r in body["queue"]}
        assert by_name["L7"]["without_power_now"] == 0 and by_name["L7"]["gain_now"] == 0
        layer = coord.get("/api/switches").json
        (feature,) = layer["features"]
        assert feature["properties"]["state"] == "closed" and feature["properties"]["proposed"] is False
    finally:
        opened = coord.post(f"/api/switches/{switch}/open", json={})
        assert opened.status_code == 200 and opened.json["changed"] is True
    assert coord.get("/api/triage").json["summary"]["people_without_power"] == 4700
    layer = coord.get("/api/switches").json
    assert layer["features"][0]["properties"]["proposed"] is True
    assert layer["features"][0]["properties"]["people_restored"] == 4200


def test_bad_switch_ids_and_bodies_get_specific_errors(grid):
    app, tokens, _, switch, _ = grid
    coord = api_client(app, tokens["coord"])
    bad = coord.post("/api/switches/twelve/close", json={})
    assert bad.status_code == 400 and bad.json["errors"] == {"switch_id": "must be an integer"}
    assert coord.post("/api/switches/0/open", json={}).status_code == 400
    missing = coord.post("/api/switches/987654/close", json={})
    assert missing.status_code == 404 and "no tie switch 987654" in missing.json["error"]
    wrong = coord.post(f"/api/switches/{switch}/close", json={"reason": 5})
    assert wrong.status_code == 422 and "reason" in wrong.json["errors"]
    assert coord.post(f"/api/switches/{switch}/close", data="x", content_type="text/plain").status_code == 400


def test_the_proposal_is_said_in_ukrainian(grid):
    app, tokens, _, _, _ = grid
    body = api_client(app, tokens["coord"]).get("/api/triage", headers={"Accept-Language": "uk"}).json
    (step,) = body["switching"]
    assert step["sentence"].startswith("замкнути вимикач S12")
    assert "електричних даних" in step["flow"]["reason"]
    l7 = next(r for r in body["queue"] if r["facility_name"] == "L7")
    assert "замикання вимикача S12 (запропоноване) за 0,5 год живить із іншого боку" in l7["explanation"]


def test_the_case_page_ranks_as_the_queue_does_and_follows_the_switch(grid):
    from app import db as app_db
    from app.cases import service

    app, tokens, ids, switch, _ = grid
    coord = api_client(app, tokens["coord"])
    queue = {name_of(r): r for r in coord.get("/api/triage").json["queue"]}

    def standing(name: str) -> dict:
        with app.app_context(), app_db.connection() as conn:
            return service.standing(conn, queue[name]["case_id"], default_share=0.5, persons_per_customer=2.5,
                                    deadline=lambda: True)

    assert (standing("M1")["rank"], standing("L7")["rank"]) == (queue["M1"]["rank"], queue["L7"]["rank"]) == (1, 2)
    made = app.extensions["case_standings"]["last"]
    assert coord.post(f"/api/switches/{switch}/close", json={}).json["changed"] is True
    try:
        standing("L7")
        assert app.extensions["case_standings"]["last"] is not made  # a closed switch is a change: planned again
    finally:
        assert coord.post(f"/api/switches/{switch}/open", json={}).json["changed"] is True


def test_of_two_ties_into_one_dark_feeder_the_quicker_is_proposed_never_both(grid):
    app, tokens, ids, switch, url = grid
    with psycopg.connect(url, autocommit=True) as conn:
        remote = conn.execute("INSERT INTO tie_switch (external_id, name, facility_a, facility_b, remote, "
                              "switch_hours) VALUES ('sw-13', 'S13', %s, %s, true, 0.2) RETURNING id",
                              (ids["A"], ids["C"])).fetchone()[0]
    try:
        body = api_client(app, tokens["coord"]).get("/api/triage").json
        (step,) = body["switching"]  # closing S12 as well would parallel two energised parts
        assert (step["switch_id"], step["remote"], step["hours"]) == (remote, True, 0.2)
        assert step["sentence"] == "close switch S13: restores 4,200 people in 0.2 h while L7 is repaired"
        layer = {f["id"]: f["properties"] for f in api_client(app, tokens["coord"]).get("/api/switches").json[
            "features"]}
        assert (layer[remote]["proposed"], layer[switch]["proposed"]) == (True, False)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM tie_switch WHERE id = %s", (remote,))


def test_the_dispatch_plan_sends_the_crew_where_switching_cannot_help_first(grid):
    from datetime import time

    from app import db as app_db
    from app.crews import service
    from app.crews.input import CrewIn
    from app.repo import crews as crews_repo

    app, tokens, ids, _, _ = grid
    crew = CrewIn(name="North", lon=10.0, lat=50.0, skills=("substation",), shift_start=time(0),
                  shift_end=time(23, 59), time_zone="UTC", status="available", members=("crew",))
    with app.app_context(), app_db.connection() as conn:
        crews_repo.lock(conn)
        crew_id = service.save(conn, crew, existing=None, actor_id=None, reason="switching test").id
    body = api_client(app, tokens["coord"]).get(f"/api/dispatch?crew={crew_id}").json
    (route,) = body["plan"]["crews"]
    assert [job["facility_name"] for job in route["jobs"]] == ["M1", "L7"]  # L7's people are back-fed meanwhile


def test_closing_a_switch_moves_the_maps_change_cursor_so_every_open_map_refreshes(grid):
    app, tokens, _, switch, _ = grid
    coord = api_client(app, tokens["coord"])
    before = coord.get("/api/map/changes").json["cursor"]
    assert coord.post(f"/api/switches/{switch}/close", json={}).json["changed"] is True
    try:
        closed = coord.get("/api/map/changes").json["cursor"]
        assert closed != before
    finally:
        coord.post(f"/api/switches/{switch}/open", json={})
    assert coord.get("/api/map/changes").json["cursor"] not in (before, closed)
