"""The plan panel's switching block in a real headless Chromium (issue 15): the plan for k crews shows the
objective with and without switching, each proposed step with its power-flow verdict and who does the steps, in
English and in Ukrainian."""

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
    app, _, ids, switch, url = make_grid(pg_server, "gt_plan_switching_browser")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO study_area (name, geom) VALUES ('grid', "
                     "ST_Multi(ST_MakeEnvelope(9.98, 49.99, 10.10, 50.01, 4326)))")
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", switch
    server.shutdown()
    app.extensions["db_pool"].close()
    pg_server.drop_database(url)


def plan_block(page, base: str) -> str:
    login(page, base, "coord")
    page.goto(base + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    page.fill("#crews", "1")
    page.click("#plan-run")
    page.wait_for_selector("#plan-switching li")
    return page.inner_text("#plan-switching")


def test_the_plan_panel_shows_both_objectives_and_each_steps_power_flow(served, browser):
    base, switch = served
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        text = plan_block(page, base)
        # 4,200 people wait 0.5 h and M1's 500 people 2 h, against 6 h and 8 h repairing only (test_switching_triage)
        assert "With switching: objective 3,100 (people-hours 3,100); repairs only: objective 29,200 " \
               "(people-hours 29,200)" in text
        step = page.locator(f"#plan-switching li[data-switch-id='{switch}']")
        assert step.get_attribute("data-flow") == "not_possible"
        assert step.inner_text() == ("close switch S12: restores 4,200 people in 0.5 h while L7 is repaired; "
                                     "the power-flow check was not possible: the registry holds no electrical data")
        assert "not by the repair crews" in text
        assert page.get_attribute("#plan-switching", "data-objective-repairs-only") == "29200"
        assert errors == []
    finally:
        context.close()


def test_the_switching_block_is_in_ukrainian(served, browser):
    base, _ = served
    context = browser.new_context(locale="uk-UA", extra_http_headers={"Accept-Language": "uk-UA,uk;q=0.9"})
    page = context.new_page()
    try:
        text = plan_block(page, base)
        assert "З перемиканнями: цільова функція 3" in text and "лише ремонти: цільова функція 29" in text
        assert "замкнути вимикач S12" in text and "електричних даних" in text
        assert "With switching" not in text and "not possible" not in text
    finally:
        context.close()
