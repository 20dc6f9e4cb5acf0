"""Meshed networks energised exactly: a facility has power when any path of facilities that carry power joins it
to a source, whatever the direction of its feed links (rings, parallel elements, closed ties).

Public API:
    meshed(facilities) -> bool                         whether any facility has two parents (else: a forest)
    orient(facilities, links=(), *, conducting={}) -> Oriented   the feed links turned so the engine counts exactly
    exact_network(network) -> Network                  the same for a built network (geo.plan's command line)

Exact restoration hours on the oriented network are in geo.mesh_restore.

The engine (geo.network, geo.triage, geo.plan) reads feed links parent -> child: a facility fed the other way round
(a ring fed from its far end, a part fed through a closed tie) would count dark. `orient` hands it a network
whose links say what the undirected network does: the energised part E (breadth-first from the sources over
facilities that carry power, feed links both ways and the closed `links`) is fed along increasing (distance,
position), every link between E and the dark part is turned to feed the dark side, and links inside the dark
part keep their direction. That is acyclic (E before the dark part, the dark part as given), the engine then
energises exactly E, and a damaged facility next to E is fed from E once repaired. A forest of feed links
without closed links is already exact (its one path from the source is the directed one), so callers skip it;
when the directed links already energise all of E and no link (feed or closed) has to be turned, nothing
changes.
A closed link between two dark facilities becomes a feed link along one topological order of the dark part (so
the network stays acyclic and geo.mesh_restore, which reads links either way, sees it); the directed engine then
counts power through it in that direction only. A damaged source keeps no parent: a closed link from it to a dark
facility feeds out of it, and one between two damaged sources is dropped (each gives power once repaired).

"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geo.network import Facility, Network, build_network

if TYPE_CHECKING:
    import pandas as pd

# pandas and scipy are imported where a meshed network needs them: `python -m geo.plan` on a radial network does
# not pay their 0.4 s of import.


def meshed(facilities: Iterable[Facility]) -> bool:
    """Whether any facility has two or more parents (without that, feed links form a forest)."""
    return any(len(f.parents) > 1 for f in facilities)


@dataclass(frozen=True)
class Oriented:
    """The facilities with their feed links turned (unchanged ones shared; the very tuple given when none
    changes), and those the directed links did not energise but the undirected network does."""

    facilities: tuple[Facility, ...]
    fed: frozenset[str]


def _edges(items: Sequence[Facility], links: Sequence[tuple[str, str]]) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Facility index, feed links as (child, parent) positions (known parents only), closed links as positions."""
    n = len(items)
    import pandas as pd

    index = pd.Index([f.id for f in items])
    if not index.is_unique:
        raise ValueError("facility ids must be unique")
    counts = np.fromiter((len(f.parents) for f in items), dtype=np.intp, count=n)
    parents = index.get_indexer([p for f in items for p in f.parents]) if counts.sum() else np.zeros(0, np.intp)
    feed = np.column_stack((np.repeat(np.arange(n, dtype=np.intp), counts), parents))[parents >= 0]
    ends = index.get_indexer([end for pair in links for end in pair]).reshape(-1, 2) if links else \
        np.zeros((0, 2), dtype=np.intp)
    if len(ends) and bool((ends < 0).any()):
        raise ValueError(f"link {links[int(np.flatnonzero((ends < 0).any(axis=1))[0])]!r}: unknown facility")
    return index, feed.astype(np.intp), ends.astype(np.intp)


def _reach(n: int, edges: np.ndarray, sources: np.ndarray, *, directed: bool) -> np.ndarray:
    """Breadth-first distance from a super source joined to `sources` (inf: unreachable), edges (k, 2) as
    (to, from) when directed."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, shortest_path

    if not len(sources):
        return np.full(n, np.inf)
    rows = np.concatenate((edges[:, 1], np.full(len(sources), n, dtype=np.intp)))
    cols = np.concatenate((edges[:, 0], sources))
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    if directed:
        on = np.full(n + 1, np.inf)
        on[breadth_first_order(graph, n, directed=True, return_predecessors=False)] = 0.0
        return on[:n]
    dist: np.ndarray = shortest_path(graph, directed=False, unweighted=True, indices=n)
    return dist[:n]


def orient(facilities: Sequence[Facility], links: Iterable[tuple[str, str]] = (), *,
           conducting: Mapping[str, float] | None = None) -> Oriented:
    """Turn the feed links so that the engine's directed energisation is the undirected one (see the module).
    `links`: closed ties as pairs of facility ids; `conducting`: damaged facilities that still pass power on."""
    items, pairs = tuple(facilities), tuple(links)
    n = len(items)
    conducting = conducting or {}
    index, feed, ends = _edges(items, pairs)
    carries = np.fromiter((not f.damaged or f.id in conducting for f in items), dtype=bool, count=n)
    sources = np.flatnonzero(carries & np.fromiter((not f.parents for f in items), dtype=bool, count=n))
    every = np.concatenate((feed, ends))
    both = carries[every[:, 0]] & carries[every[:, 1]]
    dist = _reach(n, every[both], sources, directed=False)
    on = np.isfinite(dist)
    directed = np.isfinite(_reach(n, feed[both[: len(feed)]], sources, directed=True))
    fed = on & ~directed
    one_side = on[ends[:, 0]] != on[ends[:, 1]]
    backwards = on[feed[:, 0]] & ~on[feed[:, 1]]  # a dark parent of an energised child: turned to feed from it
    dark_link = ~on[ends[:, 0]] & ~on[ends[:, 1]]
    if not fed.any() and not one_side.any() and not backwards.any() and not dark_link.any():
        return Oriented(items, frozenset())
    key = np.lexsort((np.arange(n), dist))  # E by (distance, position)
    rank = np.empty(n, dtype=np.intp)
    rank[key] = np.arange(n)
    a, b = every[:, 0], every[:, 1]
    inside = on[a] & on[b] & both
    lower = np.where(rank[a] < rank[b], a, b)
    higher = np.where(rank[a] < rank[b], b, a)
    new = [np.column_stack((higher, lower))[inside]]  # (child, parent) inside E
    cross = on[a] != on[b]
    new.append(np.column_stack((np.where(on[a], b, a), np.where(on[a], a, b)))[cross])  # E feeds the dark side
    dark_feed = ~on[feed[:, 0]] & ~on[feed[:, 1]]
    new.append(feed[dark_feed])
    dark_ties = ends[~on[ends[:, 0]] & ~on[ends[:, 1]]]
    if len(dark_ties):  # a closed link inside the dark part feeds along one topological order of it: acyclic
        root = np.fromiter((not f.parents for f in items), dtype=bool, count=n)  # a damaged source stays one
        dark_ties = dark_ties[~(root[dark_ties[:, 0]] & root[dark_ties[:, 1]])]  # two sources: each its own
        place = _topological_place(n, feed[dark_feed])
        # A source first (it has no parent, so a link out of it closes no loop), else the topological order.
        first = root[dark_ties[:, 0]] | (~root[dark_ties[:, 1]] & (place[dark_ties[:, 0]] < place[dark_ties[:, 1]]))
        new.append(np.column_stack((np.where(first, dark_ties[:, 1], dark_ties[:, 0]),
                                    np.where(first, dark_ties[:, 0], dark_ties[:, 1]))))
    pairs_new = np.concatenate(new)
    pairs_new = pairs_new[~np.isin(pairs_new[:, 0], sources)]  # a source keeps no parents
    # Only the facilities whose set of parents changes are made again: found by the (child, parent) keys that
    # are in one set of links and not the other.
    new_keys = np.unique(pairs_new[:, 0] * (n + 1) + pairs_new[:, 1])
    old_keys = np.unique(feed[:, 0] * (n + 1) + feed[:, 1])
    changed = np.unique(np.setxor1d(new_keys, old_keys, assume_unique=True) // (n + 1)).tolist()
    by_child: dict[int, list[int]] = {}
    for key in new_keys[np.isin(new_keys // (n + 1), changed)].tolist():
        by_child.setdefault(key // (n + 1), []).append(key % (n + 1))
    if not changed:
        return Oriented(items, frozenset(items[i].id for i in np.flatnonzero(fed).tolist()))
    ids = [f.id for f in items]
    every_id = set(ids)
    out = list(items)
    for i in changed:
        f = items[i]
        wanted = by_child.get(i, [])
        names = {ids[p] for p in wanted}
        kept = [p for p in f.parents if p in names or p not in every_id]  # unknown parents stay, for the error
        added = [ids[p] for p in wanted if ids[p] not in kept]
        out[i] = Facility(f.id, (*kept, *added), f.population, f.damaged, f.repair_hours)
    return Oriented(tuple(out), frozenset(items[i].id for i in np.flatnonzero(fed).tolist()))


def _topological_place(n: int, edges: np.ndarray) -> np.ndarray:
    """Each facility's place in one topological order of the (child, parent) edges (Kahn's, parents first)."""
    children: dict[int, list[int]] = {}
    waiting = np.bincount(edges[:, 0], minlength=n).tolist() if len(edges) else [0] * n
    for child, parent in edges.tolist():
        children.setdefault(parent, []).append(child)
    ready = [v for v in range(n) if not waiting[v]]
    place = np.zeros(n, dtype=np.intp)
    count = 0
    while ready:
        v = ready.pop()
        place[v] = count
        count += 1
        for c in children.get(v, ()):
            waiting[c] -= 1
            if not waiting[c]:
                ready.append(c)
    return place


def exact_network(network: Network) -> Network:
    """The network with its feed links oriented (`orient`), the same one when radial or nothing changes."""
    if network.radial:
        return network
    oriented = orient(network.facilities)
    if all(a is b for a, b in zip(oriented.facilities, network.facilities, strict=True)):
        return network
    return build_network(oriented.facilities)
