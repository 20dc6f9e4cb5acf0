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
two of them and the closed ties; its sources are the undamaged facilities without parents.

Switching steps are chosen greedily over that graph's connected parts: a tie is worth closing only when it joins
an energised part to a dark one (closing it never parallels two energised parts, nor joins two dark ones); after
each step the picture is recomputed, so a chain of ties (a dark part fed through a part another step back-fed)
is allowed. The step that saves the most people-hours goes first, then the one that restores more people, then
the quicker one. A step's people get power after its hours (the tie's own, else the remote or manual default),
or when the step that energised its feeding side has, if later: steps are done by the control room or a
switching operator, not by the repair crews, so they run beside the repairs. Its bridges are the damaged
facilities whose repair alone would restore the same part (it stands in for them), and it saves its people x
(the shortest of those repairs - its hours), counted 0 where no single repair would restore them.

The facility list is then rewritten for the engine (geo.triage.rank, geo.plan.plan, geo.live): each facility
back-fed (B) becomes a source (parents=()), so a repair upstream of it restores only what is still dark, and
everything downstream of it is supplied through it. B = energised(undirected, with the ties) - energised
(undirected, without them): facilities the network already energises without any tie are left as they are, so
the engine's directed approximation on rings (a feed link carries power from parent to child only) is untouched.
The engine stays directed, so a repaired facility whose only live neighbour is a back-fed part downstream of it
is counted, there, as waiting for its own feed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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
    fed: frozenset[str]  # facilities back-fed by closed ties


class _Parts:
    """Union-find over indices, with path halving."""

    def __init__(self, n: int) -> None:
        self.up = list(range(n))

    def find(self, i: int) -> int:
        up = self.up
        while up[i] != i:
            up[i] = up[up[i]]
            i = up[i]
        return i

    def join(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.up[max(a, b)] = min(a, b)


@dataclass(frozen=True)
class _Graph:
    """The facilities that carry power, their connected parts by feed links, and the parts' sources."""

    index: dict[str, int]
    carries: list[bool]
    parts: _Parts
    live: set[int]  # parts (roots) with a source


def _graph(facilities: Sequence[Facility], conducting: Mapping[str, float]) -> _Graph:
    index = {f.id: i for i, f in enumerate(facilities)}
    carries = [not f.damaged or f.id in conducting for f in facilities]
    parts = _Parts(len(facilities))
    for i, f in enumerate(facilities):
        if carries[i]:
            for p in f.parents:
                j = index.get(p)
                if j is not None and carries[j]:
                    parts.join(i, j)
    live = {parts.find(i) for i, f in enumerate(facilities) if carries[i] and not f.parents and not f.damaged}
    return _Graph(index, carries, parts, live)


def _usable(graph: _Graph, tie: Tie) -> tuple[int, int] | None:
    """The tie's two facilities as indices when both carry power, else None (it cannot feed anything now)."""
    a, b = graph.index.get(tie.a), graph.index.get(tie.b)
    if a is None or b is None:
        raise ValueError(f"tie {tie.id!r}: unknown facility {tie.a if a is None else tie.b!r}")
    return (a, b) if graph.carries[a] and graph.carries[b] else None


def energised(facilities: Sequence[Facility], ties: Iterable[Tie] = (), *,
              conducting: Mapping[str, float] | None = None) -> set[str]:
    """Facilities with power: joined to a source by facilities that carry power, through feed links in either
    direction and closed ties (open ones are not a path)."""
    graph = _graph(facilities, conducting or {})
    for tie in ties:
        ends = _usable(graph, tie) if tie.closed else None
        if ends:
            a, b = graph.parts.find(ends[0]), graph.parts.find(ends[1])
            was_live = a in graph.live or b in graph.live
            graph.parts.join(a, b)
            if was_live:
                graph.live.add(graph.parts.find(a))
    return {f.id for i, f in enumerate(facilities)
            if graph.carries[i] and graph.parts.find(i) in graph.live}


def switching(facilities: Sequence[Facility], ties: Iterable[Tie], *, remote_hours: float, manual_hours: float,
              conducting: Mapping[str, float] | None = None) -> Switching:
    """Apply the closed ties, choose the switching steps among the open ones (see the module), and rewrite the
    facilities so the engine plans on the switched network. `conducting`: damaged facilities that still pass
    power on, with the share of their own people they still supply (1 - share out)."""
    items, ties = tuple(facilities), tuple(ties)
    if not ties:
        return Switching(items, items, (), frozenset())
    if not remote_hours >= 0 or not manual_hours >= 0:
        raise ValueError("remote_hours and manual_hours must be >= 0")
    conducting = conducting or {}
    graph = _graph(items, conducting)
    find = graph.parts.find
    # The parts without any tie; then closed ties merge them into the parts the live picture counts.
    base = [find(i) if graph.carries[i] else -1 for i in range(len(items))]
    base_live = set(graph.live)
    for tie in ties:
        ends = _usable(graph, tie) if tie.closed else None
        if ends:
            a, b = find(ends[0]), find(ends[1])
            was_live = a in graph.live or b in graph.live
            graph.parts.join(a, b)
            if was_live:
                graph.live.add(find(a))
    part = [find(i) if graph.carries[i] else -1 for i in range(len(items))]
    people: dict[int, float] = {}
    members: dict[int, list[int]] = {}
    for i, f in enumerate(items):
        if part[i] >= 0:
            share = conducting.get(f.id, 1.0) if f.damaged else 1.0
            people[part[i]] = people.get(part[i], 0.0) + f.population * share
            members.setdefault(part[i], []).append(i)
    live = {p for p in graph.live if p == find(p)}
    touches = _damaged_neighbours(items, graph, part, [t for t in ties if t.closed])
    next_to: dict[int, list[int]] = {}
    for d, near in touches.items():
        for p in near:
            next_to.setdefault(p, []).append(d)
    ready = dict.fromkeys(live, 0.0)
    steps: list[Step] = []
    open_ties = [(t, part[e[0]], part[e[1]]) for t in ties if not t.closed and (e := _usable(graph, t))]
    across: dict[int, list[int]] = {}  # part -> the parts open ties join it to
    for _, pa, pb in open_ties:
        across.setdefault(pa, []).append(pb)
        across.setdefault(pb, []).append(pa)
    while True:
        best: tuple[tuple[float, float, float, str], Step, int] | None = None
        for tie, pa, pb in open_ties:
            if pa == pb or (pa in ready) == (pb in ready):
                continue  # a loop, two energised parts in parallel, or two dark parts: nothing to gain
            feeding, dark = (pa, pb) if pa in ready else (pb, pa)
            if people[dark] <= 0 and _reachable_people(dark, across, ready, people) <= 0:
                continue  # restores nobody, now or through a chain
            hours = float(tie.hours if tie.hours is not None else remote_hours if tie.remote else manual_hours)
            at = max(hours, ready[feeding])
            stand_in = [d for d in next_to.get(dark, ()) if not items[d].parents or touches[d] & ready.keys()]
            bridges = tuple(sorted(items[d].id for d in stand_in))
            shortest = min((items[d].repair_hours or 0.0 for d in stand_in), default=None)
            saved = people[dark] * max(0.0, shortest - at) if shortest is not None else 0.0
            step = Step(tie=tie, hours=hours, ready_hours=at, after=_step_of(steps, feeding, part, graph),
                        restores=tuple(items[i].id for i in members[dark]), people=people[dark],
                        bridges=bridges, people_hours_saved=saved)
            key = (-saved, -people[dark], at, tie.id)
            if best is None or key < best[0]:
                best = (key, step, dark)
        if best is None:
            break
        _, step, dark = best
        steps.append(step)
        ready[dark] = step.ready_hours
    fed = frozenset(items[i].id for i in range(len(items)) if part[i] in live and base[i] not in base_live)
    back_fed = fed | {f for s in steps for f in s.restores}
    return Switching(facilities=_as_sources(items, fed), proposed=_as_sources(items, back_fed), steps=tuple(steps),
                     fed=fed)


def _damaged_neighbours(items: Sequence[Facility], graph: _Graph, part: list[int],
                        closed: Sequence[Tie]) -> dict[int, set[int]]:
    """Per damaged facility that carries nothing, the parts next to it through its feed links (either way) and
    the closed ties at it."""
    near: dict[int, set[int]] = {i: set() for i in range(len(items)) if not graph.carries[i]}

    def link(i: int, j: int) -> None:
        if i in near and part[j] >= 0:
            near[i].add(part[j])
        if j in near and part[i] >= 0:
            near[j].add(part[i])

    for tie in closed:
        link(graph.index[tie.a], graph.index[tie.b])
    for i, f in enumerate(items):
        for p in f.parents:
            j = graph.index.get(p)
            if j is not None:
                link(i, j)
    return near


def _reachable_people(start: int, across: Mapping[int, list[int]], ready: Mapping[int, float],
                      people: Mapping[int, float]) -> float:
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


def _step_of(steps: Sequence[Step], feeding: int, part: list[int], graph: _Graph) -> str | None:
    """The tie of the step that back-fed the part `feeding`, if a step did."""
    for step in steps:
        if part[graph.index[step.restores[0]]] == feeding:
            return step.tie.id
    return None


def _as_sources(items: tuple[Facility, ...], fed: frozenset[str]) -> tuple[Facility, ...]:
    """The facilities with each back-fed one made a source (unchanged ones shared, not copied)."""
    if not fed:
        return items
    return tuple(Facility(f.id, (), f.population, f.damaged, f.repair_hours) if f.parents and f.id in fed else f
                 for f in items)


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
