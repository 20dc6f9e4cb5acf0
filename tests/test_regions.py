"""Named regions: created empty, listed, deleted; every import writes to its region and leaves the others alone;
population outside a region's boundary is refused, never a silent zero; unused columns are warned of."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely
from flask import Flask

from tests.conftest import run

Row = psycopg.Connection[dict[str, Any]]
WEST, EAST = shapely.box(9.8, 49.9, 10.2, 50.1), shapely.box(20.8, 49.9, 21.2, 50.1)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def boundary(path: Path, shape: shapely.Geometry) -> Path:
    return write(path, json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(shape)}]}))


def invoke(app: Flask, *args: object, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=[str(a) for a in args], input=input)


def error(app: Flask, *args: object) -> str:
    result = invoke(app, *args)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    return lines[0]


def people(conn: Row) -> dict[str, float]:
    rows = conn.execute("""SELECT f.external_id, p.population FROM facility f
                           JOIN facility_population_latest p ON p.facility_id = f.id""").fetchall()
    return {r["external_id"]: float(r["population"]) for r in rows}


@pytest.fixture()
def two(fresh, tmp_path) -> Iterator[tuple[Flask, Row, Path]]:
    """The default region with two substations and a population layer; an empty region 'east' with a boundary."""
    app, conn = fresh
    conn.execute("DELETE FROM region WHERE NOT is_default")
    run(app, "import-facilities", write(tmp_path / "west.csv", "external_id,kind,lon,lat\nW1,substation,9.9,50.0\n"
                                                               "W2,substation,10.1,50.0\n"))
    run(app, "derive-service-areas", "--boundary", boundary(tmp_path / "west.geojson", WEST))
    run(app, "import-population", write(tmp_path / "wpop.csv", "ref,pop,lon,lat\na,100,9.85,50.0\nb,50,10.15,50.0\n"),
        "--name", "Census")
    out = run(app, "region", "create", "east", "--boundary", boundary(tmp_path / "east.geojson", EAST))
    assert out.strip() == "region 'east' created with the boundary of east.geojson"
    yield app, conn, tmp_path


def test_a_region_is_created_empty_and_listed_with_what_it_holds(two):
    app, conn, _ = two
    assert run(app, "region", "list").splitlines() == [
        "default (default): 2 facilities, 2 service areas, 1 population layer, 0 critical sites, a boundary",
        "east: 0 facilities, 0 service areas, 0 population layers, 0 critical sites, a boundary"]
    assert error(app, "region", "create", "east") == "error: a region named 'east' exists already"
    assert "region name 'no spaces'" in error(app, "region", "create", "no spaces")


def test_imports_into_a_region_leave_the_other_regions_numbers_alone(two):
    app, conn, tmp = two
    before = people(conn)
    assert before == {"W1": 100.0, "W2": 50.0}
    run(app, "import-facilities", write(tmp / "east.csv", "external_id,kind,lon,lat\nE1,substation,20.9,50.0\n"
                                                          "E2,substation,21.1,50.0\n"), "--region", "east")
    run(app, "derive-service-areas", "--region", "east")
    out = run(app, "import-population", write(tmp / "epop.csv", "ref,pop,lon,lat\nx,7,20.85,50.0\ny,3,21.15,50.0\n"),
              "--region", "east", "--name", "Census")  # the same layer name, in another region
    assert "inside the boundary 10 people, assigned 10: conserved" in out
    got = people(conn)
    assert {k: got[k] for k in ("W1", "W2")} == before and got["E1"] == 7.0 and got["E2"] == 3.0
    # Recomputing one region's population touches only its own facilities.
    run(app, "recompute-population", "--region", "east")
    assert people(conn) == got
    assert conn.execute("SELECT count(*) AS n FROM study_area").fetchone()["n"] == 2


def test_a_layer_of_another_area_is_refused_not_turned_into_zeros(two):
    app, conn, tmp = two
    layer = write(tmp / "epop.csv", "ref,pop,lon,lat\nx,7,20.85,50.0\ny,3,21.15,50.0\n")
    message = error(app, "import-population", layer, "--name", "East census")
    assert message.startswith("error: none of the layer's 10 people is inside the boundary of region 'default'")
    assert people(conn) == {"W1": 100.0, "W2": 50.0}
    assert conn.execute("SELECT count(*) AS n FROM population_layer").fetchone()["n"] == 1


def test_some_people_outside_the_boundary_stop_the_import_unless_yes(two):
    app, conn, tmp = two
    layer = write(tmp / "more.csv", "ref,pop,lon,lat\na,100,9.85,50.0\nb,50,10.15,50.0\nfar,30,12.0,50.0\n")
    message = error(app, "import-population", layer, "--name", "Census")
    assert message == ("error: 30 of the layer's 180 people (16.7%) are outside the boundary of region 'default' "
                       "and would be counted for no facility; nothing was stored. If that is expected (a national "
                       "layer for one region), run again with --yes")
    assert conn.execute("SELECT total FROM population_layer").fetchone()["total"] == 150.0
    out = invoke(app, "import-population", layer, "--name", "Census", "--yes")
    assert out.exit_code == 0 and "warning: 30 of the layer's 180 people (16.7%) are outside the boundary of region " \
        "'default': counted for no facility" in out.output
    assert conn.execute("SELECT total FROM population_layer").fetchone()["total"] == 180.0


def test_a_facility_id_of_another_region_is_an_error_naming_the_row(two):
    app, conn, tmp = two
    clash = write(tmp / "clash.csv", "external_id,kind,lon,lat\nE9,substation,20.9,50.0\nW2,substation,21.0,50.0\n")
    message = error(app, "import-facilities", clash, "--region", "east")
    assert message == (f"error: {clash}, row 3, column 'external_id': external id 'W2' is a facility of region "
                       "'default', not 'east' (1 such ids; import into that region with --region, or give these "
                       "facilities ids of their own)")
    assert conn.execute("SELECT count(*) AS n FROM facility").fetchone()["n"] == 2


def test_an_unknown_region_names_the_regions_there_are(two):
    app, _, tmp = two
    assert error(app, "infer-feeds", "--region", "north") == (
        "error: no region named 'north' (regions: default, east; create one with `flask --app app region create "
        "NAME`)")


def test_a_region_is_deleted_with_everything_it_holds_but_never_the_default(two):
    app, conn, tmp = two
    run(app, "import-facilities", write(tmp / "east.csv", "external_id,kind,lon,lat\nE1,substation,20.9,50.0\n"),
        "--region", "east")
    asked = invoke(app, "region", "delete", "east", input="n\n")
    assert asked.exit_code == 1 and "Delete region 'east' and all its data?" in asked.output
    assert run(app, "region", "delete", "east", "--dry-run").splitlines()[-1] == "dry run: nothing was changed"
    assert conn.execute("SELECT count(*) AS n FROM region").fetchone()["n"] == 2
    out = run(app, "region", "delete", "east", "--yes")
    assert out.strip() == "region 'east' deleted: 1 facilities, 0 population layers, 0 critical sites"
    assert [r["name"] for r in conn.execute("SELECT name FROM region")] == ["default"]
    assert conn.execute("SELECT count(*) AS n FROM facility").fetchone()["n"] == 2
    assert error(app, "region", "delete", "default", "--yes") == (
        "error: region 'default' is the default region and cannot be deleted")


def test_a_region_whose_facilities_have_damage_cases_is_not_deleted(two):
    app, conn, tmp = two
    run(app, "import-facilities", write(tmp / "east.csv", "external_id,kind,lon,lat\nE1,substation,20.9,50.0\n"),
        "--region", "east")
    conn.execute("""INSERT INTO damage_case (facility_id, kind, geom)
                    SELECT id, kind, geom FROM facility WHERE external_id = 'E1'""")
    try:
        assert error(app, "region", "delete", "east", "--yes") == (
            "error: region 'east' cannot be deleted: 1 damage cases name its facilities (they are the record of "
            "what happened)")
    finally:
        conn.execute("DELETE FROM damage_case WHERE facility_id IN (SELECT id FROM facility WHERE external_id = 'E1')")


def test_unused_columns_are_warned_of_with_the_field_they_resemble(fresh, tmp_path):
    app, _ = fresh
    registry = write(tmp_path / "grid.csv", "external_id,kind,voltage,lon,lat\nS1,substation,110,9.9,50.0\n")
    out = invoke(app, "import-facilities", registry, "--map", "kind=type_code", "--kind", "substation")
    assert out.exit_code == 0, out.output
    assert f"warning: {registry}: column 'voltage' kept as an attribute only; did you mean --map " \
        "voltage_kv=voltage?" in out.output
    assert f"warning: {registry}: --map kind=type_code not used (the field comes from an option, or this command " \
        "does not read it)" in out.output
    points = write(tmp_path / "pop.csv", "ref,pop,name,refs,lon,lat\na,5,x,r,9.9,50.0\n")
    out = invoke(app, "import-population", points, "--map", "ref=ref")
    assert "warning: pop.csv: columns ignored: name, refs" in out.output


def test_a_missing_column_lists_the_files_columns_and_the_closest(fresh, tmp_path):
    app, _ = fresh
    registry = write(tmp_path / "grid.csv", "ident,kind,lon,lat\nS1,substation,9.9,50.0\n")
    assert error(app, "import-facilities", registry, "--map", "external_id=idnet") == (
        f"error: {registry}, column 'idnet': missing column (mapped to field 'external_id'); did you mean 'ident'? "
        "(the file's columns: ident, kind)")
    assert error(app, "import-facilities", write(tmp_path / "g2.csv", "code,kind,lon,lat\nS1,substation,9,50\n")) \
        .endswith("column 'external_id': missing column (map it with --map external_id=COLUMN) (the file's "
                  "columns: code, kind)")


def test_row_numbers_are_the_files_own_in_csv_and_geojson_alike(fresh, tmp_path):
    """The same bad third record is row 4 of the CSV (line 4, the header is line 1) and feature 3 of the GeoJSON."""
    app, _ = fresh
    csv = write(tmp_path / "bad.csv", "external_id,kind,lon,lat\nA,substation,9,50\nB,substation,9.1,50\n"
                                      "C,windmill,9.2,50\n")
    assert error(app, "import-facilities", csv).startswith(f"error: {csv}, row 4, column 'kind': unknown kind")
    features = [{"type": "Feature", "properties": {"external_id": i, "kind": k},
                 "geometry": {"type": "Point", "coordinates": [9 + n / 10, 50]}}
                for n, (i, k) in enumerate((("A", "substation"), ("B", "substation"), ("C", "windmill")))]
    geojson = write(tmp_path / "bad.geojson", json.dumps({"type": "FeatureCollection", "features": features}))
    assert error(app, "import-facilities", geojson).startswith(
        f"error: {geojson}, row 3, column 'kind': unknown kind")
