"""import-facilities and import-switches on a corrupted file of each format they read: one line naming the file, exit 1,
nothing stored."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.test_import_facilities import fails, invoke

GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"id": "S1", "kind": "substation"},
     "geometry": {"type": "Point", "coordinates": [30.5, 50.4]}}]})
OSM_EXTRACT = Path(__file__).resolve().parent.parent / "data" / "reference" / "osm" / "helsinki.osm.pbf"
NOT_A_NET = {"_module": "pandapower.auxiliary", "_class": "pandapowerNet", "_object": {"stray": 1}}


def corrupted(tmp_path: Path, name: str) -> Path:
    """A file of the named kind, damaged the way files get damaged: cut short, overwritten, or the wrong thing."""
    path = tmp_path / name.split("-")[0]
    junk = bytes(range(256)) * 8
    if name == "registry.geojson":
        path.write_text(GEOJSON[: len(GEOJSON) // 2], encoding="utf-8")
    elif name in ("registry.gpkg", "registry.shp", "registry.csv"):
        path.write_bytes(b"\x00\xff" + junk)
    elif name == "registry.zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("registry.shp", junk)
    elif name == "net.json-truncated":
        path.write_text(json.dumps({"_module": "pandapower.auxiliary", "_class": "pandapowerNet",
                                    "_object": {"bus": {"_class": "DataFrame", "_object": "{}"}}})[:90])
    elif name == "net.json-not-json":
        path.write_bytes(b'"pandapowerNet" ' + junk)
    elif name == "net.json-not-a-net":
        path.write_text(json.dumps(NOT_A_NET), encoding="utf-8")
    elif name == "net.json-other-json":
        path.write_text(json.dumps({"rows": [1, 2, 3]}), encoding="utf-8")
    elif name == "extract.osm.pbf-truncated":
        path.write_bytes(OSM_EXTRACT.read_bytes()[: OSM_EXTRACT.stat().st_size // 2])
    elif name == "extract.osm.pbf-junk":
        path.write_bytes(junk)
    elif name == "extract.osm.pbf-empty":
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize("name", ["registry.geojson", "registry.gpkg", "registry.shp", "registry.zip",
                                  "registry.csv", "net.json-truncated", "net.json-not-json",
                                  "net.json-not-a-net", "net.json-other-json", "extract.osm.pbf-truncated",
                                  "extract.osm.pbf-junk", "extract.osm.pbf-empty"])
def test_a_corrupted_file_is_one_line_naming_it_and_stores_nothing(fresh, tmp_path, name):
    app, conn = fresh
    path = corrupted(tmp_path, name)
    line = fails(app, conn, "import-facilities", path)
    assert path.name in line
    assert invoke(app, "import-facilities", path).exit_code == 1


@pytest.mark.parametrize("name", ["registry.geojson", "registry.gpkg", "registry.shp", "registry.zip",
                                  "registry.csv"])
def test_import_switches_on_a_corrupted_file_is_one_line_naming_it_and_stores_nothing(fresh, tmp_path, name):
    app, conn = fresh
    path = corrupted(tmp_path, name)
    line = fails(app, conn, "import-switches", path)
    assert path.name in line
    assert conn.execute("SELECT count(*) AS n FROM tie_switch").fetchone()["n"] == 0
