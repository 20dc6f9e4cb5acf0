"""import-facilities on networks written by the current pandapower: meshed grids, switches, parallel
transformers, buses without coordinates, and what the import reports."""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from geo import feeds
from geo.network import ScenarioError, build_network
from geo.pandapower_net import feed_tree, read_tables
from geo.pandapower_ties import open_ties
from geo.pandapower_topology import orient, place
from tests.conftest import PASSWORD, api_client
from tests.test_import_facilities import fails, ok
from tests.test_import_real_data import one


def quiet(build: Callable[[], Any]) -> Any:
    # pandapower notes (numba missing, format conversion) are warnings; this project's tests make warnings errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build()


@pytest.fixture(scope="module")
def pp() -> Any:
    return quiet(lambda: pytest.importorskip("pandapower"))


@pytest.fixture(scope="module")
def pn(pp) -> Any:
    return quiet(lambda: pytest.importorskip("pandapower.networks"))


def save(pp: Any, net: Any, path: Path) -> Path:
    quiet(lambda: pp.to_json(net, str(path)))
    return path


def add_row(net: Any, table: str, index: int, **values: Any) -> None:
    """A copy of the table's first row under a new index, with these values (pandapower's create functions do
    not run on the pandas this project pins, its reader and writer do)."""
    row = net[table].iloc[[0]].copy()
    for column, value in values.items():
        row[column] = [value]
    net[table] = pd.concat([net[table], row.set_axis([index])])


def rings(pn: Any) -> Any:
    """MV Oberrhein with every switch closed: its open points closed, its feeders become rings."""
    net = quiet(pn.mv_oberrhein)
    net.switch["closed"] = True
    return net


def parallel_transformers(pn: Any) -> Any:
    """IEEE 14 with a second transformer beside its first (trafo 5, same buses), as substations have them."""
    net = quiet(pn.case14)
    add_row(net, "trafo", 5, hv_bus=int(net.trafo.at[0, "hv_bus"]), lv_bus=int(net.trafo.at[0, "lv_bus"]))
    return net


NETWORKS = {
    "mv_oberrhein": lambda pn: quiet(pn.mv_oberrhein),
    "oberrhein_rings": rings,
    "case14": lambda pn: quiet(pn.case14),
    "case9": lambda pn: quiet(pn.case9),
    "case30": lambda pn: quiet(pn.case30),
    "parallel_transformers": parallel_transformers,
}


@pytest.mark.parametrize("name", NETWORKS)
def test_standard_networks_import_as_a_feed_dag_with_a_report(fresh, tmp_path, pp, pn, name):
    app, conn = fresh
    path = save(pp, NETWORKS[name](pn), tmp_path / f"{name}.json")
    out = ok(app, "import-facilities", path)
    assert "Traceback" not in out and "pandapower network: " in out and "islands without a source: " in out
    assert one(conn, "SELECT count(*) FROM facility") > 0
    links = conn.execute("""SELECT p.external_id AS parent, c.external_id AS child FROM feed_link l
                            JOIN facility p ON p.id = l.parent_id JOIN facility c ON c.id = l.child_id""").fetchall()
    assert links and feeds.find_cycle((r["parent"], r["child"]) for r in links) is None
    assert f"feed links: {len(links)} " in out


def test_parallel_transformers_both_feed_the_bus_which_is_meshed(fresh, tmp_path, pp, pn):
    app, conn = fresh
    net = parallel_transformers(pn)
    lv = int(net.trafo.at[0, "lv_bus"])
    out = ok(app, "import-facilities", save(pp, net, tmp_path / "twin.json"))
    assert "closed loops found: links oriented by distance from the nearest source" in out
    parents = conn.execute("""SELECT p.external_id FROM feed_link l JOIN facility p ON p.id = l.parent_id
                              JOIN facility c ON c.id = l.child_id WHERE c.external_id = %s
                              AND p.external_id LIKE 'twin:trafo:%%' ORDER BY 1""", (f"twin:bus:{lv}",)).fetchall()
    assert {"twin:trafo:0", "twin:trafo:5"} <= {r["external_id"] for r in parents}


def test_closed_rings_are_meshed_by_distance_and_open_switches_cut_them(tmp_path, pp, pn):
    tables = read_tables(save(pp, rings(pn), tmp_path / "rings.json"))
    tree = feed_tree(tables, people_per_kw=2.0, meshed=True)
    network = build_network(tree.facilities)  # a DAG: build_network raises on a cycle
    assert not network.radial and tree.loops == 5 and tree.unsupplied == () and tree.load_count == 147
    assert any(len(f.parents) > 1 for f in tree.facilities if f.id.startswith("bus:"))
    with pytest.raises(ScenarioError, match="closes a loop"):
        feed_tree(tables, people_per_kw=2.0)
    radial = feed_tree(read_tables(save(pp, quiet(pn.mv_oberrhein), tmp_path / "open.json")), people_per_kw=2.0)
    assert build_network(radial.facilities).radial and radial.loops == 0
    assert dict(radial.skipped)["line: cut by an open switch"] == 6


def test_buses_without_coordinates_take_their_neighbours_position_or_are_left_out(fresh, tmp_path, pp, pn):
    app, conn = fresh
    net = quiet(pn.case9)
    net.bus.loc[[3, 4, 5], "geo"] = None
    for bus in (100, 101):  # a grid of its own, nowhere on the map
        add_row(net, "bus", bus, geo=None)
    add_row(net, "ext_grid", 7, bus=100)
    add_row(net, "line", 90, from_bus=100, to_bus=101)
    net.load.loc[0, "in_service"] = False
    out = ok(app, "import-facilities", save(pp, net, tmp_path / "partial.json"))
    assert "buses placed from their neighbours' mean position: 3" in out
    assert "skipped 4: no coordinates (nor a placed neighbour): left unplaced" in out  # grid, 2 buses, line
    assert "skipped 1: load: out of service" in out
    assert one(conn, "SELECT count(*) FROM facility WHERE external_id LIKE 'partial:bus:%' "
                     "AND NOT ST_IsEmpty(geom)") == 9


def test_dry_run_reports_and_stores_nothing(fresh, tmp_path, pp, pn):
    app, conn = fresh
    out = ok(app, "import-facilities", save(pp, rings(pn), tmp_path / "rings.json"), "--dry-run")
    assert "5 closed loops found" in out and "dry run: nothing was changed" in out
    assert one(conn, "SELECT count(*) FROM facility") == 0


def test_a_network_without_any_coordinates_is_a_clean_error(fresh, tmp_path, pp, pn):
    app, conn = fresh
    net = quiet(pn.case9)
    net.bus["geo"] = None
    line = fails(app, conn, "import-facilities", save(pp, net, tmp_path / "nowhere.json"))
    assert "nowhere.json" in line and "no facility has a position" in line


def test_a_real_network_cut_short_is_a_clean_error(fresh, tmp_path, pp, pn):
    app, conn = fresh
    path = save(pp, quiet(pn.case9), tmp_path / "case9.json")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    line = fails(app, conn, "import-facilities", path)
    assert "case9.json: not a readable pandapower network" in line


def test_a_ring_is_oriented_by_distance_from_the_source_ties_to_the_lower_bus():
    # Source at bus 0; ring 0-1-2-3-0 and a parallel pair 3=4: bus 2 is two steps both ways round.
    graph = orient(range(6), {"a": (0, 1), "b": (1, 2), "c": (2, 3), "d": (3, 0), "p": (3, 4), "q": (4, 3)},
                   {"ext_grid:0": 0})
    assert graph.order == (0, 1, 3, 2, 4)
    assert graph.bus_parents[2] == ("b", "c") and graph.element_parent["c"] == 3  # meshed: fed from 1 and 3
    assert graph.bus_parents[4] == ("p", "q")
    assert graph.loops == 2 and graph.islands == 1 and graph.unreached == (5,)


def test_buses_without_a_position_take_the_mean_of_their_placed_neighbours_repeatedly():
    placed = place({0: (0.0, 0.0), 2: (2.0, 2.0)}, {0: [1], 1: [0, 2, 3], 2: [1], 3: [1], 4: [5], 5: [4]})
    assert placed[1] == (1.0, 1.0) and placed[3] == (1.0, 1.0)
    assert 4 not in placed and 5 not in placed


def ties(conn: Any) -> dict[str, dict[str, Any]]:
    """The stored tie switches by external id, with their facilities' external ids."""
    rows = conn.execute("""SELECT t.external_id, t.name, a.external_id AS a, b.external_id AS b, t.remote,
                                  t.attributes, ST_AsText(t.geom) AS at FROM tie_switch t
                           JOIN facility a ON a.id = t.facility_a JOIN facility b ON b.id = t.facility_b""").fetchall()
    return {r["external_id"]: r for r in rows}


def other_end(net: Any, switch: Any) -> int:
    line = net.line.loc[int(switch.element)]
    return int(line.to_bus if int(line.from_bus) == int(switch.bus) else line.from_bus)


def test_open_line_switches_of_mv_oberrhein_are_ties_from_their_bus_to_the_line_fed_from_its_other_end(
        fresh, tmp_path, pp, pn):
    app, conn = fresh
    net = quiet(pn.mv_oberrhein)
    path = save(pp, net, tmp_path / "ober.json")
    out = ok(app, "import-facilities", path)
    assert "tie switches: 6 (normally open)" in out and "tie switches: 6 new, 0 updated, 0 unchanged" in out
    assert "elements open at one end by a normally-open switch: 6" in out
    stored = ties(conn)
    opened = net.switch[~net.switch["closed"]]
    assert len(stored) == len(opened) == 6
    for i, s in opened.iterrows():
        tie = stored[f"ober:switch:{i}"]
        assert (tie["a"], tie["b"]) == (f"ober:bus:{int(s.bus)}", f"ober:line:{int(s.element)}")
        assert tie["name"] == s["name"] and tie["remote"] is False
        assert tie["attributes"]["closes"] == f"ober:line:{int(s.element)}"
        assert tie["attributes"]["other_bus"] == f"ober:bus:{other_end(net, s)}"
        x, y = json.loads(net.bus.at[int(s.bus), "geo"])["coordinates"]
        assert tie["at"] == f"POINT({x} {y})"
        # the line the tie closes is a facility, fed from its other (closed) end
        parent = conn.execute("""SELECT p.external_id FROM feed_link l JOIN facility p ON p.id = l.parent_id
                                 JOIN facility c ON c.id = l.child_id WHERE c.external_id = %s""",
                              (f"ober:line:{int(s.element)}",)).fetchall()
        assert [r["external_id"] for r in parent] == [f"ober:bus:{other_end(net, s)}"]
    audit = conn.execute("SELECT after->'tie_switches' AS ties FROM audit_event WHERE action = 'import-facilities'")
    assert audit.fetchone()["ties"] == {"created": 6, "updated": 0, "unchanged": 0}
    again = ok(app, "import-facilities", path)
    assert "tie switches: 0 new, 0 updated, 6 unchanged" in again
    assert one(conn, "SELECT count(*) FROM tie_switch") == 6


def test_a_line_open_at_both_ends_is_no_tie_and_is_counted(fresh, tmp_path, pp, pn):
    app, conn = fresh
    net = quiet(pn.lv_schutterwald)
    opened = net.switch[~net.switch["closed"] & (net.switch["et"] == "l")]
    per_line = opened.groupby("element").size()
    expected = {f"lvs:switch:{i}" for i, s in opened.iterrows() if per_line[s.element] == 1}
    both = int((per_line > 1).sum() * 2)
    assert len(expected) > 50 and both > 0
    out = ok(app, "import-facilities", save(pp, net, tmp_path / "lvs.json"))
    assert f"tie switches: {len(expected)} (normally open)" in out
    assert f"tie switches skipped {both}: the line is open at every end: closing one switch joins nothing" in out
    stored = ties(conn)
    assert set(stored) == expected
    assert all(t["name"] == t["external_id"].removeprefix("lvs:") for t in stored.values())  # unnamed: switch:<i>


def test_bus_bus_and_transformer_switches_are_ties_and_a_dark_end_is_skipped(fresh, tmp_path, pp, pn):
    app, conn = fresh
    net = parallel_transformers(pn)
    hv, lv = int(net.trafo.at[5, "hv_bus"]), int(net.trafo.at[5, "lv_bus"])
    net.switch = net.switch.iloc[:0]
    net.switch["remote"] = pd.Series(dtype=bool)
    for index, values in {0: {"bus": lv, "element": 5, "et": "t", "name": "T5 LV"},
                          1: {"bus": 9, "element": 13, "et": "b", "name": None, "remote": True},
                          2: {"bus": 1, "element": 100, "et": "b", "name": "to nowhere"}}.items():
        row = {"closed": False, "type": "LBS", "z_ohm": 0.0, "in_ka": float("nan"), "remote": False, **values}
        net.switch = pd.concat([net.switch, pd.DataFrame([row], index=[index])])
    add_row(net, "bus", 100, geo=None)  # a bus only the open switch reaches: not imported
    out = ok(app, "import-facilities", save(pp, net, tmp_path / "tw.json"))
    assert "tie switches: 2 (normally open; 1 remote-controlled)" in out
    assert "tie switches skipped 1: an end is not imported" in out
    stored = ties(conn)
    assert set(stored) == {"tw:switch:0", "tw:switch:1"}
    trafo = stored["tw:switch:0"]
    assert (trafo["a"], trafo["b"], trafo["attributes"]["other_bus"]) == (f"tw:bus:{lv}", "tw:trafo:5", f"tw:bus:{hv}")
    fed = conn.execute("""SELECT p.external_id FROM feed_link l JOIN facility p ON p.id = l.parent_id
                          JOIN facility c ON c.id = l.child_id WHERE c.external_id = 'tw:trafo:5'""").fetchall()
    assert [r["external_id"] for r in fed] == [f"tw:bus:{hv}"]  # open on its LV side: fed from HV only
    coupler = stored["tw:switch:1"]
    assert (coupler["a"], coupler["b"], coupler["name"], coupler["remote"]) == (
        "tw:bus:9", "tw:bus:13", "switch:1", True)


def test_dry_run_stores_no_tie_switches(fresh, tmp_path, pp, pn):
    app, conn = fresh
    out = ok(app, "import-facilities", save(pp, quiet(pn.mv_oberrhein), tmp_path / "ober.json"), "--dry-run")
    assert "tie switches: 6 new" in out and "dry run: nothing was changed" in out
    assert one(conn, "SELECT count(*) FROM tie_switch") == 0


def test_imported_ties_are_proposed_by_the_triage_unless_the_line_they_close_is_damaged(fresh, tmp_path, pp, pn):
    """From the file to the proposal: MV Oberrhein's open point Switch 14 feeds its bus's feeder from the other
    side once the feeder's first line is out, through line 8 (fed from its other end); not when line 8 is out too."""
    app, conn = fresh
    ok(app, "import-facilities", save(pp, quiet(pn.mv_oberrhein), tmp_path / "ober.json"))
    ids = {r["external_id"]: r["id"] for r in conn.execute("SELECT id, external_id FROM facility").fetchall()}
    dataset = one(conn, "INSERT INTO dataset (name, source) VALUES ('people', 'test') RETURNING id")
    layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) "
                         "VALUES ('people', 'points', %s, 0) RETURNING id", (dataset,)).fetchone()["id"]
    conn.execute("""INSERT INTO facility_population (facility_id, layer_id, population, population_served, method)
                    SELECT id, %s, 100, 100, 'given' FROM facility WHERE kind = 'substation'""", (layer,))
    # the element feeding bus 129 (Switch 14's bus): out, so the feeder's end is dark
    feeder = one(conn, """SELECT p.external_id FROM feed_link l JOIN facility p ON p.id = l.parent_id
                          JOIN facility c ON c.id = l.child_id WHERE c.external_id = 'ober:bus:129'""")
    runner = app.test_cli_runner()
    tokens = {}
    for name, role in (("coord", "coordinator"), ("crew", "crew")):
        runner.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        tokens[name] = runner.invoke(args=["create-token", name]).output.strip()
    crew, coordinator = api_client(app, tokens["crew"]), api_client(app, tokens["coord"])

    def damage(external_id: str) -> None:
        body = {"id": str(uuid.uuid4()), "facility_id": ids[external_id], "lon": 7.8, "lat": 48.4,
                "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "kind": "line",
                "severity": "severe", "status": "out_of_service", "repair_hours": 8}
        assert crew.post("/api/reports", json=body).status_code == 201

    damage(feeder)
    steps = {s["external_id"]: s for s in coordinator.get("/api/triage").json["switching"]}
    assert "ober:switch:14" in steps and steps["ober:switch:14"]["people_restored"] > 0
    assert ids["ober:bus:129"] in steps["ober:switch:14"]["restores_facility_ids"]
    damage("ober:line:8")
    steps = {s["external_id"]: s for s in coordinator.get("/api/triage").json["switching"]}
    assert "ober:switch:14" not in steps


def test_three_winding_transformer_switches_and_switches_that_join_nothing():
    switch = pd.DataFrame({"bus": [2, 1, 3, 0, 2], "element": [0, 0, 3, 1, 0], "et": ["t3", "t3", "b", "b", "t3"],
                           "closed": [False, False, False, False, True], "in_service": [True, True, True, False, True],
                           "name": ["LV", None, "self", "out", "closed"]})
    tables = {"bus": pd.DataFrame({"vn_kv": [110.0, 20.0, 10.0, 10.0]}),
              "trafo3w": pd.DataFrame({"hv_bus": [0], "mv_bus": [1], "lv_bus": [2]}), "switch": switch}
    ties, cut, skipped = open_ties(tables, reached={"bus:0"})
    assert [(t.external_id, t.name, t.facility_a, t.facility_b, t.attributes["other_bus"]) for t in ties] == [
        ("switch:0", "LV", "bus:2", "trafo3w:0", "bus:0"), ("switch:1", "switch:1", "bus:1", "trafo3w:0", "bus:0")]
    assert cut == {"trafo3w:0": "bus:0"}  # open on two sides: imported, fed from its HV side
    assert skipped == {"joins a bus to itself": 1, "out of service": 1}
