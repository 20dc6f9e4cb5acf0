"""What repairs restore on a meshed network, exactly: union-find over a small contracted graph.

Public API:
    Restoration(network, weights, jobs)        the dark part contracted: node 0 energised, dark components, jobs
    restoration(network, weights, jobs)        the same, kept in the network's memo
    Restoration.energisation(finish) -> hours  each node's exact hour of power for the jobs' finish hours
    Restoration.restored(facilities) -> people who get power if these damaged facilities alone are repaired now
    Restoration.path_hours(hours) -> hours     each node's fewest repair-hours on a path from power (for bounds)
    Restoration.attributed(order) -> (weight, people)   per job, what it restores exactly in that order
    greedy_order(exact, hours, position) -> order   jobs by exact weight restored per repair-hour, given those before

The nodes: the energised part as one node, each dark component of facilities that carry power as one node (its
summed people and weight), each damaged facility as one node, joined where feed links (either way) join their
facilities; repairs in finish order only add nodes, so each node's hour is the finish at which its set first
joins the energised node: the exact "earliest hour some path has all its damage repaired", in O(damaged x
alpha) after a sort. The network is the engine's (geo.mesh.orient's links, live supply nodes): its parents are
read as undirected links.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

import numpy as np

from geo.network import Network

GREEDY_JOBS = 400  # up to this many repairs the greedy order re-counts every repair's gain after each pick


class Restoration:
    """The dark part of a network contracted: node 0 the energised part, then each dark component of undamaged
    facilities, then each damaged facility (a job, in the order given); with each node's people and weight."""

    def __init__(self, network: Network, weights: np.ndarray, jobs: Sequence[int]) -> None:
        from scipy.sparse import coo_matrix  # only meshed networks come here: radial runs skip scipy's import
        from scipy.sparse.csgraph import connected_components

        n = len(network.arrays.ids)
        damaged = network.arrays.damaged
        counts = np.fromiter((len(p) for p in network.parents), dtype=np.intp, count=n)
        child = np.repeat(np.arange(n, dtype=np.intp), counts)
        parent = np.fromiter((p for ps in network.parents for p in ps), dtype=np.intp, count=len(child))
        # What has power now, whatever the links' direction (the same as the engine's once geo.mesh.orient ran):
        # the parts of undamaged facilities that hold a source.
        inner = ~damaged[child] & ~damaged[parent]
        graph = coo_matrix((np.ones(int(inner.sum())), (child[inner], parent[inner])), shape=(n, n))
        count, label = connected_components(graph, directed=False)
        lit = np.zeros(count + 1, dtype=bool)
        lit[label[~damaged & (counts == 0)]] = True
        on = ~damaged & lit[label]
        dark = ~on & ~damaged
        self.jobs = np.asarray(jobs, dtype=np.intp)
        self.job_of = {f: k for k, f in enumerate(self.jobs.tolist())}  # network position -> job
        self.components = int(dark.sum() and len(np.unique(label[dark])))
        relabel = np.full(count, -1, dtype=np.intp)
        relabel[np.unique(label[dark])] = np.arange(self.components) + 1
        node = np.zeros(n, dtype=np.intp)  # energised: node 0
        node[dark] = relabel[label[dark]]
        self.first_job = 1 + self.components
        node[self.jobs] = self.first_job + np.arange(len(self.jobs))
        self.node = node
        size = self.first_job + len(self.jobs)
        self.people = np.bincount(node, weights=network.arrays.population, minlength=size)
        self.weight = np.bincount(node, weights=np.asarray(weights, dtype=float), minlength=size)
        self.people[0] = self.weight[0] = 0.0
        touching = np.flatnonzero(node[child] != node[parent])
        ends = np.column_stack((node[child[touching]], node[parent[touching]]))
        self.near: list[set[int]] = [set() for _ in range(size)]
        for u, v in ends.tolist():
            self.near[u].add(v)
            self.near[v].add(u)
        for j, f in enumerate(self.jobs.tolist()):
            if not network.parents[f]:  # a damaged source has power once repaired
                self.near[self.first_job + j].add(0)
                self.near[0].add(self.first_job + j)

    def energisation(self, finish: np.ndarray) -> np.ndarray:
        """Hour each node gets power when job j is done at finish[j]: the finish at which its set first joins
        the energised node (inf: never)."""
        size = len(self.near)
        e = np.full(size, np.inf)
        e[0] = 0.0
        owner = list(range(size))
        members: list[list[int] | None] = [[v] for v in range(size)]
        members[0] = None  # the energised set: its members are not listed
        active = [v < self.first_job for v in range(size)]

        def find(v: int) -> int:
            root = v
            while owner[root] != root:
                root = owner[root]
            while owner[v] != root:
                owner[v], v = root, owner[v]
            return root

        hours = e.tolist()
        for j in np.argsort(np.asarray(finish, dtype=float), kind="stable").tolist():
            v, t = self.first_job + j, float(finish[j])
            active[v] = True
            for u in self.near[v]:
                if not active[u]:
                    continue
                ra, rb = find(v), find(u)
                if ra == rb:
                    continue
                on_a, on_b = members[ra] is None, members[rb] is None
                if on_a or on_b:  # one set joins the energised one: its members get power now
                    off = rb if on_a else ra
                    for w in members[off] or ():
                        hours[w] = t
                    members[off] = None
                    owner[off] = ra if on_a else rb
                    continue
                small, big = (ra, rb) if len(members[ra] or ()) < len(members[rb] or ()) else (rb, ra)
                (members[big] or []).extend(members[small] or ())
                members[small] = []
                owner[small] = big
            if members[find(v)] is None and hours[v] == np.inf:
                hours[v] = t
        return np.asarray(hours, dtype=float)

    def attributed(self, order: Sequence[int]) -> tuple[list[float], list[float]]:
        """Per job, the weight and the people that get power exactly when it is repaired, the jobs done one after
        the other in `order` (every job once)."""
        m = len(self.jobs)
        step = np.empty(m, dtype=float)
        step[np.asarray(order, dtype=np.intp)] = np.arange(1, m + 1)
        e = self.energisation(step)
        at = np.isfinite(e) & (e > 0)
        job = np.asarray(order, dtype=np.intp)[e[at].astype(np.intp) - 1]
        weight = np.bincount(job, weights=self.weight[at], minlength=m)
        people = np.bincount(job, weights=self.people[at], minlength=m)
        return weight.tolist(), people.tolist()

    def path_hours(self, hours: np.ndarray) -> np.ndarray:
        """Per node, the fewest repair-hours on any path from power to it (its own repair included): Dijkstra
        with each job's hours on entering it."""
        cost = np.zeros(len(self.near))
        cost[self.first_job:] = hours
        best = np.full(len(self.near), np.inf).tolist()
        best[0] = 0.0
        heap = [(0.0, 0)]
        while heap:
            d, v = heapq.heappop(heap)
            if d > best[v]:
                continue
            for u in self.near[v]:
                du = d + float(cost[u])
                if du < best[u]:
                    best[u] = du
                    heapq.heappush(heap, (du, u))
        return np.asarray(best, dtype=float)

    def restored(self, facilities: Iterable[int]) -> float:
        """People who get power if these damaged facilities (network positions) alone are repaired now."""
        return self._restored(facilities, self.people)

    def restored_weight(self, facilities: Iterable[int]) -> float:
        """`restored` in weight (people-equivalents with the critical sites)."""
        return self._restored(facilities, self.weight)

    def _restored(self, facilities: Iterable[int], values: np.ndarray) -> float:
        position = self.job_of
        fixed = [self.first_job + position[f] for f in facilities if f in position]
        owner: dict[int, int] = {}

        def find(v: int) -> int:
            owner.setdefault(v, v)
            while owner[v] != v:
                owner[v] = owner[owner[v]]
                v = owner[v]
            return v

        chosen = set(fixed)
        for v in fixed:
            for u in self.near[v]:
                if u < self.first_job or u in chosen:
                    owner[find(u)] = find(v)
        if 0 not in owner:
            return 0.0
        root = find(0)
        return float(sum(values[v] for v in list(owner) if v and find(v) == root))


def restoration(network: Network, weights: np.ndarray, jobs: Sequence[int]) -> Restoration:
    """The network's Restoration for these per-facility weights and jobs (damaged positions), kept in its memo."""
    key = ("restoration", tuple(jobs), np.asarray(weights, dtype=float).tobytes())
    found = network.memo.get(key)
    if not isinstance(found, Restoration):
        found = network.memo[key] = Restoration(network, weights, jobs)
    return found


def greedy_order(exact: Restoration, hours: Sequence[float], position: Sequence[int]) -> list[int]:
    """The jobs one by one, each time the one that restores the most weight per repair-hour given those before
    it (exact, by union-find), ties by `position` (e.g. the Horn order's). O(jobs^2): above GREEDY_JOBS, the
    order of what each restores alone."""
    size, first = len(exact.near), exact.first_job
    m = size - first
    owner = list(range(size))
    lit = [v == 0 for v in range(size)]  # per set root: the set has power
    dark = exact.weight.tolist()  # per set root: its weight without power
    active = [v < first for v in range(size)]

    def find(v: int) -> int:
        while owner[v] != v:
            owner[v] = owner[owner[v]]
            v = owner[v]
        return v

    def gain(j: int) -> float:
        roots = {find(u) for u in exact.near[first + j] if active[u]}
        if not any(lit[r] for r in roots):
            return 0.0
        return float(dark[first + j] + sum(dark[r] for r in roots if not lit[r]))

    def ratio(j: int) -> tuple[float, int]:
        g, h = gain(j), float(hours[j])
        return (-(g / h if h > 0 else (np.inf if g > 0 else 0.0)), position[j])

    if m > GREEDY_JOBS:
        return sorted(range(m), key=ratio)
    left, order = set(range(m)), []
    while left:
        j = min(left, key=ratio)
        left.discard(j)
        order.append(j)
        v = first + j
        active[v] = True
        for u in exact.near[v]:
            if active[u]:
                a, b = find(v), find(u)
                if a != b:
                    owner[a] = b
                    lit[b] = lit[a] or lit[b]
                    dark[b] = 0.0 if lit[b] else dark[a] + dark[b]
        if lit[find(v)]:
            dark[find(v)] = 0.0
    return order
