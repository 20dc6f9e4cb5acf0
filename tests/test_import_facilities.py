"""import-facilities: every format, column mappings, updates by external id, and bad files that change nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import pytest
import shapely
from flask import Flask

Row = psycopg.Connection[dict[str, Any]]  # connections that return rows as dicts
SNAPSHOT = """SELECT (SELECT count(*) FROM facility) AS facilities, (SELECT count(*) FROM feed_link) AS links,
                     (SELECT count(*) FROM audit_event) AS events, (SELECT count(*) FROM dataset) AS datasets,
                     (SELECT coalesce(string_agg(external_id || name || kind || coalesce(voltage_kv, 0)
                                                 || ST_AsText(geom), ',' ORDER BY id), '') FROM facility) AS rows"""


def invoke(app: Flask, *args: object):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def ok(app: Flask, *args: object) -> str:
    result = invoke(app, *args)
    assert result.exit_code == 0, result.output
    return result.output


def fails(app: Flask, conn: Row, *args: object) -> str:
    """Run a command that must fail with one line naming the problem, and check it changed nothing."""
    before = conn.execute(SNAPSHOT).fetchone()
    result = invoke(app, *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    assert conn.execute(SNAPSHOT).fetchone() == before
    return lines[0]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


CSV = """id,name,type,kv,lon,lat
S1,North,substation,110,-6.25,53.35
S2,South,Sub Station,20,-6.26,53.30
S3,Plant,power plant,220,-6.20,53.40
"""


def test_csv_with_lon_lat_and_a_column_mapping(fresh, tmp_path):
    app, conn = fresh
    path = write_csv(tmp_path / "registry.csv", CSV)
    out = ok(app, "import-facilities", path, "--map", "external_id=id,kind=type,voltage_kv=kv")
    assert "3 new, 0 updated, 0 unchanged" in out
    rows = conn.execute("SELECT external_id, kind::text, voltage_kv, attributes FROM facility ORDER BY 1").fetchall()
    assert [(r["external_id"], r["kind"], r["voltage_kv"]) for r in rows] == [
        ("S1", "substation", 110), ("S2", "substation", 20), ("S3", "power_plant", 220)]
    assert rows[0]["attributes"] == {}


def test_importing_the_same_file_again_updates_by_external_id(fresh, tmp_path):
    app, conn = fresh
    path = write_csv(tmp_path / "registry.csv", CSV)
    ok(app, "import-facilities", path, "--map", "external_id=id,kind=type,voltage_kv=kv")
    write_csv(path, CSV.replace("North,substation,110", "North renamed,substation,132"))
    out = ok(app, "import-facilities", path, "--map", "external_id=id,kind=type,voltage_kv=kv")
    assert "0 new, 1 updated, 2 unchanged" in out
    assert conn.execute("SELECT count(*) AS n FROM facility").fetchone()["n"] == 3
    event = conn.execute("""SELECT action, before->>'name' AS old, after->>'name' AS new FROM audit_event
                            WHERE entity = 'facility' AND action = 'updated'""").fetchone()
    assert event == {"action": "updated", "old": "North", "new": "North renamed"}


def test_a_blank_number_is_stored_as_null_not_nan(fresh, tmp_path):
    app, conn = fresh
    path = write_csv(tmp_path / "registry.csv", CSV.replace("S2,South,Sub Station,20", "S2,South,Sub Station,"))
    ok(app, "import-facilities", path, "--map", "external_id=id,kind=type,voltage_kv=kv")
    rows = conn.execute("SELECT external_id, voltage_kv FROM facility ORDER BY 1").fetchall()
    assert [(r["external_id"], r["voltage_kv"]) for r in rows] == [("S1", 110), ("S2", None), ("S3", 220)]


def test_csv_with_wkt_in_a_projected_crs_is_reprojected(fresh, tmp_path):
    app, conn = fresh
    path = write_csv(tmp_path / "itm.csv", """ref,name,wkt
L1,Line one,"LINESTRING (715830 734697, 716830 735697)"
P1,Point one,POINT (715830 734697)
""")
    ok(app, "import-facilities", path, "--kind", "substation", "--crs", "EPSG:2157")
    lon, lat = conn.execute("SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM facility WHERE external_id = 'P1'"
                            ).fetchone().values()
    assert lon == pytest.approx(-6.26, abs=0.01) and lat == pytest.approx(53.35, abs=0.01)


def test_geopackage_layer_and_zipped_shapefile(fresh, tmp_path):
    app, conn = fresh
    frame = gpd.GeoDataFrame({"external_id": ["A", "B"], "name": ["Alpha", "Beta"], "kind": ["substation"] * 2},
                             geometry=[shapely.Point(500000, 5000000), shapely.Point(510000, 5000000)],
                             crs="EPSG:32633")
    frame.to_file(tmp_path / "grid.gpkg", layer="stations", engine="pyogrio")
    frame.to_file(tmp_path / "grid.gpkg", layer="other", engine="pyogrio")
    line = fails(app, conn, "import-facilities", tmp_path / "grid.gpkg")
    assert "several layers (stations, other): choose one with --layer" in line
    assert "2 new" in ok(app, "import-facilities", tmp_path / "grid.gpkg", "--layer", "stations")
    x = conn.execute("SELECT ST_X(geom) AS x FROM facility WHERE external_id = 'A'").fetchone()["x"]
    assert x == pytest.approx(15.0, abs=0.01)  # UTM 33N's central meridian is 15° E
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    # Shapefile names stop at 10 characters: 'id' is read as the external id.
    frame.assign(id=["C", "D"]).drop(columns="external_id").to_file(shp_dir / "more.shp", engine="pyogrio")
    with zipfile.ZipFile(tmp_path / "more.zip", "w") as archive:
        for part in shp_dir.iterdir():
            archive.write(part, part.name)
    assert "2 new" in ok(app, "import-facilities", tmp_path / "more.zip")


def test_plain_shapefile_in_a_projected_crs_is_reprojected(fresh, tmp_path):
    app, conn = fresh
    # Irish Transverse Mercator (EPSG:2157) metres; a Shapefile holds one geometry type, here points.
    frame = gpd.GeoDataFrame({"id": ["P1", "S1", "S2"], "name": ["Poolbeg", "Inchicore", "Finglas"],
                              "kind": ["power_plant", "substation", "Sub Station"], "kv": [220.0, 110.0, 38.0]},
                             geometry=[shapely.Point(720_000, 733_000), shapely.Point(711_000, 733_000),
                                       shapely.Point(713_000, 740_000)], crs="EPSG:2157")
    frame.to_file(tmp_path / "stations.shp", engine="pyogrio")
    out = ok(app, "import-facilities", tmp_path / "stations.shp", "--map", "voltage_kv=kv")
    assert "read 3 rows from stations.shp" in out and "3 new, 0 updated, 0 unchanged" in out
    rows = conn.execute("""SELECT external_id, name, kind::text AS kind, voltage_kv, ST_SRID(geom) AS srid,
                                  ST_X(geom) AS lon, ST_Y(geom) AS lat FROM facility ORDER BY id""").fetchall()
    assert [(r["external_id"], r["name"], r["kind"], r["voltage_kv"], r["srid"]) for r in rows] == [
        ("P1", "Poolbeg", "power_plant", 220.0, 4326), ("S1", "Inchicore", "substation", 110.0, 4326),
        ("S2", "Finglas", "substation", 38.0, 4326)]
    expected = frame.to_crs("EPSG:4326").geometry
    assert [c for r in rows for c in (r["lon"], r["lat"])] == pytest.approx(
        [c for p in expected for c in (p.x, p.y)], abs=1e-9)
    assert (rows[0]["lon"], rows[0]["lat"]) == pytest.approx((-6.19, 53.34), abs=0.01)  # Dublin, not metres


def test_yaml_mapping_translates_kinds_and_volts(fresh, tmp_path):
    app, conn = fresh
    path = write_csv(tmp_path / "osm.csv", """v_id,typ,voltage,lon,lat
1,plant,380000;220000,10.0,50.0
2,joint,110000,10.1,50.1
""")
    mapping = tmp_path / "osm.yaml"
    mapping.write_text("columns: {external_id: v_id, kind: typ, voltage_kv: voltage}\n"
                       "kinds: {plant: power_plant, joint: other}\nvoltage_unit: V\n")
    ok(app, "import-facilities", path, "--map", mapping)
    rows = conn.execute("SELECT external_id, name, kind::text, voltage_kv FROM facility ORDER BY 1").fetchall()
    assert [tuple(r.values()) for r in rows] == [("1", "1", "power_plant", 380.0), ("2", "2", "other", 110.0)]


def test_identical_rows_are_kept_once_and_reported(fresh, tmp_path):
    app, conn = fresh
    path = write_csv(tmp_path / "dup.csv", CSV + "S1,North,substation,110,-6.25,53.35\n")
    out = ok(app, "import-facilities", path, "--map", "external_id=id,kind=type,voltage_kv=kv")
    assert "row 5: identical to an earlier row (S1); kept once" in out
    assert conn.execute("SELECT count(*) AS n FROM facility").fetchone()["n"] == 3


def test_facilities_outside_the_study_boundary_are_listed(fresh, tmp_path):
    app, conn = fresh
    boundary = tmp_path / "boundary.geojson"
    boundary.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                        "geometry": shapely.geometry.mapping(shapely.box(-6.3, 53.2, -6.22, 53.38))}]}))
    path = write_csv(tmp_path / "registry.csv", CSV)
    ok(app, "import-facilities", path, "--map", "external_id=id,kind=type,voltage_kv=kv")
    ok(app, "derive-service-areas", "--boundary", boundary)
    out = ok(app, "import-facilities", path, "--map", "external_id=id,kind=type,voltage_kv=kv")
    assert "warning: 1 facilities outside the study boundary of region 'default': S3" in out


@pytest.mark.parametrize(("text", "args", "expected"), [
    (CSV.replace("S2,South,Sub Station", "S2,South,windmill"), ["--map", "external_id=id,kind=type"],
     "row 3, column 'type': unknown kind 'windmill'"),
    (CSV.replace("S3,Plant", "S1,Plant"), ["--map", "external_id=id,kind=type"],
     "row 4, column 'id': duplicate external id 'S1' (also row 2, with different values)"),
    (CSV.replace("-6.26,53.30", "-6.26,"), ["--map", "external_id=id,kind=type"],
     "row 3, column 'geometry': no geometry"),
    (CSV.replace("53.40", "93.40"), ["--map", "external_id=id,kind=type"],
     "row 4, column 'lat': not a coordinate within ±90"),
    (CSV.replace("id,name", "code,name"), ["--map", "kind=type"], "column 'external_id': missing column"),
    (CSV, ["--map", "external_id=ident,kind=type"], "column 'ident': missing column (mapped to field 'external_id')"),
    (CSV.replace("110,-6.25", "lots,-6.25"), ["--map", "external_id=id,kind=type,voltage_kv=kv"],
     "row 2, column 'kv': not a number: 'lots'"),
    (CSV.replace("id,name,type,kv,lon,lat", "id,name,type,kv,x,y"), ["--map", "external_id=id,kind=type"], None),
])
def test_bad_rows_name_file_row_and_column_and_change_nothing(fresh, tmp_path, text, args, expected):
    app, conn = fresh
    ok(app, "import-facilities", write_csv(tmp_path / "good.csv", CSV), "--map", "external_id=id,kind=type")
    path = write_csv(tmp_path / "bad.csv", text)
    if expected is None:  # x/y columns are read as lon/lat when no --crs says otherwise
        assert "0 new" in ok(app, "import-facilities", path, *args)
        return
    line = fails(app, conn, "import-facilities", path, *args)
    assert line.startswith(f"error: {path}, ")
    assert expected in line


def test_a_vector_file_without_crs_or_with_bad_geometry_is_refused(fresh, tmp_path):
    app, conn = fresh
    bowtie = "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"
    path = write_csv(tmp_path / "bad.csv", f'external_id,kind,wkt\nA,substation,"{bowtie}"\n')
    assert "row 2, column 'geometry': bad geometry: Self-intersection" in fails(app, conn, "import-facilities", path)
    frame = gpd.GeoDataFrame({"id": ["A"], "kind": ["substation"]}, geometry=[shapely.Point(1, 2)])
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        frame.to_file(tmp_path / "nocrs.shp", engine="pyogrio")
    assert "CRS missing" in fails(app, conn, "import-facilities", tmp_path / "nocrs.shp")
