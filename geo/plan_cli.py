"""Command line: rank and plan the repairs of a scenario file and print the result as JSON.

Usage: python -m geo.plan SCENARIO.json [--crews K] [--time-limit SECONDS] [--persons-per-customer P] [--two-processes]

Output: `ranking` (one crew's repair queue; `ranking_exact` is false on a meshed network, where the order is a
heuristic and every explanation says so), `plan` (per crew the sequence with start and finish hours, per damaged
facility its ETR), `kpis` (plain people: affected population, people-hours without power `phu`, customers
interrupted and customer-minutes interrupted at P persons per customer, default 2.5, hours to restore 50/90/100 %)
and `quality`: the plan is optimised on `objective` (critical sites add their weight in people-equivalents) and
compared with the naive plan on it; the plain-people figures (`phu`, `naive_phu`, `lower_bound`, `gap`,
`improvement_vs_naive`) are there for information and `quality.comparison` says which is which. `notes` lists
what the numbers cannot show (meshed heuristic, NP-hard k >= 2, time limit hit, plain people traded for critical
sites). A bad scenario exits with status 1 and one line on stderr naming the facility.

Dispatchable plan (issue 14): with `crews` given as records (`{"id", "base": [lon, lat], "skills": [...],
"available_from_hours"}`), facilities with `lon`, `lat`, `skill`, `release_hours` (and `kind`, `severity` for the
ETR spread), `travel` (`{"speed_kmh", "detour"}` or `{"matrix_minutes": {from: {to: minutes}}}`) and `as_of`
(ISO 8601; default: now), the plan is geo.dispatch's: per crew `{"crew", "jobs": [{"id", "travel_start",
"arrival", "start", "finish"}]}` in hours since as_of plus `*_at` ISO times, `plan.cases` and `plan.areas` with
ETR, P50 and P90 (hours and ISO), and `quality.optimal` (proven or not) with a lower bound valid with travel.
An error in those keys exits with status 2 naming the key, crew or facility. `--crews` applies only to an
integer `crews`; with an integer `crews` the dispatch keys are unused and a note says so.

`python -m geo.plan` runs `main` here (the planner module hands over to it). With `--two-processes` the ranking's
JSON is written by a forked child while this process plans: the same bytes, on a second core if one is free (the
child's copy-on-write page faults cost about 0.4 s of system time, so on a busy machine it is no faster).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import numpy as np
import orjson

from geo import explain, mesh
from geo.dispatch_model import DispatchError
from geo.network import CriticalSite, Network, ScenarioError
from geo.plan import Plan, gap, improvement, plan, time_limit
from geo.scenario import Scenario
from geo.scenario_file import read_scenario
from geo.triage import Ranked, RankedRow, ranked_columns, triage_tree


def _num(x: float | None) -> float | int | None:
    """A JSON-friendly number: integers stay integers, infinity becomes null."""
    if x is None or not math.isfinite(x):
        return None
    return int(x) if float(x).is_integer() else round(x, 6)


def _nums(values: Sequence[float]) -> list[float | int | None]:
    """`_num` of every value (floats), by numpy: integers as ints, the rest rounded to 6 places, infinity null."""
    a = np.asarray(values, dtype=float)
    out = np.empty(len(a), dtype=object)
    finite = np.isfinite(a)
    whole = finite & (np.floor(a) == a) & (np.abs(a) < 2.0**53)
    out[whole] = a[whole].astype(np.int64).tolist()
    rest = finite & ~whole
    out[rest] = [int(x) if x.is_integer() else round(x, 6) for x in a[rest].tolist()]
    out[~finite] = None
    result: list[float | int | None] = out.tolist()
    return result


def ranking_to_json(ranking: Iterable[Ranked | RankedRow]) -> list[dict[str, Any]]:
    """The ranked queue (Ranked records or `ranked_rows`) as JSON-ready dicts."""
    rows = [(r.rank, r.id, r.repair_hours, r.ratio, r.gain_now, r.gain_with_blockers, r.population_served,
             r.blocked_by, r.block, r.explanation) if isinstance(r, Ranked) else r for r in ranking]
    return columns_to_json(tuple(zip(*rows, strict=True))) if rows else []


def columns_to_json(columns: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The ranked queue as `ranked_columns` gives it, as JSON-ready dicts."""
    position, fid, hours, ratio, gain_now, gain_all, served, blocked_by, block, explanation = columns
    return [
        {
            "rank": a, "id": b, "ratio": c, "gain_now": d, "gain_with_blockers": e, "population_served": f,
            "blocked_by": list(g), "block": list(h), "repair_hours": i, "explanation": j,
        }
        for a, b, c, d, e, f, g, h, i, j in zip(position, fid, _nums(ratio), _nums(gain_now), _nums(gain_all),
                                                _nums(served), blocked_by, block, _nums(hours), explanation,
                                                strict=True)
    ]


def plan_to_json(result: Plan) -> dict[str, Any]:
    """The plan, KPIs and quality figures as JSON-ready dicts, with the unit of every cost."""
    q, k = result.quality, result.kpis
    return {
        "plan": {
            "crews": [
                [{"id": fid, "start": start, "finish": finish}
                 for fid, start, finish in zip(ids, _nums(starts), _nums(finishes), strict=True)]
                for ids, starts, finishes in result.schedule.columns()
            ],
            "etr": dict(zip(result.etr_hours, _nums(list(result.etr_hours.values())), strict=True)),
        },
        "kpis": {
            "affected_population": _num(k.affected_population), "phu": _num(k.phu),
            "customers_interrupted": _num(k.customers_interrupted), "cmi": _num(k.cmi),
            "t50": _num(k.t50_hours), "t90": _num(k.t90_hours), "t100": _num(k.t100_hours),
        },
        "quality": {
            "optimised": "objective",
            "comparison": explain.COMPARISON,
            "unit": explain.PHU_UNIT,
            "phu": _num(q.phu), "naive_phu": _num(q.naive_phu), "lower_bound": _num(q.phu_lower_bound),
            "gap": _num(gap(q.phu, q.phu_lower_bound)),
            "improvement_vs_naive": _num(improvement(q.phu, q.naive_phu)),
            "objective_unit": explain.OBJECTIVE_UNIT,
            "objective": _num(q.objective), "naive_objective": _num(q.naive_objective),
            "objective_lower_bound": _num(q.objective_lower_bound),
            "objective_gap": _num(gap(q.objective, q.objective_lower_bound)),
            "objective_improvement_vs_naive": _num(improvement(q.objective, q.naive_objective)),
        },
        "exact": result.exact,
        "converged": result.converged,
        "notes": list(result.notes),
    }


def report(
    network: Network,
    *,
    crews: int = 1,
    deadline: Callable[[], bool] | None = None,
    critical_sites: Sequence[CriticalSite] = (),
    persons_per_customer: float = 2.5,
    concurrent: bool = False,
) -> dict[str, Any]:
    """Ranking, k-crew plan, KPIs and quality of one network as one JSON-ready dict (see `plan` for `deadline`).

    `concurrent` (the command line): the ranking is written as JSON by a forked child process while this one
    plans, on the machine's second core, and comes back as an orjson.Fragment of the same bytes."""
    network = mesh.exact_network(network)  # a meshed network's feed links turned to feed what has power (issue 15)
    ranking: Callable[[], Any] = lambda: columns_to_json(  # noqa: E731
        ranked_columns(network, critical_sites=critical_sites, english=True))
    if concurrent:
        triage_tree(network, critical_sites=critical_sites)  # built once, before the fork: both halves use it
        ranking = _in_child(ranking)
    result = plan(network, crews=crews, deadline=deadline, critical_sites=critical_sites,
                  persons_per_customer=persons_per_customer)
    planned = plan_to_json(result)
    return {
        "crews": crews,
        "ranking_exact": network.radial,
        "ratio_unit": explain.RATIO_UNIT,
        "gain_unit": explain.GAIN_UNIT,
        "ranking": ranking(),
        **planned,
    }


def _in_child(make: Callable[[], Any]) -> Callable[[], Any]:
    """Start `make()` in a forked child that writes its JSON (indented one level, as a value of the report) to a
    pipe; the function returned reads it as an orjson.Fragment, or makes it here if the child could not."""
    if not hasattr(os, "fork"):
        return make
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return make
    if pid == 0:  # the child: write and leave at once (no teardown, no atexit of the parent's)
        status = 1
        try:
            os.close(read_end)
            data = orjson.dumps(make(), option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)

    def collect() -> Any:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        return orjson.Fragment(data) if os.waitstatus_to_exitcode(status) == 0 else make()

    return collect


def dispatch_report(scenario: Scenario, *, as_of: datetime, deadline: Callable[[], bool] | None,
                    solver_seconds: float, samples: int, seed: int, persons_per_customer: float) -> dict[str, Any]:
    """Ranking and the dispatchable plan of a scenario with crews as records, as one JSON-ready dict."""
    # Imported here: OR-Tools takes a third of a second to load, which a plan with an integer `crews` never uses.
    from geo.dispatch import dispatch
    from geo.dispatch_json import dispatch_to_json

    network = mesh.exact_network(scenario.network)
    result = dispatch(network, scenario.crew_records, scenario.sites, travel=scenario.travel,
                      critical_sites=scenario.critical_sites, deadline=deadline, solver_seconds=solver_seconds,
                      samples=samples, seed=seed, persons_per_customer=persons_per_customer)
    return {
        "crews": len(scenario.crew_records),
        "ranking_exact": network.radial,
        "ratio_unit": explain.RATIO_UNIT,
        "gain_unit": explain.GAIN_UNIT,
        "ranking": columns_to_json(ranked_columns(network, critical_sites=scenario.critical_sites, english=True)),
        **dispatch_to_json(result, as_of, samples=samples, seed=seed),
    }


def write_json(out: dict[str, Any]) -> None:
    """Print a result as strict JSON indented by two spaces (orjson: the same document as the standard library's
    `json.dump(indent=2, allow_nan=False)`, non-ASCII as UTF-8 instead of \\u escapes, some ten times faster)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    sys.stdout.buffer.flush()


def run() -> NoReturn:
    """`python -m geo.plan`: run the command line and end the process with its status, without the interpreter's
    teardown (freeing a 10^6-facility scenario object by object costs a good part of a second and serves
    nothing once the answer is written and flushed)."""
    try:
        status = main()
    except SystemExit as e:  # argparse's usage errors and --help
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    The cyclic garbage collector is paused for the run: a scenario of 10^6 facilities is millions of acyclic
    objects that its scans would walk again and again (a second or more) and never free.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if was_enabled:
            gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geo.plan", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="scenario JSON file")
    parser.add_argument("--crews", type=int, default=None, help="number of crews (overrides the scenario)")
    parser.add_argument("--time-limit", type=float, default=5.0, help="local search budget in seconds")
    parser.add_argument("--persons-per-customer", type=float, default=2.5, help="people per customer")
    parser.add_argument("--solver-time-limit", type=float, default=10.0,
                        help="CP-SAT budget in seconds for small events with crews as records (0: no solver)")
    parser.add_argument("--samples", type=int, default=500, help="Monte Carlo samples for the P50/P90 ETRs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the ETR simulation")
    parser.add_argument("--two-processes", action="store_true",
                        help="write the ranking in a forked child while this process plans (faster only when a "
                             "second core is free)")
    args = parser.parse_args(argv)
    if args.crews is not None and args.crews < 1:
        parser.error(f"--crews must be >= 1, got {args.crews}")
    if not args.time_limit >= 0 or not args.persons_per_customer > 0:
        parser.error("--time-limit must be >= 0 and --persons-per-customer > 0")
    try:
        with open(args.scenario, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"error: cannot read {args.scenario}: {e.strerror or e}", file=sys.stderr)
        return 2
    try:
        if not args.solver_time_limit >= 0 or args.samples < 1:
            orjson.loads(data)  # a file that is not JSON is said first, as it always was
            parser.error("--solver-time-limit must be >= 0 and --samples >= 1")
        scenario = read_scenario(data)
    except orjson.JSONDecodeError as e:  # also invalid UTF-8, NaN and Infinity (not JSON)
        print(f"error: {args.scenario} is not valid JSON: {e}", file=sys.stderr)
        return 2
    except DispatchError as e:
        print(f"error: {args.scenario}: {e}", file=sys.stderr)
        return 2
    except ScenarioError as e:
        print(f"error: {args.scenario}: {e}", file=sys.stderr)
        return 1
    if scenario.crew_records:
        if args.crews is not None:
            print(f"error: {args.scenario}: --crews applies to an integer 'crews'; this scenario lists crews "
                  "as records", file=sys.stderr)
            return 2
        try:
            out = dispatch_report(
                scenario,
                as_of=scenario.as_of or datetime.now(UTC).replace(microsecond=0),  # the command line reads the clock
                deadline=time_limit(args.time_limit, clock=time.perf_counter),
                solver_seconds=args.solver_time_limit, samples=args.samples, seed=args.seed,
                persons_per_customer=args.persons_per_customer,
            )
        except DispatchError as e:
            print(f"error: {args.scenario}: {e}", file=sys.stderr)
            return 2
        write_json(out)
        return 0
    out = report(
        scenario.network,
        crews=args.crews if args.crews is not None else scenario.crews,
        deadline=time_limit(args.time_limit, clock=time.perf_counter),  # the command line is where the clock is read
        critical_sites=scenario.critical_sites,
        persons_per_customer=args.persons_per_customer,
        concurrent=args.two_processes,
    )
    if scenario.dispatch_keys:
        out["notes"].append(f"unused with an integer 'crews': {', '.join(scenario.dispatch_keys)} (list crews as "
                            "records for a plan with travel and release times)")
    write_json(out)
    return 0

