"""Proposed switching on the coordinator's map in a real headless Chromium, with no base map: the tie switch is
drawn as its own layer, the queue panel proposes closing it with the sentence a coordinator can check, and its
Close button records the step, after which the live figures count its people as supplied."""

from __future__ import annotations

import threading

import psycopg
import pytest
from werkzeug.serving import make_server

from tests.conftest import free_port, login
from tests.test_switching_triage import make_grid

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(pg_server):
    app, _, ids, switch, url = make_grid(pg_server, "gt_switching_browser")
    with psycopg.connect(url, autocommit=True) as conn:  # the map opens on the study area, the grid inside it
        conn.execute("INSERT INTO study_area (name, geom) VALUES ('grid', "
                     "ST_Multi(ST_MakeEnvelope(9.98, 49.99, 10.10, 50.01, 4326)))")
    assert not app.config.get("TILE_URL") and not app.config.get("BASEMAP_FILE")
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", ids, switch, url
    server.shutdown()
    app.extensions["db_pool"].close()
    pg_server.drop_database(url)


def test_the_map_proposes_the_switch_and_its_close_button_records_the_step(served, browser):
    base, ids, switch, url = served
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        login(page, base, "coord")
        page.goto(base + "/map")
        page.wait_for_selector("#map[data-ready=true]")
        assert page.locator(".leaflet-tile").count() == 0 and page.get_attribute("#map", "data-base-map") is None
        marker = page.locator(f".switch-marker.switch-{switch}")
        marker.wait_for()
        assert "switch-proposed" in marker.get_attribute("class") and marker.is_visible()
        assert page.locator(".leaflet-control-layers-overlays label", has_text="Tie switches").count() == 1
        step = page.locator(f"#switching-steps li[data-switch-id='{switch}']")
        step.wait_for()
        assert page.locator("#switching").is_visible()
        assert "close switch S12: restores 4,200 people in 0.5 h while L7 is repaired" in step.inner_text()
        assert "not possible: the registry holds no electrical data" in step.inner_text()
        assert "Stands in for the repair of: Case " in step.inner_text() and ": L7" in step.inner_text()
        assert "not by the repair crews" in page.inner_text("#switching")
        assert page.inner_text("#without-power") == "4,700"
        rows = page.locator("#queue li")
        assert rows.count() == 2 and "M1" in rows.nth(0).inner_text()
        assert "back-feeds 4,200 people in 0.5 h" in rows.nth(1).inner_text()
        marker.click()
        assert ("proposed: close it: close switch S12: restores 4,200 people in 0.5 h while L7 is repaired"
                in page.inner_text(".switch-popup"))

        step.locator("button.close-switch").click()
        page.wait_for_function("() => document.getElementById('without-power').textContent === '500'")
        page.wait_for_selector("#switching[hidden]", state="attached")
        closed = page.locator(f".switch-marker.switch-{switch}.switch-closed")
        closed.wait_for()
        closed.click()
        assert "closed by coord at " in page.locator(".switch-popup").last.inner_text()
        with psycopg.connect(url) as conn:
            done = conn.execute("SELECT t.closed_at IS NOT NULL, u.username FROM tie_switch t "
                                "JOIN app_user u ON u.id = t.closed_by WHERE t.id = %s", (switch,)).fetchone()
        assert done == (True, "coord")

        page.locator(".switch-popup button.open-switch").last.click()  # recorded as closed by mistake: open again
        page.wait_for_function("() => document.getElementById('without-power').textContent === '4,700'")
        page.wait_for_selector(f".switch-marker.switch-{switch}.switch-proposed")
        page.wait_for_selector("#switching:not([hidden])")
        assert errors == []
    finally:
        context.close()
    with psycopg.connect(url) as conn:
        events = conn.execute("SELECT action FROM audit_event WHERE entity = 'tie_switch' AND entity_id = %s "
                              "ORDER BY id", (str(switch),)).fetchall()
    assert events == [("close_switch",), ("open_switch",)]


def test_the_proposed_switching_speaks_ukrainian(served, browser):
    base, _, switch, _ = served
    context = browser.new_context(locale="uk-UA", extra_http_headers={"Accept-Language": "uk-UA,uk;q=0.9"})
    page = context.new_page()
    try:
        login(page, base, "coord")
        page.goto(base + "/map")
        step = page.locator(f"#switching-steps li[data-switch-id='{switch}']")
        step.wait_for()
        text = page.inner_text("#switching")
        assert "Запропоновані перемикання" in text and "Замкнути" in text and "ручний, на місці" in text
        assert "замкнути вимикач S12: відновлює живлення 4 200 осіб за 0,5 год" in step.inner_text().replace(
            "\u00a0", " ")
        assert "електричних даних" in step.inner_text()
        assert page.locator(".leaflet-control-layers-overlays label", has_text="Секційні вимикачі").count() == 1
    finally:
        context.close()
