"""Exports: the files open with GeoPandas and hold the same features as the filters select."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import geopandas as gpd
import pytest

from tests.conftest import api_client
from tests.test_cases import send, world  # noqa: F401  (the module's own database)


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
