"""The exact dispatch model for small events, solved with OR-Tools CP-SAT.

Public API:
    solve(problem, *, hint, seconds, workers, deadline) -> Solved   proven optimal when the solver says OPTIMAL

Model. Each crew has a circuit over its base (node 0) and the sites it has the skill for: an arc base -> j
makes j its first job, i -> j makes j follow i, j -> base ends its route (crews never return, so that arc is
free) and a self-loop on j means another crew does j. Every job is on exactly one crew. With start_j and
end_j = start_j + hours_j: start_j >= release_j, arc base -> j forces start_j >= free_c + travel(base_c, j),
arc i -> j forces start_j >= end_i + travel(i, j); per crew, optional intervals with a no-overlap are a
redundant cut that helps propagation. Committed heads (Problem.head) are fixed: their jobs are on their crew,
base -> first and each committed job -> the next are forced arcs, so nothing goes before or between them; a
repair under way starts at 0 (its crew is on site: no travel, no release) and ends at its remaining hours, and
the crew's next arc adds travel from that site as usual. Energisation is exact: a node's hour is the max of its
own job's end and its feed's hour, a meshed junction's the min over its feeds (max/min equalities). Objective:
sum of weight x energisation hour.

Times are whole seconds and weights whole numbers (people, or thousandths of a people-equivalent when some
weight is fractional), every figure rounded DOWN. Any real plan, re-timed with the rounded-down figures, is
feasible in the model and costs no more there (every time is a max of sums of the figures), so the solver's
best bound / scale is a valid lower bound for the real times, and OPTIMAL means no real plan beats the one
returned by more than the rounding: at most one second per figure on a path, times the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from geo.dispatch_model import Problem, timeline

UNITS_PER_HOUR = 3600
MAX_JOBS = 40  # above this the model grows with k x m^2 arcs and the solver rarely helps within seconds


@dataclass(frozen=True)
class Solved:
    """The solver's outcome: its best sequences (None without a solution), status and bound in real units."""

    seqs: list[list[int]] | None
    status: str
    optimal: bool
    bound: float


class _Stop(cp_model.CpSolverSolutionCallback):
    """Stops the search at a solution found after the caller's deadline."""

    def __init__(self, deadline: Callable[[], bool] | None) -> None:
        super().__init__()
        self.deadline = deadline

    def on_solution_callback(self) -> None:
        if self.deadline is not None and self.deadline():
            self.stop_search()


def rounding_slack(problem: Problem, latest_hours: float) -> float:
    """How much the model's rounding down can understate the cost of a plan whose last repair is done at
    `latest_hours`: under a second per figure (free hour, travel legs, repairs) on a path, times the total weight,
    and with fractional weights a thousandth of a weight per node up to that hour."""
    w = problem.weight
    fractional = not np.allclose(w, np.round(w), rtol=0, atol=1e-9)
    return (3 * (len(problem.ids) + 1) / UNITS_PER_HOUR * float(w.sum())
            + (len(w) * max(0.0, latest_hours) / 1000 if fractional else 0.0) + 1e-9)


def _units(hours: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(hours, dtype=float) * UNITS_PER_HOUR + 1e-9).astype(np.int64)


def solve(problem: Problem, *, hint: Sequence[Sequence[int]] | None = None, seconds: float = 10.0,
          workers: int = 2, deadline: Callable[[], bool] | None = None, seed: int = 0) -> Solved:
    """Solve the dispatch problem with CP-SAT within `seconds` of solver time (its own budget)."""
    m, k = len(problem.ids), len(problem.crews)
    outage = problem.tree.outage
    p, r, a = _units(problem.hours), _units(problem.release), _units(problem.available)
    t0, tt = _units(problem.from_base), _units(problem.between)
    horizon = int(a.max() + r.max(initial=0) + p.sum() + np.concatenate([t0, tt]).max(axis=0, initial=0).sum())
    shifted = np.isfinite(problem.shift_end)
    if shifted.any():  # each repair may wait at most a period for a shift it fits in, once more at the start
        horizon += (m + 1) * int(math.ceil(float(problem.shift_period[shifted].max()) * UNITS_PER_HOUR))
    weights = problem.weight
    scale = 1 if np.allclose(weights, np.round(weights), rtol=0, atol=1e-9) else 1000
    w = np.floor(weights * scale + 1e-9).astype(np.int64)
    floor_e = _energisation_floor(problem, p, r, a, t0, tt)
    model = cp_model.CpModel()
    under_way = {int(j) for j in problem.on_site if j >= 0}
    # a repair under way is timed from now: [0, remaining hours], whatever its release or the crew's free hour
    start = [model.new_int_var(0 if j in under_way else int(r[j]), 0 if j in under_way else horizon, f"start{j}")
             for j in range(m)]
    end = [start[j] + int(p[j]) for j in range(m)]
    assigned: list[dict[int, cp_model.IntVar]] = [{} for _ in range(k)]
    arcs_of: list[dict[tuple[int, int], cp_model.IntVar]] = [{} for _ in range(k)]
    for c in range(k):
        jobs = [int(j) for j in np.flatnonzero(problem.capable[c])]
        node = {j: n + 1 for n, j in enumerate(jobs)}
        arcs: list[tuple[int, int, cp_model.LiteralT]] = [(0, 0, model.new_bool_var(f"idle{c}"))]
        intervals = []
        for j in jobs:
            x = assigned[c][j] = model.new_bool_var(f"on{c}_{j}")
            arcs.append((node[j], node[j], ~x))
            first = arcs_of[c][(-1, j)] = model.new_bool_var(f"first{c}_{j}")
            if not problem.under_way(c, j):
                model.add(start[j] >= int(a[c] + t0[c, j])).only_enforce_if(first)
            arcs += [(0, node[j], first), (node[j], 0, model.new_bool_var(f"last{c}_{j}"))]
            intervals.append(model.new_optional_interval_var(start[j], int(p[j]), end[j], x, f"work{c}_{j}"))
            if shifted[c] and not problem.under_way(c, j):
                model.add_linear_expression_in_domain(start[j], _shift_domain(problem, c, j, horizon)
                                                      ).only_enforce_if(x)
            for i in jobs:
                if i != j:
                    y = arcs_of[c][(i, j)] = model.new_bool_var(f"arc{c}_{i}_{j}")
                    model.add(start[j] >= end[i] + int(tt[i, j])).only_enforce_if(y)
                    arcs.append((node[i], node[j], y))
        model.add_circuit(arcs)
        model.add_no_overlap(intervals)
        head = problem.head[c] if problem.head else ()
        for q, j in enumerate(head):  # the committed head: on this crew, first and in this order
            model.add(assigned[c][j] == 1)
            model.add(arcs_of[c][(head[q - 1] if q else -1, j)] == 1)
    for j in range(m):
        model.add_exactly_one([assigned[c][j] for c in range(k) if j in assigned[c]])
    energised: list[cp_model.IntVar] = []
    for n, ps in enumerate(outage.node_parents):
        job = outage.node_job[n]
        e = model.new_int_var(int(floor_e[n]), horizon, f"e{n}")
        if len(ps) > 1:
            feed = model.new_int_var(0, horizon, f"feed{n}")
            model.add_min_equality(feed, [energised[u] for u in ps])
        terms = ([end[job]] if job >= 0 else []) + ([feed] if len(ps) > 1 else [energised[u] for u in ps])
        model.add_max_equality(e, terms)
        energised.append(e)
    model.minimize(sum(int(w[n]) * energised[n] for n in range(len(energised)) if w[n] > 0))
    if hint is not None:
        _add_hint(model, problem, hint, start, assigned, arcs_of)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.0, float(seconds))
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    status = solver.solve(model, _Stop(deadline))
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solved(None, name, False, 0.0)
    seqs = []
    for c in range(k):
        nxt = {i: j for (i, j), y in arcs_of[c].items() if solver.boolean_value(y)}
        seq, at = [], nxt.get(-1)
        while at is not None:
            seq.append(at)
            at = nxt.get(at)
        seqs.append(seq)
    bound = max(0.0, float(solver.best_objective_bound)) / (scale * UNITS_PER_HOUR)
    return Solved(seqs, name, status == cp_model.OPTIMAL, math.nextafter(bound, 0.0))


def _shift_domain(problem: Problem, c: int, j: int, horizon: int) -> cp_model.Domain:
    """The starts crew c may give job j within its shifts, in units, up to the horizon: per shift n, from its
    start rounded down to its end rounded down less the hours rounded down (the repair fits), or to just before
    its end for a repair longer than a shift (it runs over). Every real start rounds down into this set (floor(x)
    >= floor(begin), floor(x) <= floor(end - hours) <= floor(end) - floor(hours), x < end gives floor(x) <=
    ceil(end) - 1), so it keeps the model a relaxation of the real plans."""
    end0, period = float(problem.shift_end[c]), float(problem.shift_period[c])
    length, hours = float(problem.shift_len[c]), float(problem.hours[j])
    ends_before = hours > length
    spans: list[int] = []
    n = 0
    while True:
        end = end0 + n * period
        low = max(0, int(math.floor((end - length) * UNITS_PER_HOUR + 1e-9)))
        if low > horizon:
            break
        high = (int(math.ceil(end * UNITS_PER_HOUR - 1e-9)) - 1 if ends_before
                else int(math.floor(end * UNITS_PER_HOUR + 1e-9)) - int(math.floor(hours * UNITS_PER_HOUR + 1e-9)))
        if high >= low:
            spans += [low, high]
        n += 1
    return cp_model.Domain.from_flat_intervals(spans or [0, -1])


def _add_hint(model: cp_model.CpModel, problem: Problem, seqs: Sequence[Sequence[int]],
              start: Sequence[cp_model.IntVar], assigned: Sequence[dict[int, cp_model.IntVar]],
              arcs_of: Sequence[dict[tuple[int, int], cp_model.IntVar]]) -> None:
    """Warm start: the heuristic plan's assignment, order and start times (real, rounded down: feasible in the
    model, see _shift_domain)."""
    for c, seq in enumerate(seqs):
        on = set(seq)
        for j, x in assigned[c].items():
            model.add_hint(x, j in on)
        pairs = {(-1, seq[0])} if seq else set()
        pairs |= {(seq[q], seq[q + 1]) for q in range(len(seq) - 1)}
        for pair, y in arcs_of[c].items():
            model.add_hint(y, pair in pairs)
    _, _, begins, _ = timeline(problem, seqs)
    for j, x in enumerate(begins):
        model.add_hint(start[j], 0 if x < 0 else int(math.floor(x * UNITS_PER_HOUR + 1e-9)))


def _energisation_floor(problem: Problem, p: np.ndarray, r: np.ndarray, a: np.ndarray, t0: np.ndarray,
                        tt: np.ndarray) -> np.ndarray:
    """Per node, a valid lower bound on its energisation in the model's units (geo.dispatch_bound's per-node
    bound on the rounded figures): the latest earliest-finish on its best path, and the path's work shared by
    the crews. Stated as variable bounds, it tightens the solver's relaxation without cutting a model plan.
    A repair under way is handled as there: it ends at its hours, its crew is free then at that site, no travel
    into it, and every crew's work counts from 0."""
    m, k = len(problem.ids), len(problem.crews)
    under_way = [int(i) for i in problem.on_site if i >= 0]
    reach = t0.copy()
    a = a.copy()
    for c, i in enumerate(problem.on_site):
        if i >= 0:
            reach[c], reach[c, i], a[c] = tt[i], 0, p[i]
    for c in range(k):  # fewest travel units from base c to each site over any route (the matrix may not obey
        for _ in range(m):  # the triangle inequality); repairs on the way only add time
            via = (reach[c][:, None] + tt).min(axis=0)
            if not (via < reach[c]).any():
                break
            reach[c] = np.minimum(reach[c], via)
    start = np.where(problem.capable, np.maximum(a[:, None] + reach, r[None, :]), np.iinfo(np.int64).max // 4)
    ef = start.min(axis=0) + p
    ef[under_way] = p[under_way]
    into = np.concatenate([t0, tt + np.diag(np.full(m, np.iinfo(np.int64).max // 4))], axis=0).min(axis=0)
    into[under_way] = 0
    work = p + into
    outage = problem.tree.outage
    first = np.zeros(len(outage.node_job), dtype=np.int64)
    total = np.zeros(len(outage.node_job), dtype=np.int64)
    for n, ps in enumerate(outage.node_parents):
        j = outage.node_job[n]
        up = [first[u] for u in ps]
        first[n] = max(int(ef[j]) if j >= 0 else 0, min(up) if up else 0)
        total[n] = min((int(total[u]) for u in ps), default=0) + (int(work[j]) if j >= 0 else 0)
    return np.maximum(first, (0 if under_way else int(a.min())) + total // k)
