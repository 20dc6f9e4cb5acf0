"""The real pandapower MV Oberrhein network: its feed tree, and plans for damage on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.network import Facility, ScenarioError, build_network
from geo.pandapower_net import FeedTree, feed_tree, read_feed_tree, read_tables, with_damage
from geo.plan import plan
from geo.triage import rank
from tests.test_plan import finish_of, seconds
from tests.test_triage import brute_cost, brute_energisation

OBERRHEIN = Path(__file__).resolve().parent.parent / "data" / "reference" / "oberrhein" / "mv_oberrhein.json"


@pytest.fixture(scope="module")
def tree() -> FeedTree:
    return read_feed_tree(OBERRHEIN, people_per_kw=2.0)


def damage(tree: FeedTree) -> tuple[Facility, ...]:
    """A storm: one transformer, every 12th line and every 20th load damaged, 1 to 8 hours each."""
    ids = [f.id for f in tree.facilities]
    lines = [i for i in ids if i.startswith("line:")][::12]
    hit = ["trafo:142", *lines, *[i for i in ids if i.startswith("load:")][::20]]
    return with_damage(tree, {fid: float(1 + n * 5 % 8) for n, fid in enumerate(hit)})


def test_feed_tree_is_radial_and_supplies_all_147_loads(tree):
    network = build_network(tree.facilities)
    assert network.radial
    assert tree.load_count == 147 and tree.unsupplied == ()
    assert tree.load_mw == pytest.approx(61.86)
    assert sum(f.population for f in tree.facilities) == pytest.approx(61.86 * 1000 * 2.0)
    sources = [f.id for f in tree.facilities if not f.parents]
    assert sources == ["ext_grid:0", "ext_grid:1"]
    assert all(brute_energisation(tree.facilities, {}).get(f.id) == 0 for f in tree.facilities)
    assert "2 people per kW" in tree.note


def test_open_switches_cut_their_lines_and_closing_one_makes_a_loop(tree):
    ids = {f.id for f in tree.facilities}
    assert {"line:8", "line:23", "line:31", "line:66", "line:88", "line:188"}.isdisjoint(ids)
    tables = read_tables(OBERRHEIN)
    switch = tables["switch"].copy()
    switch.loc[14, "closed"] = True  # switch 14 opens line 8
    with pytest.raises(ScenarioError, match="loop"):
        feed_tree({**tables, "switch": switch}, people_per_kw=2.0)


def test_people_per_kw_is_required_and_positive():
    with pytest.raises(TypeError):
        read_feed_tree(OBERRHEIN)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="people_per_kw"):
        read_feed_tree(OBERRHEIN, people_per_kw=0)


def test_plans_on_damaged_oberrhein_are_bounded_simulated_exactly_and_improve_with_crews(tree):
    facilities = damage(tree)
    network = build_network(facilities)
    one, two = (plan(network, crews=k, deadline=seconds(10)) for k in (1, 2))
    for result in (one, two):
        q = result.quality
        assert q.objective_lower_bound <= q.objective + 1e-6 <= q.naive_objective + 2e-6
        finish = finish_of(result)
        hours = brute_energisation(facilities, finish)
        assert result.etr_hours == pytest.approx({fid: hours[fid] for fid in finish})
        assert q.phu == pytest.approx(brute_cost(facilities, finish))
    assert one.exact and one.quality.objective == pytest.approx(one.quality.objective_lower_bound)
    assert two.kpis.phu < one.kpis.phu
    assert two.kpis.t100_hours < one.kpis.t100_hours
    assert one.kpis.affected_population == two.kpis.affected_population > 0


def test_transformer_ranks_by_the_people_behind_it(tree):
    facilities = damage(tree)
    ranking = {r.id: r for r in rank(build_network(facilities))}
    trafo = ranking["trafo:142"]
    assert trafo.blocked_by == ()
    assert trafo.population_served > 50_000  # one of two transformers feeds about half the load
    blocked = [r for r in ranking.values() if r.blocked_by]
    assert blocked and all(r.gain_now == 0 for r in blocked)
