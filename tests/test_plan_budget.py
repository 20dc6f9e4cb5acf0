"""/api/plan's search leaves room for what follows it (issue 17): the search budget is the request's time limit
less the time spent reading the situation and an estimate of the work after the search; cut to nothing, the plan
is the construction's and its quality fields stay true to it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.coordinator import triage
from app.db import upgrade
from geo.plan import gap, improvement
from tests.conftest import PASSWORD, api_client, make_app

# A feeder of eight damaged facilities under one source, so that the plan has work for the search.
PEOPLE = [0, 5_000, 300, 8_000, 0, 1_200, 9_000, 40, 2_500]
PARENT = [None, 0, 1, 0, 3, 4, 1, 6, 0]
HOURS = [None, 3, 1, 5, 2, 1, 4, 2, 6]


@pytest.fixture(scope="module")
def feeder(pg_server):
    url = pg_server.create_database("gt_plan_budget")
    upgrade(url)
    app = make_app(url)
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, 'substation', "
                            "ST_Point(%s, 50, 4326)) RETURNING id", (f"f{i}", f"F{i}", 10 + i / 100)).fetchone()[0]
               for i in range(len(PEOPLE))]
        for i, p in enumerate(PARENT):
            if p is not None:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[p], ids[i]))
        dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('t', 't') RETURNING id").fetchone()[0]
        layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) "
                             "VALUES ('t', 'points', %s, %s) RETURNING id", (dataset, sum(PEOPLE))).fetchone()[0]
        for i, people in enumerate(PEOPLE):
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[i], layer, people, people))
    runner = app.test_cli_runner()
    tokens = {}
    for name, role in (("coord", "coordinator"), ("crew", "crew")):
        runner.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        tokens[name] = runner.invoke(args=["create-token", name]).output.strip()
    crew = api_client(app, tokens["crew"])
    observed = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for i, hours in enumerate(HOURS):
        if hours is None:
            continue
        body = {"id": str(uuid.uuid4()), "facility_id": ids[i], "lon": 10 + i / 100, "lat": 50,
                "observed_at": observed, "kind": "substation", "severity": "severe", "status": "out_of_service",
                "repair_hours": hours}
        assert crew.post("/api/reports", json=body).status_code == 201
    yield api_client(app, tokens["coord"])
    app.extensions["db_pool"].close()
    pg_server.drop_database(url)


def test_the_budget_leaves_room_for_what_follows_the_search():
    assert triage.search_budget(2.0, 0.5, 0) == pytest.approx(2.0 - 0.5 - triage.AFTER_SEARCH_S)
    assert triage.search_budget(2.0, 0.5, 10_000) == pytest.approx(
        2.0 - 0.5 - triage.AFTER_SEARCH_S - 10_000 * triage.AFTER_SEARCH_PER_CASE_S)
    assert triage.search_budget(2.0, 0.5, 10_000) < triage.search_budget(2.0, 0.5, 100)
    assert triage.search_budget(0.05, 0.04, 10_000) == 0.0  # never below zero


def quality_is_true_to_the_plan(body: dict) -> None:
    q = body["quality"]
    assert q["objective_lower_bound"] <= q["objective"] + 1e-6 and q["objective"] <= q["naive_objective"] + 1e-6
    assert q["phu_lower_bound"] <= q["phu"] + 1e-6
    assert q["objective_gap"] == pytest.approx(gap(q["objective"], q["objective_lower_bound"]))
    assert q["gap"] == pytest.approx(gap(q["phu"], q["phu_lower_bound"]))
    assert q["improvement_vs_naive"] == pytest.approx(improvement(q["phu"], q["naive_phu"]))
    assert q["objective_improvement_vs_naive"] == pytest.approx(improvement(q["objective"], q["naive_objective"]))
    # The plan's people-hours are its own ETRs times the people each brings back (every damaged facility is its
    # own dark area here), and the KPIs say the same.
    etr = {a["facility"]: (a["population"], a["etr_hours"]) for a in body["etr_by_area"]}
    assert q["phu"] == pytest.approx(sum(people * hours for people, hours in etr.values()))
    assert body["kpis"]["phu"] == pytest.approx(q["phu"])
    naive = {a["facility"]: (a["population"], a["etr_hours"]) for a in body["naive_etr_by_area"]}
    assert q["naive_phu"] == pytest.approx(sum(people * hours for people, hours in naive.values()))
    assert sorted(job["case_id"] for crew in body["crews"] for job in crew) == sorted(
        int(case) for case in body["etr_by_case"])


@pytest.mark.parametrize("crews", [1, 2, 3])
def test_quality_stays_true_with_the_search_cut_to_nothing_or_given_time(feeder, monkeypatch, crews):
    searched = feeder.get(f"/api/plan?crews={crews}&time_limit=1").json
    quality_is_true_to_the_plan(searched)
    monkeypatch.setattr(triage, "AFTER_SEARCH_PER_CASE_S", 10.0)  # the estimate eats the whole budget
    cut = feeder.get(f"/api/plan?crews={crews}&time_limit=1").json
    quality_is_true_to_the_plan(cut)
    assert cut["quality"]["objective"] >= searched["quality"]["objective"] - 1e-6  # the search only improves it
    assert cut["quality"]["objective_lower_bound"] == pytest.approx(searched["quality"]["objective_lower_bound"])
