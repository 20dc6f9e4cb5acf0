"""The k-crew repair plan: construction, local search within a deadline, exact simulation, lower bound, KPIs, ETRs.

Public API:
    plan(network, *, crews=1, deadline=None, critical_sites=(), persons_per_customer=2.5, commitments=()) -> Plan
    Commitment(job, crew, in_progress, started_hours_ago=0.0)   work a crew has, kept first in its sequence
    time_limit(seconds, *, clock) -> TimeLimit             a deadline `seconds` after now on the caller's clock
    area_etr(network, etr_hours) -> dict[str, float]       when each facility's own area gets power back
    lower_bound(tree, *, crews, weighted=True) -> float   a proven lower bound on any k-crew plan's cost
    gap(value, bound), improvement(value, naive)            relative distance to the bound, saving against naive

Crews work back to back from hour 0 and need not respect physical precedence: a crew may repair B while its
upstream A is still broken; B then restores nobody until A is done. A facility gets power at the earliest
hour some path from a source has all its damaged facilities repaired (radial: the latest finish on its path).
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

import heapq
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from geo import explain
from geo.network import CriticalSite, Network, Outage, build_outage
from geo.triage import TriageTree, horn_order, ratio_key, triage_tree

EXHAUSTIVE_JOBS = 60  # up to this many repairs, local search tries every move and swap
IN_PROGRESS, ASSIGNED = "in_progress", "assigned"  # CrewJob.commitment of a committed job


class CommitmentError(ValueError):
    """Commitments the plan cannot keep; the message names the jobs or the crew and the reason."""


@dataclass(frozen=True)
class Commitment:
    """Work a crew already has: a damaged facility's repair under way (`in_progress`) or assigned to it.

    For a repair under way the network's repair_hours are its remaining hours and `started_hours_ago` says how
    long ago it began; an assigned repair has not started (0).
    """

    job: str
    crew: str
    in_progress: bool
    started_hours_ago: float = 0.0


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
class CrewJob:
    """One repair in a crew's sequence, in hours from now (a repair under way started in the past: negative).

    `commitment` is "in_progress" or "assigned" for a job kept from a Commitment, None for a planned one.
    """

    id: str
    start_hours: float
    finish_hours: float
    commitment: str | None = None


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
    """A k-crew repair plan with each facility's estimated time of restoration (ETR) and its KPIs."""

    crews: tuple[tuple[CrewJob, ...], ...]
    etr_hours: dict[str, float]
    kpis: Kpis
    quality: Quality
    exact: bool
    converged: bool
    notes: tuple[str, ...]
    naive_crews: tuple[tuple[CrewJob, ...], ...]  # the naive order (population served) list-scheduled
    naive_etr_hours: dict[str, float]
    crew_labels: tuple[str, ...]  # one per crew, aligned with `crews` and `naive_crews`


class Simulator:
    """Exact energisation hours of every outage node for given finish hours, level by level with numpy."""

    def __init__(self, outage: Outage, hours: Sequence[float]) -> None:
        self.hours = np.asarray(hours, dtype=float)
        self.job_node = np.asarray(outage.job_node, dtype=np.intp)
        self.size = len(outage.node_job)
        depth = [0] * self.size
        for node, ps in enumerate(outage.node_parents):
            depth[node] = 1 + max(depth[u] for u in ps) if ps else 0
        by_depth: list[list[int]] = [[] for _ in range(max(depth, default=0) + 1)]
        for node, d in enumerate(depth):
            by_depth[d].append(node)
        self.levels: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        for nodes in by_depth[1:]:
            single = [v for v in nodes if len(outage.node_parents[v]) == 1]
            multi = [v for v in nodes if len(outage.node_parents[v]) > 1]
            if single:
                par = [outage.node_parents[v][0] for v in single]
                self.levels.append((np.asarray(single, dtype=np.intp), np.asarray(par, dtype=np.intp), None))
            if multi:
                edges = [u for v in multi for u in outage.node_parents[v]]
                starts = np.cumsum([0] + [len(outage.node_parents[v]) for v in multi[:-1]])
                self.levels.append((np.asarray(multi, dtype=np.intp), np.asarray(edges, dtype=np.intp), starts))

    def finish(self, crews: Sequence[Sequence[int]]) -> np.ndarray:
        """Finish hour of every job when each crew works its sequence back to back from hour 0."""
        out = np.zeros(len(self.hours))
        for seq in crews:
            if seq:
                idx = np.asarray(seq, dtype=np.intp)
                out[idx] = np.cumsum(self.hours[idx])
        return out

    def energisation(self, finish: np.ndarray) -> np.ndarray:
        """Hour each node gets power: the latest repair on its best path, the best path being the earliest."""
        own = np.zeros(self.size)
        own[self.job_node] = finish
        e = own.copy()
        for nodes, par, starts in self.levels:
            upstream = e[par] if starts is None else np.minimum.reduceat(e[par], starts)
            e[nodes] = np.maximum(own[nodes], upstream)
        return e


def list_schedule(order: Iterable[int], hours: Sequence[float], crews: int, *,
                  prefix: Sequence[Sequence[int]] = ()) -> list[list[int]]:
    """Give each job, in order, to the crew that is free first (ties: lowest crew number).

    Crew c first works `prefix[c]` (its committed jobs, if any); jobs in a prefix are skipped in `order`.
    """
    seqs = [list(prefix[c]) if c < len(prefix) else [] for c in range(crews)]
    kept = {j for seq in seqs for j in seq}
    free = [(sum((hours[j] for j in seqs[c]), 0.0), c) for c in range(crews)]
    heapq.heapify(free)
    for j in order:
        if j in kept:
            continue
        t, c = heapq.heappop(free)
        seqs[c].append(j)
        heapq.heappush(free, (t + hours[j], c))
    return seqs


def _improve(
    seqs: list[list[int]], sim: Simulator, weight: np.ndarray, position: Sequence[int],
    deadline: Callable[[], bool] | None, fixed: Sequence[int] = (),
) -> tuple[float, bool]:
    """First-improvement local search (adjacent swaps, moves and swaps between crews); returns cost, converged.

    The first `fixed[c]` jobs of crew c (its commitments) never move, and nothing is put before them.
    """
    head = [fixed[c] if c < len(fixed) else 0 for c in range(len(seqs))]
    pinned = {j for c, seq in enumerate(seqs) for j in seq[:head[c]]}
    finish = sim.finish(seqs)
    best = float(weight @ sim.energisation(finish))
    crew_of = {j: c for c, seq in enumerate(seqs) for j in seq}
    exhaustive = len(crew_of) <= EXHAUSTIVE_JOBS
    improved = True
    while improved:
        improved = False
        for j in sorted(crew_of, key=position.__getitem__):
            if j in pinned:
                continue
            c = crew_of[j]
            i = seqs[c].index(j)
            candidates: list[tuple[str, int, int]] = [("swap", c, i + 1)] if i + 1 < len(seqs[c]) else []
            if exhaustive:  # small plans: every move and swap, anywhere
                for d, seq in enumerate(seqs):
                    candidates += [("move", d, q) for q in range(head[d], len(seq) + (d != c)) if (d, q) != (c, i)]
                    candidates += [("swap", d, q) for q in range(head[d], len(seq)) if (d, q) != (c, i)]
            for d in range(len(seqs)):
                if d != c and not exhaustive:
                    start = finish[j] - sim.hours[j]
                    seq = seqs[d]
                    at = next((q for q in range(head[d], len(seq)) if finish[seq[q]] - sim.hours[seq[q]] >= start),
                              len(seq))
                    by_rank = next((q for q in range(head[d], len(seq)) if position[seq[q]] > position[j]), len(seq))
                    candidates += [("move", d, q) for q in sorted({at, by_rank})]
                    candidates += [("swap", d, q) for q in sorted({at, by_rank}) if q < len(seqs[d])]
            for kind, d, q in candidates:
                if deadline is not None and deadline():
                    return best, False
                before = ([*seqs[c]], [*seqs[d]])
                if kind == "move":
                    seqs[c].pop(i)
                    seqs[d].insert(q, j)
                else:
                    seqs[c][i], seqs[d][q] = seqs[d][q], seqs[c][i]
                trial = sim.finish(seqs)
                cost = float(weight @ sim.energisation(trial))
                if cost < best - 1e-9 * max(1.0, abs(best)):
                    best, finish, improved = cost, trial, True
                    crew_of.update({x: c for x in seqs[c]} | {x: d for x in seqs[d]})
                    break
                seqs[c], seqs[d] = before
    return best, True


def lower_bound(tree: TriageTree, *, crews: int, weighted: bool = True) -> float:
    """A lower bound on the cost of every k-crew plan: the largest of three valid bounds.

    Relaxation: a facility needs at least its damaged dominators (those on every path to it) repaired, so its
    power comes no earlier than their latest finish; on a radial network that is its whole damaged path.
    (1) Fast machine: order a k-crew plan's jobs by finish hour on one crew k times faster; each job finishes
    no later (the jobs finishing by hour t hold at most k*t hours of work), so cost >= Horn's optimum / k.
    (2) Eastman-Even-Isaacs (1964): power comes no earlier than the dominator's own finish, and for
    independent jobs on k machines sum w*C >= WSPT(p/k) + (k-1)/(2k) * sum w*p.
    (3) Paths: a facility waits at least for the longest single repair on its best path and at least for the
    path's total repair-hours shared by k crews.
    """
    outage = tree.outage
    node_w = np.asarray(outage.node_weight if weighted else outage.node_people, dtype=float)
    parent, w = dominated_weight(tree, weighted=weighted)
    m = len(outage.jobs)
    n_nodes = len(outage.node_job)
    p = tree.hours
    order, _ = horn_order(parent, w, p, list(range(m)))
    fast = _sequence_cost(order, w, p) / crews
    wspt = sorted(range(m), key=lambda j: (-ratio_key(w[j], p[j]), j))
    eei = _sequence_cost(wspt, w, p) / crews + (crews - 1) / (2 * crews) * sum(w[j] * p[j] for j in range(m))
    sim = Simulator(outage, p)
    longest = sim.energisation(np.asarray(p, dtype=float))
    total = np.zeros(n_nodes)
    for node, ps in enumerate(outage.node_parents):
        j = outage.node_job[node]
        total[node] = min((total[u] for u in ps), default=0.0) + (p[j] if j >= 0 else 0.0)
    paths = float(node_w @ np.maximum(longest, total / crews))
    return max(fast, eei, paths)


def dominated_weight(tree: TriageTree, *, weighted: bool = True) -> tuple[list[int], list[float]]:
    """Per job, its nearest damaged dominator job (-1: none) and the weight of the nodes whose nearest damaged
    dominator it is: those nodes get power no earlier than it is repaired."""
    outage = tree.outage
    node_w = np.asarray(outage.node_weight if weighted else outage.node_people, dtype=float)
    n_nodes = len(outage.node_job)
    idom = [-1] * n_nodes
    depth = [0] * n_nodes
    for node, ps in enumerate(outage.node_parents):
        if not ps:
            continue
        a = ps[0]
        for b in ps[1:]:  # meet of the parents in the dominator tree
            while a != b and a >= 0 and b >= 0:
                a, b = (idom[a], b) if depth[a] >= depth[b] else (a, idom[b])
            a = a if a == b else -1
        idom[node] = a
        depth[node] = depth[a] + 1 if a >= 0 else 0
    nearest = [-1] * n_nodes
    for node in range(n_nodes):
        j = outage.node_job[node]
        nearest[node] = j if j >= 0 else (nearest[idom[node]] if idom[node] >= 0 else -1)
    m = len(outage.jobs)
    parent = [nearest[idom[outage.job_node[j]]] if idom[outage.job_node[j]] >= 0 else -1 for j in range(m)]
    w = [0.0] * m
    for node in range(n_nodes):
        if nearest[node] >= 0:
            w[nearest[node]] += float(node_w[node])
    return parent, w


def _sequence_cost(order: Sequence[int], weight: Sequence[float], hours: Sequence[float]) -> float:
    t = cost = 0.0
    for j in order:
        t += hours[j]
        cost += weight[j] * t
    return cost


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
    labels, heads = _crew_slots(network, kept, crews)
    k = len(labels)
    tree = triage_tree(network, critical_sites=critical_sites)
    outage = tree.outage
    ids = [network.facilities[v].id for v in outage.jobs]
    job_of = {fid: j for j, fid in enumerate(ids)}
    prefix = [[job_of[c.job] for c in head] for head in heads]
    committed = {job_of[c.job]: c for c in kept}
    sim = Simulator(outage, tree.hours)
    weight = np.asarray(outage.node_weight, dtype=float)
    people = np.asarray(outage.node_people, dtype=float)
    naive_order = sorted(range(len(ids)), key=lambda j: (-tree.served[j], ids[j]))
    naive = list_schedule(naive_order, tree.hours, k, prefix=prefix)
    naive_finish = sim.finish(naive)
    naive_e = sim.energisation(naive_finish)
    naive_crews = _crew_jobs(naive, naive_finish, tree.hours, ids, committed)  # before local search reuses `naive`
    candidates = [list_schedule(tree.order, tree.hours, k, prefix=prefix), naive]
    seqs = min(candidates, key=lambda s: float(weight @ sim.energisation(sim.finish(s))))
    # Horn's order is optimal for one crew on a radial network only when nothing is committed; with commitments
    # the list schedules keep them at the head and local search improves the rest, so the plan is not exact.
    exact = k == 1 and network.radial and not kept
    converged = True
    if not exact:
        position = [0] * len(ids)
        for rank_index, j in enumerate(tree.order):
            position[j] = rank_index
        _, converged = _improve(seqs, sim, weight, position, deadline, [len(p) for p in prefix])
    finish = sim.finish(seqs)
    e = sim.energisation(finish)
    crew_plans = _crew_jobs(seqs, finish, tree.hours, ids, committed)
    notes = []
    if not network.radial:
        notes.append(explain.MESHED_NOTE)
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
    quality = Quality(
        objective=float(weight @ e), naive_objective=float(weight @ naive_e),
        objective_lower_bound=lower_bound(tree, crews=k, weighted=True),
        phu=float(people @ e), naive_phu=float(people @ naive_e),
        phu_lower_bound=lower_bound(tree, crews=k, weighted=False),
    )
    if quality.phu > quality.naive_phu + 1e-9 * max(1.0, quality.naive_phu):
        notes.append(explain.critical_sites_note(objective=quality.objective, naive_objective=quality.naive_objective,
                                                 phu=quality.phu, naive_phu=quality.naive_phu))
    return Plan(
        crews=crew_plans,
        etr_hours={ids[j]: float(e[outage.job_node[j]]) for j in range(len(ids))},
        kpis=kpis_of(e, people, persons_per_customer),
        quality=quality,
        exact=exact,
        converged=converged,
        notes=tuple(notes),
        naive_crews=naive_crews,
        naive_etr_hours={ids[j]: float(naive_e[outage.job_node[j]]) for j in range(len(ids))},
        crew_labels=labels,
    )


def _crew_slots(network: Network, commitments: Sequence[Commitment],
                crews: int) -> tuple[tuple[str, ...], list[list[Commitment]]]:
    """Crew labels (committed crews first, in order of first appearance) and each crew's committed jobs in order.

    Raises CommitmentError for a job that is not a damaged facility, a job committed twice, a crew with two
    repairs under way (a crew works one repair at a time) or a bad label or start.
    """
    seen: dict[str, int] = {}
    for c in commitments:
        seen[c.job] = seen.get(c.job, 0) + 1
    twice = [job for job, n in seen.items() if n > 1]
    if twice:
        raise CommitmentError(f"committed more than once: {_listed(twice)}")
    unknown = [c.job for c in commitments if c.job not in network.index]
    undamaged = [c.job for c in commitments
                 if c.job in network.index and not network.facilities[network.index[c.job]].damaged]
    if unknown or undamaged:
        which = ([f"unknown {_listed(unknown)}"] if unknown else []) + (
            [f"not damaged {_listed(undamaged)}"] if undamaged else [])
        raise CommitmentError(f"commitments must name damaged facilities: {'; '.join(which)}")
    heads: dict[str, list[Commitment]] = {}
    for c in commitments:
        if not c.crew.strip():
            raise CommitmentError(f"commitment of {c.job!r}: the crew label is empty")
        if not (math.isfinite(c.started_hours_ago) and c.started_hours_ago >= 0):
            raise CommitmentError(f"commitment of {c.job!r}: started_hours_ago must be a number >= 0, "
                                  f"got {c.started_hours_ago!r}")
        if not c.in_progress and c.started_hours_ago != 0:
            raise CommitmentError(f"commitment of {c.job!r}: assigned, not started, but started_hours_ago is "
                                  f"{c.started_hours_ago!r}")
        heads.setdefault(c.crew, []).append(c)
    for crew, head in heads.items():
        under_way = [c.job for c in head if c.in_progress]
        if len(under_way) > 1:
            raise CommitmentError(f"crew {crew!r} has {len(under_way)} repairs in progress ({_listed(under_way)}); "
                                  "a crew works one repair at a time")
        head.sort(key=lambda c: not c.in_progress)  # stable: the repair under way, then the assigned ones in order
    labels = list(heads)
    n = 0
    while len(labels) < crews:
        n += 1
        if f"Crew {n}" not in heads:  # the plan's own name for a crew it was not given one for
            labels.append(explain.crew_label(n))
    return tuple(labels), [heads.get(label, []) for label in labels]


def _listed(jobs: Collection[str]) -> str:
    return ", ".join(repr(j) for j in jobs)


def _crew_jobs(seqs: Sequence[Sequence[int]], finish: np.ndarray, hours: Sequence[float], ids: Sequence[str],
               committed: Mapping[int, Commitment]) -> tuple[tuple[CrewJob, ...], ...]:
    """Each crew's sequence with start and finish hours; a repair under way started `started_hours_ago` ago."""
    def job(j: int) -> CrewJob:
        c = committed.get(j)
        if c is None:
            return CrewJob(ids[j], float(finish[j] - hours[j]), float(finish[j]))
        start = 0.0 - c.started_hours_ago if c.in_progress else float(finish[j] - hours[j])
        return CrewJob(ids[j], start, float(finish[j]), IN_PROGRESS if c.in_progress else ASSIGNED)

    return tuple(tuple(job(j) for j in seq) for seq in seqs)


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

    A damaged facility's area gets power at its ETR; an undamaged one's when its earliest-fed parent has power
    (meshed networks), by the same energisation the planner simulates. Damaged facilities missing from
    `etr_hours` count as repaired at hour 0.
    """
    outage = build_outage(network, [0.0] * len(network.facilities))
    own = [float(etr_hours.get(network.facilities[v].id, 0.0)) for v in outage.jobs]
    node_hours = Simulator(outage, own).energisation(np.asarray(own, dtype=float)).tolist()
    return {f.id: node_hours[node] if node >= 0 else 0.0
            for f, node in zip(network.facilities, outage.facility_node, strict=True)}


if __name__ == "__main__":  # `python -m geo.plan`: the command line lives in geo.plan_cli
    import sys

    from geo.plan_cli import main

    sys.exit(main())
