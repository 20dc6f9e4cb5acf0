"""The overview map in a real headless Chromium: draws the demo facilities with no online tiles."""

from __future__ import annotations

import pytest

from tests.conftest import login

pytestmark = pytest.mark.browser


def test_home_map_draws_the_102_demo_substations(live_server, page):
    login(page, live_server, "coordinator")
    page.goto(live_server + "/")
    page.wait_for_selector("#map[data-count]")
    assert page.get_attribute("#map", "data-count") == "102"
    assert page.locator("path.leaflet-interactive").count() == 102 or page.locator("canvas").count() > 0
    assert page.js_errors == []


def test_pages_pass_the_content_security_policy(live_server, page):
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, live_server, "coordinator")
    page.goto(live_server + "/")
    page.wait_for_selector("#map[data-count]")
    assert violations == []
