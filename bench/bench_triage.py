"""Benchmark the triage engine: ranking and plan time against a plain sort, plan quality for k crews, and the
command line end to end.

Run: .venv/bin/python bench/bench_triage.py [--quick] [--time-limit SECONDS] [--cli-only]
Random trees are random recursive trees (each facility's parent drawn uniformly from earlier ones); the
Oberrhein scenarios damage random elements of the real pandapower MV Oberrhein feed tree.
The command line section writes a scenario file and runs `python -m geo.plan FILE --time-limit 0` in a
subprocess, as it is and with `--two-processes` (file in to JSON out, wall clock and CPU of the process and its
children), next to the same command of the code at a baseline revision (`--baseline REV`, default 785e4aa, where
this session started; `git archive` into a temporary directory, same file, same run), and checks that all print
the same bytes. It then times the phases
in process (read and build: geo.scenario_file.read_scenario; rank and plan: geo.plan_cli.report, sequential; write:
orjson) next to the way the reading and writing were done before issue 17: the standard library's json (load, and
dump with indent=2) and the network built from Facility objects checked one by one (`build_network(columns=False)`).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from geo.network import Facility, Network, build_network, population_served  # noqa: E402
from geo.pandapower_net import read_feed_tree, with_damage  # noqa: E402
from geo.plan import Plan, gap, plan, time_limit  # noqa: E402
from geo.plan_cli import report  # noqa: E402
from geo.scenario_file import read_scenario  # noqa: E402
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


def fresh(fn: Callable[[Network], T], network: Network) -> T:
    """`fn(network)` without what the network memoised (the triage tree), so each timing builds it."""
    network.memo.clear()
    return fn(network)


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
        _, order_s = timed(fresh, triage_tree, network, repeat=repeat)
        _, rank_s = timed(fresh, rank, network, repeat=repeat)
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


def scenario_document(n: int, damaged: int, *, crews: int, seed: int) -> dict[str, Any]:
    """A scenario file's document: the random tree as JSON facilities."""
    return {"crews": crews, "facilities": [
        {"id": f.id, "parent": f.parents[0] if f.parents else None, "population": f.population,
         **({"damaged": True, "repair_hours": f.repair_hours} if f.damaged else {})}
        for f in random_tree(n, damaged, seed=seed)]}


def stdlib_facility(raw: dict[str, Any]) -> Facility:
    """A scenario facility as the baseline reads it (one Facility object per facility, as before issue 17)."""
    parent = raw.get("parent")
    damaged = raw.get("damaged", False)
    return Facility(raw["id"], (parent,) if parent else (), float(raw.get("population") or 0), damaged,
                    float(raw["repair_hours"]) if damaged else None)


ROOT = Path(__file__).resolve().parents[1]


def cli(sizes: list[tuple[int, int]], *, crews: int, repeat: int, baseline: str | None) -> None:
    print(f"\n== python -m geo.plan FILE --time-limit 0, {crews} crews (file in to JSON out; best of {repeat}) ==")
    print(f"{'facilities':>10} {'damaged':>8} {'MB':>5} {'CLI now wall / CPU':>19} {'2 proc wall / CPU':>19} "
          f"{'CLI ' + (baseline or '-') + ' wall / CPU':>22} {'same':>5}   in process now: {'read+build':>10} "
          f"{'rank+plan':>9} {'write':>6}   stdlib before: {'read+build':>10} {'write':>6} {'same':>5}")
    gc.disable()  # as the command line runs; the phases before and now are then compared on the same footing
    try:
        with tempfile.TemporaryDirectory() as tmp:
            old = checkout(baseline, Path(tmp) / "baseline") if baseline else None
            for n, m in sizes:
                cli_row(n, m, crews=crews, repeat=repeat, old=old)
    finally:
        gc.enable()
    print("CLI wall/CPU = best subprocess run (interpreter start-up included; CPU of the process and its children); "
          "'2 proc' = the same command with --two-processes (the ranking written by a forked child); 'same' after the "
          "CLIs = the three commands printed the same bytes; 'rank+plan' = geo.plan_cli.report in one process; the "
          "last 'same' = the CLI's bytes equal both encoders' output on the same result")


def checkout(revision: str, where: Path) -> Path:
    """The tree of `revision` (git archive) in `where`, to run its command line."""
    where.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", revision, "geo"], cwd=ROOT, check=True,
                             stdout=subprocess.PIPE).stdout
    with tempfile.TemporaryFile() as f:
        f.write(archive)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            tar.extractall(where, filter="data")
    return where


def run_cli(path: Path, cwd: Path, repeat: int, *extra: str) -> tuple[float, float, bytes]:
    """Best wall and CPU seconds of `repeat` runs of `python -m geo.plan path --time-limit 0` in `cwd`."""
    walls, cpus = [], []
    out = b""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "geo.plan", str(path), "--time-limit", "0", *extra],
                              stdout=subprocess.PIPE, check=True, cwd=cwd)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out = done.stdout
    return min(walls), min(cpus), out


def read_stdlib(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cli_row(n: int, m: int, *, crews: int, repeat: int, old: Path | None) -> None:
    """One size: the command line now and at the baseline in subprocesses, then its phases in process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.json"
        path.write_bytes(orjson.dumps(scenario_document(n, m, crews=crews, seed=n + m)))
        mb = path.stat().st_size / 1e6
        wall, cpu, printed = run_cli(path, ROOT, repeat)
        two_wall, two_cpu, two_printed = run_cli(path, ROOT, repeat, "--two-processes")
        old_wall, old_cpu, old_printed = run_cli(path, old, 1) if old else (math.nan, math.nan, printed)
        deadline = time_limit(0.0, clock=time.perf_counter)  # passed at once: construction, bounds, KPIs only
        document, old_read_s = timed(read_stdlib, path, repeat=repeat)
        _, old_build_s = timed(
            lambda: build_network((stdlib_facility(r) for r in document["facilities"]), columns=False), repeat=repeat)
        scenario, read_s = timed(lambda: read_scenario(path.read_bytes()), repeat=repeat)
        out, engine_s = timed(report, scenario.network, crews=crews, deadline=deadline)
        text, old_write_s = timed(json.dumps, out, indent=2, allow_nan=False, repeat=repeat)
        data, write_s = timed(orjson.dumps, out, option=orjson.OPT_INDENT_2, repeat=repeat)
        same = printed == data + b"\n" and text.encode() == data
    print(f"{n:>10,} {m:>8,} {mb:>5.0f} {wall:>10.2f} / {cpu:<6.2f} {two_wall:>10.2f} / {two_cpu:<6.2f} "
          f"{old_wall:>13.2f} / {old_cpu:<6.2f} "
          f"{'yes' if printed == old_printed == two_printed else 'NO':>5}   {'':>16}{read_s:>10.2f} {engine_s:>9.2f} "
          f"{write_s:>6.2f}"
          f"   {'':>15}{old_read_s + old_build_s:>10.2f} {old_write_s:>6.2f} {'yes' if same else 'NO':>5}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under about a minute")
    parser.add_argument("--time-limit", type=float, default=None, help="local-search budget per plan (s)")
    parser.add_argument("--cli-only", action="store_true", help="only the command line section")
    parser.add_argument("--baseline", default="785e4aa", help="revision whose command line runs next to this one "
                        "('' for none)")
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
    cli([(100_000, 10_000), (1_000_000, 100_000)], crews=5, repeat=1 if args.quick else 3,
        baseline=args.baseline or None)
    if args.cli_only:
        print(f"\nload average {os.getloadavg()[0]:.1f} at end")
        return
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
