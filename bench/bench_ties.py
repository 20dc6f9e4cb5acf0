"""Benchmark tie switches in the engine (geo.ties): what choosing the switching steps and ranking on the switched
network cost, next to ranking the same network without ties in the same run.

Run: .venv/bin/python bench/bench_ties.py [--quick]
The network: feeders of 200 facilities each from their own source, random recursive trees (each facility's
parent drawn uniformly from the earlier ones of its feeder), 2 % damaged; one normally-open tie per feeder between
a random facility of it and one of the next feeder. Figures: the median of 3 runs, in seconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.network import Facility, build_network  # noqa: E402
from geo.ties import Tie, switching  # noqa: E402
from geo.triage import rank  # noqa: E402

FEEDER = 200


def grid(n: int, seed: int = 1) -> tuple[list[Facility], list[Tie]]:
    rng = random.Random(seed)
    facilities: list[Facility] = []
    feeders = max(2, n // FEEDER)
    for f in range(feeders):
        ids = [f"F{f}-{i}" for i in range(FEEDER)]
        for i, name in enumerate(ids):
            damaged = i > 0 and rng.random() < 0.02
            facilities.append(Facility(name, (ids[rng.randrange(i)],) if i else (), float(rng.randint(0, 400)),
                                       damaged, float(rng.randint(1, 12)) if damaged else None))
    ties = [Tie(str(f), f"S{f}", f"F{f}-{rng.randrange(1, FEEDER)}", f"F{(f + 1) % feeders}-{rng.randrange(1, FEEDER)}")
            for f in range(feeders)]
    return facilities, ties


def ranked(facilities: Sequence[Facility]) -> object:
    return rank(build_network(facilities))


def timed(work: Callable[[], object]) -> float:
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        work()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 facilities only (else 10^4 and 10^5)")
    args = parser.parse_args()
    print("facilities  ties  steps  rank without ties (baseline)  choose steps  rank after steps")
    for n in (10_000,) if args.quick else (10_000, 100_000):
        facilities, ties = grid(n)
        result = switching(facilities, ties, remote_hours=0.1, manual_hours=0.5)
        baseline = timed(partial(ranked, facilities))
        choose = timed(partial(switching, facilities, ties, remote_hours=0.1, manual_hours=0.5))
        after = timed(partial(ranked, result.proposed))
        print(f"{len(facilities):>10}  {len(ties):>4}  {len(result.steps):>5}  {baseline:>28.3f}  {choose:>12.3f}  "
              f"{after:>16.3f}")


if __name__ == "__main__":
    main()
