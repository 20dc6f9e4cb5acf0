"""Benchmark reading real network models: a 10^5-element pandapower network and a country-sized OSM extract.

Run: .venv/bin/python bench/bench_network_import.py [--quick]
pandapower: MV Oberrhein copied side by side until the network has about 10^5 elements (buses, lines,
transformers, switches, loads, static generators, external grids; 10^4 with --quick), written by pandapower.to_json;
`geo.pandapower_net.read_pandapower` (read, feed graph, placement, facility rows, report) is timed next to
pandapower.from_json alone, the floor it builds on. OSM: a synthesised extract of a country-sized region
(an 80 x 80 lattice of 110 kV substations 10 km apart, lines between neighbours with a tower every 400 m, three
20 kV feeders to a substation each, a plant per 10 substations; 20 x 20 with --quick) written by pyosmium;
`geo.osm.read_osm` is timed next to pyosmium's own pass over the same file (locations, areas, the power filter).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import osmium
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.osm import read_osm  # noqa: E402
from geo.pandapower_net import read_pandapower  # noqa: E402

T = TypeVar("T")
OBERRHEIN = Path(__file__).resolve().parent.parent / "data" / "reference" / "oberrhein" / "mv_oberrhein.json"
ELEMENTS = ("bus", "line", "trafo", "switch", "load", "sgen", "ext_grid")
BUS_COLUMNS = {"line": ("from_bus", "to_bus"), "trafo": ("hv_bus", "lv_bus"), "load": ("bus",), "sgen": ("bus",),
               "ext_grid": ("bus",), "switch": ("bus",)}


def timed(fn: Callable[..., T], *args: Any, repeat: int = 1) -> tuple[T, float]:
    """Result and best wall-clock seconds of `repeat` calls."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return result, best  # type: ignore[return-value]


def pandapower_network(pp: Any, elements: int, path: Path) -> int:
    """MV Oberrhein copied side by side (indices and bus references shifted) to about `elements` elements."""
    net = pp.from_json(str(OBERRHEIN))
    per_copy = sum(len(net[t]) for t in ELEMENTS)
    copies = max(1, round(elements / per_copy))
    step = {t: int(net[t].index.max()) + 1 for t in ELEMENTS}
    tables: dict[str, list[pd.DataFrame]] = {t: [] for t in ELEMENTS}
    for k in range(copies):
        for table in ELEMENTS:
            frame = net[table].copy()
            frame.index = frame.index + k * step[table]
            for column in BUS_COLUMNS.get(table, ()):
                frame[column] = frame[column] + k * step["bus"]
            if table == "switch":
                offset = frame["et"].map({"b": step["bus"], "l": step["line"], "t": step["trafo"]}).fillna(0)
                frame["element"] = frame["element"] + (k * offset).astype(int)
            tables[table].append(frame)
    for table in ELEMENTS:
        net[table] = pd.concat(tables[table])
    for name in list(net.keys()):
        if name.startswith("res_") and isinstance(net[name], pd.DataFrame):
            net[name] = net[name].iloc[:0]
    pp.to_json(net, str(path))
    return sum(len(net[t]) for t in ELEMENTS)


def osm_extract(side: int, path: Path) -> tuple[int, int]:
    """A lattice of side x side 110 kV substations 10 km apart with lines, towers, feeders and plants; (nodes, ways)."""
    lat0, lon0, spacing_m, tower_m = 48.0, 10.0, 10_000.0, 400.0
    m_lat, m_lon = 111_320.0, 111_320.0 * math.cos(math.radians(lat0))

    def lonlat(x: float, y: float) -> tuple[float, float]:
        return lon0 + x / m_lon, lat0 + y / m_lat

    nodes: list[tuple[int, tuple[float, float], dict[str, str]]] = []
    ways: list[tuple[int, list[int], dict[str, str]]] = []

    def node(x: float, y: float, tags: dict[str, str] | None = None) -> int:
        nodes.append((len(nodes) + 1, lonlat(x, y), tags or {}))
        return len(nodes)

    def line(a: tuple[float, float], b: tuple[float, float], tags: dict[str, str], every_m: float) -> None:
        steps = max(1, int(math.dist(a, b) // every_m))
        refs = [node(a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps,
                     {"power": "tower"} if 0 < i < steps else None) for i in range(steps + 1)]
        ways.append((len(ways) + 1, refs, tags))

    hv = {"power": "line", "voltage": "110000", "operator": "Bench Grid"}
    mv = {"power": "minor_line", "voltage": "20000"}
    for i in range(side):
        for j in range(side):
            x, y = i * spacing_m, j * spacing_m
            node(x, y, {"power": "substation", "voltage": "110000;20000", "name": f"S{i}-{j}", "ref": f"{i}.{j}"})
            for di, dj in ((1, 0), (0, 1)):
                if i + di < side and j + dj < side:
                    line((x, y), (x + di * spacing_m, y + dj * spacing_m), hv, tower_m)
            for f in range(3):
                angle = 2 * math.pi * f / 3 + 0.3
                end = (x + 4_000 * math.cos(angle), y + 4_000 * math.sin(angle))
                node(*end, {"power": "substation", "voltage": "20000"})
                line((x, y), end, mv, tower_m)
            if (i * side + j) % 10 == 0:
                node(x + 1_000, y + 1_000, {"power": "plant", "voltage": "110000", "name": f"P{i}-{j}"})
                line((x + 1_000, y + 1_000), (x, y), hv, tower_m)
    writer = osmium.SimpleWriter(str(path))
    try:
        for i, location, tags in nodes:
            writer.add_node(osmium.osm.mutable.Node(id=i, location=location, tags=tags, version=1))
        for i, refs, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=i, nodes=refs, tags=tags, version=1))
    finally:
        writer.close()
    return len(nodes), len(ways)


def osmium_pass(path: Path) -> int:
    """pyosmium's own read of the power features: locations, areas and the key filter, each object touched."""
    processor = (osmium.FileProcessor(str(path)).with_areas(osmium.filter.KeyFilter("power"))
                 .with_filter(osmium.filter.KeyFilter("power")))
    return sum(1 for obj in processor if obj.tags.get("power"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 pandapower elements and a 20 x 20 lattice")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # pandapower's note that numba is missing
    import pandapower as pp

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        net_path = Path(tmp) / "big_network.json"
        count = pandapower_network(pp, 10_000 if args.quick else 100_000, net_path)
        _, floor = timed(pp.from_json, str(net_path), repeat=2)
        imported, ours = timed(read_pandapower, net_path, repeat=2)
        print(f"pandapower network: {count:,} elements, {net_path.stat().st_size / 1e6:.1f} MB JSON")
        print(f"  pandapower.from_json alone      {floor:8.2f} s")
        print(f"  read_pandapower (import-ready)  {ours:8.2f} s  ({ours / floor:.1f}x from_json; "
              f"{len(imported.frame):,} facilities, {len(imported.extra_links):,} extra links)")
        osm_path = Path(tmp) / "country.osm.pbf"
        side = 20 if args.quick else 80
        n_nodes, n_ways = osm_extract(side, osm_path)
        seen, floor = timed(osmium_pass, osm_path, repeat=2)
        imported, ours = timed(read_osm, osm_path, repeat=2)
        print(f"OSM extract: {side} x {side} lattice, {n_nodes:,} nodes, {n_ways:,} ways, "
              f"{osm_path.stat().st_size / 1e3:,.0f} kB, {seen:,} power objects")
        print(f"  pyosmium pass alone             {floor:8.2f} s")
        print(f"  read_osm (import-ready)         {ours:8.2f} s  ({ours / floor:.1f}x the pass; "
              f"{len(imported.frame):,} facilities)")
        print("  " + "\n  ".join(imported.report[:5]))


if __name__ == "__main__":
    main()
