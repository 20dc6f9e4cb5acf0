"""A proven lower bound on the cost of every k-crew repair plan, and the dominator weights it rests on.

Public API:
    lower_bound(tree, *, crews, weighted=True) -> float     the largest of three valid bounds (below)
    dominated_weight(tree, *, weighted=True) -> (parent, w)  per job its nearest damaged dominator and weight
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geo.plan_simulator import simulator
from geo.triage import TriageTree, horn_order


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
    On a radial network the dominator tree is the triage tree itself, so Horn's optimum of (1) is the triage
    order's cost (with plain people, when they are the weights: no critical sites); it is computed once.
    """
    outage = tree.outage
    node_w = np.asarray(outage.node_weight if weighted else outage.node_people, dtype=float)
    parent, w = dominated_weight(tree, weighted=weighted)
    p = np.asarray(tree.hours, dtype=float)
    weights = np.asarray(w, dtype=float)
    if tree.exact and tree.horn_ordered and (weighted or tree.people == tree.weight):
        order: Sequence[int] = tree.order  # Horn's order of this very tree, weights and ties
    else:
        order, _ = horn_order(parent, w, tree.hours, range(len(w)))
    fast = sequence_cost(order, weights, p) / crews
    ratio = np.divide(weights, p, out=np.full(len(p), np.inf), where=p > 0)
    wspt = np.argsort(-ratio, kind="stable")
    eei = sequence_cost(wspt, weights, p) / crews + (crews - 1) / (2 * crews) * _sum(weights * p)
    sim = simulator(tree)
    longest = sim.energisation(p)
    paths = float(node_w @ np.maximum(longest, sim.path_hours() / crews))
    return max(fast, eei, paths)


def dominated_weight(tree: TriageTree, *, weighted: bool = True) -> tuple[list[int], list[float]]:
    """Per job, its nearest damaged dominator job (-1: none) and the weight of the nodes whose nearest damaged
    dominator it is: those nodes get power no earlier than it is repaired."""
    outage = tree.outage
    if tree.exact:  # radial: every node is a job, its dominator its parent, its weight its own
        return list(tree.parent), list(outage.node_weight if weighted else outage.node_people)
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


def sequence_cost(order: Sequence[int] | np.ndarray, weight: np.ndarray, hours: np.ndarray) -> float:
    """Sum of weight x completion hour of jobs done one after the other in `order` (added up in that order)."""
    idx = np.asarray(order, dtype=np.intp)
    return _sum(weight[idx] * np.cumsum(hours[idx]))


def _sum(values: np.ndarray) -> float:
    """The sum of values added one after the other, as a loop would (numpy's sum adds pairwise)."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0
