"""import-service-areas: given polygons per facility, unknown ids refused, and how they meet derive-service-areas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely
from flask import Flask
from shapely.geometry.base import BaseGeometry

from geo import service_areas
from tests.conftest import IMPORT_TABLES, run

Row = psycopg.Connection[dict[str, Any]]  # connections that return rows as dicts
# Two 20 kV substations either side of lon 10, a 110 kV one feeding them, in a 0.4° × 0.2° box.
REGISTRY = """external_id,kind,voltage_kv,parent_external_id,lon,lat
HV,substation,110,,10.0,50.2
W,substation,20,HV,9.9,50.0
E,substation,20,HV,10.1,50.0
"""
WEST, EAST = shapely.box(9.8, 49.9, 10.0, 50.1), shapely.box(10.0, 49.9, 10.2, 50.1)
AREAS = """SELECT f.external_id, s.method, s.provenance, s.area_m2, ST_AsText(s.geom) AS wkt FROM service_area s
           JOIN facility f ON f.id = s.facility_id ORDER BY 1"""
SNAPSHOT = """SELECT (SELECT count(*) FROM service_area) AS areas, (SELECT count(*) FROM dataset) AS datasets,
                     (SELECT count(*) FROM audit_event) AS events,
                     (SELECT count(*) FROM facility_population) AS population,
                     (SELECT string_agg(facility_id || method || ST_AsText(geom), ',' ORDER BY facility_id)
                      FROM service_area) AS rows"""


@pytest.fixture()
def registry(onboarding, tmp_path) -> Iterator[tuple[Flask, Row]]:
    """Three facilities (HV feeding W and E), a population layer of three points, no service areas."""
    app, url = onboarding
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute(f"TRUNCATE {IMPORT_TABLES} CASCADE")
        run(app, "import-facilities", write(tmp_path / "registry.csv", REGISTRY))
        out = run(app, "import-population", write(tmp_path / "points.csv", "ref,pop,lon,lat\n"
                                                  "p1,100,9.85,50.0\np2,30,10.05,50.0\np3,7,11.0,50.0\n"),
                  "--name", "Points")
        assert "no service areas yet, so none assigned" in out
        yield app, conn


def refused(app: Flask, conn: Row, *args: object) -> str:
    """Run a command that must fail with one error line, and check it changed nothing."""
    before = conn.execute(SNAPSHOT).fetchone()
    result = app.test_cli_runner().invoke(args=[str(a) for a in args])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert conn.execute(SNAPSHOT).fetchone() == before
    return errors[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def areas_file(path: Path, areas: dict[str, BaseGeometry], *, id_column: str = "station") -> Path:
    """A GeoJSON file of polygons (lon/lat), one feature per facility id, in this order."""
    features = [{"type": "Feature", "properties": {id_column: name}, "geometry": shapely.geometry.mapping(shape)}
                for name, shape in areas.items()]
    return write(path, json.dumps({"type": "FeatureCollection", "features": features}))


def people(conn: Row) -> dict[str, tuple[float, float]]:
    rows = conn.execute("""SELECT f.external_id, fp.population, fp.population_served FROM facility_population fp
                           JOIN facility f ON f.id = fp.facility_id""").fetchall()
    return {r["external_id"]: (r["population"], r["population_served"]) for r in rows}


def test_given_polygons_become_the_service_areas_of_their_facilities(registry, tmp_path):
    app, conn = registry
    path = areas_file(tmp_path / "areas.geojson", {"W": WEST, "E": EAST})
    out = run(app, "import-service-areas", path, "--map", "external_id=station")
    assert "service areas: 2 given areas stored" in out
    # No study boundary is stored: the union of the given areas is the boundary of the check.
    assert "inside the boundary 130 people, assigned 130: conserved (7 outside the boundary)" in out
    rows = conn.execute(AREAS).fetchall()
    assert [(r["external_id"], r["method"], r["provenance"]) for r in rows] == [
        ("E", "given", f"given: {path}"), ("W", "given", f"given: {path}")]
    assert shapely.from_wkt(rows[1]["wkt"]).equals(shapely.MultiPolygon([WEST]))
    # 0.2° × 0.2° at 50° N: about 22.2 km north-south by 14.3 km east-west, measured on the spheroid.
    assert rows[1]["area_m2"] == pytest.approx(22_240 * 14_330, rel=0.01)
    assert people(conn) == {"HV": (0.0, 130.0), "W": (100.0, 100.0), "E": (30.0, 30.0)}
    event = conn.execute("SELECT after FROM audit_event WHERE action = 'import-service-areas'").fetchone()
    assert event["after"] == {"file": str(path), "areas": 2}


def test_loading_given_areas_again_replaces_them_by_facility(registry, tmp_path):
    app, conn = registry
    run(app, "import-service-areas", areas_file(tmp_path / "a.geojson", {"W": WEST, "E": EAST}, id_column="id"))
    wider = shapely.box(9.7, 49.9, 10.0, 50.1)
    out = run(app, "import-service-areas", areas_file(tmp_path / "b.geojson", {"W": wider}, id_column="id"))
    assert "1 given areas stored" in out
    rows = {r["external_id"]: r for r in conn.execute(AREAS).fetchall()}
    assert len(rows) == 2 and shapely.from_wkt(rows["W"]["wkt"]).equals(shapely.MultiPolygon([wider]))
    assert rows["E"]["provenance"].endswith("a.geojson")


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("areas.geojson", None, "row 2, column 'station': unknown external id 'X9'"),  # row: the feature number
    ("areas.csv", f'station,wkt\nW,"{WEST.wkt}"\nX9,"{EAST.wkt}"\n',
     "row 3, column 'station': unknown external id 'X9'"),  # row: the line number, the header is line 1
    ("points.csv", 'station,lon,lat\nW,9.9,50.0\n', "row 2, column 'geometry': bad geometry: a Polygon expected"),
    ("blank.csv", f'station,wkt\nW,"{WEST.wkt}"\n,"{EAST.wkt}"\n', "row 3, column 'station': missing external id"),
])
def test_a_bad_area_names_file_row_and_column_and_changes_nothing(registry, tmp_path, name, text, expected):
    app, conn = registry
    run(app, "import-service-areas", areas_file(tmp_path / "good.geojson", {"W": WEST}), "--map",
        "external_id=station")
    path = (areas_file(tmp_path / name, {"W": WEST, "X9": EAST}) if text is None
            else write(tmp_path / name, text))
    line = refused(app, conn, "import-service-areas", path, "--map", "external_id=station")
    assert line.startswith(f"error: {path}, {expected}")


def test_dry_run_reports_the_given_areas_and_keeps_the_derived_ones(registry, tmp_path):
    app, conn = registry
    boundary = areas_file(tmp_path / "boundary.geojson", {"box": shapely.box(9.8, 49.9, 10.2, 50.1)})
    out = run(app, "derive-service-areas", "--boundary", boundary)
    assert "2 derived" in out  # the lowest level: W and E, not HV which feeds them
    before = conn.execute(SNAPSHOT).fetchone()
    out = run(app, "import-service-areas", areas_file(tmp_path / "areas.geojson", {"W": WEST}), "--map",
              "external_id=station", "--dry-run")
    assert "service areas: 1 given areas stored" in out and out.rstrip().endswith("dry run: nothing was changed")
    assert conn.execute(SNAPSHOT).fetchone() == before
    assert {r["method"] for r in conn.execute(AREAS).fetchall()} == {"voronoi"}


def test_given_areas_override_derived_ones_and_derive_replaces_them_only_when_asked(registry, tmp_path):
    app, conn = registry
    boundary = areas_file(tmp_path / "boundary.geojson", {"box": shapely.box(9.8, 49.9, 10.2, 50.1)})
    run(app, "derive-service-areas", "--boundary", boundary)
    # Given areas replace the derived area of each facility in the file; the others keep theirs.
    narrow = shapely.box(9.85, 49.95, 9.95, 50.05)
    run(app, "import-service-areas", areas_file(tmp_path / "areas.geojson", {"W": narrow}), "--map",
        "external_id=station")
    assert {r["external_id"]: r["method"] for r in conn.execute(AREAS).fetchall()} == {"E": "voronoi",
                                                                                       "W": "given"}
    # Deriving again would silently drop the given area: refused unless --replace-given says so.
    assert refused(app, conn, "derive-service-areas") == (
        "error: given service areas are stored: derive with --replace-given to replace them")
    out = run(app, "derive-service-areas", "--replace-given")
    assert "2 derived (Voronoi of the lowest-level facilities), 2 replaced" in out and ": conserved" in out
    assert {r["external_id"]: r["method"] for r in conn.execute(AREAS).fetchall()} == {"E": "voronoi",
                                                                                       "W": "voronoi"}
    assert people(conn)["HV"] == (0.0, 130.0)
    # And the other way round: given areas for every leaf replace every derived one.
    run(app, "import-service-areas", areas_file(tmp_path / "all.geojson", {"W": WEST, "E": EAST}), "--map",
        "external_id=station")
    assert {r["method"] for r in conn.execute(AREAS).fetchall()} == {"given"}


def test_voronoi_reports_progress_as_cells_are_clipped(monkeypatch):
    points = gpd.GeoSeries(gpd.points_from_xy([9.85, 9.9, 10.0, 10.1, 10.15], [50.0, 50.05, 50.0, 49.95, 50.0]),
                           crs="EPSG:4326")
    box = shapely.box(9.8, 49.9, 10.2, 50.1)
    whole = service_areas.voronoi(points, box, metric_crs="EPSG:3035")
    monkeypatch.setattr(service_areas, "PROGRESS_CHUNK", 2)
    done: list[int] = []
    cells = service_areas.voronoi(points, box, metric_crs="EPSG:3035", progress=done.append)
    assert done == [2, 2, 1] and all(cells.geom_equals_exact(whole, tolerance=0))
    assert shapely.union_all(cells.values).equals(box)


def test_cells_inside_the_boundary_are_kept_whole_and_only_those_across_it_are_cut():
    xs, ys = np.meshgrid(np.linspace(9.82, 10.18, 7), np.linspace(49.92, 50.08, 7))
    points = gpd.GeoSeries(gpd.points_from_xy(xs.ravel(), ys.ravel()), crs="EPSG:4326")
    box = shapely.box(9.8, 49.9, 10.2, 50.1)
    done: list[int] = []
    cells = service_areas.voronoi(points, box, metric_crs="EPSG:3035", progress=done.append)
    assert done[0] == 25 and sum(done) == 49  # the 5 x 5 inner cells at once, then the 24 along the edge
    assert shapely.union_all(cells.values).equals(box)  # they tile it: no gap, no overlap
    assert abs(sum(shapely.area(cells.values)) - box.area) < 1e-12
