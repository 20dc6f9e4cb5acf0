"""The live picture on small networks: what degraded, operating and out-of-service facilities supply."""

from __future__ import annotations

import pytest

from geo import live
from geo.network import CriticalSite, Facility, energised_at_start
from geo.triage import rank

# S (source, 0 people) feeds A (1,000 people) and B (2,000); A feeds A1 (500); B feeds B1 (300).
BASE = [Facility("S"), Facility("A", ("S",), 1000), Facility("B", ("S",), 2000), Facility("A1", ("A",), 500),
        Facility("B1", ("B",), 300), Facility("C", ("S",), 4000)]


def damaged(states: dict[str, live.State], hours: dict[str, float] | None = None) -> live.LiveNetwork:
    hours = hours or {}
    facilities = [Facility(f.id, f.parents, f.population, damaged=f.id in states,
                           repair_hours=hours.get(f.id, 2.0) if f.id in states else None) for f in BASE]
    return live.live_network(facilities, states)


def test_states_from_statuses_and_the_default_share():
    assert live.state("out_of_service", None, default_share=0.5) == live.State("out_of_service", 1.0)
    assert live.state("operating", 0.9, default_share=0.5) == live.State("operating", 0.0)
    assert live.state("degraded", None, default_share=0.5) == live.State("degraded", 0.5)
    assert live.state("degraded", 0.3, default_share=0.5) == live.State("degraded", 0.3)
    with pytest.raises(ValueError):
        live.state("degraded", 1.5, default_share=0.5)
    with pytest.raises(ValueError):
        live.state("flooded", None, default_share=0.5)


def test_out_of_service_darkens_its_area_and_everything_fed_through_it():
    picture = live.picture(damaged({"A": live.State("out_of_service", 1.0)}))
    assert picture.people_without_power == 1500  # A and A1, although nobody reported A1
    assert picture.without_power_now == {"A": 1500}
    assert picture.people_partially_supplied == 0


def test_a_degraded_facility_darkens_its_share_and_still_feeds_what_is_below():
    net = damaged({"B": live.State("degraded", 0.3)})
    picture = live.picture(net)
    assert picture.people_without_power == pytest.approx(600)  # 30 % of B's 2,000; B1 keeps power
    assert picture.people_partially_supplied == pytest.approx(1400)
    assert picture.without_power_now == {"B": pytest.approx(600)}
    on = dict(zip((f.id for f in net.network.facilities), energised_at_start(net.network), strict=True))
    assert on["B1"] and on["B (supplying)"] and not on["B"]


def test_an_operating_facility_supplies_everyone_and_its_repair_restores_nobody():
    net = damaged({"C": live.State("operating", 0.0), "A": live.State("out_of_service", 1.0)})
    picture = live.picture(net)
    assert picture.people_without_power == 1500 and picture.without_power_now["C"] == 0
    ranked = rank(net.network, last={"C"})
    assert [r.id for r in ranked] == ["A", "C"] and ranked[-1].gain_now == 0 and ranked[-1].rank == 2


def test_the_operating_group_comes_after_cases_that_restore_nobody_either():
    # A (out of service) with nobody of its own below a... here: an out-of-service facility with no people ranks
    # before an operating one, which is in its own group at the end.
    facilities = [Facility("S"), Facility("Z", ("S",), 0, damaged=True, repair_hours=1.0),
                  Facility("O", ("S",), 9000, damaged=True, repair_hours=0.5)]
    net = live.live_network(facilities, {"O": live.State("operating", 0.0), "Z": live.State("out_of_service", 1.0)})
    assert [r.id for r in rank(net.network, last={"O"})] == ["Z", "O"]


def test_downstream_of_an_out_of_service_facility_below_a_degraded_one_is_dark_and_counted_once():
    net = damaged({"B": live.State("degraded", 0.5), "B1": live.State("out_of_service", 1.0)})
    picture = live.picture(net)
    assert picture.people_without_power == pytest.approx(1000 + 300)
    assert picture.without_power_now == {"B": pytest.approx(1300), "B1": 300}  # B's share and all it feeds


def test_a_degraded_facility_below_a_dark_one_is_dark_whole_but_partly_supplied_is_only_what_has_power():
    net = damaged({"S": live.State("out_of_service", 1.0), "B": live.State("degraded", 0.5)})
    picture = live.picture(net)
    assert picture.people_without_power == sum(f.population for f in BASE)
    assert picture.people_partially_supplied == 0


def test_critical_sites_of_an_operating_facility_have_power_and_a_degraded_ones_stay_on_its_repair():
    net = damaged({"A": live.State("operating", 0.0), "B": live.State("degraded", 0.4)})
    sites = net.sites([CriticalSite("h1", "A", 100.0), CriticalSite("h2", "B", 50.0)])
    assert {s.id: s.facility for s in sites} == {"h1": "A (supplying)", "h2": "B"}


def test_meshed_networks_count_each_dark_facility_once():
    facilities = [Facility("S1"), Facility("S2"), Facility("M", ("S1", "S2"), 100, damaged=True, repair_hours=1.0),
                  Facility("D", ("M",), 50)]
    net = live.live_network(facilities, {"M": live.State("degraded", 0.2)})
    picture = live.picture(net)
    assert not net.network.radial
    assert picture.people_without_power == pytest.approx(20)
    assert picture.without_power_now == {"M": pytest.approx(20)}
