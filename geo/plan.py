"""The k-crew repair plan: construction, local search within a deadline, exact simulation, lower bound, KPIs, ETRs.

Public API:
    plan(network, *, crews=1, deadline=None, critical_sites=(), persons_per_customer=2.5, commitments=()) -> Plan
    Commitment(job, crew, in_progress, started_hours_ago=0.0)   work a crew has, kept first in its sequence
    time_limit(seconds, *, clock) -> TimeLimit             a deadline `seconds` after now on the caller's clock
    area_etr(network, etr_hours) -> dict[str, float]       when each facility's own area gets power back
    lower_bound(tree, *, crews, weighted=True) -> float   a proven lower bound on any k-crew plan's cost
    gap(value, bound), improvement(value, naive)            relative distance to the bound, saving against naive

The parts are in files of their own, re-exported here: geo.plan_simulator (Simulator, list_schedule),
geo.plan_bound (lower_bound, dominated_weight), geo.plan_search (local search) and geo.plan_crews
(Commitment, CrewJob, the crews' labels and timed sequences).

Crews work back to back from hour 0 and need not respect physical precedence: a crew may repair B while its
upstream A is still broken; B then restores nobody until A is done. A facility gets power at the earliest
hour some path from a source has all its damaged facilities repaired (radial: the latest finish on its path;
meshed: any path, whatever the feed links' direction, simulated exactly by geo.mesh_restore, which also chooses
and, up to EXACT_SEARCH_JOBS repairs, searches the plan; its lower bound is then the weaker path bound).
The objective is people-equivalent-hours without power (people plus critical-site weights); `phu` and the
`phu_*` figures are the same quantity in plain people, for information. The plan never costs more than the
naive plan on the objective (the naive plan is one of the starting points and local search only improves),
but with critical sites it may cost more in plain people: it restores a hospital's feeder before a larger
area with nobody critical in it (a note then says so). With one crew on a radial network the plan is the
exact Horn order; otherwise it is the better of two list schedules (Horn order, naive order) improved by
moves and swaps within and between crews until no move helps or the deadline passes (`converged` says
which). The planner never reads the clock: the caller passes `deadline`, a callable that is true once the
search must stop (`time_limit(seconds, clock=time.perf_counter)` for a budget in seconds; None searches to a
local optimum). The construction, the lower bounds and the KPIs are computed regardless (about 1-2 s on top at
10^5 damaged facilities). A plan that converged is deterministic; one cut short by the deadline depends on the
machine's speed.

Work in progress is part of the plan, not re-planned: each `Commitment` keeps a damaged facility on its crew,
at the head of that crew's sequence in the given order (the repair under way first), and nothing moves it or
goes before it; the rest is planned around it. For a repair under way the network's repair_hours are its
remaining hours (the caller computes them), so it finishes that many hours from now and its CrewJob starts in
the past (-started_hours_ago). Committed crews take the first crew slots under their own labels, in order of
first appearance; free slots are labelled "Crew N" with the smallest N no committed label uses; if more crews
have committed work than `crews`, the plan uses them all and a note says so. The naive plan keeps the same
commitments (a dispatcher would not pull busy crews off either). Commitments only restrict the plans, so the
lower bound (computed without them) stays a bound and `gap` may overstate the distance from the best plan that
keeps them (a note says so). `exact` is true only for one crew on a radial network without commitments: the
Horn order ignores commitments, so with any the plan is list-scheduled and improved by local search instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from geo import explain, mesh_restore
from geo.message import N_, Text
from geo.network import CriticalSite, Network, build_outage, weight_array
from geo.plan_bound import dominated_weight, lower_bound
from geo.plan_crews import ASSIGNED, IN_PROGRESS, Commitment, CommitmentError, CrewJob, Schedule, crew_slots
from geo.plan_search import EXHAUSTIVE_JOBS, improve
from geo.plan_simulator import ExactSimulator, Simulator, list_schedule, simulator
from geo.triage import triage_tree

__all__ = [
    "ASSIGNED", "EXHAUSTIVE_JOBS", "IN_PROGRESS", "Commitment", "CommitmentError", "CrewJob", "Kpis", "Plan",
    "Quality", "Simulator", "TimeLimit", "area_etr", "dominated_weight", "gap", "improvement", "kpis_of",
    "list_schedule", "lower_bound", "plan", "time_limit",
]


EXACT_SEARCH_JOBS = 2000  # meshed networks up to this many repairs are searched on the exact restoration
MESHED_BOUND_NOTE = Text(N_(
    "meshed network: the objective, ETRs and KPIs are simulated exactly over the undirected network; the lower "
    "bound is only each area's wait for the repairs of one path to it, so the gap may overstate the distance "
    "from the optimum"))


@dataclass(frozen=True)
class TimeLimit:
    """A deadline `seconds` after `start` on `clock`: calling it says whether that time has passed."""

    seconds: float
    clock: Callable[[], float] = field(repr=False)
    start: float

    def __call__(self) -> bool:
        return self.clock() > self.start + self.seconds


def time_limit(seconds: float, *, clock: Callable[[], float]) -> TimeLimit:
    """A deadline `seconds` from now on the caller's clock (e.g. `time.perf_counter`)."""
    return TimeLimit(seconds=seconds, clock=clock, start=clock())


@dataclass(frozen=True)
class Kpis:
    """Outage figures of a plan in plain people (no critical-site weights)."""

    affected_population: float
    phu: float
    customers_interrupted: float
    cmi: float
    t50_hours: float
    t90_hours: float
    t100_hours: float


@dataclass(frozen=True)
class Quality:
    """The plan's cost next to the naive plan and a lower bound on the optimum, weighted and in plain people.

    The plan minimises `objective` (people plus critical-site weights): objective_lower_bound <= objective <=
    naive_objective always holds. The `phu*` figures are the same plan in plain people, for information:
    phu_lower_bound <= phu holds too, but with critical sites phu may exceed naive_phu.
    """

    objective: float
    naive_objective: float
    objective_lower_bound: float
    phu: float
    naive_phu: float
    phu_lower_bound: float


@dataclass(frozen=True)
class Plan:
    """A k-crew repair plan with each facility's estimated time of restoration (ETR) and its KPIs.

    `crews` and `naive_crews` (the naive order, population served, list-scheduled) are made from `schedule` and
    `naive_schedule` on first use; a writer may read the schedules' columns instead.
    """

    schedule: Schedule
    etr_hours: dict[str, float]
    kpis: Kpis
    quality: Quality
    exact: bool
    converged: bool
    notes: tuple[str, ...]
    naive_schedule: Schedule
    naive_etr_hours: dict[str, float]
    crew_labels: tuple[str, ...]  # one per crew, aligned with `crews` and `naive_crews`

    @cached_property
    def crews(self) -> tuple[tuple[CrewJob, ...], ...]:
        return self.schedule.jobs()

    @cached_property
    def naive_crews(self) -> tuple[tuple[CrewJob, ...], ...]:
        return self.naive_schedule.jobs()


def kpis_of(e: np.ndarray, people: np.ndarray, persons_per_customer: float) -> Kpis:
    """The outage figures of energisation hours `e` per node of `people` (the planners' shared KPIs)."""
    affected = float(people.sum())
    phu = float(people @ e)
    marks = []
    order = np.argsort(e, kind="stable")
    cumulative = np.cumsum(people[order])
    for share in (0.5, 0.9, 1.0):
        if affected <= 0:
            marks.append(0.0)
            continue
        k = int(np.searchsorted(cumulative, share * affected * (1 - 1e-12)))
        marks.append(float(e[order[min(k, len(order) - 1)]]))
    return Kpis(
        affected_population=affected, phu=phu, customers_interrupted=affected / persons_per_customer,
        cmi=phu * 60.0 / persons_per_customer, t50_hours=marks[0], t90_hours=marks[1], t100_hours=marks[2],
    )


def plan(
    network: Network,
    *,
    crews: int = 1,
    deadline: Callable[[], bool] | None = None,
    critical_sites: Iterable[CriticalSite] = (),
    persons_per_customer: float = 2.5,
    commitments: Iterable[Commitment] = (),
) -> Plan:
    """Plan repairs for k crews to minimise weighted people-hours without power, with KPIs and a bound.

    Local search stops once `deadline()` is true (None: at a local optimum). `commitments` stay at the head of
    their crews' sequences (see the module docstring); a bad one raises CommitmentError (a ValueError).
    """
    if crews < 1:
        raise ValueError(f"crews must be >= 1, got {crews}")
    if not persons_per_customer > 0:
        raise ValueError(f"persons_per_customer must be > 0, got {persons_per_customer}")
    kept = tuple(commitments)
    labels, heads = crew_slots(network, kept, crews)
    k = len(labels)
    sites = tuple(critical_sites)
    tree = triage_tree(network, critical_sites=sites)
    outage = tree.outage
    all_ids = network.arrays.ids
    ids = [all_ids[v] for v in outage.jobs]
    job_of = {fid: j for j, fid in enumerate(ids)} if kept else {}
    prefix = [[job_of[c.job] for c in head] for head in heads]
    committed = {job_of[c.job]: c for c in kept}
    sim = simulator(tree)
    hours = sim.hours
    weight = np.asarray(outage.node_weight, dtype=float)
    people = np.asarray(outage.node_people, dtype=float)
    # most people served first, ties by id (tie: each job's place by id)
    tie = tree.tie if len(tree.tie) == len(ids) else np.argsort(np.argsort(np.asarray(ids, dtype=object)))
    naive_order = np.lexsort((np.asarray(tie, dtype=np.intp), -np.asarray(tree.served, dtype=float))).tolist()
    naive = list_schedule(naive_order, tree.hours, k, prefix=prefix)
    naive_finish = sim.finish(naive)
    naive_e = sim.energisation(naive_finish)
    naive_schedule = Schedule(tuple(tuple(s) for s in naive), naive_finish, hours, ids, committed)
    candidates = [list_schedule(tree.order, tree.hours, k, prefix=prefix), naive]
    search, cost_weight = sim, weight
    exact_mesh = None
    if not network.radial:
        # On a meshed network the directed feed links may give a node power later than a path against their
        # direction does: the plan is chosen and reported on the exact restoration (geo.mesh_restore), with a
        # third start that orders repairs by what they restore exactly, and searched on it up to
        # EXACT_SEARCH_JOBS repairs (above, the search runs on the directed simulation).
        exact_mesh = mesh_restore.restoration(network, weight_array(network, sites), outage.jobs)
        position = np.empty(len(ids), dtype=np.intp)
        position[np.asarray(tree.order, dtype=np.intp)] = np.arange(len(ids))
        greedy = mesh_restore.greedy_order(exact_mesh, tree.hours, position.tolist())
        candidates.append(list_schedule(greedy, tree.hours, k, prefix=prefix))
        if len(ids) <= EXACT_SEARCH_JOBS:
            search, cost_weight = ExactSimulator(sim, exact_mesh), exact_mesh.weight
    seqs = min(candidates, key=lambda s: float(cost_weight @ search.energisation(search.finish(s))))
    # Horn's order is optimal for one crew on a radial network only when nothing is committed; with commitments
    # the list schedules keep them at the head and local search improves the rest, so the plan is not exact.
    exact = k == 1 and network.radial and not kept
    converged = True
    if not exact:
        position = np.empty(len(ids), dtype=np.intp)
        position[np.asarray(tree.order, dtype=np.intp)] = np.arange(len(ids))
        _, converged = improve(seqs, search, cost_weight, position.tolist(), deadline, [len(p) for p in prefix])
    finish = sim.finish(seqs)
    e = sim.energisation(finish)
    notes = []
    if exact_mesh is not None:
        notes.append(explain.MESHED_NOTE)
        chosen = exact_mesh
        seqs = min([seqs, *candidates], key=lambda s: float(chosen.weight @ chosen.energisation(sim.finish(s))))
        finish = sim.finish(seqs)
        e, naive_e = exact_mesh.energisation(finish), exact_mesh.energisation(naive_finish)
        weight, people, job_node = exact_mesh.weight, exact_mesh.people, exact_mesh.first_job + np.arange(len(ids))
        notes.append(MESHED_BOUND_NOTE)
    else:
        job_node = np.asarray(outage.job_node, dtype=np.intp)
    if k > 1:
        notes.append(explain.CREWS_NOTE)
    if k > crews:
        notes.append(explain.committed_crews_note(committed_crews=k, crews=crews))
    if kept:
        notes.append(explain.commitments_note(in_progress=sum(c.in_progress for c in kept),
                                              assigned=sum(not c.in_progress for c in kept)))
    if not converged:
        notes.append(explain.time_limit_note(deadline.seconds if isinstance(deadline, TimeLimit) else None))
    # The bounds are over every k-crew plan, committed or not: commitments only remove plans, so a bound on all
    # of them bounds the committed plan too (gap may then overstate its distance from the best committed plan).
    # Without critical sites the weights are the people, and both bounds are one.
    if exact_mesh is None:
        weighted_bound = lower_bound(tree, crews=k, weighted=True)
        people_bound = weighted_bound if outage.node_people == outage.node_weight \
            else lower_bound(tree, crews=k, weighted=False)
    else:  # the directed bounds do not hold against the exact cost. A node gets power once every repair on some
        # path is done: no earlier than that path's longest repair, nor than its repair-hours shared by k crews.
        own = np.asarray(tree.hours, dtype=float)
        waits = np.maximum(exact_mesh.energisation(own), exact_mesh.path_hours(own) / k)
        weighted_bound, people_bound = float(weight @ waits), float(people @ waits)
    quality = Quality(
        objective=float(weight @ e), naive_objective=float(weight @ naive_e),
        objective_lower_bound=weighted_bound,
        phu=float(people @ e), naive_phu=float(people @ naive_e),
        phu_lower_bound=people_bound,
    )
    if quality.phu > quality.naive_phu + 1e-9 * max(1.0, quality.naive_phu):
        notes.append(explain.critical_sites_note(objective=quality.objective, naive_objective=quality.naive_objective,
                                                 phu=quality.phu, naive_phu=quality.naive_phu))
    return Plan(
        schedule=Schedule(tuple(tuple(s) for s in seqs), finish, hours, ids, committed),
        etr_hours=dict(zip(ids, e[job_node].tolist(), strict=True)),
        kpis=kpis_of(e, people, persons_per_customer),
        quality=quality,
        exact=exact,
        converged=converged,
        notes=tuple(notes),
        naive_schedule=naive_schedule,
        naive_etr_hours=dict(zip(ids, naive_e[job_node].tolist(), strict=True)),
        crew_labels=labels,
    )


def gap(value: float, bound: float) -> float | None:
    """Relative distance of a cost above its lower bound (at most this far from optimal), None if unbounded."""
    if value <= bound or math.isclose(value, bound, rel_tol=1e-12, abs_tol=1e-9):
        return 0.0
    return (value - bound) / bound if bound > 0 else None


def improvement(value: float, naive: float) -> float | None:
    """Relative saving of a cost against the naive plan's, (naive - value) / naive: negative when worse.

    0 when both are 0; None when only the naive cost is 0 (no finite ratio).
    """
    if naive > 0:
        return (naive - value) / naive
    return 0.0 if value <= 0 else None


def area_etr(network: Network, etr_hours: Mapping[str, float]) -> dict[str, float]:
    """Hours until each facility's own area has power under a plan's ETRs (by facility id; 0 for power now).

    A damaged facility's area gets power at its ETR; an undamaged one's when its earliest-fed neighbour has power
    (meshed networks: over the undirected network, geo.mesh_restore), by the same energisation the planner reports.
    Damaged facilities missing from `etr_hours` count as repaired at hour 0.
    """
    outage = build_outage(network, [0.0] * len(network.facilities))
    ids = network.arrays.ids
    own = [float(etr_hours.get(ids[v], 0.0)) for v in outage.jobs]
    if not network.radial:  # exact over the undirected network: a dark ring is back as soon as one side is
        exact = mesh_restore.Restoration(network, np.zeros(len(ids)), outage.jobs)
        hours = exact.energisation(np.asarray(own, dtype=float)).tolist()
        return dict(zip(ids, [hours[node] for node in exact.node.tolist()], strict=True))
    node_hours = Simulator(outage, own).energisation(np.asarray(own, dtype=float)).tolist()
    return {fid: node_hours[node] if node >= 0 else 0.0
            for fid, node in zip(ids, outage.facility_node, strict=True)}


if __name__ == "__main__":  # `python -m geo.plan`: the command line lives in geo.plan_cli
    from geo.plan_cli import run

    run()
