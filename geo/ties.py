"""Tie switches as a way to restore: normally-open switches between two facilities that can feed a dark part of
the network from a healthy source while the damage that cut it off is repaired.

Public API:
    Tie, Step, Switching                                    a switch, a proposed switching step, the result
    energised(facilities, ties, *, conducting={}) -> set    exact energisation over the undirected network
    switching(facilities, ties, *, remote_hours, manual_hours, conducting={}) -> Switching
    sentence(step, names) -> Text                           "close switch S12: restores 4,200 people in 0.5 h ..."

Energisation here is exact: a facility has power when any path from a source is intact, whatever the direction
of its feed links. The graph is undirected: its nodes are the facilities that carry power (undamaged ones, and
damaged ones that `conducting` says still pass it on: degraded or operating), its edges the feed links between
two of them and the closed ties; its sources are the facilities without parents that carry power (a degraded
or operating power plant still supplies).

Switching steps are chosen greedily over that graph's connected parts: a tie is worth closing only when it joins
an energised part to a dark one (closing it never parallels two energised parts, nor joins two dark ones); after
each step the picture is recomputed, so a chain of ties (a dark part fed through a part another step back-fed)
is allowed. The step that saves the most people-hours goes first, then the one that restores more people, then
the quicker one. A step's people get power after its hours (the tie's own, else the remote or manual default),
or when the step that energised its feeding side has, if later: steps are done by the control room or a
switching operator, not by the repair crews, so they run beside the repairs. Its bridges are the damaged
facilities whose repair alone would restore the same part (it stands in for them), and it saves its people x
(the shortest of those repairs - its hours), counted 0 where no single repair would restore them.

The facility list is then rewritten for the engine (geo.triage.rank, geo.plan.plan, geo.live) by geo.mesh.orient:
the feed links are turned so that the engine's directed energisation is this exact one: the energised part is fed
from the sources outwards, and each link between it and the dark part feeds the dark side (a repaired facility
next to a back-fed part is fed from it). `facilities` has the closed ties applied, `proposed` the proposed steps
too; `fed` is what they energise that the feed links alone, as directed, do not. Without ties the same is done
for a meshed network (a ring fed round the other way), and a forest is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo import mesh
from geo.message import N_, Quantity, Text
from geo.network import Facility


@dataclass(frozen=True)
class Tie:
    """A normally-open switch between two facilities (network ids a and b), remote or manual, open or closed;
    `hours` None: the default for its kind."""

    id: str
    name: str
    a: str
    b: str
    remote: bool = False
    hours: float | None = None
    closed: bool = False


@dataclass(frozen=True)
class Step:
    """Closing one tie: when its people get power, whom it back-feeds, what it stands in for, what it saves."""

    tie: Tie
    hours: float  # how long closing it takes
    ready_hours: float  # when its people have power: its hours, or later when it waits for an earlier step
    after: str | None  # the tie of the earlier step it waits for (a chain), or None
    restores: tuple[str, ...]  # the facilities it back-feeds
    people: float
    bridges: tuple[str, ...]  # damaged facilities whose repair alone would restore them
    people_hours_saved: float


@dataclass(frozen=True)
class Switching:
    """The network with the closed ties applied, the proposed steps, and the network after them too."""

    facilities: tuple[Facility, ...]  # closed ties applied: what the live picture counts
    proposed: tuple[Facility, ...]  # closed ties and the proposed steps applied: what the queue is ranked on
    steps: tuple[Step, ...]
    fed: frozenset[str]  # facilities the closed ties or the mesh energise that the directed feed links do not
    changed: bool = False  # `facilities` differs from the list given (links turned: geo.mesh.orient)


@dataclass(frozen=True, eq=False)
class _Graph:
    """The facilities that carry power and their connected parts (feed links and closed ties), as arrays."""

    carries: np.ndarray  # per facility: undamaged, or damaged but passing power on
    source: np.ndarray  # per facility: a source (undamaged, no parents)
    links: np.ndarray  # (k, 2) facility indices: feed links (child, parent), then closed ties
    ends: np.ndarray  # (ties, 2) the facility indices of each tie's two ends
    base: np.ndarray  # per facility: its part by feed links alone (-1: carries nothing)
    part: np.ndarray  # per facility: its part with the closed ties too (-1: carries nothing)


def _components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected components of n nodes joined by undirected edges ((k, 2) indices): a label per node."""
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    labels: np.ndarray = np.asarray(connected_components(graph, directed=False)[1], dtype=np.intp)
    return labels


def _graph(items: Sequence[Facility], ties: Sequence[Tie], conducting: Mapping[str, float]) -> _Graph:
    n = len(items)
    index = pd.Index([f.id for f in items])
    if not index.is_unique:
        raise ValueError("facility ids must be unique")
    ends = index.get_indexer([end for t in ties for end in (t.a, t.b)]).reshape(-1, 2)
    for tie, (a, b) in zip(ties, ends.tolist(), strict=True):
        if a < 0 or b < 0:
            raise ValueError(f"tie {tie.id!r}: unknown facility {tie.a if a < 0 else tie.b!r}")
    carries = np.fromiter((not f.damaged or f.id in conducting for f in items), dtype=bool, count=n)
    source = carries & np.fromiter((not f.parents for f in items), dtype=bool, count=n)  # a degraded source too
    counts = np.fromiter((len(f.parents) for f in items), dtype=np.intp, count=n)
    parents = index.get_indexer(list(chain.from_iterable(f.parents for f in items)))
    feed = np.column_stack((np.repeat(np.arange(n, dtype=np.intp), counts), parents))[parents >= 0]
    closed = ends[np.fromiter((t.closed for t in ties), dtype=bool, count=len(ties))]
    links = np.concatenate((feed, closed)).astype(np.intp)
    both = carries[links[:, 0]] & carries[links[:, 1]]
    by_feed = feed[both[: len(feed)]]
    base = _components(n, by_feed)
    by_tie = closed[both[len(feed):]]
    part = base
    if len(by_tie):  # a closed tie joins the parts of its two ends: label parts by their merged component
        joined = _components(n, np.column_stack((base[by_tie[:, 0]], base[by_tie[:, 1]])))
        part = joined[base]
    return _Graph(carries=carries, source=source, links=links, ends=ends, base=np.where(carries, base, -1),
                  part=np.where(carries, part, -1))


def _live(part: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Per facility, whether its part has a source."""
    has = np.zeros(len(part) + 1, dtype=bool)
    has[part[source & (part >= 0)]] = True
    on: np.ndarray = has[part] & (part >= 0)
    return on


def energised(facilities: Sequence[Facility], ties: Iterable[Tie] = (), *,
              conducting: Mapping[str, float] | None = None) -> set[str]:
    """Facilities with power: joined to a source by facilities that carry power, through feed links in either
    direction and closed ties (open ones are not a path)."""
    items = tuple(facilities)
    graph = _graph(items, tuple(ties), conducting or {})
    on = _live(graph.part, graph.source)
    return {items[i].id for i in np.flatnonzero(on).tolist()}


def switching(facilities: Sequence[Facility], ties: Iterable[Tie], *, remote_hours: float, manual_hours: float,
              conducting: Mapping[str, float] | None = None, meshed: bool | None = None) -> Switching:
    """Apply the closed ties, choose the switching steps among the open ones (see the module), and rewrite the
    facilities so the engine plans on the switched network. `conducting`: damaged facilities that still pass
    power on, with the share of their own people they still supply (1 - share out). `meshed`: whether some
    facility has two parents, if the caller knows (None: looked at); without ties a forest is left as it is."""
    items, ties = tuple(facilities), tuple(ties)
    if not remote_hours >= 0 or not manual_hours >= 0:
        raise ValueError("remote_hours and manual_hours must be >= 0")
    conducting = conducting or {}
    if not ties:
        if not (mesh.meshed(items) if meshed is None else meshed):
            return Switching(items, items, (), frozenset())
        exact = mesh.orient(items, conducting=conducting)
        return Switching(exact.facilities, exact.facilities, (), exact.fed, exact.facilities is not items)
    graph = _graph(items, ties, conducting)
    part, carries = graph.part, graph.carries
    on = _live(part, graph.source)
    share = np.fromiter((conducting.get(f.id, 1.0) if f.damaged else 1.0 for f in items), dtype=float,
                        count=len(items))
    population = np.fromiter((f.population for f in items), dtype=float, count=len(items))
    people = np.bincount(part[carries], weights=(population * share)[carries], minlength=len(items)).tolist()
    touches = _damaged_neighbours(graph)
    next_to: dict[int, list[int]] = {}
    for d, near in touches.items():
        for p in near:
            next_to.setdefault(p, []).append(d)
    ready = dict.fromkeys(np.unique(part[on]).tolist(), 0.0)
    fed_by: dict[int, str] = {}  # a part a step back-feeds -> that step's tie
    steps: list[Step] = []
    open_ties = [(t, int(part[a]), int(part[b])) for t, (a, b) in zip(ties, graph.ends.tolist(), strict=True)
                 if not t.closed and carries[a] and carries[b]]
    across: dict[int, list[int]] = {}  # part -> the parts open ties join it to
    for _, pa, pb in open_ties:
        across.setdefault(pa, []).append(pb)
        across.setdefault(pb, []).append(pa)
    while True:
        best: tuple[tuple[float, float, float, str], Tie, int, int, float, float, list[int], float] | None = None
        for tie, pa, pb in open_ties:
            if pa == pb or (pa in ready) == (pb in ready):
                continue  # a loop, two energised parts in parallel, or two dark parts: nothing to gain
            feeding, dark = (pa, pb) if pa in ready else (pb, pa)
            if people[dark] <= 0 and _reachable_people(dark, across, ready, people) <= 0:
                continue  # restores nobody, now or through a chain
            hours = float(tie.hours if tie.hours is not None else remote_hours if tie.remote else manual_hours)
            at = max(hours, ready[feeding])
            stand_in = [d for d in next_to.get(dark, ()) if not items[d].parents or touches[d] & ready.keys()]
            shortest = min((items[d].repair_hours or 0.0 for d in stand_in), default=None)
            saved = people[dark] * max(0.0, shortest - at) if shortest is not None else 0.0
            key = (-saved, -people[dark], at, tie.id)
            if best is None or key < best[0]:
                best = (key, tie, feeding, dark, hours, at, stand_in, saved)
        if best is None:
            break
        _, tie, feeding, dark, hours, at, stand_in, saved = best
        steps.append(Step(tie=tie, hours=hours, ready_hours=at, after=fed_by.get(feeding),
                          restores=tuple(items[i].id for i in np.flatnonzero(part == dark).tolist()),
                          people=people[dark], bridges=tuple(sorted(items[d].id for d in stand_in)),
                          people_hours_saved=saved))
        ready[dark] = at
        fed_by[dark] = tie.id
    closed = [(t.a, t.b) for t in ties if t.closed]
    radial = not closed and not (mesh.meshed(items) if meshed is None else meshed)
    # A forest without closed ties is energised exactly by its feed links already.
    now = mesh.Oriented(items, frozenset()) if radial else mesh.orient(items, closed, conducting=conducting)
    after = mesh.orient(items, [*closed, *((s.tie.a, s.tie.b) for s in steps)], conducting=conducting) if steps \
        else now
    return Switching(facilities=now.facilities, proposed=after.facilities, steps=tuple(steps), fed=now.fed,
                     changed=now.facilities is not items)


def _damaged_neighbours(graph: _Graph) -> dict[int, set[int]]:
    """Per damaged facility that carries nothing, the parts next to it through its feed links (either way) and
    the closed ties at it."""
    near: dict[int, set[int]] = {int(i): set() for i in np.flatnonzero(~graph.carries).tolist()}
    links = graph.links
    if not len(links):
        return near
    a, b = graph.carries[links[:, 0]], graph.carries[links[:, 1]]
    for d, other in np.concatenate((links[~a & b], links[a & ~b][:, ::-1])).tolist():
        near[d].add(int(graph.part[other]))
    return near


def _reachable_people(start: int, across: Mapping[int, list[int]], ready: Mapping[int, float],
                      people: Sequence[float]) -> float:
    """People in the dark parts reachable from `start` through open ties (what a chain through it could reach)."""
    seen, stack, total = {start}, [start], 0.0
    while stack:
        here = stack.pop()
        total += people[here]
        for there in across.get(here, ()):
            if there not in seen and there not in ready:
                seen.add(there)
                stack.append(there)
    return total


def sentence(step: Step, names: Mapping[str, str]) -> Text:
    """The step in one sentence a coordinator can check: "close switch S12: restores 4,200 people in 0.5 h while
    line L7 is repaired" (`names`: a facility's name by its network id)."""
    people, hours = Quantity(step.people, "people"), Quantity(step.ready_hours, "hours")
    if not step.bridges:
        return Text(N_("close switch {switch}: restores {people} people in {hours} h, who no single repair would "
                       "bring back"), switch=step.tie.name, people=people, hours=hours)
    repairs = ", ".join(names.get(b, b) for b in step.bridges)
    if len(step.bridges) == 1:
        return Text(N_("close switch {switch}: restores {people} people in {hours} h while {repair} is repaired"),
                    switch=step.tie.name, people=people, hours=hours, repair=repairs)
    return Text(N_("close switch {switch}: restores {people} people in {hours} h while any of {repairs} is "
                   "repaired"), switch=step.tie.name, people=people, hours=hours, repairs=repairs)
