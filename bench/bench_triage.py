"""Benchmark the triage engine: ranking and plan time against a plain sort, and plan quality for k crews.

Run: .venv/bin/python bench/bench_triage.py [--quick] [--time-limit SECONDS]
Random trees are random recursive trees (each facility's parent drawn uniformly from earlier ones); the
Oberrhein scenarios damage random elements of the real pandapower MV Oberrhein feed tree.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.network import Facility, Network, build_network, population_served  # noqa: E402
from geo.pandapower_net import read_feed_tree, with_damage  # noqa: E402
from geo.plan import Plan, gap, plan, time_limit  # noqa: E402
from geo.triage import rank, triage_tree  # noqa: E402

T = TypeVar("T")

OBERRHEIN = Path(__file__).resolve().parent.parent / "data" / "reference" / "oberrhein" / "mv_oberrhein.json"


def random_tree(n: int, damaged: int, *, seed: int) -> list[Facility]:
    """A random radial network of n facilities with `damaged` of them broken for 1-8 hours."""
    rng = random.Random(seed)
    broken = set(rng.sample(range(1, n), damaged))
    out = [Facility("F0")]
    for i in range(1, n):
        people = rng.randrange(0, 500) if rng.random() < 0.7 else 0
        hurt = i in broken
        out.append(Facility(f"F{i}", (f"F{rng.randrange(i)}",), people, hurt, rng.randint(1, 8) if hurt else None))
    return out


def timed(fn: Callable[..., T], *args: Any, repeat: int = 1, **kwargs: Any) -> tuple[T, float]:
    """Result and best wall-clock seconds of `repeat` calls (best-of-N damps noise from other processes)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best


def budgeted_plan(network: Network, *, crews: int, time_limit_s: float) -> Plan:
    """The plan with a local-search budget of `time_limit_s` seconds from the call, on the wall clock."""
    return plan(network, crews=crews, deadline=time_limit(time_limit_s, clock=time.perf_counter))


def plain_sort(network: Network) -> list[str]:
    """The naive baseline: damaged facilities by population served, descending."""
    damaged = [i for i, f in enumerate(network.facilities) if f.damaged]
    served = population_served(network, damaged)
    return [network.facilities[i].id for i in sorted(damaged, key=lambda i: -served[i])]


def speed(sizes: list[tuple[int, int]], *, time_limit_s: float, repeat: int) -> None:
    print(f"\n== speed (random trees; best of {repeat} for sort/order/rank; plan with k=5 crews, "
          f"{time_limit_s:g} s budget) ==")
    print(f"{'facilities':>10} {'damaged':>8} {'build s':>8} {'sort s':>7} {'order s':>8} {'rank s':>7} "
          f"{'plan s':>7} {'conv':>5} {'vs naive':>8} {'gap<=':>7}")
    for n, m in sizes:
        facilities = random_tree(n, m, seed=n + m)
        network, build_s = timed(build_network, facilities)
        _, sort_s = timed(plain_sort, network, repeat=repeat)
        _, order_s = timed(triage_tree, network, repeat=repeat)
        _, rank_s = timed(rank, network, repeat=repeat)
        result, plan_s = timed(budgeted_plan, network, crews=5, time_limit_s=time_limit_s)
        q = result.quality
        g = gap(q.objective, q.objective_lower_bound)
        print(f"{n:>10,} {m:>8,} {build_s:>8.2f} {sort_s:>7.2f} {order_s:>8.2f} {rank_s:>7.2f} {plan_s:>7.2f} "
              f"{'yes' if result.converged else 'no':>5} {1 - q.objective / q.naive_objective:>8.1%} "
              f"{'n/a' if g is None else f'{g:.1%}':>7}")


def quality(name: str, facilities: list[Facility] | tuple[Facility, ...], *, time_limit_s: float) -> None:
    network = build_network(facilities)
    damaged = sum(f.damaged for f in facilities)
    print(f"\n== quality: {name} ({len(facilities):,} facilities, {damaged} damaged, budget {time_limit_s:g} s) ==")
    print(f"{'k':>3} {'objective':>14} {'naive':>14} {'lower bound':>14} {'vs naive':>8} {'gap<=':>7} "
          f"{'t100 h':>7} {'conv':>5} {'s':>6}")
    for k in (1, 2, 5, 20):
        result, seconds = timed(budgeted_plan, network, crews=k, time_limit_s=time_limit_s)
        q = result.quality
        g = gap(q.objective, q.objective_lower_bound)
        print(f"{k:>3} {q.objective:>14,.0f} {q.naive_objective:>14,.0f} {q.objective_lower_bound:>14,.0f} "
              f"{1 - q.objective / q.naive_objective:>8.1%} {'n/a' if g is None else f'{g:.1%}':>7} "
              f"{result.kpis.t100_hours:>7.1f} {'yes' if result.converged else 'no':>5} {seconds:>6.2f}")


def oberrhein(seed: int, damaged: int) -> tuple[Facility, ...]:
    """The Oberrhein feed tree (2 people per kW) with random lines, buses, loads or a transformer damaged."""
    tree = read_feed_tree(OBERRHEIN, people_per_kw=2.0)
    rng = random.Random(seed)
    pool = [f.id for f in tree.facilities if not f.id.startswith("ext_grid")]
    return with_damage(tree, {fid: float(rng.randint(1, 12)) for fid in rng.sample(pool, damaged)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under about a minute")
    parser.add_argument("--time-limit", type=float, default=None, help="local-search budget per plan (s)")
    args = parser.parse_args()
    if args.quick:
        sizes = [(10_000, 1_000), (100_000, 10_000), (200_000, 100_000)]
        budget = 1.0 if args.time_limit is None else args.time_limit
    else:
        sizes = [(10_000, 1_000), (100_000, 10_000), (1_000_000, 10_000), (1_000_000, 100_000)]
        budget = 5.0 if args.time_limit is None else args.time_limit
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start")
    print(f"python {sys.version.split()[0]}; times in seconds; 'order' = contraction + Horn order only, "
          "'rank' = order + per-facility figures and explanations")
    speed(sizes, time_limit_s=budget, repeat=2 if args.quick else 3)
    quality("random tree", random_tree(10_000, 300, seed=1), time_limit_s=budget)
    if OBERRHEIN.exists():
        quality("MV Oberrhein, 40 random elements", oberrhein(1, 40), time_limit_s=budget)
        if not args.quick:
            quality("MV Oberrhein, 150 random elements", oberrhein(2, 150), time_limit_s=budget)
    print(f"\nload average {os.getloadavg()[0]:.1f} at end; 'sort' = population served (one O(n) pass) + sort; "
          "'plan s' includes construction, bounds and KPIs; 'gap<=' = (cost - lower bound) / lower bound")


if __name__ == "__main__":
    main()
