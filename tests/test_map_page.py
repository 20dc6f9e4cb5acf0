"""The coordinator map in a real headless Chromium: cases, live updates, the queue, the plan and hostile text."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from tests.conftest import login
from tests.test_reports_api import report

pytestmark = pytest.mark.browser

XSS_NOTES = "<img src=x onerror=window.__xss=1> and <script>window.__xss=2</script>"
XSS_NAME = "<img src=x onerror=window.__xss=3>Substation"
# Facilities other tests damage by name: leave them alone in the shared session database.
NAMED_ELSEWHERE = ["Airton", "Belfield", "Cherrywood", "Finglas"]


def free_facility(db) -> dict:
    return db.execute("""SELECT f.id, f.name, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat FROM facility f
                         WHERE NOT EXISTS (SELECT 1 FROM damage_case c WHERE c.facility_id = f.id
                                           AND c.status NOT IN ('repaired', 'rejected', 'duplicate'))
                           AND f.geom && ST_MakeEnvelope(-6.4, 53.25, -6.1, 53.45, 4326)
                           AND f.name <> ALL(%s)
                         ORDER BY f.id DESC LIMIT 1""", (NAMED_ELSEWHERE,)).fetchone()


def damage(client, db, **overrides) -> dict:
    facility = free_facility(db)
    body = report(facility_id=facility["id"], lon=facility["lon"], lat=facility["lat"], **overrides)
    response = client.post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    return {**response.json["report"], "facility": facility}


def cases_in(db, bbox: str) -> int:
    w, s, e, n = (float(v) for v in bbox.split(","))
    return db.execute("""SELECT count(*) AS n FROM damage_case WHERE status NOT IN ('duplicate', 'rejected')
                         AND geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)""", (w, s, e, n)).fetchone()["n"]


def open_map(page, live_server):
    login(page, live_server, "coordinator")
    page.goto(live_server + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    page.wait_for_selector("#queue[data-count]", state="attached")


def test_map_shows_every_case_in_view_and_passes_the_csp(live_server, page, client, db):
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    damage(client, db)
    damage(client, db, kind="substation", severity="minor")
    open_map(page, live_server)
    bbox = page.get_attribute("#map", "data-bbox")
    assert int(page.get_attribute("#map", "data-case-count")) == cases_in(db, bbox) >= 2
    assert page.locator("path.case-marker, path.cluster-marker").count() >= 1
    assert violations == [] and page.js_errors == []


def test_a_new_report_appears_without_a_reload(live_server, page, client, db):
    open_map(page, live_server)
    before = int(page.get_attribute("#map", "data-case-count"))
    page.evaluate("window.__marker = 1")
    fresh = damage(client, db)
    page.wait_for_selector(f"#map[data-case-count='{before + 1}']", timeout=10_000)
    page.wait_for_selector(f"#queue li[data-case-id='{fresh['case_id']}']", timeout=10_000)
    assert page.evaluate("window.__marker") == 1  # the same page: no reload happened


def test_queue_order_matches_the_triage_api(live_server, page, client, coordinator, db):
    damage(client, db)
    open_map(page, live_server)
    shown = [int(v) for v in page.eval_on_selector_all("#queue li", "els => els.map(e => e.dataset.caseId)")]
    expected = [row["case_id"] for row in coordinator.get("/api/triage").json["queue"]]
    assert shown == expected and len(shown) >= 1
    first = page.locator("#queue li").first
    first.click()
    page.wait_for_selector("#queue li.selected")
    assert page.get_attribute("#map", "data-selected") == str(expected[0])
    page.wait_for_selector(f"path.case-{expected[0]}", timeout=5_000)


def test_hostile_text_shows_as_text(live_server, page, client, db):
    facility = free_facility(db)
    db.execute("UPDATE facility SET name = %s WHERE id = %s", (XSS_NAME, facility["id"]))
    try:
        body = report(facility_id=facility["id"], lon=facility["lon"], lat=facility["lat"], notes=XSS_NOTES)
        stored = client.post("/api/reports", json=body).json["report"]
        open_map(page, live_server)
        row = page.locator(f"#queue li[data-case-id='{stored['case_id']}']")
        assert XSS_NAME in row.inner_text()
        row.click()
        page.wait_for_timeout(800)  # the fly-to animation and the layer reload
        page.get_by_label("Damage cases", exact=True).uncheck()  # the markers of a report and its case overlap
        page.get_by_label("Reports", exact=True).check()
        marker = page.locator(f"path.report-{stored['id']}")
        marker.wait_for(timeout=5_000)
        marker.dispatch_event("click")  # markers overlap and the view may still move: click the marker itself
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert XSS_NOTES in popup.inner_text()
        page.get_by_label("Reports", exact=True).uncheck()
        page.get_by_label("Damage cases", exact=True).check()
        case_marker = page.locator(f"path.case-{stored['case_id']}")
        case_marker.wait_for()
        case_marker.dispatch_event("click")
        page.locator(".leaflet-popup-content", has_text="onerror=window.__xss=3").wait_for()
        assert page.locator("#queue li.selected").get_attribute("data-case-id") == str(stored["case_id"])
        assert page.locator("main img, main script:not([src])").count() == 0
        assert page.evaluate("typeof window.__xss") == "undefined"
    finally:
        db.execute("UPDATE facility SET name = %s WHERE id = %s", (facility["name"], facility["id"]))


def test_plan_panel_draws_both_curves_and_the_crews(live_server, page, client, db):
    damage(client, db)
    damage(client, db)
    open_map(page, live_server)
    page.fill("#crews", "2")
    page.click("#plan-run")
    page.wait_for_selector("#plan-crews[data-crews='2']", timeout=15_000)
    summary = page.inner_text("#plan-summary")
    assert "lower bound" in summary and "% better than the naive order" in summary and "-" not in summary.split(
        "lower bound")[1].split("%")[0]  # the optimised figure is never worse than naive
    assert page.locator("#plan-chart path.plan").count() == 1 and page.locator("#plan-chart path.naive").count() == 1
    assert page.locator("#plan-crews li").count() >= 1
    assert page.js_errors == []


def test_filters_apply_to_the_map_and_the_queue(live_server, page, client, coordinator, db):
    minor = damage(client, db, severity="minor")
    damage(client, db, severity="destroyed")
    open_map(page, live_server)
    page.select_option("select[name=severity]", "minor")
    page.wait_for_selector(f"#queue li[data-case-id='{minor['case_id']}']")
    page.wait_for_timeout(500)  # the layers reload after the queue
    shown = {int(v) for v in page.eval_on_selector_all("#queue li", "els => els.map(e => e.dataset.caseId)")}
    minor_cases = {row["case_id"] for row in coordinator.get("/api/map/case-index?zoom=0&severity=minor").json["cases"]}
    assert minor["case_id"] in shown and shown <= minor_cases
    bbox = page.get_attribute("#map", "data-bbox")
    expected = coordinator.get(f"/api/map/cases?bbox={bbox}&zoom=10&severity=minor").json["numberMatched"]
    assert int(page.get_attribute("#map", "data-case-count")) == expected


def test_cases_can_be_coloured_by_triage_rank(live_server, page, client, coordinator, db):
    damage(client, db)
    open_map(page, live_server)
    top = coordinator.get("/api/triage").json["queue"][0]
    first = top["case_id"]
    colour = {"reported": "#d62728", "confirmed": "#ff7f0e", "assigned": "#9467bd", "in_repair": "#1f77b4"}
    page.locator("#queue li").first.click()
    marker = page.locator(f"path.case-{first}")
    marker.wait_for()
    page.select_option("#colour", "rank")
    page.wait_for_selector(f"path.case-{first}[fill='hsl(0, 85%, 45%)']")
    page.select_option("#colour", "status")
    page.wait_for_selector(f"path.case-{first}[fill='{colour[top['status']]}']")
    assert page.js_errors == []


def test_a_queue_row_shows_blockers_default_hours_critical_sites_hazards_and_the_override(
        live_server, page, client, coordinator, db):
    # Two free demo substations, the second fed through the first for this test only (the demo has no feed links),
    # with a hospital on the second; both damaged, the second with no repair hours given.
    upstream = damage(client, db, repair_hours=4)
    below = free_facility(db)
    site = f"queue-row-{uuid.uuid4()}"
    db.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
               (upstream["facility"]["id"], below["id"]))
    db.execute("INSERT INTO critical_site (external_id, name, kind, weight, facility_id, geom) "
               "VALUES (%s, 'Queue Row Hospital', 'hospital', 1200, %s, ST_Point(%s, %s, 4326))",
               (site, below["id"], below["lon"], below["lat"]))
    cases = [upstream["case_id"]]
    try:
        body = report(facility_id=below["id"], lon=below["lon"], lat=below["lat"], repair_hours=None,
                      severity="severe", hazards=["fire", "live_wires"])
        response = client.post("/api/reports", json=body)
        assert response.status_code == 201, response.json
        case_id = response.json["report"]["case_id"]
        cases.append(case_id)
        assert coordinator.post(f"/api/cases/{upstream['case_id']}/actions", json={
            "action": "override_hours", "hours": 3, "reason": "spare <parts> on site"}).status_code == 200
        queue = {r["case_id"]: r for r in coordinator.get("/api/triage").json["queue"]}
        expected = queue[case_id]
        assert expected["blocked_by"] == [upstream["case_id"]] and expected["repair_hours_is_default"]

        open_map(page, live_server)
        row = page.locator(f"#queue li[data-case-id='{case_id}']")
        row.wait_for()
        facts = row.locator(".facts").all_inner_texts()
        assert f"blocked by: {expected['blocked_by_facilities'][0]}" in facts
        assert "critical sites: Hospital (1,200)" in facts
        assert "hazards: Fire, Live wires" in facts
        badge = row.locator(".badge")
        assert badge.inner_text() == "default"
        assert badge.get_attribute("title") == expected["repair_hours_source"] == "default for a severe substation"
        assert f"{expected['repair_hours']:g} h repair" in facts[0]
        assert row.locator(".why").inner_text() == expected["explanation"]
        # The upstream row: the override's hours, who set it and why, as text; no default badge.
        top = page.locator(f"#queue li[data-case-id='{upstream['case_id']}']")
        why = top.locator(".why").inner_text()
        assert why.endswith("; 3 h repair (override by coordinator: spare <parts> on site).")
        assert top.locator(".badge").count() == 0
        assert int(top.get_attribute("data-rank")) < int(row.get_attribute("data-rank"))
        assert page.js_errors == []
    finally:
        db.execute("DELETE FROM feed_link WHERE parent_id = %s AND child_id = %s",
                   (upstream["facility"]["id"], below["id"]))
        db.execute("DELETE FROM critical_site WHERE external_id = %s", (site,))
        for done in cases:  # leave no open damage of this test in the shared queue
            coordinator.post(f"/api/cases/{done}/actions", json={"action": "reject", "reason": "test over"})


def test_the_demo_scenario_map_draws_every_open_case_once(browser, new_database):
    """On a database of its own with `make run`'s demo (region + scenario): the case markers drawn at the first
    view, single markers plus the counts on cluster markers, add up to the cases in the database."""
    import threading

    from werkzeug.serving import make_server

    from app.imports import demo_scenario
    from app.imports.demo import load
    from tests.conftest import create_accounts, free_port, make_app

    app = make_app(new_database())
    with app.app_context():
        load(Path(app.config["DEMO_DIR"]))
        demo_scenario.load()
    create_accounts(app, {"coordinator": "coordinator"})
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        base = f"http://127.0.0.1:{server.server_port}"
        open_map(page, base)
        with psycopg.connect(app.config["DATABASE_URL"], row_factory=psycopg.rows.dict_row) as conn:
            expected = conn.execute("""SELECT count(*) AS n FROM damage_case
                                       WHERE status NOT IN ('duplicate', 'rejected')""").fetchone()["n"]
        # Labels of a redrawn layer fade out before Leaflet removes them: count once the first requests are done
        # and only live labels are left.
        page.wait_for_load_state("networkidle")
        page.wait_for_function("""() => [...document.querySelectorAll('.cases-label')]
                                          .every(n => n.style.opacity !== '0')""")
        singles = page.locator("path.case-marker").count()
        clustered = sum(int(n) for n in page.eval_on_selector_all(
            ".cases-label [data-count]", "nodes => nodes.map(n => n.dataset.count)"))
        assert expected >= 5 and singles + clustered == expected
        assert int(page.get_attribute("#map", "data-case-count")) == expected
        assert int(page.get_attribute("#queue", "data-count")) >= 1
    finally:
        context.close()
        server.shutdown()
        app.extensions["db_pool"].close()
