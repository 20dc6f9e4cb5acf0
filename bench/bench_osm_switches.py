"""Benchmark the OSM importer's junction switches: read_osm on a synthesised distribution extract whose branch
junctions carry normally-open switches, next to read_osm on the same extract with the switch tags removed.

Run: .venv/bin/python bench/bench_osm_switches.py [--quick]
The extract: F 20 kV feeders (2,000; 200 with --quick), each a main line of 40 poles 100 m apart from its own
substation, with a branch of 10 poles ending on every 4th pole. Every branch junction has an open switch: on most
the branch rule decides (the branch ends on the main line), on every 5th the branch is mapped as two ways and the
switch's ref names it (name/ref rule), and on every 7th the three ways carry nothing that decides (reported).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import osmium

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.osm import read_osm  # noqa: E402

LAT0, LON0, SPACING_M, POLE_M = 48.0, 10.0, 2_000.0, 100.0
M_LAT, M_LON = 111_320.0, 111_320.0 * math.cos(math.radians(LAT0))


def extract(feeders: int, path: Path, *, switches: bool) -> tuple[int, int]:
    """The synthesised extract, written by pyosmium; (nodes, ways)."""
    writer = osmium.SimpleWriter(str(path))
    node_id, way_id, ways = 1, 1, 0

    def node(x: float, y: float, tags: dict[str, str]) -> int:
        nonlocal node_id
        writer.add_node(osmium.osm.mutable.Node(id=node_id, location=(LON0 + x / M_LON, LAT0 + y / M_LAT),
                                                tags=tags, version=1))
        node_id += 1
        return node_id - 1

    def way(refs: list[int], tags: dict[str, str]) -> None:
        nonlocal way_id, ways
        writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags, version=1))
        way_id, ways = way_id + 1, ways + 1

    line = {"power": "minor_line", "voltage": "20000"}
    pending: list[tuple[list[int], dict[str, str]]] = []
    try:
        for f in range(feeders):
            x0 = (f % 50) * SPACING_M
            y0 = (f // 50) * 5 * SPACING_M
            node(x0, y0 - 10, {"power": "substation", "voltage": "20000", "name": f"S{f}"})
            main = []
            for k in range(40):
                tags = {"power": "pole"}
                branch_here = k % 4 == 3
                if branch_here and switches:
                    tags = {"power": "pole", "switch": "disconnector", "switch:state": "open"}
                    if (k // 4) % 5 == 0:
                        tags["ref"] = f"B{f}-{k}"
                main.append(node(x0, y0 + k * POLE_M, tags))
                if branch_here:
                    branch = [main[-1]] + [node(x0 + (j + 1) * POLE_M, y0 + k * POLE_M, {"power": "pole"})
                                           for j in range(10)]
                    pending.append((branch, {**line, "ref": f"B{f}-{k}"}))
            # Mapped as one main way, except that every 5th and 7th branch junction splits it into two ways there.
            cuts = [k for k in range(3, 40, 4) if (k // 4) % 5 == 0 or (k // 4) % 7 == 0]
            start = 0
            for k in [*cuts, 39]:
                pending.append((main[start:k + 1], {**line, **({"ref": f"M{f}"} if (k // 4) % 7 else {})}))
                start = k
        for refs, tags in pending:
            way(refs, tags)
    finally:
        writer.close()
    return node_id - 1, ways


def timed(path: Path, repeat: int = 2) -> tuple[float, tuple[str, ...]]:
    """Best wall-clock seconds of `repeat` read_osm calls, and the report."""
    best = float("inf")
    report: tuple[str, ...] = ()
    for _ in range(repeat):
        start = time.perf_counter()
        report = read_osm(path).report
        best = min(best, time.perf_counter() - start)
    return best, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 feeders instead of 2,000")
    args = parser.parse_args()
    feeders = 200 if args.quick else 2_000
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        plain, switched = Path(tmp) / "plain.osm.pbf", Path(tmp) / "switched.osm.pbf"
        n_nodes, n_ways = extract(feeders, plain, switches=False)
        extract(feeders, switched, switches=True)
        floor, _ = timed(plain)
        ours, report = timed(switched)
        print(f"OSM distribution extract: {feeders:,} feeders, {n_nodes:,} nodes, {n_ways:,} ways")
        print(f"  read_osm, no switch tags (baseline)     {floor:8.2f} s")
        print(f"  read_osm, open switches at junctions    {ours:8.2f} s  ({ours / floor:.2f}x the baseline)")
        print("  " + "\n  ".join(line for line in report if "tie switch" in line and "skipped osm:" not in line))


if __name__ == "__main__":
    main()
