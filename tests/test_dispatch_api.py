"""GET/POST /api/dispatch: the plan for chosen crews with travel, skills, access waits and clock-time ETRs, and
turning it into assignments a crew sees as its next job (real PostGIS, the app's own crews)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.coordinator.dispatching import shift_hours, shift_window
from geo.dispatch import Crew
from tests.conftest import all_day_shift, api_client, create_accounts, make_app, run

# Two substations and a line near Kyiv, fed by one source; crews: one for substations, one for lines.
SITES = {"Dp Source": ("substation", 30.50, 50.45, None, 0),
         "Dp North": ("substation", 30.52, 50.50, "Dp Source", 4000),
         "Dp South": ("substation", 30.48, 50.40, "Dp Source", 2500),
         "Dp Line": ("line", 30.60, 50.45, "Dp Source", 800)}
ACCOUNTS = {"dp_sub": "crew", "dp_line": "crew", "dp_coord": "coordinator"}


@pytest.fixture(scope="module")
def kyiv(new_database, tmp_path_factory):
    url = new_database()
    app = make_app(url)
    ids = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name, (kind, lon, lat, _, _) in SITES.items():
            ids[name] = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, %s, "
                                     "ST_Point(%s, %s, 4326)) RETURNING id", (name, name, kind, lon, lat)).fetchone()[0]
        for name, (_, _, _, parent, _) in SITES.items():
            if parent:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[parent], ids[name]))
        dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('dp', 'dp') RETURNING id").fetchone()[0]
        layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) VALUES ('dp', 'points', "
                             "%s, 7300) RETURNING id", (dataset,)).fetchone()[0]
        for name, (_, _, _, _, people) in SITES.items():
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))
    tokens = create_accounts(app, ACCOUNTS)
    crews = tmp_path_factory.mktemp("crews") / "crews.csv"
    crews.write_text("name,lon,lat,skills,shift_start,shift_end,time_zone,status,members\n"
                     "Subs,30.50,50.45,substation,{0},{1},UTC,available,dp_sub\n"
                     "Lines,30.50,50.45,line,{0},{1},UTC,available,dp_line\n".format(*all_day_shift()))
    run(app, "import-crews", crews)
    crew = api_client(app, tokens["dp_sub"])
    cases = {}
    for name in ("Dp North", "Dp South", "Dp Line"):
        kind, lon, lat, _, _ = SITES[name]
        body = {"id": str(uuid.uuid4()), "facility_id": ids[name], "lon": lon, "lat": lat, "kind": kind,
                "severity": "moderate", "status": "out_of_service", "repair_hours": 3,
                "observed_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat()}
        cases[name] = crew.post("/api/reports", json=body).json["report"]["case_id"]
    with psycopg.connect(url) as conn:
        crew_ids = dict(conn.execute("SELECT name, id FROM crew").fetchall())
    yield app, tokens, cases, crew_ids
    app.extensions["db_pool"].close()


def coord(kyiv):
    return api_client(kyiv[0], kyiv[1]["dp_coord"])


def test_shift_windows_on_the_crews_clock():
    from datetime import time
    noon = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert shift_window(time(8), time(20), "UTC", now=noon) == (0.0, 8.0)
    assert shift_window(time(14), time(22), "UTC", now=noon) == (2.0, 10.0)
    assert shift_window(time(22), time(6), "UTC", now=noon) == (10.0, 18.0)  # overnight
    assert shift_window(time(8), time(20), "Europe/Kyiv", now=noon) == (0.0, 6.0)  # 14:00 in Kyiv
    assert [shift_hours(time(a), time(b)) for a, b in ((8, 20), (22, 6), (7, 7))] == [12, 8, 24]


def test_a_crew_whose_shift_ends_soon_leaves_the_long_repair_for_its_next_shift_on_its_clock():
    from datetime import time

    from geo.dispatch import Site, dispatch
    from geo.network import Facility, build_network
    noon = datetime(2026, 12, 7, 12, tzinfo=UTC)
    free, ends = shift_window(time(8), time(13), "UTC", now=noon)  # one hour left of a 5 h shift
    crew = Crew("day", (30.0, 50.0), available_from_hours=free, shift_end_hours=ends,
                shift_hours=shift_hours(time(8), time(13)), shift_period_hours=24)
    network = build_network([Facility("S"), Facility("A", ("S",), 100, True, 3)])
    (job,) = dispatch(network, [crew], {"A": Site("A", (30.01, 50.0))}, samples=5).routes[0].jobs
    assert job.start_hours == 20  # 08:00 tomorrow, not 12:05 today with 2 h of it after the shift


def test_the_plan_for_chosen_crews_respects_skills_travel_and_gives_clock_times(kyiv):
    _, _, cases, crew_ids = kyiv
    body = coord(kyiv).get("/api/dispatch", query_string=[("crew", crew_ids["Subs"]), ("crew", crew_ids["Lines"])])
    assert body.status_code == 200, body.json
    plan = body.json
    routes = {route["crew"]: route["jobs"] for route in plan["plan"]["crews"]}
    assert {j["case_id"] for j in routes["Lines"]} == {cases["Dp Line"]}  # only the line crew does lines
    assert {j["case_id"] for j in routes["Subs"]} == {cases["Dp North"], cases["Dp South"]}
    first = routes["Subs"][0]
    assert first["arrival"] > first["travel_start"] == 0  # it travels from its base
    assert first["start_at"].endswith("Z") and first["facility_name"] in ("Dp North", "Dp South")
    etr = plan["plan"]["cases"][str(cases["Dp Line"])]
    assert etr["etr"] <= etr["p90"] and etr["p50"] <= etr["p90"] and etr["etr_at"].endswith("Z")
    quality = plan["quality"]
    assert quality["optimal"] is True and quality["objective_lower_bound"] <= quality["objective"]
    assert plan["summary"]["people_without_power"] == 7300


def test_a_site_waiting_for_clearance_is_not_started_before_it(kyiv):
    _, _, cases, crew_ids = kyiv
    client = coord(kyiv)
    later = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
    assert client.post(f"/api/cases/{cases['Dp South']}/actions", json={
        "action": "set_access", "access_state": "needs_clearance", "expected_at": later}).status_code == 200
    plan = client.get("/api/dispatch", query_string=[("crew", crew_ids["Subs"]), ("crew", crew_ids["Lines"])]).json
    (south,) = [j for r in plan["plan"]["crews"] for j in r["jobs"] if j["case_id"] == cases["Dp South"]]
    assert south["start"] >= 5 - 0.01 and south["access_state"] == "needs_clearance"
    assert client.post(f"/api/cases/{cases['Dp South']}/actions",
                       json={"action": "set_access", "access_state": "from_hazards"}).status_code == 200


@pytest.mark.parametrize(("query", "says"), [([], "choose at least one crew"), ([("crew", "abc")], "not a crew id"),
                                              ([("crew", "999999")], "there is no crew")])
def test_bad_crew_choices_are_422_naming_the_field(kyiv, query, says):
    response = coord(kyiv).get("/api/dispatch", query_string=query)
    assert response.status_code == 422 and says in response.json["errors"]["crew"]


def test_a_case_no_chosen_crew_can_repair_is_a_422(kyiv):
    response = coord(kyiv).get("/api/dispatch", query_string={"crew": kyiv[3]["Lines"]})
    assert response.status_code == 422 and "no crew has the skill 'substation'" in response.json["errors"]["crew"]
    ukrainian = coord(kyiv).get("/api/dispatch", query_string={"crew": kyiv[3]["Lines"]},
                                headers={"Accept-Language": "uk"})
    assert ukrainian.status_code == 422
    assert "жодна бригада не має потрібної йому навички «підстанції»" in ukrainian.json["errors"]["crew"]


def test_dispatch_assigns_each_crew_its_cases_in_order_and_the_crew_sees_its_next_job(kyiv):
    app, tokens, cases, crew_ids = kyiv
    done = coord(kyiv).post("/api/dispatch", json={"crews": [crew_ids["Subs"], crew_ids["Lines"]]})
    assert done.status_code == 200, done.json
    assigned = {a["case_id"]: a for a in done.json["assigned"]}
    assert set(assigned) == set(cases.values())
    assert assigned[cases["Dp Line"]]["crew"] == "Lines" and assigned[cases["Dp Line"]]["crew_account"] == "dp_line"
    order = [j["case_id"] for r in done.json["plan"]["plan"]["crews"] if r["crew"] == "Subs" for j in r["jobs"]]
    mine = api_client(app, tokens["dp_sub"]).get("/api/my/cases").json["cases"]
    nxt = [c for c in mine if c["next_job"]]
    assert [c["id"] for c in nxt] == [order[0]] and {c["id"] for c in mine} == set(order)
    assert nxt[0]["map_url"].startswith("geo:50.") and nxt[0]["access_state"] == "cleared"
    events = coord(kyiv).get(f"/api/cases/{order[0]}").json["events"]
    assert events[-1]["action"] == "assign" and events[-1]["reason"] == "dispatched: job 1 of 2 for Subs"
    assert coord(kyiv).post("/api/dispatch", json={"crews": "Subs"}).status_code == 422


def test_the_sitrep_gives_clock_time_etrs_with_ranges_from_the_crews_on_duty(kyiv):
    app, tokens, cases, _ = kyiv
    page = app.test_client()
    page.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['dp_coord']}"
    html = page.get("/sitrep").get_data(as_text=True)
    assert 'id="clock-etr-cases"' in html and 'id="clock-etr-areas"' in html and "(Lines, Subs)" in html
    for case_id in cases.values():
        assert f'/cases/{case_id}">{case_id}</a>' in html
    rows = re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d)</td>\s*<td>(\S+ \S+) – (\S+ \S+)</td>", html)
    assert rows and all(p50 <= p90 for _, p50, p90 in rows)



def test_a_repair_under_way_keeps_its_crew_in_the_dispatch_plan(kyiv):
    _, _, cases, crew_ids = kyiv
    client = coord(kyiv)
    north = cases["Dp North"]
    for action in ({"action": "assign", "crew": "Subs"}, {"action": "start_repair"}):
        client.post(f"/api/cases/{north}/actions", json=action)
    plan = client.get("/api/dispatch", query_string=[("crew", crew_ids["Subs"]), ("crew", crew_ids["Lines"])]).json
    subs = next(r["jobs"] for r in plan["plan"]["crews"] if r["crew"] == "Subs")
    assert subs[0]["case_id"] == north and subs[0]["commitment"] == "in_progress"
    assert subs[0]["start"] <= 0 and subs[0]["travel_start"] == subs[0]["arrival"] == subs[0]["start"]
    only_lines = client.get("/api/dispatch", query_string={"crew": crew_ids["Lines"]})
    assert only_lines.status_code == 422  # the line crew cannot do substations: no silent reassignment
