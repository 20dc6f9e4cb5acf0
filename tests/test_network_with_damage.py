"""geo.network.with_damage and geo.live.live_on_base (issue 17): the damage of a request laid by columns on a radial
network built once give the same network as building it from the damaged facilities, and so the same picture,
ranking and plan, on random networks; and the patched networks keep their own memo."""

from __future__ import annotations

import random

import numpy as np
import pytest

from geo import live
from geo.message import N_, Text
from geo.network import CriticalSite, Facility, ScenarioError, build_network, with_damage
from geo.plan import plan
from geo.triage import rank


def random_case(seed: int, n: int = 300) -> tuple[list[Facility], list[Facility], dict[str, live.State], list[int]]:
    """An undamaged radial network (several sources), the same with damage (damaged ids as Texts, as the app's),
    the damaged facilities' live states and their positions."""
    rng = random.Random(seed)
    parents: list[int | None] = [None if i == 0 or rng.random() < 0.02 else rng.randrange(i) for i in range(n)]
    at = sorted(rng.sample(range(n), n // 5))
    statuses = (live.OUT_OF_SERVICE, live.DEGRADED, live.OPERATING)
    base, damaged, states = [], [], {}
    for i, p in enumerate(parents):
        f = Facility(id=f"F{i} (facility {i})", parents=() if p is None else (f"F{p} (facility {p})",),
                     population=float(rng.randrange(0, 300)))
        base.append(f)
        damaged.append(f)
    for i in at:
        node = Text(N_("{name} (facility {id})"), name=f"F{i}", id=i)
        damaged[i] = Facility(node, base[i].parents, base[i].population, True, float(rng.choice([0, 1, 2.5, 7])))
        states[node] = live.state(rng.choice(statuses), rng.choice([None, rng.random(), 0.0, 1.0]), default_share=0.5)
    return base, damaged, states, at


def as_rows(network):
    return [(f.id, f.parents, f.population, f.damaged, f.repair_hours) for f in network.facilities]


@pytest.mark.parametrize("seed", range(10))
def test_damage_laid_on_the_base_is_the_network_built_with_it(seed):
    base, damaged, states, at = random_case(seed)
    kept = build_network(base)
    ids = [damaged[i].id for i in at]
    hours = [damaged[i].repair_hours for i in at]
    built = live.live_network(damaged, states)
    laid = live.live_on_base(kept, at, ids, hours, states)
    assert laid.supply_node == built.supply_node and laid.supply_node  # some degraded or operating ones
    a, b = laid.network, built.network
    assert as_rows(a) == as_rows(b)
    for name in ("parent", "damaged", "population", "hours", "order"):
        assert np.array_equal(getattr(a.arrays, name), getattr(b.arrays, name)), name
    assert list(a.arrays.ids) == list(b.arrays.ids)
    assert all(type(x) is type(y) for x, y in zip(a.arrays.ids, b.arrays.ids, strict=True))  # Texts stay Texts
    assert list(a.children) == list(b.children) and list(a.parents) == list(b.parents)
    assert a.order == b.order and dict(a.index) == dict(b.index)
    assert live.picture(laid) == live.picture(built)
    rng = random.Random(seed)
    sites = tuple(CriticalSite(id=f"s{k}", facility=laid.node_of(ids[k]), weight=float(rng.randrange(1, 900)))
                  for k in range(0, len(ids), 7))
    last = frozenset(node for node, s in states.items() if s.status == live.OPERATING)
    assert rank(a, critical_sites=sites, last=last) == rank(b, critical_sites=sites, last=last)
    for crews in (1, 3):
        pa, pb = (plan(net, crews=crews, critical_sites=sites, deadline=None) for net in (a, b))
        assert pa.crews == pb.crews and pa.etr_hours == pb.etr_hours and pa.quality == pb.quality


@pytest.mark.parametrize("seed", range(4))
def test_damage_alone_shares_the_topology_and_not_the_memo(seed):
    base, damaged, _, at = random_case(seed)
    kept = build_network(base)
    hours = [damaged[i].repair_hours for i in at]
    laid = with_damage(kept, at, hours)
    built = build_network([Facility(f.id, f.parents, f.population, f.damaged, f.repair_hours) for f in damaged])
    assert as_rows(laid) == as_rows(built)
    assert laid.arrays.parent is kept.arrays.parent and laid.children is kept.children
    assert rank(laid) == rank(built)
    # Results derived from one damage are kept on that network only: another damage ranks afresh.
    other = with_damage(kept, at[: len(at) // 2], hours[: len(at) // 2])
    assert other.memo is not laid.memo and not other.memo
    half = build_network([f if i not in at[len(at) // 2:] else base[i] for i, f in enumerate(damaged)])
    assert rank(other) == rank(half)
    assert not kept.memo and not kept.arrays.damaged.any()  # the base is never changed


def test_bad_damage_is_refused_naming_the_facility():
    base, _, _, _ = random_case(0, n=20)
    kept = build_network(base)
    with pytest.raises(ScenarioError, match=r"facility 'F3 \(facility 3\)': repair_hours must be a number >= 0"):
        with_damage(kept, [3], [float("nan")])
    with pytest.raises(ValueError, match="ascending"):
        with_damage(kept, [5, 3], [1.0, 1.0])
    meshed = build_network([Facility("a"), Facility("b"), Facility("c", ("a", "b"))])
    with pytest.raises(ValueError, match="radial"):
        with_damage(meshed, [], [])
