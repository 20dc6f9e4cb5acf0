"""The planner's simulation: exact energisation hours of an outage for given finish hours, and list schedules.

Public API:
    Simulator(outage, hours)            finish(crews) -> finish hour per job; energisation(finish) -> per node
    simulator(tree) -> Simulator        the one Simulator of a triage tree's outage and repair hours (memoised)
    ExactSimulator(sim, exact)          the same finish hours, energisation exact on a meshed network
    list_schedule(order, hours, crews, *, prefix=()) -> seqs   each job in order to the crew free first
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

import numpy as np

from geo.mesh_restore import Restoration
from geo.network import Outage
from geo.triage import TriageTree

Level = tuple[np.ndarray, np.ndarray, np.ndarray | None]


class Simulator:
    """Exact energisation hours of every outage node for given finish hours, level by level with numpy."""

    def __init__(self, outage: Outage, hours: Sequence[float]) -> None:
        self.hours = np.asarray(hours, dtype=float)
        self.job_node = np.asarray(outage.job_node, dtype=np.intp)
        self.size = len(outage.node_job)
        self.levels: list[Level] = (_radial_levels(outage) if all(len(ps) <= 1 for ps in outage.node_parents)
                                    else _levels(outage))

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

    def path_hours(self) -> np.ndarray:
        """Per node, the fewest repair-hours on any path from power to it (its own repair included)."""
        total = np.zeros(self.size)
        total[self.job_node] = self.hours
        own = total.copy()
        for nodes, par, starts in self.levels:
            upstream = total[par] if starts is None else np.minimum.reduceat(total[par], starts)
            total[nodes] = upstream + own[nodes]
        return total


class ExactSimulator(Simulator):
    """A Simulator whose energisation is exact over the undirected network (geo.mesh_restore): its hours are per
    Restoration node, not per outage node; finish hours and repair hours are the directed simulator's."""

    def __init__(self, sim: Simulator, exact: Restoration) -> None:
        self.hours, self.job_node, self.size, self.levels = sim.hours, sim.job_node, sim.size, sim.levels
        self.exact = exact

    def energisation(self, finish: np.ndarray) -> np.ndarray:
        return self.exact.energisation(finish)


def simulator(tree: TriageTree) -> Simulator:
    """The Simulator of a triage tree's outage with its repair hours, made once per tree (network memo; a copy
    of the tree with other hours gets a Simulator of its own, not kept)."""
    if not tree.horn_ordered:
        return Simulator(tree.outage, tree.hours)
    key = ("simulator", tree.outage)
    sim = tree.network.memo.get(key)
    if sim is None:
        sim = tree.network.memo[key] = Simulator(tree.outage, tree.hours)
    assert isinstance(sim, Simulator)
    return sim


def _radial_levels(outage: Outage) -> list[Level]:
    """Levels of an outage whose nodes have at most one parent: nodes by depth (pointer jumping), with parents."""
    parent = np.fromiter((ps[0] if ps else -1 for ps in outage.node_parents), dtype=np.intp,
                         count=len(outage.node_parents))
    depth = (parent >= 0).astype(np.intp)
    jump = parent.copy()
    live = np.flatnonzero(jump >= 0)
    while len(live):
        up = jump[live]
        depth[live] += depth[up]
        jump[live] = jump[up]
        live = live[jump[live] >= 0]
    by_depth = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[by_depth], np.arange(1, int(depth.max(initial=0)) + 2))
    return [(by_depth[a:b], parent[by_depth[a:b]], None) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(),
                                                                          strict=True)]


def _levels(outage: Outage) -> list[Level]:
    """Levels of any outage: by depth, nodes with one parent apart from junctions (minimum over their feeds)."""
    depth = [0] * len(outage.node_job)
    for node, ps in enumerate(outage.node_parents):
        depth[node] = 1 + max(depth[u] for u in ps) if ps else 0
    by_depth: list[list[int]] = [[] for _ in range(max(depth, default=0) + 1)]
    for node, d in enumerate(depth):
        by_depth[d].append(node)
    levels: list[Level] = []
    for nodes in by_depth[1:]:
        single = [v for v in nodes if len(outage.node_parents[v]) == 1]
        multi = [v for v in nodes if len(outage.node_parents[v]) > 1]
        if single:
            par = [outage.node_parents[v][0] for v in single]
            levels.append((np.asarray(single, dtype=np.intp), np.asarray(par, dtype=np.intp), None))
        if multi:
            edges = [u for v in multi for u in outage.node_parents[v]]
            starts = np.cumsum([0] + [len(outage.node_parents[v]) for v in multi[:-1]])
            levels.append((np.asarray(multi, dtype=np.intp), np.asarray(edges, dtype=np.intp), starts))
    return levels


def list_schedule(order: Iterable[int], hours: Sequence[float], crews: int, *,
                  prefix: Sequence[Sequence[int]] = ()) -> list[list[int]]:
    """Give each job, in order, to the crew that is free first (ties: lowest crew number).

    Crew c first works `prefix[c]` (its committed jobs, if any); jobs in a prefix are skipped in `order`.
    """
    seqs = [list(prefix[c]) if c < len(prefix) else [] for c in range(crews)]
    kept = {j for seq in seqs for j in seq}
    if crews == 1:
        seqs[0].extend(j for j in order if j not in kept)
        return seqs
    free = [(sum((hours[j] for j in seqs[c]), 0.0), c) for c in range(crews)]
    heapq.heapify(free)
    replace = heapq.heapreplace
    appends = [seq.append for seq in seqs]
    for j in order:
        if kept and j in kept:
            continue
        t, c = free[0]
        appends[c](j)
        replace(free, (t + hours[j], c))
    return seqs
