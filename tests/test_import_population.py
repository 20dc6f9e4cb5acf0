"""Population layers (points, census polygons, rasters), recompute with feed links, critical sites, and --dry-run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import rasterio
import shapely
from affine import Affine
from flask import Flask
from psycopg import sql

from geo import population
from tests.conftest import IMPORT_TABLES, run

Row = psycopg.Connection[dict[str, Any]]  # connections that return rows as dicts
# Two substations either side of lon 10 in a 0.4° × 0.2° box: their Voronoi cells split it along lon 10.
BOUNDARY = shapely.box(9.8, 49.9, 10.2, 50.1)
REGISTRY = "external_id,kind,voltage_kv,lon,lat\nW,substation,20,9.9,50.0\nE,substation,20,10.1,50.0\n"
# Every table an import writes to (population_point/polygon and facility_population through the layers).
IMPORTED = ("facility", "feed_link", "service_area", "study_area", "population_layer", "population_point",
            "population_polygon", "facility_population", "critical_site", "dataset", "audit_event")


@pytest.fixture()
def region(onboarding, tmp_path) -> Iterator[tuple[Flask, Row]]:
    """Two substations with Voronoi service areas in the box, nothing else."""
    app, url = onboarding
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute(f"TRUNCATE {IMPORT_TABLES} CASCADE")
        (tmp_path / "registry.csv").write_text(REGISTRY)
        run(app, "import-facilities", tmp_path / "registry.csv")
        boundary = tmp_path / "boundary.geojson"
        boundary.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(BOUNDARY)}]}))
        run(app, "derive-service-areas", "--boundary", boundary)
        yield app, conn


def people(conn: Row) -> dict[str, tuple[float, float, str]]:
    rows = conn.execute("""SELECT f.external_id, fp.population, fp.population_served, fp.method::text AS method
                           FROM facility_population fp JOIN facility f ON f.id = fp.facility_id""").fetchall()
    return {r["external_id"]: (r["population"], r["population_served"], r["method"]) for r in rows}


def write_raster(path: Path, *, crs: str | None = "EPSG:4326") -> Path:
    """41 × 20 cells of 0.01° holding 1 person each, offset half a cell so that lon 10 and the box edges cut cells."""
    with rasterio.open(path, "w", driver="GTiff", width=41, height=20, count=1, dtype="float32", crs=crs,
                       transform=Affine(0.01, 0, 9.795, 0, -0.01, 50.1), nodata=-1) as raster:
        raster.write(np.ones((20, 41), dtype="float32"), 1)
    return path


def test_raster_sums_count_cells_by_the_fraction_inside_each_area(region, tmp_path):
    app, conn = region
    out = run(app, "import-population", write_raster(tmp_path / "pop.tif"), "--name", "Synthetic raster", "--yes")
    assert "method raster_exact" in out and "inside the boundary 800 people, assigned 800: conserved" in out
    got = people(conn)
    # Exact fractional coverage: the column of cells on lon 10 is shared half and half (all-touched would give 420).
    assert got["W"][0] == pytest.approx(400, rel=1e-6) and got["E"][0] == pytest.approx(400, rel=1e-6)
    assert got["W"][2] == "raster_exact"
    layer = conn.execute("SELECT name, kind, total FROM population_layer").fetchone()
    assert layer == {"name": "Synthetic raster", "kind": "raster", "total": 820.0}


def test_raster_zonal_sums_equal_exactextract_called_directly(tmp_path):
    from exactextract import exact_extract

    path = write_raster(tmp_path / "pop.tif")
    areas = gpd.GeoSeries([shapely.box(9.81, 49.93, 9.999, 50.07), BOUNDARY.buffer(-0.02)], crs="EPSG:4326")
    direct = exact_extract(str(path), gpd.GeoDataFrame(geometry=areas), ["sum"], output="pandas")["sum"]
    assert population.raster_sums(areas, path).population.to_numpy() == pytest.approx(direct.to_numpy(), rel=1e-9)


def test_census_polygons_are_spread_by_areal_weighting_like_tobler(region, tmp_path):
    from tobler.area_weighted import area_interpolate

    app, conn = region
    units = gpd.GeoDataFrame({"code": ["u1", "u2", "u3"], "population": [1000.0, 300.0, 50.0]}, geometry=[
        shapely.box(9.9, 49.95, 10.1, 50.05),  # half in each area
        shapely.box(9.85, 49.95, 9.95, 50.0),  # all in W
        shapely.box(10.15, 50.05, 10.3, 50.15),  # a sixth inside the boundary, in E
    ], crs="EPSG:4326")
    units.to_file(tmp_path / "census.gpkg", engine="pyogrio")
    out = run(app, "import-population", tmp_path / "census.gpkg", "--map", "ref=code", "--yes")
    assert "3 polygons" in out and "method areal_weighting" in out and ": conserved" in out
    got = people(conn)
    assert got["W"][0] == pytest.approx(800, rel=1e-3) and got["E"][0] == pytest.approx(500 + 50 / 6, rel=1e-3)
    areas = conn.execute("""SELECT f.external_id, ST_AsBinary(s.geom) AS wkb FROM service_area s
                            JOIN facility f ON f.id = s.facility_id ORDER BY 1""").fetchall()
    targets = gpd.GeoDataFrame(geometry=gpd.GeoSeries.from_wkb([bytes(r["wkb"]) for r in areas]), crs="EPSG:4326")
    crs = "EPSG:3035"
    # allocate_total=False: the people of a unit's part outside every area stay outside (they are not in the
    # study region), as the conservation check requires.
    expected = area_interpolate(units.to_crs(crs), targets.to_crs(crs), extensive_variables=["population"],
                                allocate_total=False)
    assert [got["E"][0], got["W"][0]] == pytest.approx(list(expected["population"]), rel=1e-3)


def test_recompute_adds_population_up_the_feed_links(region, tmp_path):
    app, conn = region
    points = tmp_path / "points.csv"
    points.write_text("ref,pop,lon,lat\np1,100,9.85,50.0\np2,30,10.05,50.0\np3,7,11.0,50.0\n")
    out = run(app, "import-population", points, "--name", "Points", "--yes")
    assert "inside the boundary 130 people, assigned 130: conserved (7 outside the boundary)" in out
    (tmp_path / "top.csv").write_text("external_id,kind,voltage_kv,lon,lat\nHV,substation,110,10.0,50.2\n")
    run(app, "import-facilities", tmp_path / "top.csv")
    run(app, "import-feeds", _write(tmp_path / "links.csv", "parent,child\nHV,W\nHV,E\n"))
    got = people(conn)
    assert got["HV"][:2] == (0.0, 130.0) and got["W"][:2] == (100.0, 100.0)
    assert "conserved" in run(app, "recompute-population", "--layer", "Points")


def test_critical_sites_attach_to_the_area_that_contains_them(region, tmp_path):
    app, conn = region
    sites = _write(tmp_path / "sites.csv", "id,name,kind,weight,lon,lat\nh1,Hospital,hospital,500,9.95,50.0\n"
                   "w1,Pumps,water pumping,200,10.15,50.0\nx1,Far,shelter,10,12.0,50.0\n")
    out = run(app, "import-critical-sites", sites)
    assert "warning: 1 critical sites are in no service area: x1" in out and "2 attached" in out
    rows = conn.execute("""SELECT c.external_id, c.kind::text AS kind, f.external_id AS facility FROM critical_site c
                           LEFT JOIN facility f ON f.id = c.facility_id ORDER BY 1""").fetchall()
    assert [tuple(r.values()) for r in rows] == [("h1", "hospital", "W"), ("w1", "water_pumping", "E"),
                                                 ("x1", "shelter", None)]
    bad = _write(tmp_path / "bad.csv", "id,name,kind,weight,lon,lat\nz1,Zoo,zoo,5,10.0,50.0\n")
    result = app.test_cli_runner().invoke(args=["import-critical-sites", str(bad)])
    assert result.exit_code == 1 and f"error: {bad}, row 2, column 'kind': unknown kind 'zoo'" in result.output
    assert conn.execute("SELECT count(*) AS n FROM critical_site").fetchone()["n"] == 3


def test_bad_population_files_name_the_problem_and_change_nothing(region, tmp_path):
    app, conn = region
    cases = [
        (_write(tmp_path / "neg.csv", "ref,pop,lon,lat\na,5,10,50\nb,-3,10,50\n"), "row 3, column 'pop': must be"),
        (_write(tmp_path / "nopop.csv", "ref,lon,lat\na,10,50\n"), "column 'population': missing column"),
        (write_raster(tmp_path / "nocrs.tif", crs=None), "CRS missing"),
    ]
    for path, expected in cases:
        result = app.test_cli_runner().invoke(args=["import-population", str(path)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"error: {path}" in result.output and expected in result.output
    assert conn.execute("SELECT count(*) AS n FROM population_layer").fetchone()["n"] == 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def tables(conn: Row) -> dict[str, tuple[int, str]]:
    """Each imported table's row count and a digest of its rows."""
    query = sql.SQL("SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest "
                    "FROM {} t")
    return {name: tuple(conn.execute(query.format(sql.Identifier(name))).fetchone().values()) for name in IMPORTED}


BOX = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"station": name}, "geometry": shapely.geometry.mapping(shape)}
    for name, shape in (("W", shapely.box(9.8, 49.9, 10.0, 50.1)), ("E", shapely.box(10.0, 49.9, 10.2, 50.1)))]}


@pytest.mark.parametrize(("command", "file", "options", "would"), [
    ("import-facilities", ("new.csv", "external_id,kind,voltage_kv,lon,lat\nN,substation,20,9.95,50.05\n"), [],
     "facilities: 1 new, 0 updated, 0 unchanged"),
    ("import-feeds", ("links.csv", "parent,child\nHV,W\nHV,E\n"), [], "feed links: 2 given links stored from 2 rows"),
    ("infer-feeds", None, [], "feed links: 2 inferred (replacing 0)"),
    ("import-population", ("more.csv", "ref,pop,lon,lat\nq1,5,9.9,50.01\nq2,6,10.1,50.01\n"), ["--name", "More"],
     "population layer 'More': 2 points, 11 people"),
    ("import-service-areas", ("areas.geojson", json.dumps(BOX)), ["--map", "external_id=station"],
     "service areas: 2 given areas stored"),
    ("derive-service-areas", None, [], "service areas: 3 derived (Voronoi of the lowest-level facilities), "
     "2 replaced"),
    ("import-critical-sites", ("sites.csv", "id,name,kind,weight,lon,lat\nh1,Hospital,hospital,500,9.95,50.0\n"),
     [], "critical sites: 1 new, 0 updated; 1 attached"),
])
def test_every_import_with_dry_run_reports_what_would_change_and_changes_nothing(region, tmp_path, command, file,
                                                                                 options, would):
    app, conn = region
    run(app, "import-facilities", _write(tmp_path / "hv.csv", "external_id,kind,voltage_kv,lon,lat\n"
                                                              "HV,substation,110,10.0,50.2\n"))
    run(app, "import-population", _write(tmp_path / "points.csv", "ref,pop,lon,lat\np1,100,9.85,50.0\n"),
        "--name", "Points")
    before = tables(conn)
    args = [command, *([_write(tmp_path / file[0], file[1])] if file else []), *options]
    out = run(app, *args, "--dry-run")
    assert would in out
    assert out.rstrip().endswith("dry run: nothing was changed")
    assert tables(conn) == before
    # The same command for real does change the tables: the dry run did all the work and rolled it back.
    assert would in run(app, *args)
    assert tables(conn) != before

