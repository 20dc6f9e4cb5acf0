"""The coordinator map in Ukrainian and English in Chromium: filters, queue, plan and popups from the page's
catalogue, numbers the page's way, and the legend of every colour and size mode (critical sites say when empty)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import login
from tests.test_map_page import damage, open_map

pytestmark = pytest.mark.browser

ENGLISH_GROUPS = re.compile(r"\d,\d{3}")  # "29,754": the English way, never on the Ukrainian page


def open_map_in(page, live_server, language: str):
    page.goto(f"{live_server}/lang/{language}?next=/login")
    open_map(page, live_server)


def test_the_map_speaks_ukrainian(live_server, page, client, db):
    damage(client, db, hazards=["uxo"], severity="severe")
    open_map_in(page, live_server, "uk")
    assert page.get_attribute("html", "lang") == "uk"
    assert page.inner_text("select[name=status] option[value=in_repair]") == "У ремонті"
    assert page.inner_text("select[name=hazard] option[value=uxo]") == "Вибухонебезпечні предмети"
    assert page.inner_text("select[name=status] option[value='']") == "усі"
    assert page.inner_text("#map-status").startswith("Справ: ")
    assert page.inner_text(".queue-panel h2") == "Черга ремонтів"
    facts = page.locator("#queue li .facts").first.inner_text()
    assert facts.startswith("обслуговує ") and "ремонт " in facts
    hazards = page.locator("#queue li .facts", has_text="Вибухонебезпечні предмети")
    assert hazards.count() >= 1 and "uxo" not in hazards.first.inner_text()
    assert [label.strip() for label in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()] == [
        "Справи про пошкодження", "Звіти", "Об’єкти", "Зони обслуговування", "Критичні об’єкти", "Межа району",
        "Бригади", "Секційні вимикачі"]
    # Numbers the Ukrainian way everywhere on the side panel, the server's sentences included.
    assert ENGLISH_GROUPS.findall(page.inner_text("aside.side")) == []
    page.fill("#crews", "2")
    page.click("#plan-run")
    page.wait_for_selector("#plan-crews[data-crews='2']", timeout=15_000)
    summary = page.inner_text("#plan-summary")
    assert summary.startswith("Людино-години без електропостачання: план ") and "нижня межа" in summary
    assert ENGLISH_GROUPS.findall(summary) == []
    assert page.locator("#plan-chart text", has_text="людей з відновленим живленням").count() == 1
    assert page.locator("#plan-chart text.tick-label").count() >= 2
    assert page.js_errors == []


def test_every_script_string_has_its_message_in_the_page(live_server, page):
    """Each t("key") of the map's scripts names a message of #map-config (else the key itself would show)."""
    open_map_in(page, live_server, "uk")
    config = json.loads(page.eval_on_selector("#map-config", "node => node.textContent"))
    scripts = Path(__file__).resolve().parent.parent / "app" / "coordinator" / "static"
    keys = {key for path in scripts.glob("*.js")
            for key in re.findall(r"\bt\(\s*\"(\w+)\"", path.read_text(encoding="utf-8"))}
    keys |= {"planBetterWeighted", "planBetter", "optimal", "notOptimal", "exportInView", "exportEverywhere"}
    assert len(keys) > 50 and sorted(keys - set(config["messages"])) == []
    assert all(config["messages"][k] != k for k in keys)


def test_the_legend_follows_the_colour_mode_and_shows_size_and_clusters(live_server, page, client, db):
    damage(client, db)
    page.goto(f"{live_server}/lang/en?next=/login")
    open_map(page, live_server)
    legend = page.locator("#map-legend")
    assert legend.locator("summary").inner_text() == "Legend"
    assert legend.locator(".legend-status").is_visible() and not legend.locator(".legend-rank").is_visible()
    assert legend.locator(".legend-status li").all_inner_texts() == [
        "Reported", "Confirmed", "Assigned", "In repair", "Temporarily restored", "Repaired"]
    fills = legend.locator(".legend-status circle").evaluate_all("cs => cs.map(c => c.getAttribute('fill'))")
    assert fills[:4] == ["#d62728", "#ff7f0e", "#9467bd", "#1f77b4"]  # the markers' colours
    radii = [float(r) for r in legend.locator(".legend-size circle").evaluate_all(
        "cs => cs.map(c => c.getAttribute('r'))")]
    assert radii == sorted(radii) and radii[0] < radii[-1]
    assert legend.locator(".legend-size li").last.inner_text() == "100,000"
    assert legend.locator(".legend-clusters li").count() == 4
    assert legend.locator(".legend-crews li").count() == 4
    page.select_option("#colour", "rank")
    assert legend.locator(".legend-rank").is_visible() and not legend.locator(".legend-status").is_visible()
    assert "first in the queue" in legend.locator(".legend-rank").inner_text()
    assert page.js_errors == []


def test_an_empty_critical_sites_layer_says_so(live_server, page):
    page.route("**/api/map/critical-sites", lambda route: route.fulfill(
        status=200, content_type="application/geo+json", body='{"type": "FeatureCollection", "features": []}'))
    page.goto(f"{live_server}/lang/uk?next=/login")
    login(page, live_server, "coordinator")
    page.goto(live_server + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    assert page.get_attribute("#map-legend", "data-critical-sites") == "0"
    assert page.inner_text("#map-legend .legend-sites").endswith("Критичні об’єкти не завантажено.")
    page.get_by_label("Критичні об’єкти", exact=True).check()
    page.wait_for_function("() => document.getElementById('map-status').textContent.includes('не завантажено')")
    assert page.js_errors == []
