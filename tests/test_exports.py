"""Exports: the files open with GeoPandas and hold exactly the features the map shows for the same filters."""

from __future__ import annotations

import io
import tempfile
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import psycopg
import pytest

from tests.conftest import api_client
from tests.test_cases import send, world  # noqa: F401  (the module's own database)
from tests.test_map_page import open_map


@pytest.fixture(scope="module")
def filled(world):  # noqa: F811
    app, tokens, ids, url = world
    send(app, tokens, kind="other", lon=40.0, lat=45.0, severity="minor", hazards=["fire"])
    send(app, tokens, kind="other", lon=41.0, lat=45.0, severity="destroyed", hazards=["uxo"])
    send(app, tokens, facility_id=ids["B"], lon=10.02, severity="moderate")
    return app, tokens


def read(body: bytes, fmt: str) -> gpd.GeoDataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x.{fmt}"
        path.write_bytes(body)
        return gpd.read_file(path)


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg"])
@pytest.mark.parametrize("layer", ["cases", "reports"])
def test_export_files_open_with_geopandas_and_match_the_api(filled, fmt, layer):
    app, tokens = filled
    coord = api_client(app, tokens["coord"])
    response = coord.get(f"/api/export/{layer}.{fmt}")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    frame = read(response.data, fmt)
    assert len(frame) > 0
    reference = read(coord.get(f"/api/export/{layer}.geojson").data, "geojson")
    assert sorted(frame["id"].astype(str)) == sorted(reference["id"].astype(str))
    if fmt != "csv":
        assert frame.crs.to_epsg() == 4326
    assert frame.geometry.notna().all()


def test_filters_select_the_same_features_as_the_query(filled):
    app, tokens = filled
    coord = api_client(app, tokens["coord"])
    body = coord.get("/api/export/reports.gpkg?severity=destroyed&hazard=uxo&bbox=40.5,44,41.5,46").data
    frame = read(body, "gpkg")
    assert len(frame) == 1 and frame.iloc[0]["severity"] == "destroyed" and "uxo" in frame.iloc[0]["hazards"]
    assert frame.geometry.iloc[0].x == pytest.approx(41.0)
    cases = read(coord.get("/api/export/cases.geojson?kind=other&hazard=fire").data, "geojson")
    assert set(cases["kind"]) == {"other"} and all("fire" in h for h in cases["hazards"])
    empty = read(coord.get("/api/export/cases.gpkg?status=duplicate&bbox=0,0,1,1").data, "gpkg")
    assert len(empty) == 0
    csv = coord.get("/api/export/reports.csv?kind=substation").data.decode()
    assert csv.splitlines()[0].startswith("WKT") and "POINT" in io.StringIO(csv).read()


@pytest.mark.parametrize("query", ["severity=awful", "bbox=1,2,3", "since=yesterday", "status=gone"])
def test_bad_filters_are_400_naming_the_parameter(filled, query):
    app, tokens = filled
    response = api_client(app, tokens["coord"]).get(f"/api/export/cases.csv?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json["errors"]


# The scene for "filtered as on screen", inserted with chosen receipt times (the API stamps received_at with now()).
T = "2020-03-01T00:00:00+00:00"
SCENE_CASES = {  # name -> (kind, status, lon, lat, opened_at offset in hours from T, merged into)
    "c1": ("substation", "reported", 60.10, 10.10, -240, None),
    "c2": ("transformer", "confirmed", 60.20, 10.20, 2, None),
    "c3": ("line", "repaired", 60.30, 10.30, -24, None),
    "c4": ("substation", "rejected", 60.40, 10.40, 5, None),
    "c5": ("substation", "duplicate", 60.11, 10.11, 6, "c1"),
    "c6": ("other", "assigned", 60.60, 10.60, 7, None),
    "c7": ("gas_facility", "in_repair", 60.70, 10.70, 47, None),
}
SCENE_REPORTS = {  # name -> (case, kind, severity, hazards, lon, lat, observed and received: hours from T)
    "r1a": ("c1", "substation", "minor", "{fire}", 60.101, 10.10, -240, -216),
    "r1b": ("c1", "substation", "severe", "{}", 60.102, 10.10, -480, 1),  # observed long ago, received in the window
    "r2a": ("c2", "transformer", "destroyed", "{uxo}", 60.201, 10.20, 2, 2),
    "r2b": ("c2", "transformer", "minor", "{}", 60.202, 10.20, 3, 24),  # received exactly at `until`
    "r3a": ("c3", "line", "moderate", "{live_wires}", 60.301, 10.30, -1, 0),  # received exactly at `since`
    "r4a": ("c4", "substation", "severe", "{}", 60.401, 10.40, 5, 5),
    "r5a": ("c5", "substation", "destroyed", "{fire}", 60.111, 10.11, 6, 6),
    "r6a": ("c6", "line", "moderate", "{access_blocked}", 61.50, 10.60, 7, 7),  # far from its case
    "r7a": ("c7", "gas_facility", "minor", "{structural}", 60.701, 10.70, 47, 48),  # after the window
}
WINDOW = "since=2020-03-01T00:00:00Z&until=2020-03-02T00:00:00Z"


@pytest.fixture(scope="module")
def scene(filled, world):  # noqa: F811
    """The scene in the module's database; returns the app, tokens and the ids of every case and report by name."""
    app, tokens = filled
    url = world[3]
    ids: dict[str, object] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name, (kind, status, lon, lat, opened_h, merged) in SCENE_CASES.items():
            ids[name] = conn.execute(
                "INSERT INTO damage_case (kind, status, geom, merged_into, opened_at) VALUES (%s, %s, "
                "ST_Point(%s, %s, 4326), %s, %s::timestamptz + %s * interval '1 hour') RETURNING id",
                (kind, status, lon, lat, ids.get(merged) if merged else None, T, opened_h)).fetchone()[0]
        for name, (case, kind, severity, hazards, lon, lat, observed_h, received_h) in SCENE_REPORTS.items():
            ids[name] = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO report (id, case_id, kind, severity, status, hazards, observed_at, received_at, "
                "content_hash, geom) VALUES (%s, %s, %s, %s, 'out_of_service', %s, "
                "%s::timestamptz + %s * interval '1 hour', %s::timestamptz + %s * interval '1 hour', %s, "
                "ST_Point(%s, %s, 4326))",
                (ids[name], ids[case], kind, severity, hazards, T, observed_h, T, received_h, name, lon, lat))
    return app, tokens, ids


def ids_in(body: bytes, fmt: str) -> set[str]:
    frame = read(body, fmt)
    return set() if frame.empty else set(frame["id"].astype(str))


def on_the_map(coord, layer: str, query: str) -> set[str]:
    """What the map's layer shows for the filters, at a zoom where every feature is drawn on its own."""
    fc = coord.get(f"/api/map/{layer}?zoom=22&{query}").json
    assert not any(f["properties"]["cluster"] for f in fc["features"])
    key = "case_id" if layer == "cases" else "id"
    return {str(f["properties"][key]) for f in fc["features"]}


FILTERS = [
    "",
    WINDOW,
    "since=2020-03-01T01:00:00Z",
    "until=2020-03-01T00:00:00Z",
    "status=reported,confirmed&severity=destroyed,severe",
    "kind=substation&hazard=fire",
    "bbox=60,10,61,11&kind=other,line",
    f"hazard=uxo,live_wires&{WINDOW}&bbox=60.15,10.15,60.35,10.35",
    "status=rejected",
    "severity=minor&status=repaired,in_repair,confirmed,duplicate",
    "bbox=60.05,10.05,60.15,10.15",
]


@pytest.mark.parametrize("query", FILTERS)
def test_export_files_hold_exactly_what_the_map_shows(scene, query):
    app, tokens, _ = scene
    coord = api_client(app, tokens["coord"])
    index = {str(c["case_id"]) for c in coord.get(f"/api/map/case-index?zoom=0&{query}").json["cases"]}
    for layer in ("cases", "reports"):
        expected = on_the_map(coord, layer, query)
        if layer == "cases":
            assert expected == index
        for fmt in ("geojson", "csv", "gpkg"):
            response = coord.get(f"/api/export/{layer}.{fmt}?{query}")
            assert response.status_code == 200, response.json
            assert ids_in(response.data, fmt) == expected, (layer, fmt, query)


def test_the_time_window_is_on_receipt_since_inclusive_until_exclusive(scene):
    app, tokens, ids = scene
    coord = api_client(app, tokens["coord"])
    reports = ids_in(coord.get(f"/api/export/reports.gpkg?{WINDOW}").data, "gpkg")
    # r1b was observed weeks before and received in the window; r2b arrived at `until`, r3a at `since`.
    assert reports == {ids[r] for r in ("r1b", "r2a", "r3a", "r4a", "r5a", "r6a")}
    cases = ids_in(coord.get(f"/api/export/cases.csv?{WINDOW}").data, "csv")
    # c1 opened before the window but got a report in it; rejected and duplicate cases are not on the map.
    assert cases == {str(ids[c]) for c in ("c1", "c2", "c3", "c6")}
    assert ids_in(coord.get("/api/export/cases.geojson?bbox=61.4,10.5,61.6,10.7").data, "geojson") == set()
    assert ids_in(coord.get("/api/export/reports.geojson?bbox=61.4,10.5,61.6,10.7").data, "geojson") == {ids["r6a"]}


def test_an_empty_or_reversed_window_is_400_as_on_the_map(scene):
    app, tokens, _ = scene
    coord = api_client(app, tokens["coord"])
    query = "since=2020-03-02T00:00:00Z&until=2020-03-01T00:00:00Z"
    for url in (f"/api/export/cases.csv?{query}", f"/api/export/reports.gpkg?{query}",
                f"/api/map/cases?zoom=3&{query}"):
        response = coord.get(url)
        assert response.status_code == 400 and "until" in response.json["errors"]


@pytest.mark.browser
def test_the_map_pages_download_links_carry_its_current_filters(live_server, page, coordinator):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/map/case-index?" in r.url else None)
    open_map(page, live_server)
    link = page.locator("#export-cases-geojson")
    page.select_option("select[name=kind]", "substation")
    page.fill("input[name=since]", "2020-01-01T00:00")
    page.dispatch_event("input[name=since]", "change")
    page.wait_for_function("document.querySelector('#export-cases-geojson').href.includes('since=')")
    page.check("input[name=in_view]")
    page.wait_for_function("document.querySelector('#export-reports-csv').href.includes('bbox=')")
    page.wait_for_timeout(500)  # the last refresh's requests
    href = link.get_attribute("href")
    path, _, query = href.partition("?")
    assert path == "/api/export/cases.geojson"
    shown = parse_qs(urlsplit(requests[-1]).query)
    shown.pop("zoom")
    assert parse_qs(query) == shown and shown["kind"] == ["substation"] and "since" in shown
    assert shown["bbox"] == [page.get_attribute("#map", "data-bbox")]
    assert page.get_attribute("#export-reports-gpkg", "href") == f"/api/export/reports.gpkg?{query}"
    exported = ids_in(coordinator.get(href).data, "geojson")
    index = {str(c["case_id"]) for c in coordinator.get(f"/api/map/case-index?zoom=0&{query}").json["cases"]}
    assert exported == index
    assert page.js_errors == []
