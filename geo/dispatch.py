"""The dispatchable plan: named crews with bases and skills, travel, release times, ETRs with P50/P90 ranges.

Public API:
    dispatch(network, crews, sites, *, travel, critical_sites, commitments, deadline, solver_seconds, ...) -> Dispatch
    Crew, Site (geo.dispatch_model), Travel (geo.travel), Commitment (geo.plan)

How: two list schedules with travel (Horn's order and the naive most-people-first order, each job to the
capable crew that finishes it first), the better one improved by local search until a local optimum or the
`deadline` (a callable, as in geo.plan: the planner never reads the clock). One crew: the exact subset DP
(geo.dispatch_dp). Several crews and at most geo.dispatch_bnb.MAX_JOBS repairs: the exact branch and bound
(geo.dispatch_bnb, real times, a budget of expanded plans for a share of `solver_seconds`); if it does not
complete, and for up to geo.dispatch_cpsat.MAX_JOBS repairs, CP-SAT warm-started with the best plan for the rest
of `solver_seconds` of the solver's own time. Larger events with a deadline and time left after the local
optimum: iterated local search (kicks of a few jobs, seeded) until the deadline. `quality.optimal` is true only
when one of the exact methods proved it (or there is nothing to repair). The lower bound (geo.dispatch_bound,
and the exact method's own bound when it ran) holds for every plan with the same travel, release times, shifts
and crews, so the gap is honest. The objective is people-equivalent-hours without power, energised exactly as
geo.plan does. ETRs are hours from the plan's `as_of`; their P50/P90 come from geo.etr. Crews' shifts are hard
(geo.dispatch_model).

Work in progress is kept, as in geo.plan: each `Commitment` puts its job at the head of its crew's route in the
given order (the repair under way first). A repair under way has no travel (travel start = arrival = start =
-started_hours_ago) and finishes at the network's repair_hours (the caller's remaining hours); the crew travels
on from that site. The list schedules start after the heads, local search never moves a committed job nor puts
anything before one, CP-SAT forces the heads' arcs, and the one-crew DP starts from the state the head leaves:
`optimal` then means optimal among the plans that keep the commitments. The naive plan keeps them too. The lower
bound stays valid (see geo.dispatch_bound). A commitment naming an unknown crew, a job that is not damaged, a job
committed twice, a second repair under way on a crew or a job outside the crew's skills raises DispatchError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from geo import dispatch_bnb as bnb
from geo import explain
from geo.dispatch_bound import dispatch_lower_bound
from geo.dispatch_cpsat import MAX_JOBS, rounding_slack, solve
from geo.dispatch_dp import one_crew
from geo.dispatch_model import (
    Crew,
    Problem,
    Site,
    build_problem,
    check_sequences,
    cost,
    over_shift,
    shift_end_at,
    timeline,
)
from geo.dispatch_search import horn_order, improve, iterate, list_schedule, naive_order
from geo.etr import etr_percentiles
from geo.message import N_, Text
from geo.network import CriticalSite, Network
from geo.plan import ASSIGNED, IN_PROGRESS, Commitment, Kpis, Quality, kpis_of
from geo.travel import GREAT_CIRCLE, Travel

BNB = "OPTIMAL (branch and bound)"
BNB_NOTE = Text(N_("proven optimal by branch and bound over every crew's order, with real (unrounded) times"))
CPSAT_NOTE = "proven optimal by CP-SAT (times rounded down to whole seconds in the model)"

__all__ = ["Commitment", "Crew", "CrewRoute", "Dispatch", "DispatchJob", "DispatchQuality", "Etr", "Site", "Travel",
           "dispatch"]


@dataclass(frozen=True)
class DispatchJob:
    """One repair on a crew's route, in hours since as_of; `commitment` is "in_progress" or "assigned" for a job
    kept from a Commitment, None for a planned one."""

    id: str
    travel_start_hours: float
    arrival_hours: float
    start_hours: float
    finish_hours: float
    commitment: str | None = None
    over_shift: bool = False  # a repair longer than a whole shift that runs past its shift's end


@dataclass(frozen=True)
class CrewRoute:
    """A crew's ordered jobs."""

    crew: str
    jobs: tuple[DispatchJob, ...]


@dataclass(frozen=True)
class Etr:
    """When power comes back under the plan (planned repair hours) and its P50/P90 under uncertainty, in hours."""

    hours: float
    p50_hours: float
    p90_hours: float


@dataclass(frozen=True)
class DispatchQuality(Quality):
    """geo.plan's Quality (next to the travel-aware naive plan, with a lower bound valid with travel and release
    times), and whether the plan is proven optimal and by what."""

    optimal: bool
    solver: str


@dataclass(frozen=True)
class Dispatch:
    """A dispatchable plan: routes, ETRs per case and per area, KPIs (plain people) and quality."""

    routes: tuple[CrewRoute, ...]
    naive_routes: tuple[CrewRoute, ...]
    cases: dict[str, Etr]
    areas: dict[str, Etr]
    kpis: Kpis
    quality: DispatchQuality
    converged: bool
    notes: tuple[str, ...]


def dispatch(
    network: Network,
    crews: Sequence[Crew],
    sites: Mapping[str, Site] | None = None,
    *,
    travel: Travel = GREAT_CIRCLE,
    critical_sites: Iterable[CriticalSite] = (),
    commitments: Sequence[Commitment] = (),
    deadline: Callable[[], bool] | None = None,
    solver_seconds: float = 10.0,
    solver_workers: int = 2,
    samples: int = 500,
    seed: int = 0,
    persons_per_customer: float = 2.5,
) -> Dispatch:
    """Plan the crews' routes to minimise weighted people-hours without power; see the module docstring."""
    if not persons_per_customer > 0:
        raise ValueError(f"persons_per_customer must be > 0, got {persons_per_customer}")
    problem = build_problem(network, crews, sites or {}, travel=travel, critical_sites=critical_sites,
                            commitments=commitments)
    m = len(problem.ids)
    naive = list_schedule(problem, naive_order(problem))
    seqs = min((list_schedule(problem, horn_order(problem)), [list(s) for s in naive]),
               key=lambda s: cost(problem, s))
    position = [0] * m
    for rank_index, j in enumerate(horn_order(problem)):
        position[j] = rank_index
    _, converged = improve(problem, seqs, deadline=deadline, position=position)
    if converged and deadline is not None and m > MAX_JOBS:  # time left and no exact solver to spend it on
        iterate(problem, seqs, deadline=deadline, seed=seed, position=position)
    status, optimal, solver_bound = "not run", m == 0, 0.0
    exact = one_crew(problem)
    if exact is not None and m > 0:
        status, optimal, solver_bound = "OPTIMAL (one-crew subset DP)", True, exact[1]
        if exact[1] < cost(problem, seqs):
            seqs = [exact[0]]
    elif 0 < m <= MAX_JOBS and solver_seconds > 0 and not (deadline is not None and deadline()):
        status, optimal, solver_bound, seqs = _exact(problem, seqs, deadline=deadline, solver_seconds=solver_seconds,
                                                     solver_workers=solver_workers, seed=seed)
    check_sequences(problem, seqs)
    _, _, _, finish = timeline(problem, seqs)
    e = problem.sim.energisation(finish)
    naive_e = problem.sim.energisation(timeline(problem, naive)[3])
    quality = DispatchQuality(
        objective=float(problem.weight @ e), naive_objective=float(problem.weight @ naive_e),
        objective_lower_bound=max(dispatch_lower_bound(problem), solver_bound),
        phu=float(problem.people @ e), naive_phu=float(problem.people @ naive_e),
        phu_lower_bound=dispatch_lower_bound(problem, weighted=False), optimal=optimal, solver=status,
    )
    p50, p90 = etr_percentiles(problem, seqs, samples=samples, seed=seed)
    outage = problem.tree.outage
    cases = {fid: _etr(e, p50, p90, outage.job_node[j]) for j, fid in enumerate(problem.ids)}
    areas = {f.id: _etr(e, p50, p90, node) for f, node in zip(network.facilities, outage.facility_node, strict=True)
             if node >= 0}
    return Dispatch(
        routes=_routes(problem, seqs), naive_routes=_routes(problem, naive), cases=cases, areas=areas,
        kpis=kpis_of(e, problem.people, persons_per_customer), quality=quality,
        converged=converged, notes=tuple(_notes(problem, seqs, finish, network.radial, optimal, status,
                                                commitments)),
    )


def _exact(problem: Problem, seqs: list[list[int]], *, deadline: Callable[[], bool] | None, solver_seconds: float,
           solver_workers: int, seed: int) -> tuple[str, bool, float, list[list[int]]]:
    """Branch and bound (up to geo.dispatch_bnb.MAX_JOBS repairs, a share of the budget in appends), then CP-SAT
    warm-started with the best plan for the rest: status, proven or not, the bound they give and the plan."""
    m, cp_seconds = len(problem.ids), solver_seconds
    if m <= bnb.MAX_JOBS:
        searched = bnb.branch_and_bound(problem, incumbent=seqs, incumbent_cost=cost(problem, seqs),
                                        deadline=deadline, max_nodes=bnb.nodes_for(solver_seconds))
        check_sequences(problem, searched.seqs)
        if searched.optimal:
            return BNB, True, searched.cost, searched.seqs
        seqs, cp_seconds = searched.seqs, solver_seconds * (1 - bnb.SHARE)
    solved = solve(problem, hint=seqs, seconds=cp_seconds, workers=solver_workers, deadline=deadline, seed=seed)
    if solved.seqs is not None:
        check_sequences(problem, solved.seqs)
        if cost(problem, solved.seqs) < cost(problem, seqs):
            seqs = solved.seqs
    # the model rounds times down to whole seconds: its optimum re-timed exactly may miss a shift by a second and
    # wait for the next; proven only when the real plan is within the rounding of the solver's bound
    latest = float(timeline(problem, seqs)[3].max(initial=0.0))
    optimal = solved.optimal and cost(problem, seqs) <= solved.bound + rounding_slack(problem, latest)
    return solved.status, optimal, solved.bound, seqs


def _etr(e: np.ndarray, p50: np.ndarray, p90: np.ndarray, node: int) -> Etr:
    return Etr(float(e[node]), float(p50[node]), float(p90[node]))


def _routes(problem: Problem, seqs: Sequence[Sequence[int]]) -> tuple[CrewRoute, ...]:
    travel_start, arrival, start, finish = timeline(problem, seqs)

    def kind(c: int, j: int) -> str | None:
        if problem.under_way(c, j):
            return IN_PROGRESS
        return ASSIGNED if problem.head and j in problem.head[c] else None

    return tuple(
        CrewRoute(crew.id, tuple(DispatchJob(problem.ids[j], float(travel_start[j]), float(arrival[j]),
                                             float(start[j]), float(finish[j]), kind(c, j),
                                             not problem.under_way(c, j)
                                             and over_shift(problem, c, float(start[j]), float(finish[j])))
                                 for j in seq))
        for c, (crew, seq) in enumerate(zip(problem.crews, seqs, strict=True))
    )


def _notes(problem: Problem, seqs: Sequence[Sequence[int]], finish: np.ndarray, radial: bool, optimal: bool,
           status: str, commitments: Sequence[Commitment]) -> list[str]:
    start = timeline(problem, seqs)[2]
    late = [(crew.id, shift_end_at(problem, c, float(start[j])), [problem.ids[j]])  # only repairs longer than a
            for c, (crew, seq) in enumerate(zip(problem.crews, seqs, strict=True)) for j in seq  # whole shift
            if not problem.under_way(c, j) and over_shift(problem, c, float(start[j]), float(finish[j]))]
    notes: list[str] = [*([] if radial else [explain.MESHED_NOTE]),
                        *explain.dispatch_notes(commitments=len(commitments),
                                                under_way=sum(c.in_progress for c in commitments),
                                                optimal=optimal, dp="DP" in status, status=status, late=late)]
    if status == BNB:  # proven by the branch and bound, not by CP-SAT: its own note in place of CP-SAT's
        notes = [BNB_NOTE if n.startswith(CPSAT_NOTE) else n for n in notes]
    return notes
