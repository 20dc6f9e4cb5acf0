"""import-switches: normally-open tie switches between registered facilities from CSV, GeoJSON and GeoPackage,
updated by external id, and bad files that name the file, row and column and change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from tests.test_import_facilities import invoke, ok, write_csv
from tests.test_import_real_data import one

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "example"
REGISTRY = """external_id,name,kind,voltage_kv,lon,lat
SS-1,North,substation,10,30.50,50.40
SS-2,South,substation,10,30.52,50.38
SS-3,East,substation,10,30.56,50.41
"""
SWITCHES = """external_id,name,facility_a,facility_b,remote,switch_hours,lon,lat
T1,Tie North-South,SS-1,SS-2,yes,,30.51,50.39
T2,,SS-2,SS-3,false,1.5,,
"""
TIES = """SELECT t.external_id, t.name, a.external_id AS a, b.external_id AS b, t.remote, t.switch_hours,
                 ST_AsText(t.geom) AS at FROM tie_switch t JOIN facility a ON a.id = t.facility_a
          JOIN facility b ON b.id = t.facility_b ORDER BY t.external_id"""
SNAPSHOT = """SELECT (SELECT count(*) FROM audit_event) AS events, (SELECT count(*) FROM dataset) AS datasets,
                     (SELECT coalesce(string_agg(external_id || name || facility_a || facility_b || remote
                                                 || coalesce(switch_hours, -1), ',' ORDER BY id), '')
                      FROM tie_switch) AS ties"""


@pytest.fixture
def registry(fresh, tmp_path):
    app, conn = fresh
    ok(app, "import-facilities", write_csv(tmp_path / "registry.csv", REGISTRY))
    return app, conn


def rejected(app: Any, conn: Any, *args: object) -> str:
    """Run import-switches, which must fail with one line and change nothing; that line."""
    before = conn.execute(SNAPSHOT).fetchone()
    result = invoke(app, "import-switches", *args)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    assert conn.execute(SNAPSHOT).fetchone() == before
    return lines[0]


def test_a_csv_of_ties_joins_the_named_facilities(registry, tmp_path):
    app, conn = registry
    out = ok(app, "import-switches", write_csv(tmp_path / "ties.csv", SWITCHES))
    assert "read 2 rows from ties.csv" in out and "tie switches: 2 new, 0 updated, 0 unchanged" in out
    assert conn.execute(TIES).fetchall() == [
        {"external_id": "T1", "name": "Tie North-South", "a": "SS-1", "b": "SS-2", "remote": True,
         "switch_hours": None, "at": "POINT(30.51 50.39)"},
        {"external_id": "T2", "name": "T2", "a": "SS-2", "b": "SS-3", "remote": False, "switch_hours": 1.5,
         "at": None}]
    assert one(conn, "SELECT count(*) FROM audit_event WHERE entity = 'tie_switch' AND action = 'created'") == 2


def test_loading_again_updates_by_external_id_and_keeps_the_closed_state(registry, tmp_path):
    app, conn = registry
    path = write_csv(tmp_path / "ties.csv", SWITCHES)
    ok(app, "import-switches", path)
    conn.execute("UPDATE tie_switch SET closed_at = now() WHERE external_id = 'T1'")
    assert "0 new, 0 updated, 2 unchanged" in ok(app, "import-switches", path)
    write_csv(path, SWITCHES.replace("false,1.5", "true,0.2"))
    assert "0 new, 1 updated, 1 unchanged" in ok(app, "import-switches", path)
    rows = {r["external_id"]: r for r in conn.execute(
        "SELECT external_id, remote, switch_hours, closed_at FROM tie_switch").fetchall()}
    assert rows["T2"]["remote"] is True and rows["T2"]["switch_hours"] == 0.2
    assert rows["T1"]["closed_at"] is not None and one(conn, "SELECT count(*) FROM tie_switch") == 2
    write_csv(path, SWITCHES.splitlines()[0] + "\n" + SWITCHES.splitlines()[2])
    result = invoke(app, "import-switches", path)
    assert "1 tie switches loaded earlier from ties.csv are not in it now (kept" in result.output and "T1" in (
        result.output)


def test_geojson_and_geopackage_with_points_and_a_column_mapping(registry, tmp_path):
    app, conn = registry
    frame = gpd.GeoDataFrame({"id": ["G1"], "from": ["SS-1"], "to": ["SS-3"], "remote": [False]},
                             geometry=[shapely.Point(30.53, 50.405)], crs="EPSG:4326")
    for name in ("ties.geojson", "ties.gpkg"):
        frame.to_file(tmp_path / name)
        out = ok(app, "import-switches", tmp_path / name, "--map", "external_id=id,facility_a=from,facility_b=to")
        assert "tie switches: " in out
    assert conn.execute(TIES).fetchall() == [{"external_id": "G1", "name": "G1", "a": "SS-1", "b": "SS-3",
                                              "remote": False, "switch_hours": None, "at": "POINT(30.53 50.405)"}]


def test_unused_columns_are_warned_of(registry, tmp_path):
    app, conn = registry
    result = invoke(app, "import-switches", write_csv(tmp_path / "ties.csv", SWITCHES.replace(
        "switch_hours,lon", "switch_hour,lon").replace("\nT1,", ",colour\nT1,").replace("50.39\n", "50.39,red\n")))
    assert result.exit_code == 0, result.output
    assert "column 'switch_hour' ignored; did you mean --map switch_hours=switch_hour?" in result.output


def test_the_example_file_loads_after_its_registry(fresh):
    app, conn = fresh
    ok(app, "import-facilities", EXAMPLE / "substations.csv")
    out = ok(app, "import-switches", EXAMPLE / "tie_switches.csv")
    assert out == "read 2 rows from tie_switches.csv\ntie switches: 2 new, 0 updated, 0 unchanged\n"  # as in README


def test_dry_run_and_region(registry, tmp_path):
    app, conn = registry
    path = write_csv(tmp_path / "ties.csv", SWITCHES)
    assert "dry run: nothing was changed" in ok(app, "import-switches", path, "--dry-run")
    assert one(conn, "SELECT count(*) FROM tie_switch") == 0
    ok(app, "region", "create", "east")
    line = rejected(app, conn, path, "--region", "east")
    assert "ties.csv, row 2, column 'facility_a': unknown facility 'SS-1'" in line
    ok(app, "import-switches", path)
    ok(app, "import-facilities", write_csv(tmp_path / "east.csv", REGISTRY.replace("SS-", "E-")), "--region", "east")
    line = rejected(app, conn, write_csv(tmp_path / "east_ties.csv", SWITCHES.replace("SS-", "E-")), "--region", "east")
    assert "row 2, column 'external_id': tie switch 'T1' joins facilities of region 'default'" in line


@pytest.mark.parametrize(("change", "where", "reason"), [
    (("SS-2,yes", "SS-9,yes"), "row 2, column 'facility_b'", "unknown facility 'SS-9'"),
    (("SS-2,SS-3", "SS-2,SS-2"), "row 3, column 'facility_b'", "not 'SS-2' to itself"),
    (("yes,,", "maybe,,"), "row 2, column 'remote'", "not a yes/no value: 'maybe'"),
    (("false,1.5", "false,-1"), "row 3, column 'switch_hours'", "must be a number ≥ 0"),
    (("false,1.5", "false,100"), "row 3, column 'switch_hours'", "at most 72 h"),
    (("false,1.5", "false,soon"), "row 3, column 'switch_hours'", "not a number: 'soon'"),
    (("T2,", "T1,"), "row 3, column 'external_id'", "duplicate external id 'T1'"),
    (("T2,,SS-2", "T2,,"), "row 3, column 'facility_a'", "missing facility external id"),
    (("facility_a,", "from,"), "column 'facility_a'", "missing column (map it with --map facility_a=COLUMN) (the "
     "file's columns: external_id, name, from, facility_b"),
    (("30.51,50.39", "300,50.39"), "row 2, column 'lon'", "not a coordinate"),
])
def test_a_bad_cell_is_one_line_naming_file_row_and_column(registry, tmp_path, change, where, reason):
    app, conn = registry
    ok(app, "import-switches", write_csv(tmp_path / "good.csv", SWITCHES.replace("T1", "T0").replace("T2", "T9")))
    line = rejected(app, conn, write_csv(tmp_path / "ties.csv", SWITCHES.replace(*change)))
    assert f"ties.csv, {where}: " in line and reason in line, line


def test_a_geojson_line_is_not_a_switch_position(registry, tmp_path):
    app, conn = registry
    path = tmp_path / "ties.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"external_id": "L1", "facility_a": "SS-1", "facility_b": "SS-2"},
        "geometry": {"type": "LineString", "coordinates": [[30.5, 50.4], [30.52, 50.38]]}}]}))
    assert "row 1, column 'geometry': bad geometry: a Point expected" in rejected(app, conn, path)
