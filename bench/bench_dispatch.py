"""Benchmark the dispatch engine: plan time and gap to the travel-aware bound, next to today's no-travel plan.

Run: .venv/bin/python bench/bench_dispatch.py [--quick] [--time-limit SECONDS] [--solver-time-limit SECONDS]

Each event is a random radial network (3 facilities per damaged one) with its damaged facilities spread over a
120 x 80 km box around Kyiv, crews at random bases in that box, half the crews with the 'hv' skill a third of the
sites need, and a quarter of the sites released only after 2-12 h. For each event, in the same run:
- dispatch: geo.dispatch (list schedules with travel + local search within --time-limit, then for <= 12 sites
  the exact branch and bound and for <= 40 sites CP-SAT, within --solver-time-limit); its wall and CPU seconds
  (the machine may be shared: CPU seconds say what it costs on cores of its own);
- naive: the travel-aware naive order (most people served first, each repair to the crew finishing it first);
- no-travel: today's geo.plan.plan (no travel, no release, no skills) and its crews' sequences re-timed with
  travel and release on the same crews (skills ignored, so it may even be infeasible for them).
Gaps are (cost - bound) / bound against geo.dispatch_bound's lower bound (valid with travel and release).

--study (slow, a few minutes): is the gap above 10 sites the bound's or the search's? (a) on 32 seeded 10-site
events with 2-5 crews, how far the proven optimum sits above the bound; (b) on the 30-site event, the local
search's plan next to CP-SAT's after --study-seconds more (its plan and its own bound); (c) on 100 and 1,000
sites, the plan after 3 s and after --study-seconds of search.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import statistics  # noqa: E402

from geo.dispatch import Crew, Site, dispatch  # noqa: E402
from geo.dispatch_bound import dispatch_lower_bound  # noqa: E402
from geo.dispatch_cpsat import solve  # noqa: E402
from geo.dispatch_model import build_problem, cost  # noqa: E402
from geo.network import Facility, Network, build_network  # noqa: E402
from geo.plan import gap, plan, time_limit  # noqa: E402

FULL = [(10, 2), (10, 3), (10, 5), (30, 5), (100, 3), (100, 10), (1000, 5), (1000, 20)]
QUICK = [(10, 2), (10, 3), (10, 5), (30, 5), (100, 10), (1000, 20)]


def event(damaged: int, crews: int, *, seed: int) -> tuple[Network, list[Crew], dict[str, Site]]:
    """A random radial event with `damaged` sites and `crews` crews (see the module docstring)."""
    rng = random.Random(seed)
    n = 3 * damaged + 1
    broken = set(rng.sample(range(1, n), damaged))
    facilities = [Facility("F0")]
    sites = {}
    for i in range(1, n):
        hurt = i in broken
        facilities.append(Facility(f"F{i}", (f"F{rng.randrange(i)}",), rng.randrange(0, 2000) if rng.random() < 0.7
                                   else 0, hurt, rng.choice([1, 2, 3, 4, 6, 8, 12]) if hurt else None))
        if hurt:
            sites[f"F{i}"] = Site(f"F{i}", (30.5 + rng.uniform(-0.85, 0.85), 50.45 + rng.uniform(-0.36, 0.36)),
                                  "hv" if rng.random() < 1 / 3 else None,
                                  rng.uniform(2, 12) if rng.random() < 0.25 else 0.0)
    team = [Crew(f"crew-{c}", (30.5 + rng.uniform(-0.85, 0.85), 50.45 + rng.uniform(-0.36, 0.36)),
                 frozenset({"hv"}) if c % 2 == 0 else frozenset(), rng.choice([0.0, 0.5, 1.0])) for c in range(crews)]
    return build_network(facilities), team, sites


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter budgets")
    parser.add_argument("--time-limit", type=float, default=None, help="local search budget per plan (s)")
    parser.add_argument("--solver-time-limit", type=float, default=None, help="CP-SAT budget (s), <= 40 sites")
    parser.add_argument("--study", action="store_true", help="where the gap comes from (see the docstring)")
    parser.add_argument("--study-seconds", type=float, default=120.0, help="the study's longer budgets (s)")
    args = parser.parse_args()
    if args.study:
        return study(args.study_seconds)
    budget = args.time_limit if args.time_limit is not None else (3.0 if args.quick else 10.0)
    solver = args.solver_time_limit if args.solver_time_limit is not None else (5.0 if args.quick else 10.0)
    print(f"bench_dispatch: local search {budget:g} s, CP-SAT {solver:g} s on 2 workers; "
          f"load average {os.getloadavg()[0]:.1f}; cpus {os.cpu_count()}")
    print("| sites | crews | dispatch s (CPU s) | optimal | solver | dispatch gap | naive gap | no-travel plan s "
          "| no-travel plan re-timed gap | dispatch vs naive |")
    print("|---:|---:|---:|---|---|---:|---:|---:|---:|---:|")
    for m, k in QUICK if args.quick else FULL:
        network, crews, sites = event(m, k, seed=m * 100 + k)
        began, cpu = time.perf_counter(), time.process_time()
        result = dispatch(network, crews, sites, deadline=time_limit(budget, clock=time.perf_counter),
                          solver_seconds=solver, samples=200)
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        q = result.quality
        began = time.perf_counter()
        today = plan(network, crews=k, deadline=time_limit(budget, clock=time.perf_counter))
        today_s = time.perf_counter() - began
        problem = build_problem(network, crews, sites)
        job = {fid: j for j, fid in enumerate(problem.ids)}
        retimed = cost(problem, [[job[c.id] for c in crew] for crew in today.crews])
        saving = (q.naive_objective - q.objective) / q.naive_objective if q.naive_objective else 0.0
        bound = q.objective_lower_bound
        print(f"| {m:,} | {k} | {took:.2f} ({cpu:.2f}) | {q.optimal} | {q.solver} | {pct(gap(q.objective, bound))}"
              f" | {pct(gap(q.naive_objective, bound))} | {today_s:.2f} "
              f"| {pct(gap(retimed, bound))} | {pct(saving)} below naive |", flush=True)
    return 0


def study(seconds: float) -> int:
    """Where the gap comes from: the bound against proven optima, and the plans after much longer searches."""
    print(f"bench_dispatch --study: load average {os.getloadavg()[0]:.1f}; cpus {os.cpu_count()}")
    above = []
    for k in (2, 3, 4, 5):
        for seed in range(1000, 1008):
            network, crews, sites = event(10, k, seed=seed)
            result = dispatch(network, crews, sites, solver_seconds=10, samples=5)
            g = gap(result.quality.objective, dispatch_lower_bound(build_problem(network, crews, sites)))
            if result.quality.optimal and g is not None:
                above.append(g)
    if above:
        print(f"(a) 10 sites, 2-5 crews: {len(above)} of 32 proven; the optimum sits above the bound by median "
              f"{pct(statistics.median(above))} (min {pct(min(above))}, max {pct(max(above))})")
    network, crews, sites = event(30, 5, seed=3005)
    problem = build_problem(network, crews, sites)
    bound = dispatch_lower_bound(problem)
    result = dispatch(network, crews, sites, deadline=time_limit(3, clock=time.perf_counter), solver_seconds=0,
                      samples=5)
    job = {fid: j for j, fid in enumerate(problem.ids)}
    seqs = [[job[j.id] for j in route.jobs] for route in result.routes]
    solved = solve(problem, hint=seqs, seconds=seconds, workers=2)
    better = cost(problem, solved.seqs) if solved.seqs is not None else float("nan")
    print(f"(b) 30 sites / 5 crews: local search gap {pct(gap(result.quality.objective, bound))}; after {seconds:g} s "
          f"of CP-SAT ({solved.status}) {pct(gap(better, bound))}; CP-SAT's own bound against ours: "
          f"{pct(solved.bound / bound - 1 if bound else None)}")
    for m, k in ((100, 10), (1000, 20)):
        network, crews, sites = event(m, k, seed=m * 100 + k)
        bound = dispatch_lower_bound(build_problem(network, crews, sites))
        gaps = []
        for budget in (3.0, seconds):
            q = dispatch(network, crews, sites, deadline=time_limit(budget, clock=time.perf_counter),
                         solver_seconds=0, samples=5).quality
            gaps.append(f"{budget:g} s: {pct(gap(q.objective, bound))}")
        print(f"(c) {m:,} sites / {k} crews, search gap after " + ", after ".join(gaps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
