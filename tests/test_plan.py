"""The k-crew plan: hand-checked costs, exact simulation, lower bound <= plan <= naive, KPIs."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.network import CriticalSite, Facility, build_network
from geo.plan import Plan, area_etr, gap, improvement, plan, time_limit
from tests.test_triage import exact_brute_cost as brute_cost
from tests.test_triage import exact_brute_energisation as brute_energisation
from tests.test_triage import example, random_networks


def seconds(budget_s: float) -> Callable[[], bool]:
    """A local-search deadline `budget_s` seconds from now on the wall clock, as the command line builds it."""
    return time_limit(budget_s, clock=time.perf_counter)


def finish_of(result: Plan) -> dict[str, float]:
    """Finish hour of every repair in a plan."""
    return {job.id: job.finish_hours for crew in result.crews for job in crew}


def brute_optimum(facilities: list[Facility], crews: int) -> float:
    """Best cost over every split of the repairs among crews and every order on each crew."""
    damaged = [f for f in facilities if f.damaged]
    best = float("inf")
    for order in itertools.permutations(damaged):
        for labels in itertools.product(range(crews), repeat=len(order)):
            if labels and labels[0] != 0:
                continue  # crews are interchangeable
            t = [0.0] * crews
            finish = {}
            for f, c in zip(order, labels, strict=True):
                t[c] += f.repair_hours or 0.0
                finish[f.id] = t[c]
            best = min(best, brute_cost(facilities, finish))
    return best


def test_two_crews_restore_the_worked_example_in_60000_people_hours():
    facilities, _ = example()
    result = plan(build_network(facilities), crews=2, deadline=seconds(5))
    assert result.kpis.phu == pytest.approx(60000)
    assert result.quality.naive_phu == pytest.approx(66000)
    assert result.quality.phu_lower_bound <= 60000 + 1e-6
    assert result.etr_hours == {"A": 4, "B": 4, "C": 2}
    assert sorted(len(c) for c in result.crews) == [1, 2]


def test_one_crew_plan_is_the_exact_order_with_a_zero_gap_in_the_worked_example():
    facilities, _ = example()
    result = plan(build_network(facilities), crews=1)
    assert [j.id for j in result.crews[0]] == ["C", "A", "B"]
    assert [(j.start_hours, j.finish_hours) for j in result.crews[0]] == [(0, 2), (2, 6), (6, 7)]
    assert result.exact
    q = result.quality
    assert (q.phu, q.naive_phu, q.phu_lower_bound) == pytest.approx((96000, 102000, 96000))


def test_kpis_of_the_worked_example_count_people_customers_and_restoration_times():
    facilities, _ = example()
    k = plan(build_network(facilities), crews=1, persons_per_customer=2.0).kpis
    assert k.affected_population == 18000
    assert k.customers_interrupted == 9000
    assert k.cmi == pytest.approx(96000 * 60 / 2.0)
    assert (k.t50_hours, k.t90_hours, k.t100_hours) == (7, 7, 7)  # 6,000 of 18,000 back at hour 2 is 33 %


def test_weighted_objective_counts_the_hospital_while_phu_stays_in_plain_people():
    facilities, sites = example(hospital=True)
    result = plan(build_network(facilities), crews=1, critical_sites=sites)
    assert [j.id for j in result.crews[0]] == ["A", "B", "C"]
    assert result.quality.objective == pytest.approx(17000 * 5 + 6000 * 7)
    assert result.kpis.phu == pytest.approx(12000 * 5 + 6000 * 7)


def test_a_critical_site_may_cost_plain_people_hours_but_never_the_objective():
    # X feeds a hospital (100,000 people-equivalents, nobody else), Y 6,000 people; 1 h each. The plan does X
    # first: objective 100,000 x 1 + 6,000 x 2 = 112,000 against naive (Y first, it serves more people)
    # 6,000 x 1 + 100,000 x 2 = 206,000; in plain people 12,000 against naive's 6,000.
    facilities = [Facility("S"), Facility("X", ("S",), 0, True, 1), Facility("Y", ("S",), 6000, True, 1)]
    result = plan(build_network(facilities), crews=1, critical_sites=[CriticalSite("H", "X", 100000, "hospital")])
    q = result.quality
    assert [j.id for j in result.crews[0]] == ["X", "Y"]
    assert (q.objective, q.naive_objective, q.objective_lower_bound) == (112000, 206000, 112000)
    assert (q.phu, q.naive_phu, q.phu_lower_bound) == (12000, 6000, 6000)
    assert improvement(q.objective, q.naive_objective) == pytest.approx(94000 / 206000)
    assert improvement(q.phu, q.naive_phu) == -1
    assert any("critical sites" in n and "12,000 vs 6,000" in n for n in result.notes)
    assert not any("critical sites" in n for n in plan(build_network(facilities), crews=1).notes)


def test_improvement_and_gap_of_zero_costs():
    assert improvement(0, 0) == 0 and improvement(5, 0) is None and improvement(50, 100) == 0.5
    assert gap(0, 0) == 0 and gap(5, 0) is None and gap(150, 100) == 0.5


@st.composite
def networks_with_sites(draw, *, max_size: int = 12, max_damaged: int = 8):
    """Random feed networks (some meshed) with up to four critical sites of random weight on random facilities."""
    facilities = draw(random_networks(max_size=max_size, meshed=draw(st.booleans()), max_damaged=max_damaged))
    sites = draw(st.lists(
        st.tuples(st.sampled_from([f.id for f in facilities]), st.sampled_from([0, 1, 50, 500, 5000, 10**5])),
        max_size=4,
    ))
    return facilities, [CriticalSite(f"H{i}", fid, w, "hospital") for i, (fid, w) in enumerate(sites)]


@settings(max_examples=60, deadline=None)
@given(networks_with_sites(), st.integers(1, 4))
def test_with_critical_sites_lower_bound_objective_and_naive_objective_stay_in_order(case, crews):
    facilities, sites = case
    result = plan(build_network(facilities), crews=crews, deadline=seconds(10), critical_sites=sites)
    q = result.quality
    assert q.objective_lower_bound <= q.objective + 1e-6 <= q.naive_objective + 2e-6
    assert q.phu_lower_bound <= q.phu + 1e-6  # plain people: bounded below, but may exceed naive_phu
    assert improvement(q.objective, q.naive_objective) is None or improvement(q.objective, q.naive_objective) >= 0
    finish = finish_of(result)
    assert q.objective == pytest.approx(brute_cost(facilities, finish, sites))
    assert q.phu == pytest.approx(brute_cost(facilities, finish)) == pytest.approx(result.kpis.phu)
    naive = {job.id: job.finish_hours for crew in result.naive_crews for job in crew}
    assert q.naive_objective == pytest.approx(brute_cost(facilities, naive, sites))
    assert q.naive_phu == pytest.approx(brute_cost(facilities, naive))
    if q.phu > q.naive_phu + 1e-6:
        assert sites and any("critical sites" in n for n in result.notes)


def test_a_meshed_facility_gets_power_from_whichever_feed_is_repaired_first():
    facilities = [
        Facility("S"),
        Facility("L1", ("S",), 0, True, 6),
        Facility("L2", ("S",), 0, True, 2),
        Facility("T", ("L1", "L2"), 1000),
    ]
    result = plan(build_network(facilities), crews=1)
    assert result.kpis.phu == pytest.approx(2000)
    assert result.etr_hours["L2"] == 2
    assert not result.exact and any("meshed" in n for n in result.notes)


@settings(max_examples=30, deadline=None)
@given(random_networks(max_size=7, max_damaged=4, meshed=True), st.integers(1, 3))
def test_lower_bound_never_exceeds_the_true_optimum_and_plan_never_beats_it(facilities, crews):
    result = plan(build_network(facilities), crews=crews, deadline=seconds(10))
    optimum = brute_optimum(facilities, crews)
    assert result.quality.objective_lower_bound <= optimum + 1e-6
    assert result.quality.objective >= optimum - 1e-6


@settings(max_examples=40, deadline=None)
@given(random_networks(max_size=12, meshed=True, max_damaged=8), st.sampled_from([1, 2, 3, 5]))
def test_plan_sits_between_lower_bound_and_naive_and_matches_brute_simulation(facilities, crews):
    result = plan(build_network(facilities), crews=crews, deadline=seconds(10))
    q = result.quality
    assert q.objective_lower_bound <= q.objective + 1e-6
    assert q.phu_lower_bound <= q.phu + 1e-6  # a bound on every plan's plain people-hours
    assert q.objective <= q.naive_objective + 1e-6
    finish = finish_of(result)
    assert sorted(finish) == sorted(f.id for f in facilities if f.damaged)
    assert q.objective == pytest.approx(brute_cost(facilities, finish))
    hours = brute_energisation(facilities, finish)
    assert result.etr_hours == pytest.approx({fid: hours[fid] for fid in finish})
    for crew in result.crews:  # crews work back to back from hour 0
        assert all(a.finish_hours == pytest.approx(b.start_hours) for a, b in itertools.pairwise(crew))
        assert not crew or crew[0].start_hours == 0


@settings(max_examples=40, deadline=None)
@given(random_networks(max_size=12, meshed=True, max_damaged=8), st.integers(1, 4))
def test_every_affected_person_is_restored_once_and_results_are_deterministic(facilities, crews):
    network = build_network(facilities)
    result = plan(network, crews=crews, deadline=seconds(10))
    before = brute_energisation(facilities, {})
    finish = finish_of(result)
    population = {f.id: f.population for f in facilities}
    restored, powered = 0.0, set(before)
    for t in sorted(set(finish.values())):
        now = {fid for fid, h in brute_energisation(facilities, finish).items() if h <= t}
        restored += sum(population[f] for f in now - powered)
        powered = now
    assert restored == pytest.approx(result.kpis.affected_population)
    assert result.kpis.affected_population == pytest.approx(sum(p for f, p in population.items() if f not in before))
    assert result.converged
    assert plan(network, crews=crews, deadline=seconds(10)) == result


@settings(max_examples=25, deadline=None)
@given(random_networks(max_size=12, max_damaged=8))
def test_radial_one_crew_plan_is_exact_with_a_zero_gap(facilities):
    result = plan(build_network(facilities), crews=1)
    assert result.exact
    assert result.quality.objective == pytest.approx(result.quality.objective_lower_bound)


def test_more_crews_never_cost_more_and_a_zero_time_budget_still_gives_a_valid_plan():
    facilities = chain_of_crews()
    network = build_network(facilities)
    costs = [plan(network, crews=k, deadline=seconds(2)).quality.objective for k in (1, 2, 5)]
    assert costs[0] > costs[1] > costs[2]
    rushed = plan(network, crews=3, deadline=seconds(0))
    assert rushed.quality.objective_lower_bound <= rushed.quality.objective <= rushed.quality.naive_objective
    assert rushed.quality.objective == pytest.approx(brute_cost(facilities, finish_of(rushed)))


def test_no_damage_gives_an_empty_plan_with_zero_kpis():
    result = plan(build_network([Facility("S"), Facility("A", ("S",), 50)]), crews=2)
    assert result.crews == ((), ())
    assert result.kpis.affected_population == 0 and result.kpis.phu == 0 and result.kpis.t100_hours == 0


def chain_of_crews() -> list[Facility]:
    """A network big enough that local search with three crews makes several moves."""
    return [Facility("S")] + [
        Facility(f"F{i}", (f"F{(i - 1) // 3}" if i > 3 else "S",), 100 * (i % 4), i % 2 == 1,
                 float(1 + i % 5) if i % 2 == 1 else None)
        for i in range(1, 60)
    ]


class FakeClock:
    """A clock that moves one second every time it is read, counting the reads."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return float(self.reads)


def test_the_search_stops_when_the_injected_deadline_passes_and_the_note_names_the_budget():
    network = build_network(chain_of_crews())
    clock = FakeClock()
    rushed = plan(network, crews=3, deadline=time_limit(2.5, clock=clock))
    assert not rushed.converged and clock.reads == 4  # start at 1, then 2, 3, 4 > 1 + 2.5: stop
    assert "local search stopped at the time limit (2.5 s) before reaching a local optimum" in rushed.notes
    assert rushed.quality.objective <= rushed.quality.naive_objective


def test_any_callable_is_a_deadline_and_none_searches_to_a_local_optimum():
    network = build_network(chain_of_crews())
    stopped = plan(network, crews=3, deadline=lambda: True)
    assert not stopped.converged
    assert "local search stopped at the time limit before reaching a local optimum" in stopped.notes
    unlimited = plan(network, crews=3)
    assert unlimited.converged and not any("time limit" in n for n in unlimited.notes)
    assert plan(network, crews=3, deadline=lambda: False) == unlimited
    assert unlimited.quality.objective <= stopped.quality.objective


def test_the_planner_never_reads_the_clock(monkeypatch):
    def no_clock() -> float:
        raise AssertionError("the planner read the clock")

    for name in ("time", "monotonic", "perf_counter", "process_time"):
        monkeypatch.setattr(time, name, no_clock)
    assert plan(build_network(chain_of_crews()), crews=3).converged


def test_area_etrs_of_the_worked_example():
    facilities, _ = example()
    network = build_network([*facilities, Facility("D", ("B",), 700), Facility("E", ("S",), 50)])
    result = plan(network, crews=1)
    assert result.etr_hours == {"C": 2.0, "A": 6.0, "B": 7.0}
    assert area_etr(network, result.etr_hours) == {"S": 0.0, "A": 6.0, "B": 7.0, "C": 2.0, "D": 7.0, "E": 0.0}


@settings(deadline=None)
@given(random_networks(max_size=12, meshed=True, max_damaged=8), st.integers(1, 3))
def test_each_area_gets_power_back_when_reachability_says_under_the_plan(facilities, crews):
    network = build_network(facilities)
    result = plan(network, crews=crews)
    areas = area_etr(network, result.etr_hours)
    assert areas == pytest.approx(brute_energisation(facilities, finish_of(result)))
    assert area_etr(network, result.naive_etr_hours) == pytest.approx(
        brute_energisation(facilities, {j.id: j.finish_hours for crew in result.naive_crews for j in crew}))
