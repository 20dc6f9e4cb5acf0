"""The repair ranking for one crew: exactly optimal on radial networks, explained facility by facility.

Public API:
    rank(network, *, critical_sites=(), last=()) -> list[Ranked]  the ranked repair queue with figures and reasons
    ranked_rows(network, *, critical_sites=(), english=False) -> rows   the same queue as tuples (the CLI's)
    triage_tree(network, *, critical_sites=()) -> TriageTree the contracted job tree and its one-crew order
    horn_order(parent, weight, hours, tie) -> (order, blocks)  Horn's algorithm on any out-forest

The objective is people-hours without power weighted by critical sites: each damaged facility (a job) carries
the people-equivalents that get power exactly when it is the last damaged facility on their path to be
repaired. On a radial network this is single-machine scheduling with out-tree precedence minimising weighted
completion time, which Horn's algorithm (1972) solves exactly: repeatedly take the block with the highest
people-equivalents per repair-hour and append it to its parent block. A crew may physically repair a
facility before its upstream one, but with one crew that never helps (doing jobs in order of the time their
people get power is never worse), so the optimal precedence-respecting order is optimal outright.
On a meshed network the same algorithm runs on a spanning tree (each junction keeps the feed with the fewest
repair-hours to power), so the ranking is a heuristic there; `TriageTree.exact` says which. What each repair
restores (gain_now alone, gain_with_blockers with its chain) is exact there too, over the undirected network
(geo.mesh_restore): a repair that brings a dark ring back from its other side counts those people; and each job's
weight, which its sentence says and Horn orders by, is what it restores exactly in the ranked order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from geo import explain, mesh_restore
from geo.message import DeferredText, Text
from geo.network import (
    CriticalSite,
    Network,
    Outage,
    build_outage,
    population_served,
    weight_array,
    without_gc_pauses,
)


@dataclass(frozen=True)
class Ranked:
    """One damaged facility in the repair queue, with the figures a coordinator can check by hand."""

    rank: int
    id: str
    repair_hours: float
    ratio: float
    gain_now: float
    gain_with_blockers: float
    population_served: float
    blocked_by: tuple[str, ...]
    block: tuple[str, ...]
    explanation: str


@dataclass(frozen=True, eq=False)
class TriageTree:
    """Damaged facilities as jobs on a feed tree, with their weights and the one-crew order (Horn)."""

    network: Network
    outage: Outage
    parent: tuple[int, ...]
    weight: tuple[float, ...]
    people: tuple[float, ...]
    hours: tuple[float, ...]
    served: tuple[float, ...]
    order: tuple[int, ...]
    blocks: tuple[tuple[int, int, float, float], ...]
    exact: bool
    tie: tuple[int, ...] = ()  # per job, its place among the jobs by id (Horn's and the naive order's ties)
    ordered_for: tuple[object, ...] = field(default=(), repr=False)  # the (parent, weight, hours) of `order`

    @property
    def horn_ordered(self) -> bool:
        """Whether `order` is Horn's order of this tree's own parent, weight and hours (not so for a copy with
        other hours, such as geo.dispatch_bound's), so that what depends on them may be reused."""
        return len(self.ordered_for) == 3 and all(
            a is b for a, b in zip(self.ordered_for, (self.parent, self.weight, self.hours), strict=True))


def ratio_key(weight: float, hours: float) -> float:
    """People-equivalents per repair-hour; zero hours count as infinitely urgent, never divide by zero."""
    return weight / hours if hours > 0 else math.inf


def horn_order(
    parent: Sequence[int], weight: Sequence[float], hours: Sequence[float], tie: Sequence[int]
) -> tuple[list[int], list[tuple[int, int, float, float]]]:
    """One-crew order minimising sum of weight x completion on an out-forest (parent -1: none), in O(n log n).

    Returns the order and its blocks as (start, end, weight, hours) slices of the order, ratios non-increasing.
    Ties between equal ratios go to the block whose head has the smaller `tie` value.
    """
    n = len(parent)
    w = list(weight)
    p = list(hours)
    nxt = [-1] * n
    tail = list(range(n))
    owner = list(range(n))
    version = [0] * n
    done = [False] * n
    # Every block starts as one job: those entries are sorted once (key: minus the ratio, then tie), and only
    # merged blocks go on a heap; each step takes the smaller of the two fronts, as one heap of all would.
    hours_a = np.asarray(p, dtype=float)
    ratio = np.divide(np.asarray(w, dtype=float), hours_a, out=np.full(n, np.inf), where=hours_a > 0)
    key = (-ratio).tolist()
    tie_at = list(tie)
    initial = np.lexsort((np.asarray(tie_at, dtype=np.intp), -ratio)).tolist() if n else []
    heap: list[tuple[float, int, int, int]] = []
    order: list[int] = []
    blocks: list[tuple[int, int, float, float]] = []

    def find(j: int) -> int:
        root = j
        while owner[root] != root:
            root = owner[root]
        while owner[j] != root:  # path compression keeps find near O(1)
            owner[j], j = root, owner[j]
        return root

    i = 0
    while i < n or heap:
        if heap and (i >= n or heap[0][0] < key[initial[i]]
                     or (heap[0][0] == key[initial[i]] and heap[0][1] < tie_at[initial[i]])):
            _, _, ver, b = heapq.heappop(heap)
            if ver != version[b] or owner[b] != b or done[b]:
                continue
        else:
            b = initial[i]
            i += 1
            if version[b] or owner[b] != b or done[b]:
                continue
        up = find(parent[b]) if parent[b] >= 0 else -1
        if up < 0 or done[up]:
            start = len(order)
            j = b
            while j >= 0:
                order.append(j)
                j = nxt[j]
            blocks.append((start, len(order), w[b], p[b]))
            done[b] = True
            continue
        nxt[tail[up]] = b  # linked-list concatenation: the parent block, then this block
        tail[up] = tail[b]
        w[up] += w[b]
        p[up] += p[b]
        owner[b] = up
        version[up] += 1
        heapq.heappush(heap, (-ratio_key(w[up], p[up]), tie_at[up], version[up], up))
    return order, blocks


def triage_tree(network: Network, *, critical_sites: Iterable[CriticalSite] = ()) -> TriageTree:
    """Contract the outage to a job tree (a shortest-repair spanning tree when meshed) and order it.

    The tree is kept in the network's memo per set of critical sites: the ranking and the plan of one network
    (the command line, /api/plan) then build it once.
    """
    sites = tuple(critical_sites)
    key = ("triage_tree", sites)
    tree = network.memo.get(key)
    if tree is None:
        tree = network.memo[key] = _triage_tree(network, sites)
    return tree


def _triage_tree(network: Network, critical_sites: Sequence[CriticalSite]) -> TriageTree:
    weights = weight_array(network, critical_sites)
    outage = build_outage(network, weights)
    hours = tuple(network.arrays.hours[list(outage.jobs)].tolist())
    if network.radial:  # every outage node is a job and its parent node is its parent job
        parent = [ps[0] if ps else -1 for ps in outage.node_parents]
        weight, people = list(outage.node_weight), list(outage.node_people)
    else:
        parent, weight, people = _spanning_tree(outage, hours)
    all_ids = network.arrays.ids
    ids = [all_ids[v] for v in outage.jobs]
    m = len(outage.jobs)
    tie = [0] * m
    if m and "\0" not in "".join(ids):  # numpy's text sort is str's order, but it drops trailing NULs
        by_id = np.argsort(np.array(ids, dtype=str), kind="stable").tolist()
    else:
        by_id = sorted(range(m), key=ids.__getitem__)
    for position, j in enumerate(by_id):
        tie[j] = position
    order, blocks = horn_order(parent, weight, hours, tie)
    if not network.radial and m:
        # The spanning tree's weights miss power fed round a ring the other way. Each job weighs instead what its
        # repair restores exactly when the jobs are done in the tree's order (geo.mesh_restore), and Horn's order
        # is made again on those weights, until it stands (at most three rounds).
        exact = mesh_restore.restoration(network, weights, outage.jobs)
        # First round: what each job restores exactly once its tree ancestors are repaired (so that a ring's
        # other side counts); `chain`: a job's tree ancestors as facility positions.
        jobs = outage.jobs
        chain: dict[int, list[int]] = {}
        for j in order:
            chain[j] = [*chain[parent[j]], jobs[parent[j]]] if parent[j] >= 0 else []
        weight = [exact.restored_weight([*chain[j], jobs[j]]) - exact.restored_weight(chain[j]) for j in range(m)]
        order, blocks = horn_order(parent, weight, hours, tie)
        for _ in range(3):
            weight, people = exact.attributed(order)
            again, blocks = horn_order(parent, weight, hours, tie)
            if again == order:
                break
            order = again
    if network.radial:  # everything below a damaged facility joins a damaged facility of its subtree
        served = list(people)
        for j in reversed(order):
            if parent[j] >= 0:
                served[parent[j]] += served[j]
    else:
        by_facility = population_served(network, outage.jobs)
        served = [by_facility[v] for v in outage.jobs]
    parent_t, weight_t = tuple(parent), tuple(weight)
    return TriageTree(
        network=network, outage=outage, parent=parent_t, weight=weight_t, people=tuple(people),
        hours=hours, served=tuple(served), order=tuple(order), blocks=tuple(blocks), exact=network.radial,
        tie=tuple(tie), ordered_for=(parent_t, weight_t, hours),
    )


def _spanning_tree(outage: Outage, hours: Sequence[float]) -> tuple[list[int], list[float], list[float]]:
    """Job tree of a meshed outage: each junction keeps the feed with the fewest repair-hours to power."""
    n_nodes = len(outage.node_job)
    dist = [0.0] * n_nodes
    chosen = [-1] * n_nodes
    nearest = [-1] * n_nodes
    for node in range(n_nodes):
        ps = outage.node_parents[node]
        if ps:
            chosen[node] = min(ps, key=lambda u: (dist[u], u))
            dist[node] = dist[chosen[node]]
        j = outage.node_job[node]
        if j >= 0:
            dist[node] += hours[j]
        nearest[node] = j if j >= 0 else nearest[chosen[node]]
    m = len(outage.jobs)
    parent = [nearest[chosen[outage.job_node[j]]] if chosen[outage.job_node[j]] >= 0 else -1 for j in range(m)]
    weight = [0.0] * m
    people = [0.0] * m
    for node in range(n_nodes):
        weight[nearest[node]] += outage.node_weight[node]
        people[nearest[node]] += outage.node_people[node]
    return parent, weight, people


RankedRow = tuple[int, str, float, float, float, float, float, tuple[str, ...], tuple[str, ...], str]
"""A Ranked's fields in order, as `ranked_rows` gives them."""


@without_gc_pauses
def rank(network: Network, *, critical_sites: Iterable[CriticalSite] = (),
         last: Collection[str] = ()) -> list[Ranked]:
    """Rank the damaged facilities for one crew, each with its figures and a one-sentence explanation.

    Facilities in `last` (damaged but supplying everyone: their repair restores nobody now) come after every
    other, in their own group, in the order Horn gives them. Their jobs weigh nothing, so moving them after the
    others never makes the one-crew order worse: the ranking stays optimal where it was."""
    ranked = [Ranked(*row) for row in ranked_rows(network, critical_sites=critical_sites)]
    if last:
        ordered = [r for r in ranked if r.id not in last] + [r for r in ranked if r.id in last]
        ranked = [replace(r, rank=position) for position, r in enumerate(ordered, start=1)]
    return ranked


def ranked_rows(network: Network, *, critical_sites: Iterable[CriticalSite] = (),
                english: bool = False) -> list[RankedRow]:
    """`ranked_columns` as rows of Ranked's fields."""
    return list(zip(*ranked_columns(network, critical_sites=critical_sites, english=english), strict=True))


@without_gc_pauses
def ranked_columns(network: Network, *, critical_sites: Iterable[CriticalSite] = (),
                   english: bool = False) -> tuple[Sequence[Any], ...]:
    """`rank`'s queue (without `last`) as columns of Ranked's fields, in rank order. The sentences are written
    in English column-wise (explain.english_sentences); with `english` they stay plain strings (a writer that says
    nothing else), else they are Texts the app can say in another language, whose message ids and parameters are made
    for the whole ranking when the first one is asked for (an English answer never needs them)."""
    tree = triage_tree(network, critical_sites=tuple(critical_sites))
    jobs = tree.outage.jobs
    all_ids = network.arrays.ids
    ids = [all_ids[v] for v in jobs]
    parent, people, hours, weight, order = tree.parent, tree.people, tree.hours, tree.weight, tree.order
    m = len(jobs)
    chain: list[tuple[int, ...]] = [()] * m
    chain_ids: list[tuple[str, ...]] = [()] * m
    upstream_people = [0.0] * m
    for j in order:  # Horn's order puts every job after its tree ancestors
        up = parent[j]
        if up >= 0:
            chain[j] = (*chain[up], up)
            chain_ids[j] = (*chain_ids[up], ids[up])
            upstream_people[j] = upstream_people[up] + people[up]
    units = [w > (people[order[start]] if end - start == 1 else sum(people[a] for a in order[start:end]))
             for start, end, w, _ in tree.blocks]
    sentences: list[str] = explain.english_sentences(ids, hours, weight, order, tree.blocks, chain, chain_ids,
                                                     units, exact=tree.exact)
    if not english:  # Texts, their ids and parameters made for the whole ranking on the first one asked for
        texts: list[list[Text]] = []

        def made(position: int) -> Text:
            if not texts:
                texts.append(_texts(tree, ids, chain, units))
            return texts[0][position]

        sentences = [DeferredText(sentence, made, position) for position, sentence in enumerate(sentences)]
    return _columns(network, tree, ids, chain, chain_ids, upstream_people, sentences)


def _columns(network: Network, tree: TriageTree, ids: Sequence[str], chain: Sequence[tuple[int, ...]],
             chain_ids: Sequence[tuple[str, ...]], upstream_people: Sequence[float],
             sentences: Sequence[str]) -> tuple[Sequence[Any], ...]:
    """The ranking's fields as columns in rank order (Ranked's field order)."""
    order, blocks, people = tree.order, tree.blocks, tree.people
    m = len(order)
    sizes = [end - start for start, end, _, _ in blocks]
    ratio = np.repeat(np.asarray([ratio_key(w, p) for _, _, w, p in blocks], dtype=float), sizes).tolist()
    names: list[tuple[str, ...]] = []
    for start, end, _, _ in blocks:
        if end - start == 1:
            names.append((ids[order[start]],))
        else:
            block = tuple([ids[a] for a in order[start:end]])
            names += [block] * (end - start)
    if network.radial:
        at = np.asarray(order, dtype=np.intp)
        own = np.asarray(people, dtype=float)[at]
        gain_all = (own + np.asarray(upstream_people, dtype=float)[at]).tolist()
        gain_now = np.where(np.asarray(tree.parent, dtype=np.intp)[at] >= 0, 0.0, own).tolist()
    else:  # meshed: exact over the undirected network (geo.mesh_restore), whatever the spanning tree says
        jobs = tree.outage.jobs
        exact = mesh_restore.restoration(network, network.arrays.population, jobs)
        gain_now, gain_all = [], []
        for j in order:
            fixed = [jobs[a] for a in (j, *chain[j])]
            gain_now.append(exact.restored(fixed[:1]))
            gain_all.append(exact.restored(fixed))
    return (range(1, m + 1), [ids[j] for j in order], [tree.hours[j] for j in order], ratio, gain_now, gain_all,
            [tree.served[j] for j in order], [chain_ids[j] for j in order], names, sentences)


def _texts(tree: TriageTree, ids: Sequence[str], chain: Sequence[tuple[int, ...]],
           units: Sequence[bool]) -> list[Text]:
    """Every job's explanation as a Text, in rank order."""
    order = tree.order
    rates = [explain.rate(w, p) for _, _, w, p in tree.blocks]
    summaries = [explain.block_summary(w, p, rate) for (_, _, w, p), rate in zip(tree.blocks, rates, strict=True)]
    texts = [explain.block_text([ids[a] for a in order[start:end]], summaries[b])
             for b, (start, end, _, _) in enumerate(tree.blocks)]
    first = ids[order[0]] if order else ""
    out: list[Text] = []
    for b, (start, end, _, _) in enumerate(tree.blocks):
        members = order[start:end]
        context = explain.BlockContext(
            members=members, member_set=set(members), names=tuple(ids[a] for a in members),
            unit=explain.CRITICAL_SITES_UNIT if units[b] else "",
            summary=summaries[b], rate=rates[b], why=explain.why(texts, b, first, exact=tree.exact),
        )
        out += [explain.explain(ids, tree.hours, tree.weight, j, context, chain[j]) for j in members]
    return out
