"""The one-crew ranking: hand-checked figures, exact optimality on radial trees, validation errors."""

from __future__ import annotations

import ast
import itertools
import random
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.network import CriticalSite, Facility, ScenarioError, build_network
from geo.triage import horn_order, rank


def example(*, hospital: bool = False) -> tuple[list[Facility], list[CriticalSite]]:
    """The issue's worked example: S feeds A (4 h) feeds B (12,000, 1 h); S feeds C (6,000, 2 h)."""
    facilities = [
        Facility("S"),
        Facility("A", ("S",), 0, True, 4),
        Facility("B", ("A",), 12000, True, 1),
        Facility("C", ("S",), 6000, True, 2),
    ]
    return facilities, [CriticalSite("H1", "B", 5000, "hospital")] if hospital else []


def brute_energisation(facilities: Iterable[Facility], finish: Mapping[str, float], *,
                       undirected: bool = False) -> dict[str, float]:
    """Hour each facility gets power, by re-running reachability from the sources after every repair (along feed
    links, or `undirected`: either way, as geo.plan and geo.triage count since issue 15's meshed networks)."""
    items = list(facilities)
    children: dict[str, list[str]] = {f.id: [] for f in items}
    for f in items:
        for p in f.parents:
            children[p].append(f.id)
            if undirected:
                children[f.id].append(p)
    damaged = {f.id for f in items if f.damaged}
    hours: dict[str, float] = {}
    for t in sorted({0.0, *finish.values()}):
        broken = {d for d in damaged if finish.get(d, float("inf")) > t}
        stack = [f.id for f in items if not f.parents and f.id not in broken]
        seen = set(stack)
        while stack:
            for c in children[stack.pop()]:
                if c not in seen and c not in broken:
                    seen.add(c)
                    stack.append(c)
        for fid in seen:
            hours.setdefault(fid, t)
    return hours


def brute_cost(
    facilities: Iterable[Facility], finish: Mapping[str, float], sites: Iterable[CriticalSite] = (), *,
    undirected: bool = False,
) -> float:
    """People(-equivalents) x hours without power for given finish hours, by brute simulation."""
    items = list(facilities)
    weight = {f.id: f.population for f in items}
    for s in sites:
        weight[s.facility] += s.weight
    hours = brute_energisation(items, finish, undirected=undirected)
    return sum(w * hours.get(fid, float("inf")) for fid, w in weight.items() if w)


def exact_brute_energisation(facilities: Iterable[Facility], finish: Mapping[str, float]) -> dict[str, float]:
    """`brute_energisation` over the undirected network."""
    return brute_energisation(facilities, finish, undirected=True)


def exact_brute_cost(facilities: Iterable[Facility], finish: Mapping[str, float],
                     sites: Iterable[CriticalSite] = ()) -> float:
    """`brute_cost` over the undirected network."""
    return brute_cost(facilities, finish, sites, undirected=True)


def sequence_finish(facilities: Iterable[Facility], order: Iterable[str]) -> dict[str, float]:
    """Finish hours when one crew repairs the given facilities back to back."""
    hours = {f.id: f.repair_hours or 0.0 for f in facilities}
    t, out = 0.0, {}
    for fid in order:
        t += hours[fid]
        out[fid] = t
    return out


@st.composite
def random_networks(draw, *, max_size: int = 9, meshed: bool = False, max_damaged: int = 7) -> list[Facility]:
    """Random feed networks (a forest, or a DAG when meshed) with a few damaged facilities."""
    n = draw(st.integers(2, max_size))
    seed = draw(st.integers(0, 10**6))
    rng = random.Random(seed)
    damaged = set(rng.sample(range(n), rng.randint(1, min(n, max_damaged))))
    facilities = []
    for i in range(n):
        parents: tuple[str, ...] = ()
        if i and rng.random() > 0.1:
            ups = {rng.randrange(i)}
            if meshed and i > 1 and rng.random() < 0.4:
                ups.add(rng.randrange(i))
            parents = tuple(f"F{u}" for u in sorted(ups))
        hours = rng.choice([0, 1, 2, 3, 5, 8]) if i in damaged else None
        facilities.append(Facility(f"F{i}", parents, rng.choice([0, 0, 10, 50, 120]), i in damaged, hours))
    return facilities


def test_one_crew_repairs_the_unblocked_small_area_first_in_the_worked_example():
    facilities, _ = example()
    ranking = rank(build_network(facilities))
    assert [r.id for r in ranking] == ["C", "A", "B"]
    assert brute_cost(facilities, sequence_finish(facilities, ["C", "A", "B"])) == 96000
    assert brute_cost(facilities, sequence_finish(facilities, ["A", "B", "C"])) == 102000


def test_worked_example_figures_are_the_ones_a_coordinator_checks_by_hand():
    facilities, _ = example()
    by_id = {r.id: r for r in rank(build_network(facilities))}
    a, b, c = by_id["A"], by_id["B"], by_id["C"]
    assert (a.gain_now, a.gain_with_blockers, a.population_served, a.blocked_by) == (0, 0, 12000, ())
    assert (b.gain_now, b.gain_with_blockers, b.population_served, b.blocked_by) == (0, 12000, 12000, ("A",))
    assert (c.gain_now, c.gain_with_blockers, c.population_served, c.blocked_by) == (6000, 6000, 6000, ())
    assert a.ratio == pytest.approx(2400) and b.ratio == pytest.approx(2400) and c.ratio == pytest.approx(3000)
    assert a.block == ("A", "B") and c.block == ("C",)
    assert "nobody alone" in a.explanation and "12,000" in a.explanation and "2,400" in a.explanation
    assert "3,000" in c.explanation and "goes first" in c.explanation


def test_hospital_weight_moves_its_feeder_to_the_front():
    facilities, sites = example(hospital=True)
    ranking = rank(build_network(facilities), critical_sites=sites)
    assert [r.id for r in ranking] == ["A", "B", "C"]
    assert ranking[0].ratio == pytest.approx((12000 + 5000) / 5)
    assert ranking[1].gain_with_blockers == 12000  # gains stay in plain people
    assert "critical" in ranking[0].explanation


def test_zero_hour_and_zero_people_repairs_rank_without_dividing_by_zero():
    facilities = [
        Facility("S"),
        Facility("Z", ("S",), 0, True, 0),
        Facility("Y", ("Z",), 0, True, 0),
        Facility("X", ("S",), 10, True, 2),
        Facility("W", ("S",), 0, True, 3),
    ]
    ranking = rank(build_network(facilities))
    assert [r.id for r in ranking][:2] == ["Y", "Z"] or [r.id for r in ranking][:2] == ["Z", "Y"]
    assert [r.id for r in ranking][2:] == ["X", "W"]
    assert ranking[-1].ratio == 0


def test_ranking_does_not_depend_on_input_order():
    rng = random.Random(7)
    facilities = [Facility("S")] + [
        Facility(f"F{i:03d}", (f"F{rng.randrange(i):03d}" if i else "S",), rng.choice([0, 5, 5, 10]),
                 i % 3 == 0, rng.choice([1, 2, 2, 4]) if i % 3 == 0 else None)
        for i in range(200)
    ]
    first = rank(build_network(facilities))
    rng.shuffle(facilities)
    assert rank(build_network(facilities)) == first


@settings(max_examples=60, deadline=None)
@given(random_networks())
def test_one_crew_order_is_never_worse_than_any_permutation_on_small_radial_trees(facilities):
    network = build_network(facilities)
    order = [r.id for r in rank(network)]
    damaged = [f.id for f in facilities if f.damaged]
    best = min(brute_cost(facilities, sequence_finish(facilities, p)) for p in itertools.permutations(damaged))
    assert brute_cost(facilities, sequence_finish(facilities, order)) == pytest.approx(best)


@settings(max_examples=40, deadline=None)
@given(random_networks(meshed=True))
def test_gains_match_reachability_on_meshed_networks(facilities):
    network = build_network(facilities)
    by_id = {f.id: f for f in facilities}
    before = exact_brute_energisation(facilities, {})
    for r in rank(network):
        fixed = {r.id: 0.0, **{b: 0.0 for b in r.blocked_by}}
        after = exact_brute_energisation(facilities, fixed)
        gained = sum(by_id[f].population for f in after if f not in before)
        assert r.gain_with_blockers == pytest.approx(gained)
        alone = exact_brute_energisation(facilities, {r.id: 0.0})
        assert r.gain_now == pytest.approx(sum(by_id[f].population for f in alone if f not in before))


@settings(max_examples=60, deadline=None)
@given(random_networks(), st.booleans())
def test_topological_order_puts_every_parent_first(facilities, meshed_extra):
    if meshed_extra and len(facilities) > 2:  # one extra parent makes the network meshed (the other algorithm)
        last = facilities[-1]
        facilities = [*facilities[:-1], Facility(last.id, (*last.parents, facilities[0].id), last.population,
                                                 last.damaged, last.repair_hours)]
    facilities = facilities[::-1]  # children before their parents in the input
    network = build_network(facilities)
    assert sorted(network.order) == list(range(len(facilities)))
    position = {v: k for k, v in enumerate(network.order)}
    assert all(position[p] < position[v] for v in range(len(facilities)) for p in network.parents[v])


def test_a_cycle_below_a_source_is_named_in_a_radial_network():
    facilities = [Facility("S"), Facility("A", ("S",)), Facility("B", ("C",)), Facility("C", ("B",))]
    with pytest.raises(ScenarioError, match=r"cycle in feed links \((B <- C <- B|C <- B <- C)\)"):
        build_network(facilities)


def test_horn_order_handles_a_chain_whose_head_is_worthless():
    order, blocks = horn_order([-1, 0, -1], [0.0, 100.0, 30.0], [4.0, 1.0, 1.0], [0, 1, 2])
    assert order == [2, 0, 1]  # 30/1 beats (0+100)/(4+1) = 20
    assert [b[2:] for b in blocks] == [(30.0, 1.0), (100.0, 5.0)]


@pytest.mark.parametrize(
    ("facilities", "named", "reason"),
    [
        ([Facility("S"), Facility("A", ("Q",))], "'A'", "unknown parent 'Q'"),
        ([Facility("A", ("B",)), Facility("B", ("C",)), Facility("C", ("A",))], "", "cycle"),
        ([Facility("S"), Facility("A", ("S",), 0, True, -1)], "'A'", "repair_hours"),
        ([Facility("S"), Facility("A", ("S",), 0, True, None)], "'A'", "repair_hours is missing"),
        ([Facility("S"), Facility("S")], "'S'", "duplicate"),
        ([Facility("S", (), -5)], "'S'", "population"),
    ],
)
def test_bad_networks_raise_an_error_naming_the_facility(facilities, named, reason):
    with pytest.raises(ScenarioError) as info:
        build_network(facilities)
    assert isinstance(info.value, ValueError)
    assert named in str(info.value) and reason in str(info.value)
    if reason == "cycle":
        assert any(f"'{x}'" in str(info.value) for x in "ABC")


def test_critical_site_on_an_unknown_facility_is_rejected_by_name():
    facilities, _ = example()
    with pytest.raises(ScenarioError, match="'H9'.*'Nowhere'"):
        rank(build_network(facilities), critical_sites=[CriticalSite("H9", "Nowhere", 10)])


def test_geo_engine_imports_no_web_or_database_layer():
    forbidden = {"flask", "psycopg", "psycopg2", "werkzeug", "app"}
    for path in Path(__file__).resolve().parents[1].joinpath("geo").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & forbidden, path.name
