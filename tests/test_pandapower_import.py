"""import-facilities on networks written by the current pandapower: meshed grids, switches, parallel
transformers, buses without coordinates, and what the import reports."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from geo import feeds
from geo.network import ScenarioError, build_network
from geo.pandapower_net import feed_tree, read_tables
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


def ringed_cigre(pn: Any) -> Any:
    """CIGRE MV with every switch closed: its two feeders become rings."""
    net = quiet(pn.create_cigre_network_mv)
    net.switch["closed"] = True
    return net


def parallel_transformers(pp: Any) -> Any:
    """110 kV grid -> two transformers in parallel -> 20 kV bus -> line -> a load."""
    net = quiet(pp.create_empty_network)
    hv, mv, end = (pp.create_bus(net, vn_kv=kv, geodata=xy) for kv, xy in
                   ((110.0, (7.80, 48.00)), (20.0, (7.81, 48.00)), (20.0, (7.83, 48.01))))
    pp.create_ext_grid(net, hv)
    for _ in range(2):
        pp.create_transformer(net, hv, mv, std_type="25 MVA 110/20 kV")
    pp.create_line(net, mv, end, length_km=2.0, std_type="NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_load(net, end, p_mw=1.5)
    return net


NETWORKS = {
    "mv_oberrhein": lambda pp, pn: quiet(pn.mv_oberrhein),
    "cigre_mv_rings": lambda pp, pn: ringed_cigre(pn),
    "case14": lambda pp, pn: quiet(pn.case14),
    "case9": lambda pp, pn: quiet(pn.case9),
    "simple_four_bus_system": lambda pp, pn: quiet(pn.simple_four_bus_system),
    "parallel_transformers": lambda pp, pn: parallel_transformers(pp),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_standard_networks_import_as_a_feed_dag_with_a_report(fresh, tmp_path, pp, pn, name):
    app, conn = fresh
    path = save(pp, NETWORKS[name](pp, pn), tmp_path / f"{name}.json")
    out = ok(app, "import-facilities", path)
    assert "Traceback" not in out and "pandapower network: " in out and "islands without a source: " in out
    assert one(conn, "SELECT count(*) FROM facility") > 0
    links = conn.execute("""SELECT p.external_id AS parent, c.external_id AS child FROM feed_link l
                            JOIN facility p ON p.id = l.parent_id JOIN facility c ON c.id = l.child_id""").fetchall()
    assert links and feeds.find_cycle((r["parent"], r["child"]) for r in links) is None
    assert f"feed links: {len(links)} " in out


def test_parallel_transformers_both_feed_the_bus_which_is_meshed(fresh, tmp_path, pp):
    app, conn = fresh
    out = ok(app, "import-facilities", save(pp, parallel_transformers(pp), tmp_path / "twin.json"))
    assert "2 transformer 110 kV" in out and "1 closed loops found" in out and "approximation" in out
    parents = conn.execute("""SELECT p.external_id FROM feed_link l JOIN facility p ON p.id = l.parent_id
                              JOIN facility c ON c.id = l.child_id WHERE c.external_id = 'twin:bus:1'
                              ORDER BY 1""").fetchall()
    assert [r["external_id"] for r in parents] == ["twin:trafo:0", "twin:trafo:1"]


def test_closed_rings_are_meshed_by_distance_and_open_switches_cut_them(tmp_path, pp, pn):
    tables = read_tables(save(pp, ringed_cigre(pn), tmp_path / "rings.json"))
    tree = feed_tree(tables, people_per_kw=2.0, meshed=True)
    network = build_network(tree.facilities)  # a DAG: build_network raises on a cycle
    assert not network.radial and tree.loops >= 2 and tree.unsupplied == ()
    assert any(len(f.parents) > 1 for f in tree.facilities if f.id.startswith("bus:"))
    with pytest.raises(ScenarioError, match="closes a loop"):
        feed_tree(tables, people_per_kw=2.0)
    radial = feed_tree(read_tables(save(pp, quiet(pn.create_cigre_network_mv), tmp_path / "open.json")),
                       people_per_kw=2.0)  # its three open switches make it radial
    assert build_network(radial.facilities).radial and radial.loops == 0
    assert dict(radial.skipped).get("switch: open bus-bus switch (not a path)", 0) + dict(radial.skipped).get(
        "line: cut by an open switch", 0) == 3


def test_buses_without_coordinates_take_their_neighbours_position_or_are_left_out(fresh, tmp_path, pp, pn):
    app, conn = fresh
    net = quiet(pn.create_cigre_network_mv)
    net.bus.loc[[3, 4, 5], "geo"] = None
    lone = [pp.create_bus(net, vn_kv=20.0) for _ in range(2)]  # a grid of its own, nowhere on the map
    pp.create_ext_grid(net, lone[0])
    pp.create_line(net, lone[0], lone[1], length_km=1.0, std_type="NA2XS2Y 1x95 RM/25 12/20 kV")
    net.load.loc[0, "in_service"] = False
    out = ok(app, "import-facilities", save(pp, net, tmp_path / "partial.json"))
    assert "buses placed from their neighbours' mean position: 3" in out
    assert "skipped 4: no coordinates (nor a placed neighbour): left unplaced" in out  # grid, 2 buses, line
    assert "skipped 1: load: out of service" in out
    assert one(conn, "SELECT count(*) FROM facility WHERE external_id LIKE 'partial:bus:%' "
                     "AND NOT ST_IsEmpty(geom)") == len(net.bus) - 2


def test_dry_run_reports_and_stores_nothing(fresh, tmp_path, pp, pn):
    app, conn = fresh
    out = ok(app, "import-facilities", save(pp, ringed_cigre(pn), tmp_path / "rings.json"), "--dry-run")
    assert "closed loops found" in out and "dry run: nothing was changed" in out
    assert one(conn, "SELECT count(*) FROM facility") == 0


def test_a_network_without_any_coordinates_is_a_clean_error(fresh, tmp_path, pp, pn):
    app, conn = fresh
    line = fails(app, conn, "import-facilities", save(pp, quiet(pn.example_simple), tmp_path / "simple.json"))
    assert "simple.json" in line and "no facility has a position" in line


def test_a_real_network_cut_short_is_a_clean_error(fresh, tmp_path, pp, pn):
    app, conn = fresh
    path = save(pp, quiet(pn.case9), tmp_path / "case9.json")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    line = fails(app, conn, "import-facilities", path)
    assert "case9.json: not a readable pandapower network" in line
