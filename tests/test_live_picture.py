"""The live picture through the API: what crews report about each facility's state decides who is without power,
what a repair restores and how work in progress is planned (stored in PostGIS, served by the app)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import api_client, create_accounts, make_app

# S (source) feeds Oper (1,000 people), Degr (2,000), Dark (3,000); Dark feeds Below (500), which nobody reports.
NETWORK = {"Live S": (None, 0), "Live Oper": ("Live S", 1000), "Live Degr": ("Live S", 2000),
           "Live Dark": ("Live S", 3000), "Live Below": ("Live Dark", 500)}
ACCOUNTS = {"lp_crew": "crew", "lp_coord": "coordinator"}


@pytest.fixture(scope="module")
def grid(new_database):
    url = new_database()
    app = make_app(url, DEGRADED_SHARE_OUT=0.5)
    ids = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for position, name in enumerate(NETWORK):
            ids[name] = conn.execute(
                "INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, 'substation', "
                "ST_Point(%s, 47, 4326)) RETURNING id", (name, name, 20 + position / 10)).fetchone()[0]
        for name, (parent, _) in NETWORK.items():
            if parent:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[parent], ids[name]))
        dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('lp', 'lp') RETURNING id").fetchone()[0]
        layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) "
                             "VALUES ('lp', 'points', %s, 6500) RETURNING id", (dataset,)).fetchone()[0]
        for name, (_, people) in NETWORK.items():
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))
    tokens = create_accounts(app, ACCOUNTS)
    crew = api_client(app, tokens["lp_crew"])
    cases = {}
    for name, status, share, hours in (("Live Oper", "operating", None, 4), ("Live Degr", "degraded", 0.3, 4),
                                       ("Live Dark", "out_of_service", None, 6)):
        body = {"id": str(uuid.uuid4()), "facility_id": ids[name], "lon": 20, "lat": 47, "kind": "substation",
                "severity": "moderate", "status": status, "repair_hours": hours,
                "observed_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat()}
        if share is not None:
            body["share_out"] = share
        sent = crew.post("/api/reports", json=body)
        assert sent.status_code == 201, sent.json
        cases[name] = sent.json["report"]["case_id"]
    yield app, tokens, ids, cases, url
    app.extensions["db_pool"].close()


def coord(grid):
    return api_client(grid[0], grid[1]["lp_coord"])


def rows(grid):
    return {r["facility_name"]: r for r in coord(grid).get("/api/triage").json["queue"]}


def test_the_triage_counts_who_is_dark_partly_supplied_and_what_each_repair_restores(grid):
    body = coord(grid).get("/api/triage").json
    summary = body["summary"]
    # 30 % of Degr's 2,000, all of Dark's 3,000 and Below's 500 (nobody reported Below: it is fed through Dark).
    assert summary["people_without_power"] == pytest.approx(600 + 3000 + 500)
    assert summary["people_partially_supplied"] == pytest.approx(1400)
    assert "share_out" in summary["method"]
    queue = {r["facility_name"]: r for r in body["queue"]}
    assert queue["Live Oper"]["without_power_now"] == 0
    assert queue["Live Degr"]["without_power_now"] == pytest.approx(600)
    assert queue["Live Dark"]["without_power_now"] == 3500
    assert queue["Live Degr"]["operational_status"] == "degraded" and queue["Live Degr"]["share_out"] == 0.3
    assert queue["Live Degr"]["population"] == {"direct": 2000, "layer": "lp", "method": "given"}
    # The report was observed two hours ago: just after midnight UTC, on the day before, so with its date.
    assert re.fullmatch(r"reported degraded \(about 30% without supply\) at (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC "
                        r"by lp_crew", queue["Live Degr"]["operational_status_source"])
    # The operating case restores nobody: it comes after every case that restores people, and says why.
    assert [r["facility_name"] for r in body["queue"]][-1] == "Live Oper"
    oper = queue["Live Oper"]
    assert oper["gain_now"] == 0 and oper["rank"] == 3
    assert oper["explanation"].startswith("Reported operating at ")
    assert "by lp_crew: repairing it restores nobody now." in oper["explanation"]
    assert queue["Live Dark"]["gain_now"] == 3500 and queue["Live Degr"]["gain_now"] == pytest.approx(600)


def test_the_plan_and_the_sitrep_give_the_same_figures(grid):
    client = coord(grid)
    triage = client.get("/api/triage").json["summary"]
    plan = client.get("/api/plan?crews=2").json
    assert plan["summary"]["people_without_power"] == triage["people_without_power"]
    assert plan["kpis"]["affected_population"] == pytest.approx(triage["people_without_power"])
    page = grid[0].test_client()
    page.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {grid[1]['lp_coord']}"
    html = page.get("/sitrep").get_data(as_text=True)
    assert '<strong id="without-power">4,100</strong>' in html
    assert '<strong id="partly-supplied">1,400</strong>' in html


def test_reports_that_disagree_show_both_and_the_latest_counts(grid):
    app, tokens, ids, cases, _ = grid
    later = {"id": str(uuid.uuid4()), "case_id": cases["Live Degr"], "lon": 20, "lat": 47, "kind": "substation",
             "severity": "severe", "status": "out_of_service",
             "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    earlier = {**later, "id": str(uuid.uuid4()), "status": "operating",
               "observed_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat()}
    crew = api_client(app, tokens["lp_crew"])
    assert crew.post("/api/reports", json=later).status_code == 201
    assert crew.post("/api/reports", json=earlier).status_code == 201  # received last, observed first
    row = rows(grid)["Live Degr"]
    assert row["operational_status"] == "out_of_service" and row["without_power_now"] == 2000
    assert row["reports_disagree"] == ("reports disagree (degraded, operating, out of service); the latest "
                                       "observation counts: out of service")
    # A coordinator's status wins (audited, with a reason) until handed back to the reports.
    client = coord(grid)
    refused = client.post(f"/api/cases/{cases['Live Degr']}/actions",
                          json={"action": "set_operational_status", "operational_status": "degraded"})
    assert refused.status_code == 422 and "reason" in refused.json["errors"]
    set_it = client.post(f"/api/cases/{cases['Live Degr']}/actions", json={
        "action": "set_operational_status", "operational_status": "degraded", "share_out": 0.3,
        "reason": "walked the feeders: only the east side is out"})
    assert set_it.status_code == 200, set_it.json
    row = rows(grid)["Live Degr"]
    assert row["operational_status"] == "degraded" and row["without_power_now"] == pytest.approx(600)
    assert row["operational_status_source"].startswith("set to degraded (about 30% without supply) by lp_coord at ")
    assert row["operational_status_source"].endswith(": walked the feeders: only the east side is out")
    back = client.post(f"/api/cases/{cases['Live Degr']}/actions", json={
        "action": "set_operational_status", "operational_status": "from_reports", "reason": "reports are current"})
    assert back.status_code == 200
    assert rows(grid)["Live Degr"]["operational_status"] == "out_of_service"
    client.post(f"/api/cases/{cases['Live Degr']}/actions", json={
        "action": "set_operational_status", "operational_status": "degraded", "share_out": 0.3, "reason": "reset"})


def test_work_in_progress_keeps_its_crew_and_its_start(grid, new_database):
    app, tokens, ids, cases, url = grid
    client = coord(grid)
    dark = cases["Live Dark"]
    for action in ({"action": "assign", "crew": "Crew East"}, {"action": "start_repair"}):
        assert client.post(f"/api/cases/{dark}/actions", json=action).status_code == 200
    with psycopg.connect(url, autocommit=True) as conn:  # the repair started two hours ago (events are append-only)
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE case_event SET at = now() - interval '2 hours' WHERE case_id = %s AND "
                     "to_status = 'in_repair'", (dark,))
    assert client.post(f"/api/cases/{cases['Live Oper']}/actions",
                       json={"action": "assign", "crew": "Crew West"}).status_code == 200
    row = rows(grid)["Live Dark"]
    assert row["repair_hours"] == pytest.approx(4, abs=0.01)  # 6 h estimated, 2 h done
    assert row["work"].startswith("in repair by Crew East since ")
    plan = client.get("/api/plan?crews=1").json
    labels = plan["crew_labels"]
    assert set(labels) == {"Crew East", "Crew West"}  # two crews hold work: both are planned
    east = plan["crews"][labels.index("Crew East")]
    assert east[0]["case_id"] == dark and east[0]["commitment"] == "in_progress"
    assert east[0]["start_hours"] == pytest.approx(-2, abs=0.01)
    assert east[0]["finish_hours"] == pytest.approx(4, abs=0.01)
    assert plan["etr_by_case"][str(dark)] == pytest.approx(4, abs=0.01)
    west = plan["crews"][labels.index("Crew West")]
    assert west[0]["case_id"] == cases["Live Oper"] and west[0]["commitment"] == "assigned"
    assert any("crews" in note for note in plan["notes"])
    # Released, the assigned case is planned freely again.
    assert client.post(f"/api/cases/{cases['Live Oper']}/actions",
                       json={"action": "release", "reason": "crew needed elsewhere"}).status_code == 200
    plan = client.get("/api/plan?crews=1").json
    assert plan["crew_labels"] == ["Crew East"]
    assert [job["commitment"] for job in plan["crews"][0]][0] == "in_progress"
    assert [job["commitment"] for job in plan["crews"][0]][1:] == [None, None]
    # An overdue repair is planned with the minimum left and flagged.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE case_event SET at = now() - interval '9 hours' WHERE case_id = %s AND "
                     "to_status = 'in_repair'", (dark,))
    row = rows(grid)["Live Dark"]
    assert row["repair_hours"] == 0.25 and row["repair_hours_flag"].startswith("overdue: in repair for 9.0 h")


def test_the_case_page_shows_the_operational_status_and_where_it_came_from(grid):
    app, tokens, _, cases, _ = grid
    page = app.test_client()
    page.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['lp_coord']}"
    html = page.get(f"/cases/{cases['Live Oper']}").get_data(as_text=True)
    assert 'id="operational-status"' in html and "reported operating at " in html
    assert 'id="form-set_operational_status"' in html
    exported = coord(grid).get("/api/export/cases.geojson").json
    props = {f["properties"]["id"]: f["properties"] for f in exported["features"]}
    assert props[cases["Live Oper"]]["operational_status"] == "operating"
    assert props[cases["Live Oper"]]["operational_status_set_by"] == "report"
    assert props[cases["Live Oper"]]["operational_status_by"] == "lp_crew"
