"""Benchmark meshed networks energised exactly (geo.mesh, geo.mesh_restore): orienting the feed links, the ranking
with exact gains and the plan with its exact simulation, next to the same work on the radial network the rings are
cut from, in the same run.

Run: .venv/bin/python bench/bench_mesh.py [--quick]
The network: feeders of 200 facilities from one source, random recursive trees (each facility's parent drawn from
the earlier ones of its feeder); the meshed one closes a ring per feeder (its last facility gets a second parent,
the first facility of the next feeder), so BFS-oriented rings as importers store them. 2 % damaged. Figures: the
median of 3 runs, in seconds (one with --quick).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.mesh import exact_network, orient  # noqa: E402
from geo.network import Facility, Network, build_network  # noqa: E402
from geo.plan import plan, time_limit  # noqa: E402
from geo.triage import rank  # noqa: E402

FEEDER = 200
PLAN_S = 2.0  # the plan's search budget


def grid(n: int, *, meshed: bool, seed: int = 1) -> list[Facility]:
    rng = random.Random(seed)
    feeders = max(2, n // FEEDER)
    facilities = [Facility("S")]
    for f in range(feeders):
        ids = [f"F{f}-{i}" for i in range(FEEDER)]
        for i, name in enumerate(ids):
            damaged = rng.random() < 0.02
            parents: tuple[str, ...] = (ids[rng.randrange(i)],) if i else ("S",)
            if meshed and i == FEEDER - 1:
                parents = (*parents, f"F{(f + 1) % feeders}-0")
            facilities.append(Facility(name, parents, float(rng.randint(0, 400)), damaged,
                                       float(rng.randint(1, 12)) if damaged else None))
    return facilities


def deadline() -> Callable[[], bool]:
    return time_limit(PLAN_S, clock=time.perf_counter)


def ranked(items: list[Facility]) -> object:
    return rank(exact_network(build_network(items)))


def planned(network: Network) -> object:
    return plan(network, crews=1, deadline=deadline())


def timed(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each, 10^4 facilities only")
    args = parser.parse_args()
    runs, sizes = (1, [10_000]) if args.quick else (3, [10_000, 100_000])
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("facilities | radial: rank / plan 1 crew 2 s | meshed: orient / rank (exact gains) / plan 1 crew 2 s")
    for n in sizes:
        radial = build_network(grid(n, meshed=False))
        meshed_items = grid(n, meshed=True)
        meshed = exact_network(build_network(meshed_items))
        radial_items = grid(n, meshed=False)
        figures = [timed(partial(ranked, radial_items), runs), timed(partial(planned, radial), runs),
                   timed(partial(orient, meshed_items), runs), timed(partial(ranked, meshed_items), runs),
                   timed(partial(planned, meshed), runs)]
        print(f"{n:>10,} | " + " / ".join(f"{x:.2f} s" for x in figures[:2]) + " | "
              + " / ".join(f"{x:.2f} s" for x in figures[2:]))


if __name__ == "__main__":
    main()
