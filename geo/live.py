"""The live picture: what each damaged facility still supplies, from what the crews report, and who is without
power now.

Public API:
    state(status, share_out, *, default_share) -> State    a case's operational state with its share out
    live_network(facilities, states) -> LiveNetwork        the network the engine plans on, and how it maps back
    live_on_base(base, damaged, ids, hours, states)        the same from a radial base network kept undamaged
    picture(live) -> Picture                               people without power now, partly supplied, per case

A damaged facility's operational status says what it supplies while it waits for repair:
- `out_of_service`: nobody; everything fed only through it is without power too.
- `degraded`: part of its own area: a share `share_out` of its direct population is without power (the crew's
  figure, else a default); what it feeds still has power through it.
- `operating`: everyone; it is still a case to repair, but repairing it restores nobody now.
The engine plans on an expanded network: a degraded or operating facility becomes an undamaged supply node,
which keeps its parents, its supplied people, its children and the critical sites that still have power, and a
damaged leaf under the facility's own id holding its people without power: the repair job. An out-of-service
facility stays one damaged node. Energisation, the ranking and the plan then need no other change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from geo.network import CriticalSite, Facility, Network, build_network, energised_at_start, with_damage
from geo.taxonomy import OPERATIONAL_STATUSES

OPERATING, DEGRADED, OUT_OF_SERVICE = OPERATIONAL_STATUSES
SUPPLY_SUFFIX = " (supplying)"  # the id of a degraded or operating facility's supply node: "<id> (supplying)"


@dataclass(frozen=True)
class State:
    """A damaged facility's operational status and the share of its direct population without power."""

    status: str
    share_out: float


def state(status: str, share_out: float | None, *, default_share: float) -> State:
    """The state a status gives: out of service 1, operating 0, degraded the reported share or `default_share`."""
    if status == OUT_OF_SERVICE:
        return State(status, 1.0)
    if status == OPERATING:
        return State(status, 0.0)
    if status != DEGRADED:
        raise ValueError(f"unknown operational status {status!r}")
    share = default_share if share_out is None else float(share_out)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share_out must be between 0 and 1, got {share!r}")
    return State(status, share)


@dataclass(frozen=True, eq=False)
class LiveNetwork:
    """The expanded network, which damaged facility has a supply node, and the states it was built from."""

    network: Network
    supply_node: dict[str, str]  # damaged facility id -> its supply node's id (degraded and operating ones)
    states: dict[str, State]

    def node_of(self, facility: str) -> str:
        """The node that stands for the facility's supply: its supply node if it has one, else itself."""
        return self.supply_node.get(facility, facility)

    def sites(self, critical_sites: Iterable[CriticalSite]) -> tuple[CriticalSite, ...]:
        """Critical sites on the expanded network: an operating facility's sites have power, so they move to its
        supply node and its repair restores none of them; a degraded facility's stay on the repair job (nobody
        knows whether they are in the dark share, so restoring full supply counts for them)."""
        return tuple(replace(s, facility=self.supply_node[s.facility])
                     if s.facility in self.supply_node and self.states[s.facility].status == OPERATING else s
                     for s in critical_sites)


def live_network(facilities: Sequence[Facility], states: Mapping[str, State], *,
                 feeds: Sequence[Sequence[int]] | None = None, damaged: Sequence[int] | None = None) -> LiveNetwork:
    """Expand degraded and operating damaged facilities into a supply node and a repair job (see the module).

    Optional, for a large network: `feeds` lists, per facility, the positions of the facilities it feeds, and
    `damaged` the positions of the damaged facilities in ascending order; then only those are looked at, not every
    facility (the app keeps `feeds` with its registry; both must describe these very facilities). Every facility
    that no supply node feeds is kept as it is (frozen: sharing is safe)."""
    at = range(len(facilities)) if damaged is None else damaged
    grow = [i for i in at
            if facilities[i].damaged and facilities[i].id in states and states[facilities[i].id].share_out < 1.0]
    supply = {facilities[i].id: facilities[i].id + SUPPLY_SUFFIX for i in grow}
    if not grow:
        return LiveNetwork(network=build_network(facilities), supply_node={}, states=dict(states))
    out = list(facilities)
    if feeds is None:
        fed: Iterable[int] = [i for i, f in enumerate(facilities)
                              if f.parents and not supply.keys().isdisjoint(f.parents)]
    else:
        fed = sorted({c for i in grow for c in feeds[i]})
    for c in fed:
        f = out[c]
        out[c] = Facility(f.id, tuple(supply.get(p, p) for p in f.parents), f.population, f.damaged, f.repair_hours)
    expanded: list[Facility] = []
    done = 0
    for i in grow:  # each supply node just before its facility, which it alone feeds
        f = out[i]
        share = states[f.id].share_out
        expanded.extend(out[done:i])
        expanded.append(Facility(id=supply[f.id], parents=f.parents, population=f.population * (1.0 - share)))
        expanded.append(Facility(f.id, (supply[f.id],), f.population * share, f.damaged, f.repair_hours))
        done = i + 1
    expanded.extend(out[done:])
    return LiveNetwork(network=build_network(expanded), supply_node=supply, states=dict(states))


def live_on_base(base: Network, damaged: Sequence[int], ids: Sequence[str], hours: Sequence[float],
                 states: Mapping[str, State]) -> LiveNetwork:
    """`live_network` of the radial `base` network's facilities with these damaged (positions ascending, their
    ids, equal as strings to the base's, and repair hours), laid on the base by columns (geo.network.with_damage)
    instead of building the network again: the same LiveNetwork (tests/test_network_with_damage.py)."""
    supply: dict[int, tuple[str, float]] = {}
    supply_node: dict[str, str] = {}
    for i, node in zip(damaged, ids, strict=True):
        if node in states and states[node].share_out < 1.0:
            supply_node[node] = node + SUPPLY_SUFFIX
            supply[i] = (supply_node[node], states[node].share_out)
    return LiveNetwork(network=with_damage(base, damaged, hours, ids=ids, supply=supply), supply_node=supply_node,
                       states=dict(states))


@dataclass(frozen=True)
class Picture:
    """Who is without power now, who is only partly supplied, and per damaged facility the people without power
    in what it supplies (its own area and everything fed through it)."""

    people_without_power: float
    people_partially_supplied: float
    without_power_now: dict[str, float]


def picture(live: LiveNetwork) -> Picture:
    """The live figures: people of facilities (nodes) without power now; people still supplied in the areas of
    degraded facilities that have power upstream; and for each damaged facility the people without power now
    in its own area and everything fed through it."""
    network = live.network
    on = energised_at_start(network)
    population = network.arrays.population
    dark: list[float] = np.where(np.asarray(on, dtype=bool), 0.0, population).tolist() if len(on) else []
    partly = sum(float(population[network.index[node]]) for facility, node in live.supply_node.items()
                 if live.states[facility].status == DEGRADED and on[network.index[node]])
    ids = network.arrays.ids
    damaged = [ids[i] for i in np.flatnonzero(network.arrays.damaged).tolist()]
    if network.radial:
        below = _subtree_sums(network.arrays.parent, np.asarray(dark, dtype=float)).tolist()
        per_case = {f: below[network.index[live.node_of(f)]] for f in damaged}
    else:
        per_case = {f: _dark_reachable(network, network.index[live.node_of(f)], dark) for f in damaged}
    return Picture(people_without_power=float(sum(dark)), people_partially_supplied=float(partly),
                   without_power_now=per_case)


def _subtree_sums(parent: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per node of a forest (parent index, -1 for a root), the sum of `values` over its subtree: depths by pointer
    jumping, then each level, deepest first, added to its parents (one numpy pass per level, not per node)."""
    n = len(parent)
    depth = (parent >= 0).astype(np.intp)
    jump = parent.copy()
    moving = np.flatnonzero(jump >= 0)
    while len(moving):
        up = jump[moving]
        depth[moving] += depth[up]
        jump[moving] = jump[up]
        moving = moving[jump[moving] >= 0]
    total = values.copy()
    if not n:
        return total
    by_depth = np.argsort(depth, kind="stable")
    ends = np.cumsum(np.bincount(depth))
    for d in range(len(ends) - 1, 0, -1):
        level = by_depth[ends[d - 1]:ends[d]]
        np.add.at(total, parent[level], total[level])
    return total


def _dark_reachable(network: Network, start: int, dark: Sequence[float]) -> float:
    """People without power in `start` and every facility reachable from it through feed links, each once."""
    seen, stack, total = {start}, [start], 0.0
    while stack:
        v = stack.pop()
        total += dark[v]
        for c in network.children[v]:
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return total
