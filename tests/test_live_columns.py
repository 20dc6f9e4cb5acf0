"""geo.live on large radial networks takes shortcuts (the registry's feeds and damaged positions, subtree sums by
levels); they give the same live network and the same picture as the plain way, on random networks."""

from __future__ import annotations

import random

import pytest

from geo import live
from geo.network import Facility


def random_network(seed: int, n: int = 400) -> tuple[list[Facility], dict[str, live.State], list[list[int]]]:
    rng = random.Random(seed)
    parents = [None] + [rng.randrange(i) for i in range(1, n)]
    damaged = set(rng.sample(range(n), n // 5))
    statuses = (live.OUT_OF_SERVICE, live.DEGRADED, live.OPERATING)
    facilities, states = [], {}
    feeds: list[list[int]] = [[] for _ in range(n)]
    for i, p in enumerate(parents):
        if p is not None:
            feeds[p].append(i)
        facilities.append(Facility(id=f"f{i}", parents=() if p is None else (f"f{p}",),
                                   population=float(rng.randrange(0, 300)), damaged=i in damaged,
                                   repair_hours=float(rng.randrange(1, 9)) if i in damaged else None))
        if i in damaged:
            states[f"f{i}"] = live.state(rng.choice(statuses), rng.random(), default_share=0.5)
    return facilities, states, feeds


def dark_below(net: live.LiveNetwork, node: str) -> float:
    """People without power in `node` and everything under it, walked one facility at a time."""
    network = net.network
    on = live.energised_at_start(network)
    total, stack = 0.0, [network.index[node]]
    while stack:
        v = stack.pop()
        total += 0.0 if on[v] else network.facilities[v].population
        stack.extend(network.children[v])
    return total


@pytest.mark.parametrize("seed", range(8))
def test_the_shortcuts_give_the_same_live_network_and_picture(seed):
    facilities, states, feeds = random_network(seed)
    plain = live.live_network(facilities, states)
    quick = live.live_network(facilities, states, feeds=feeds,
                              damaged=[i for i, f in enumerate(facilities) if f.damaged])
    assert list(quick.network.facilities) == list(plain.network.facilities)
    assert quick.supply_node == plain.supply_node
    picture = live.picture(quick)
    assert picture == live.picture(plain)
    assert picture.without_power_now.keys() == set(states)
    for facility, people in picture.without_power_now.items():
        assert people == pytest.approx(dark_below(quick, quick.node_of(facility)))
    on = live.energised_at_start(quick.network)
    assert picture.people_without_power == pytest.approx(
        sum(f.population for f, powered in zip(quick.network.facilities, on, strict=True) if not powered))
