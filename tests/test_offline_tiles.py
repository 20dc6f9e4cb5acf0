"""The base map kept on the phone: the tiles of the area over the chosen zoom range, sized before the download,
stored in the service worker's cache and drawn from it offline; and the project's own layers (service areas and the
boundary) drawn on the phone's map without any base map, kept for offline use too."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import api_client, login
from tests.test_basemap import world, write_mbtiles

# The demo's facilities (County Dublin) at zooms 0-2: one tile at each zoom.
DUBLIN_TILES = [(0, 0, 0), (1, 0, 0), (2, 1, 1)]
DUBLIN_BBOX = "-6.6,53.1,-5.9,53.7"


@pytest.fixture()
def basemap(app, tmp_path, monkeypatch):
    found = world()
    monkeypatch.setitem(app.config, "BASEMAP_FILE", str(write_mbtiles(tmp_path / "base.mbtiles", found)))
    return found


def test_the_area_lists_the_files_tiles_with_their_bytes_before_any_download(basemap, app, tokens):
    client = api_client(app, tokens["crew"])
    body = client.get(f"/tiles/area.json?bbox={DUBLIN_BBOX}&min_zoom=0&max_zoom=2").get_json()
    assert [tuple(t) for t in body["tiles"]] == DUBLIN_TILES
    assert body["bytes"] == sum(len(basemap[t]) for t in DUBLIN_TILES)
    assert body["template"] == "/tiles/{z}/{x}/{y}.png" and (body["min_zoom"], body["max_zoom"]) == (0, 2)
    # The world at zoom 2 but the tile the file lacks (the sea): only the tiles it holds.
    whole = client.get("/tiles/area.json?bbox=-180,-85,180,85&min_zoom=2&max_zoom=2").get_json()
    assert len(whole["tiles"]) == 15 and [2, 3, 3] not in whole["tiles"]


def test_a_bad_area_request_names_the_parameter(basemap, app, tokens):
    client = api_client(app, tokens["crew"])
    for query, name in [("", "bbox"), ("bbox=1,2,3", "bbox"), (f"bbox={DUBLIN_BBOX}&max_zoom=3", "max_zoom"),
                        (f"bbox={DUBLIN_BBOX}&min_zoom=2&max_zoom=1", "max_zoom"),
                        (f"bbox={DUBLIN_BBOX}&min_zoom=x", "min_zoom")]:
        response = client.get(f"/tiles/area.json?{query}")
        assert response.status_code == 400 and name in response.get_json()["errors"], query


def test_without_a_base_map_file_there_is_no_area_and_anonymous_users_sign_in(app, tokens):
    assert api_client(app, tokens["crew"]).get(f"/tiles/area.json?bbox={DUBLIN_BBOX}").status_code == 404
    response = app.test_client().get(f"/tiles/area.json?bbox={DUBLIN_BBOX}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_field_layers_are_the_boundary_and_the_service_areas_simplified(demo_loaded, tokens, db):
    response = api_client(demo_loaded, tokens["crew"]).get("/field/layers.json")
    assert response.status_code == 200
    body = response.get_json()
    areas = db.execute("SELECT count(*) AS n FROM service_area").fetchone()["n"]
    assert len(body["service_areas"]["features"]) == areas > 100
    assert len(body["boundary"]["features"]) == db.execute("SELECT count(*) AS n FROM study_area").fetchone()["n"]
    raw = db.execute("SELECT sum(ST_NPoints(geom)) AS n FROM service_area").fetchone()["n"]
    sent = sum(len(ring) for f in body["service_areas"]["features"]
               for polygon in f["geometry"]["coordinates"] for ring in polygon)
    assert sent < raw  # simplified: fewer vertices than stored
    assert app_client_redirects(demo_loaded, "/field/layers.json")


def app_client_redirects(app, url: str) -> bool:
    response = app.test_client().get(url)
    return response.status_code == 302 and "/login" in response.headers["Location"]


TILES_DRAWN = """() => [...document.querySelectorAll('#pin-map img.leaflet-tile')].some(
    (img) => img.src.includes('/tiles/2/1/1.png') && img.complete && img.naturalWidth === 256)"""
TILE_FAILED = """() => [...document.querySelectorAll('#pin-map img.leaflet-tile')].some(
    (img) => img.src.includes('/tiles/2/1/1.png') && img.complete && img.naturalWidth === 0)"""


def clear_http_cache(context, page) -> None:
    """Forget the browser's HTTP cache, so that what is drawn offline can only come from the service worker."""
    context.new_cdp_session(page).send("Network.clearBrowserCache")


@pytest.mark.browser
def test_the_phone_keeps_its_areas_tiles_and_draws_them_offline(basemap, open_field):
    context, page = open_field()
    page.wait_for_selector("html[data-offline-ready]")
    page.wait_for_selector("#registry-status[data-state=current]")
    page.wait_for_selector("#offline-map[data-state=ready]")
    assert page.get_attribute("#pin-map", "data-base-map") == "file"
    assert "No map tiles are kept on this phone." in page.inner_text("#offline-map-stored")
    page.fill("#offline-map-from", "0")
    page.fill("#offline-map-to", "2")
    page.click("#offline-map-check")
    page.wait_for_selector("#offline-map[data-state=planned]")
    size = sum(len(basemap[t]) for t in DUBLIN_TILES)
    assert page.get_attribute("#offline-map-result", "data-tiles") == "3"
    assert page.get_attribute("#offline-map-result", "data-bytes") == str(size)
    assert page.inner_text("#offline-map-result").startswith("3 tiles, ")
    assert "to download (zoom 0–2)" in page.inner_text("#offline-map-result")
    page.click("#offline-map-download")
    page.wait_for_selector("#offline-map[data-state=stored]")
    page.wait_for_selector("#offline-map-stored[data-tiles='3']")
    assert page.get_attribute("#offline-map-stored", "data-bytes") == str(size)
    stored = page.inner_text("#offline-map-stored")
    assert stored.startswith("Kept on this phone: 3 map tiles, ") and "This site uses " in stored
    kept = page.evaluate("""async () => (await (await caches.open('gridtriage-tiles')).keys())
                              .map((r) => new URL(r.url).pathname).sort()""")
    assert kept == sorted(f"/tiles/{z}/{x}/{y}.png" for z, x, y in DUBLIN_TILES)

    clear_http_cache(context, page)
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("html[data-field-ready]")
    page.wait_for_function(TILES_DRAWN)  # zoom 2's tile, scaled to the map's zoom, from the phone's store
    assert "Kept on this phone: 3 map tiles" in page.inner_text("#offline-map-stored")

    # Without the kept tiles nothing is drawn offline: the store, not another cache, drew them.
    context.set_offline(False)
    page.click("#offline-map-delete")
    page.wait_for_selector("#offline-map[data-state=deleted]")
    clear_http_cache(context, page)
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("html[data-field-ready]")
    page.wait_for_function(TILE_FAILED)
    assert not page.evaluate(TILES_DRAWN)
    assert page.js_errors == []


@pytest.mark.browser
def test_without_a_base_map_the_phone_draws_service_areas_and_the_boundary_also_offline(open_field, db):
    context, page = open_field()
    page.wait_for_selector("html[data-offline-ready]")
    areas = db.execute("SELECT count(*) AS n FROM service_area").fetchone()["n"]
    page.wait_for_selector(f"#pin-map[data-service-areas='{areas}'][data-boundary='1']")
    assert page.get_attribute("#pin-map", "data-base-map") is None
    assert page.locator("#pin-map path.leaflet-interactive, #pin-map svg path").count() > areas
    assert page.get_attribute("#offline-map", "data-state") == "unavailable"
    assert "no base-map file" in page.inner_text("#offline-map-result")
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("html[data-field-ready]")
    page.wait_for_selector(f"#pin-map[data-service-areas='{areas}'][data-boundary='1']")
    assert page.js_errors == []


@pytest.mark.browser
def test_the_home_page_draws_the_base_map_file(basemap, live_server, page):
    login(page, live_server, "coordinator")
    page.goto(live_server + "/")
    page.wait_for_selector("#map[data-base-map-drawn=file]")
    page.wait_for_function("""() => [...document.querySelectorAll('#map img.leaflet-tile')].some(
        (img) => img.src.includes('/tiles/2/') && img.complete && img.naturalWidth === 256)""")
    assert page.js_errors == []


def test_the_proposed_zoom_range_is_the_operators_setting_or_the_default(app, monkeypatch):
    from app.field.views import OFFLINE_TILE_ZOOM, _offline_zoom

    with app.test_request_context():
        monkeypatch.setitem(app.config, "OFFLINE_TILE_ZOOM", [12, 16])
        assert _offline_zoom() == [12, 16]
        for bad in ("10-15", [15, 10], [1], [1, 99]):
            monkeypatch.setitem(app.config, "OFFLINE_TILE_ZOOM", bad)
            assert _offline_zoom() == list(OFFLINE_TILE_ZOOM)


def test_the_offline_map_panel_speaks_ukrainian(client):
    page = client.get("/field", headers={"Accept-Language": "uk"}).get_data(as_text=True)
    assert "Мапа для роботи без мережі" in page and "Перевірити розмір" in page and "Map for offline use" not in page
    config = json.loads(re.search(r'<script type="application/json" id="field-config">(.*?)</script>', page,
                                  re.DOTALL).group(1))  # the panel's messages, for its script
    assert config["messages"]["tilesDone"] == "Збережено %(n)s плиток (%(size)s): мапа працює без мережі."
