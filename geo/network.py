"""Feed topology: facilities with feed links, validation, energisation and population served.

A facility with no parent is a source; one parent makes the network radial at that facility, several make it
meshed (it has power when any parent has). Feed links must form a directed acyclic graph.
"""

from __future__ import annotations

import gc
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, wraps
from itertools import repeat
from typing import Any, ParamSpec, TypeVar, cast, overload

import numpy as np


class ScenarioError(ValueError):
    """A network or scenario that cannot be triaged; the message names the facility and the reason."""


@dataclass(frozen=True)
class Facility:
    """One energy facility: its feed parents, direct population (people) and damage."""

    id: str
    parents: tuple[str, ...] = ()
    population: float = 0.0
    damaged: bool = False
    repair_hours: float | None = None


@dataclass(frozen=True)
class CriticalSite:
    """A critical site weighted in people-equivalents and supplied by one facility."""

    id: str
    facility: str
    weight: float
    kind: str = "other"


@dataclass(frozen=True, eq=False)
class Network:
    """A validated feed topology: facilities in input order, parent/child indices and a topological order.

    `memo` holds results derived from the network alone (the triage tree per set of critical sites), so that the
    ranking and the plan of one network share them; the network never changes, so they never go stale.
    """

    facilities: Sequence[Facility]
    index: Mapping[str, int]
    parents: Sequence[tuple[int, ...]]
    children: Sequence[tuple[int, ...]]
    radial: bool
    arrays: _Arrays
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def order(self) -> tuple[int, ...]:
        """Facility indices parents first (radial: by depth, then input order); made on first use."""
        return tuple(self.arrays.order.tolist())


@dataclass(frozen=True, eq=False)
class _Arrays:
    """Column views of a network for vectorised passes: first parent or -1, damage, ids, direct population,
    repair hours (0 where undamaged) and the topological order, given (meshed) or by depth (radial, made on
    first use from `depth`, each facility's number of ancestors)."""

    parent: np.ndarray
    damaged: np.ndarray
    ids: Sequence[str]
    population: np.ndarray
    hours: np.ndarray
    depth: np.ndarray | None = None
    given_order: np.ndarray | None = None

    @cached_property
    def order(self) -> np.ndarray:
        if self.given_order is not None:
            return self.given_order
        assert self.depth is not None
        return _by_depth(self.depth, np.arange(len(self.depth), dtype=np.intp))

    def topological(self, indices: np.ndarray) -> np.ndarray:
        """The given facility indices (increasing) in the network's topological order."""
        if self.given_order is None and self.depth is not None:
            return _by_depth(self.depth[indices], indices)
        order = self.order
        keep = np.zeros(len(self.parent), dtype=bool)
        keep[indices] = True
        out: np.ndarray = order[keep[order]]
        return out


def _by_depth(depth: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """`indices` (increasing) sorted by their `depth`, ties in index order (a radix sort for shallow trees)."""
    shallow = depth.astype(np.uint16) if len(depth) and int(depth.max()) < 1 << 16 else depth
    out: np.ndarray = indices[np.argsort(shallow, kind="stable")]
    return out


class _Columns(Sequence[Facility]):
    """Facilities held as columns (a radial network built by `network_from_columns`), made on access."""

    def __init__(self, ids: Sequence[str], parent_ids: Sequence[str | None] | np.ndarray, population: np.ndarray,
                 damaged: np.ndarray, hours: np.ndarray) -> None:
        # `parent_ids` may be the parent index column instead (-1: none): the ids are then made on first access
        # (a request's network laid on a kept base is mostly never read facility by facility).
        self._ids, self._parent_ids, self._parent_ids_made = ids, parent_ids, not isinstance(parent_ids, np.ndarray)
        self._population, self._damaged, self._hours = population, damaged, hours

    def __len__(self) -> int:
        return len(self._ids)

    def _make(self, i: int) -> Facility:
        if not self._parent_ids_made:
            assert isinstance(self._parent_ids, np.ndarray)
            self._parent_ids, self._parent_ids_made = _parent_ids(self._ids, self._parent_ids), True
        p = self._parent_ids[i]
        damaged = bool(self._damaged[i])
        return Facility(self._ids[i], () if p is None else (p,), float(self._population[i]), damaged,
                        float(self._hours[i]) if damaged else None)

    @overload
    def __getitem__(self, i: int) -> Facility: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Facility]: ...

    def __getitem__(self, i: int | slice) -> Facility | Sequence[Facility]:
        if isinstance(i, slice):
            return [self._make(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("facility index out of range")
        return self._make(i)

    def __iter__(self) -> Iterator[Facility]:
        return (self._make(i) for i in range(len(self)))


class _Parents(Sequence[tuple[int, ...]]):
    """The parents of a radial network's facilities from its first-parent column: (p,) or () for a source."""

    def __init__(self, parent: np.ndarray) -> None:
        self._parent = parent

    def __len__(self) -> int:
        return len(self._parent)

    @overload
    def __getitem__(self, i: int) -> tuple[int, ...]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[int, ...]]: ...

    def __getitem__(self, i: int | slice) -> tuple[int, ...] | Sequence[tuple[int, ...]]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        p = int(self._parent[i])
        return (p,) if p >= 0 else ()


class _Children(Sequence[tuple[int, ...]]):
    """The children of a radial network's facilities (input order), made on first use from the parent column."""

    def __init__(self, parent: np.ndarray) -> None:
        self._parent = parent
        self._made: tuple[tuple[int, ...], ...] | None = None

    def __len__(self) -> int:
        return len(self._parent)

    def _tuples(self) -> tuple[tuple[int, ...], ...]:
        if self._made is None:  # once: callers walk children facility by facility, tuples are fastest there
            has = np.flatnonzero(self._parent >= 0)
            flat = has[np.argsort(self._parent[has], kind="stable")].tolist()
            start = np.concatenate(([0], np.cumsum(np.bincount(self._parent[has], minlength=len(self._parent)))))
            bounds = start.tolist()
            self._made = tuple(tuple(flat[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
        return self._made

    @overload
    def __getitem__(self, i: int) -> tuple[int, ...]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[int, ...]]: ...

    def __getitem__(self, i: int | slice) -> tuple[int, ...] | Sequence[tuple[int, ...]]:
        return self._tuples()[i]

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        return iter(self._tuples())


@dataclass(frozen=True, eq=False)
class Outage:
    """The part of a network without power now, contracted to damaged facilities and meshed junctions.

    Nodes are in topological order; a node is a damaged facility (a job) plus the undamaged facilities it
    alone feeds, or an undamaged junction fed by several nodes. A node without parents gets power as soon as
    its own job is done.
    """

    jobs: tuple[int, ...]
    job_node: tuple[int, ...]
    node_job: tuple[int, ...]
    node_parents: tuple[tuple[int, ...], ...]
    node_people: tuple[float, ...]
    node_weight: tuple[float, ...]
    facility_node: Sequence[int]


P = ParamSpec("P")
R = TypeVar("R")


def without_gc_pauses(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with the cyclic garbage collector paused, restoring its previous state afterwards.

    Building a network allocates millions of small acyclic objects; the collector's repeated generation scans
    over them cost about a quarter of the time on 10^6 facilities and would free nothing.
    """

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


def _number_ok(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value >= 0


@without_gc_pauses
def build_network(facilities: Iterable[Facility], *, columns: bool = True) -> Network:
    """Validate facilities and their feed links into a Network, or raise ScenarioError naming the facility.

    A radial network (at most one parent each) is built by columns (`network_from_columns`), keeping the given
    facilities; anything wrong there comes back to be named facility by facility. `columns=False` always checks
    facility by facility (the reference the benchmark compares with).
    """
    items = tuple(facilities)
    if columns and all(len(f.parents) <= 1 for f in items):
        fast = _radial_by_columns(items)
        if fast is not None:
            return fast
    return _checked_network(items)


def _checked_network(items: tuple[Facility, ...]) -> Network:
    index: dict[str, int] = {}
    for i, f in enumerate(items):
        if f.id in index:
            raise ScenarioError(f"facility {f.id!r}: duplicate id")
        index[f.id] = i
    parents: list[tuple[int, ...]] = []
    children: list[list[int]] = [[] for _ in items]
    for i, f in enumerate(items):
        if not _number_ok(f.population):
            raise ScenarioError(f"facility {f.id!r}: population must be a number >= 0, got {f.population!r}")
        if f.damaged and f.repair_hours is None:
            raise ScenarioError(f"facility {f.id!r}: damaged but repair_hours is missing")
        if f.damaged and not _number_ok(f.repair_hours):
            raise ScenarioError(f"facility {f.id!r}: repair_hours must be a number >= 0, got {f.repair_hours!r}")
        own: list[int] = []
        for p in f.parents:
            if p not in index:
                raise ScenarioError(f"facility {f.id!r}: unknown parent {p!r}")
            if p == f.id:
                raise ScenarioError(f"facility {f.id!r}: cycle in feed links ({f.id} -> {f.id})")
            j = index[p]
            if j not in own:
                own.append(j)
                children[j].append(i)
        parents.append(tuple(own))
    radial = all(len(p) <= 1 for p in parents)
    first_parent = np.fromiter((p[0] if p else -1 for p in parents), dtype=np.intp, count=len(items))
    depth = _radial_depth(first_parent) if radial else None
    order = None if depth is not None else np.asarray(_topological_order(items, parents, children), dtype=np.intp)
    damaged = np.fromiter((f.damaged for f in items), dtype=bool, count=len(items))
    return Network(
        facilities=items,
        index=index,
        parents=tuple(parents),
        children=tuple(tuple(c) for c in children),
        radial=radial,
        arrays=_Arrays(
            parent=first_parent,
            damaged=damaged,
            ids=[f.id for f in items],
            population=np.fromiter((f.population for f in items), dtype=float, count=len(items)),
            hours=np.fromiter(((f.repair_hours or 0.0) if f.damaged else 0.0 for f in items), dtype=float,
                              count=len(items)),
            depth=depth,
            given_order=order,
        ),
    )


@without_gc_pauses
def network_from_columns(ids: Sequence[str], parents: Sequence[str | None], population: Sequence[float],
                         damaged: Sequence[bool], repair_hours: Sequence[float | None]) -> Network:
    """A radial network from columns (one parent id or None per facility), built with numpy: the same Network
    and the same ScenarioError as `build_network` on the same facilities, about five times faster on 10^6.

    On any invalid input it hands the facilities to `build_network`, which names the facility and the reason.
    """
    network = None
    if all(type(d) is bool for d in damaged):
        broken = np.fromiter(damaged, dtype=bool, count=len(damaged))
        people = _numbers(population)
        hours = _numbers([h if d else 0.0 for h, d in zip(repair_hours, damaged, strict=True)])
        if people is not None and hours is not None:
            network = _columns_network(ids, parents, people, broken, hours, None)
    if network is None:  # something is wrong: the checked path names the first facility at fault
        return _checked_network(tuple(Facility(i, () if p is None else (p,), q, d, h) for i, p, q, d, h
                                      in zip(ids, parents, population, damaged, repair_hours, strict=True)))
    return network


@without_gc_pauses
def network_from_arrays(ids: Sequence[str], parents: Sequence[str | None], population: np.ndarray,
                        damaged: np.ndarray, repair_hours: np.ndarray) -> Network:
    """`network_from_columns` for columns already typed (ids and parent ids as str, numbers as float arrays,
    damage as a bool array, NaN for a repair time not given): only their values and links are checked."""
    hours = np.where(damaged, repair_hours, 0.0)
    network = None
    if bool(np.isfinite(population).all() and (population >= 0).all() and np.isfinite(hours).all()
            and (hours >= 0).all()):
        network = _columns_network(ids, parents, population, damaged, hours, None)
    if network is None:
        given = repair_hours.tolist()
        return _checked_network(tuple(
            Facility(i, () if p is None else (p,), q, d, None if math.isnan(h) else h) for i, p, q, d, h
            in zip(ids, parents, population.tolist(), damaged.tolist(), given, strict=True)))
    return network


def _radial_by_columns(items: tuple[Facility, ...]) -> Network | None:
    if not all(type(f.damaged) is bool for f in items):
        return None
    people = _numbers([f.population for f in items])
    hours = _numbers([f.repair_hours if f.damaged else 0.0 for f in items])
    if people is None or hours is None:
        return None
    return _columns_network([f.id for f in items], [f.parents[0] if f.parents else None for f in items],
                            people, np.fromiter((f.damaged for f in items), dtype=bool, count=len(items)), hours,
                            items)


def _columns_network(ids: Sequence[str], parents: Sequence[str | None], people: np.ndarray, broken: np.ndarray,
                     hours: np.ndarray, items: tuple[Facility, ...] | None) -> Network | None:
    """The radial network of these columns (numbers already checked; facilities: `items`, else made on access),
    or None if the links are invalid (a duplicate id, an unknown parent, a cycle)."""
    n = len(ids)
    parent = _parent_indices(ids, parents)
    if parent is None or (n and ((parent == -2).any() or (parent == np.arange(n)).any())):
        return None
    depth = _radial_depth(parent)
    if depth is None:
        return None
    return Network(
        facilities=items if items is not None else _Columns(ids, parents, people, broken, hours),
        index=_Index(ids),
        parents=_Parents(parent),
        children=_Children(parent),
        radial=True,
        arrays=_Arrays(parent=parent, damaged=broken, ids=ids, population=people, hours=hours, depth=depth),
    )


class _Index(Mapping[str, int]):
    """Facility id -> position, the dict made on first use (the command line's plan never looks one up)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self._ids = ids
        self._made: dict[str, int] | None = None

    def _dict(self) -> dict[str, int]:
        if self._made is None:
            self._made = dict(zip(self._ids, range(len(self._ids)), strict=True))
        return self._made

    def __getitem__(self, key: str) -> int:
        return self._dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._ids)


class _LaidIndex(_Index):
    """The index of a network laid on a kept base (`with_damage`): looked up through the base's index (built once
    per base) and the positions moved by the supply nodes put in, instead of a new dict of every id per network.
    The same mapping as `_Index(ids)` (the ids are the base's, equal as strings, plus the supply nodes')."""

    def __init__(self, ids: Sequence[str], base: Mapping[str, int], moved: np.ndarray | None = None,
                 added: Mapping[str, int] | None = None) -> None:
        super().__init__(ids)
        self._base, self._moved, self._added = base, moved, added or {}

    def __getitem__(self, key: str) -> int:
        if key in self._added:
            return self._added[key]
        i = self._base[key]
        return i if self._moved is None else int(self._moved[i])

    def __contains__(self, key: object) -> bool:
        return key in self._added or key in self._base


def _parent_indices(ids: Sequence[str], parents: Sequence[str | None]) -> np.ndarray | None:
    """Each parent id's position in `ids` (-1 for None, -2 for an unknown id), or None when two ids are equal.

    A join on the strings' hashes with numpy (sorting and searching arrays beats a dict's scattered look-ups at
    10^6 facilities): ids of equal hash are taken for duplicates (exact, by a dict, in the rare collision), and
    every parent found is then compared with the id it was matched to, so the answer is exact."""
    n = len(ids)
    id_hash = np.fromiter(map(hash, ids), dtype=np.int64, count=n)
    by_hash = np.argsort(id_hash)
    sorted_hash = id_hash[by_hash]
    if n > 1 and bool((sorted_hash[1:] == sorted_hash[:-1]).any()):
        index = dict(zip(ids, range(n), strict=True))
        if len(index) != n:
            return None
        lookup = cast(dict[str | None, int], index)
        lookup[None] = -1
        return np.array(list(map(lookup.get, parents, repeat(-2, n))), dtype=np.intp)
    parent_hash = np.fromiter(map(hash, parents), dtype=np.int64, count=n)
    queries = np.argsort(parent_hash)  # searched in sorted order: neighbouring look-ups, far fewer cache misses
    at = np.empty(n, dtype=np.intp)
    at[queries] = np.searchsorted(sorted_hash, parent_hash[queries])
    np.minimum(at, max(n - 1, 0), out=at)
    parent = np.where(sorted_hash[at] == parent_hash, by_hash[at], -2) if n else np.zeros(0, dtype=np.intp)
    for i in np.flatnonzero(parent_hash == hash(None)).tolist():
        if parents[i] is None:
            parent[i] = -1
    matched: list[str | None] = list(map(ids.__getitem__, parent.tolist()))
    for i in np.flatnonzero(parent < 0).tolist():  # sources (None) and unknown ids (left as they are)
        matched[i] = None if parent[i] == -1 else parents[i]
    if matched != list(parents):  # a parent matched by hash alone, not by its id: named by the checked path
        return np.full(n, -2, dtype=np.intp)
    out: np.ndarray = parent.astype(np.intp, copy=False)
    return out


def _numbers(values: Sequence[float | None]) -> np.ndarray | None:
    """Values as a float array when every one is a finite number >= 0 (not a bool), else None."""
    if not all(type(x) is float or type(x) is int for x in values):
        return None
    try:
        out = np.asarray(values, dtype=float)
    except OverflowError:
        return None
    return out if bool(np.isfinite(out).all() and (out >= 0).all()) else None


def _radial_depth(parent: np.ndarray) -> np.ndarray | None:
    """Each facility's number of ancestors in a forest given as parent indices (-1 for roots), by pointer
    jumping (log2 of the deepest chain numpy passes). None when some facility never reaches a root, i.e. the
    links have a cycle; the caller then names it. Ordered by depth, then input order, it is parents first."""
    n = len(parent)
    depth = (parent >= 0).astype(np.intp)
    jump = parent.copy()
    live = np.flatnonzero(jump >= 0)
    for _ in range(max(1, n).bit_length() + 1):
        if not len(live):
            break
        up = jump[live]
        depth[live] += depth[up]
        jump[live] = jump[up]
        live = live[jump[live] >= 0]
    if len(live):
        return None
    return depth


def _topological_order(
    items: Sequence[Facility], parents: Sequence[tuple[int, ...]], children: Sequence[list[int]]
) -> tuple[int, ...]:
    """Order facilities parents-first (Kahn), or raise ScenarioError naming a facility on a cycle."""
    indegree = [len(p) for p in parents]
    queue = deque(i for i, d in enumerate(indegree) if d == 0)
    order: list[int] = []
    while queue:
        v = queue.popleft()
        order.append(v)
        for c in children[v]:
            indegree[c] -= 1
            if indegree[c] == 0:
                queue.append(c)
    if len(order) == len(items):
        return tuple(order)
    # Every facility left over has a left-over parent, so walking up parents must revisit one: a cycle.
    v = next(i for i, d in enumerate(indegree) if d > 0)
    seen: dict[int, int] = {}
    path: list[int] = []
    while v not in seen:
        seen[v] = len(path)
        path.append(v)
        v = next(p for p in parents[v] if indegree[p] > 0)
    cycle = path[seen[v]:]
    names = " <- ".join(items[i].id for i in [*cycle, cycle[0]])
    raise ScenarioError(f"facility {items[v].id!r}: cycle in feed links ({names})")


def energised_at_start(network: Network) -> list[bool]:
    """Which facilities have power now: undamaged and reachable from a source through undamaged facilities."""
    if network.radial:
        nearest = _nearest_damaged_or_source(network)
        return (~network.arrays.damaged[nearest]).tolist() if len(nearest) else []
    on = [False] * len(network.facilities)
    facilities, parents = network.facilities, network.parents
    for v in network.order:
        if not facilities[v].damaged:
            ps = parents[v]
            on[v] = not ps or (on[ps[0]] if len(ps) == 1 else any(on[u] for u in ps))
    return on


def population_served(network: Network, indices: Iterable[int]) -> dict[int, float]:
    """Population served by each given facility: its own people plus everything downstream, counted once."""
    facilities = network.facilities
    wanted = list(indices)
    if network.radial:
        total = network.arrays.population.tolist()
        parent = network.arrays.parent.tolist()
        for v in reversed(network.order):
            u = parent[v]
            if u >= 0:
                total[u] += total[v]
        return {i: total[i] for i in wanted}
    served: dict[int, float] = {}
    for i in wanted:
        seen = {i}
        stack = [i]
        while stack:
            for c in network.children[stack.pop()]:
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        served[i] = sum(facilities[v].population for v in seen)
    return served


def newly_energised(network: Network, energised: Sequence[bool], repaired: Iterable[int]) -> list[int]:
    """Facilities that get power if the given damaged facilities are repaired now (all other damage stays)."""
    fixed = set(repaired)
    seeds = [
        v for v in fixed
        if not energised[v] and (not network.parents[v] or any(energised[u] for u in network.parents[v]))
    ]
    seen = set(seeds)
    stack = list(seeds)
    while stack:
        for c in network.children[stack.pop()]:
            if c in seen or energised[c] or (network.facilities[c].damaged and c not in fixed):
                continue
            seen.add(c)
            stack.append(c)
    return sorted(seen)


def build_outage(network: Network, weights: Sequence[float] | np.ndarray) -> Outage:
    """Contract the facilities without power into an Outage; weights are people-equivalents per facility."""
    if network.radial:
        return _radial_outage(network, weights)
    weights = weights.tolist() if isinstance(weights, np.ndarray) else weights
    on = energised_at_start(network)
    jobs: list[int] = []
    job_node: list[int] = []
    node_job: list[int] = []
    node_parents: list[tuple[int, ...]] = []
    people: list[float] = []
    weight: list[float] = []
    facility_node = [-1] * len(network.facilities)
    for v in network.order:
        if on[v]:
            continue
        f = network.facilities[v]
        ps = network.parents[v]
        if len(ps) == 1:  # the common radial case, without building a set
            reps = [] if on[ps[0]] else [facility_node[ps[0]]]
        else:
            reps = sorted({facility_node[u] for u in ps if not on[u]})
        if f.damaged or len(reps) != 1:
            # A damaged facility with a live parent, or a damaged source, gets power when it alone is done.
            node_parents.append(() if any(on[u] for u in ps) else tuple(reps))
            node = len(node_job)
            if f.damaged:
                job_node.append(node)
                node_job.append(len(jobs))
                jobs.append(v)
            else:
                node_job.append(-1)
            people.append(0.0)
            weight.append(0.0)
        else:
            node = reps[0]
        facility_node[v] = node
        people[node] += f.population
        weight[node] += weights[v]
    return Outage(
        jobs=tuple(jobs),
        job_node=tuple(job_node),
        node_job=tuple(node_job),
        node_parents=tuple(node_parents),
        node_people=tuple(people),
        node_weight=tuple(weight),
        facility_node=facility_node,
    )


def _nearest_damaged_or_source(network: Network) -> np.ndarray:
    """Per facility of a radial network, its nearest damaged ancestor-or-self, else its source."""
    parent, damaged = network.arrays.parent, network.arrays.damaged
    # Pointer jumping: damaged facilities and sources point to themselves, others to their parent, until
    # every pointer reaches one of those; O(n log depth) whatever the depth.
    pointer = np.where(damaged | (parent < 0), np.arange(len(parent)), parent)
    while True:
        jumped = pointer[pointer]
        if np.array_equal(jumped, pointer):
            return pointer
        pointer = jumped


def _radial_outage(network: Network, weights: Sequence[float] | np.ndarray) -> Outage:
    """The Outage of a radial network, vectorised: each facility joins its nearest damaged ancestor-or-self."""
    parent, damaged = network.arrays.parent, network.arrays.damaged
    n = len(parent)
    pointer = _nearest_damaged_or_source(network)
    jobs = network.arrays.topological(np.flatnonzero(damaged))
    m = len(jobs)
    job_of = np.full(n + 1, -1, dtype=np.intp)  # index n stands for "no facility" (parent of a source)
    job_of[jobs] = np.arange(m)
    node_of = np.where(damaged[pointer], job_of[pointer], -1) if n else np.zeros(0, dtype=np.intp)
    node_of = np.append(node_of, -1)
    up = np.where(parent[jobs] >= 0, parent[jobs], n)
    job_parent = node_of[up].tolist()
    fed = node_of[:n] >= 0
    people = np.bincount(node_of[:n][fed], weights=network.arrays.population[fed], minlength=m)
    weight = np.bincount(node_of[:n][fed], weights=np.asarray(weights, dtype=float)[fed], minlength=m)
    return Outage(
        jobs=tuple(jobs.tolist()),
        job_node=tuple(range(m)),
        node_job=tuple(range(m)),
        node_parents=tuple((u,) if u >= 0 else () for u in job_parent),
        node_people=tuple(people.tolist()),
        node_weight=tuple(weight.tolist()),
        facility_node=node_of[:n].tolist(),
    )


def facility_weights(network: Network, critical_sites: Iterable[CriticalSite]) -> list[float]:
    """People-equivalents per facility: its population plus the weights of the critical sites it supplies."""
    weights: list[float] = weight_array(network, critical_sites).tolist()
    return weights


def weight_array(network: Network, critical_sites: Iterable[CriticalSite]) -> np.ndarray:
    """`facility_weights` as a numpy array (validated the same way)."""
    weights = network.arrays.population.copy()
    for site in critical_sites:
        if site.facility not in network.index:
            raise ScenarioError(f"critical site {site.id!r}: unknown facility {site.facility!r}")
        if not _number_ok(site.weight):
            raise ScenarioError(f"critical site {site.id!r}: weight must be a number >= 0, got {site.weight!r}")
        weights[network.index[site.facility]] += site.weight
    return weights


def with_damage(base: Network, damaged: Sequence[int], hours: Sequence[float], *,
                ids: Sequence[str] | None = None, supply: Mapping[int, tuple[str, float]] | None = None) -> Network:
    """The radial `base` network (built once, undamaged) with damage laid on it by columns, without building it
    again: `damaged` lists positions in `base` (ascending, distinct) and `hours` their repair hours; `ids`, if
    given, the damaged facilities' ids (each equal as a string to the base's id, e.g. a `geo.message.Text` of it).

    `supply` splits damaged facilities that still supply (geo/live.py): position -> (supply node id, share out).
    The supply node goes just before the facility, takes its parents, what it feeds and the share of its people
    still supplied; the facility becomes a damaged leaf under it with the rest. This is the same Network as
    `build_network` of the facilities so changed (tests/test_network_with_damage.py). The result has its own
    `memo`, so nothing derived from one damage is read for another; with no split it shares the base's columns of
    the topology (parents, children, depths)."""
    if not base.radial:
        raise ValueError("with_damage needs a radial base network")
    n = len(base.arrays.parent)
    at = np.asarray(damaged, dtype=np.intp)
    repair = np.asarray(hours, dtype=float)
    if len(at) != len(repair) or (ids is not None and len(ids) != len(at)):
        raise ValueError("damaged, hours and ids must have the same length")
    if len(at) and (int(at.min()) < 0 or int(at.max()) >= n or bool((np.diff(at) <= 0).any())):
        raise ValueError("damaged positions must be ascending, distinct and inside the network")
    for k in np.flatnonzero(~(np.isfinite(repair) & (repair >= 0))).tolist():
        name = base.arrays.ids[int(at[k])] if ids is None else ids[k]
        raise ScenarioError(f"facility {name!r}: repair_hours must be a number >= 0, got {float(repair[k])!r}")
    names = list(base.arrays.ids)
    if ids is not None:
        for k, i in enumerate(at.tolist()):
            names[i] = ids[k]
    broken = np.zeros(n, dtype=bool)
    broken[at] = True
    time = np.zeros(n, dtype=float)
    time[at] = repair
    people = base.arrays.population
    if not supply:
        parent = base.arrays.parent
        return Network(facilities=_Columns(names, parent, people, broken, time),
                       index=_LaidIndex(names, base.index), parents=base.parents, children=base.children, radial=True,
                       arrays=_Arrays(parent=parent, damaged=broken, ids=names, population=people, hours=time,
                                      depth=base.arrays.depth, given_order=base.arrays.given_order))
    grown = np.asarray(sorted(supply), dtype=np.intp)
    if int(grown.min()) < 0 or int(grown.max()) >= n or not bool(broken[grown].all()):
        raise ValueError("supply is for damaged positions only")
    is_grown = np.zeros(n, dtype=bool)
    is_grown[grown] = True
    new_pos = np.arange(n, dtype=np.intp) + np.cumsum(is_grown)  # each supply node sits just before its facility
    fed_from = np.where(is_grown, new_pos - 1, new_pos)  # the node a facility's children hang from
    old_parent = base.arrays.parent
    mapped = np.where(old_parent >= 0, fed_from[np.maximum(old_parent, 0)], -1)
    m = n + len(grown)
    parent = np.empty(m, dtype=np.intp)
    parent[new_pos] = mapped
    supply_at = new_pos[grown] - 1
    parent[supply_at] = mapped[grown]
    parent[new_pos[grown]] = supply_at
    share = np.asarray([supply[i][1] for i in grown.tolist()], dtype=float)
    population = np.empty(m, dtype=float)
    population[new_pos] = people
    population[supply_at] = people[grown] * (1.0 - share)
    population[new_pos[grown]] = people[grown] * share
    damage = np.zeros(m, dtype=bool)
    damage[new_pos] = broken
    repair_time = np.zeros(m, dtype=float)
    repair_time[new_pos] = time
    out: list[str] = []
    done = 0
    for i in grown.tolist():
        out.extend(names[done:i])
        out.append(supply[i][0])
        done = i
    out.extend(names[done:])
    depth = _radial_depth(parent)
    assert depth is not None  # a supply node between a facility and its parent adds no cycle
    added = {supply[i][0]: int(new_pos[i]) - 1 for i in supply}
    return Network(facilities=_Columns(out, parent, population, damage, repair_time),
                   index=_LaidIndex(out, base.index, new_pos, added), parents=_Parents(parent),
                   children=_Children(parent), radial=True,
                   arrays=_Arrays(parent=parent, damaged=damage, ids=out, population=population, hours=repair_time,
                                  depth=depth))


def _parent_ids(ids: Sequence[str], parent: np.ndarray) -> list[str | None]:
    """Each facility's parent id (None for a source) from its parent index (-1: none)."""
    with_none: list[str | None] = [*ids, None]  # index -1 is the None at the end
    return list(map(with_none.__getitem__, parent.tolist()))
