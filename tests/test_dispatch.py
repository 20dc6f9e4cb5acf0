"""The dispatch engine: travel, skills, release times; proven optimum = brute force; bound <= optimum <= plan."""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.dispatch import Crew, Dispatch, Site, Travel, dispatch
from geo.dispatch_model import DispatchError
from geo.network import CriticalSite, Facility, build_network
from geo.travel import Place, haversine_km, travel_hours
from tests.test_triage import brute_cost, random_networks

KYIV, LVIV = (30.5234, 50.4501), (24.0297, 49.8397)


def test_travel_is_haversine_times_detour_over_speed_kyiv_to_lviv():
    km = haversine_km(KYIV, LVIV)
    assert km == pytest.approx(468.0, abs=2.0)  # the published great-circle distance, about 468-470 km
    lat1, lat2 = math.radians(KYIV[1]), math.radians(LVIV[1])
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin(math.radians(LVIV[0] - KYIV[0]) / 2) ** 2)
    assert km == pytest.approx(2 * 6371 * math.asin(math.sqrt(h)), rel=1e-12)
    assert travel_hours(Travel(), Place("k", KYIV), Place("l", LVIV)) == pytest.approx(km * 1.3 / 40, rel=1e-12)
    assert travel_hours(Travel(speed_kmh=60, detour=1.0), Place("k", KYIV), Place("l", LVIV)) == pytest.approx(km / 60)
    matrix = Travel(matrix_minutes={"k": {"l": 90}})
    assert travel_hours(matrix, Place("k"), Place("l")) == 1.5 == travel_hours(matrix, Place("l"), Place("k"))


def brute_finish(order: Sequence[str], labels: Sequence[int], crews: Sequence[Crew], sites: Mapping[str, Site],
                 hours: Mapping[str, float], travel: Travel) -> dict[str, float]:
    """Finish hours when crew labels[i] does order[i], crews in the given order, starting at the latest of arrival
    and release."""
    t = [c.available_from_hours for c in crews]
    at = [Place(c.id, c.base) for c in crews]
    finish = {}
    for fid, c in zip(order, labels, strict=True):
        here = Place(fid, sites[fid].point)
        t[c] = max(t[c] + travel_hours(travel, at[c], here), sites[fid].release_hours) + hours[fid]
        at[c] = here
        finish[fid] = t[c]
    return finish


def capable(crew: Crew, site: Site) -> bool:
    return site.skill is None or site.skill in crew.skills


def brute_optimum(facilities: list[Facility], crews: Sequence[Crew], sites: Mapping[str, Site], travel: Travel,
                  critical: Sequence[CriticalSite] = ()) -> float:
    """Best cost over every assignment of repairs to capable crews and every order on each crew."""
    hours = {f.id: f.repair_hours or 0.0 for f in facilities if f.damaged}
    best = math.inf
    for order in itertools.permutations(hours):
        for labels in itertools.product(range(len(crews)), repeat=len(order)):
            if all(capable(crews[c], sites[f]) for f, c in zip(order, labels, strict=True)):
                finish = brute_finish(order, labels, crews, sites, hours, travel)
                best = min(best, brute_cost(facilities, finish, critical))
    return best


@st.composite
def instances(draw, *, max_damaged: int = 4, max_crews: int = 3):
    """Small random events: a (maybe meshed) network, crews with bases and skills, sites with release times,
    great-circle travel or a whole-minute matrix (not necessarily symmetric nor obeying the triangle inequality)."""
    facilities = draw(random_networks(max_size=7, max_damaged=max_damaged, meshed=draw(st.booleans())))
    rng = random.Random(draw(st.integers(0, 10**6)))
    k = rng.randint(1, max_crews)
    crews = [Crew(f"C{c}", (30 + rng.random() * 0.5, 50 + rng.random() * 0.5),
                  frozenset({"hv"}) if c == 0 or rng.random() < 0.4 else frozenset(), rng.choice([0, 0, 0.5, 2]))
             for c in range(k)]
    sites = {f.id: Site(f.id, (30 + rng.random() * 0.5, 50 + rng.random() * 0.5), rng.choice([None, None, "hv"]),
                        rng.choice([0, 0, 1, 3.5])) for f in facilities if f.damaged}
    if rng.random() < 0.5:
        places = [c.id for c in crews] + list(sites)
        matrix = {a: {b: rng.choice([5, 15, 30, 60, 120]) for b in places if b != a} for a in places}
        travel = Travel(matrix_minutes=matrix)
    else:
        travel = Travel()
    return facilities, crews, sites, travel


def finish_of(result: Dispatch) -> dict[str, float]:
    return {j.id: j.finish_hours for r in result.routes for j in r.jobs}


def assert_feasible(result: Dispatch, crews: Sequence[Crew], sites: Mapping[str, Site],
                    facilities: Sequence[Facility], travel: Travel) -> None:
    """Every repair once, on a crew with the skill, never before release, timeline consistent with travel."""
    hours = {f.id: f.repair_hours for f in facilities if f.damaged}
    assert sorted(finish_of(result)) == sorted(hours)
    by_id = {c.id: c for c in crews}
    for route in result.routes:
        crew = by_id[route.crew]
        t, at = crew.available_from_hours, Place(crew.id, crew.base)
        for j in route.jobs:
            site = sites[j.id]
            assert capable(crew, site)
            assert j.travel_start_hours == pytest.approx(t)
            here = Place(j.id, site.point)
            assert j.arrival_hours == pytest.approx(t + travel_hours(travel, at, here))
            assert j.start_hours == pytest.approx(max(j.arrival_hours, site.release_hours))
            assert j.start_hours >= site.release_hours - 1e-9
            assert j.finish_hours == pytest.approx(j.start_hours + hours[j.id])
            t, at = j.finish_hours, here


@settings(max_examples=40, deadline=None)
@given(instances())
def test_proven_optimal_plan_equals_the_brute_force_optimum(case):
    facilities, crews, sites, travel = case
    result = dispatch(build_network(facilities), crews, sites, travel=travel, samples=20)
    assert_feasible(result, crews, sites, facilities, travel)
    optimum = brute_optimum(facilities, crews, sites, travel)
    q = result.quality
    assert q.optimal, q.solver
    # CP-SAT's model rounds times down to whole seconds; allow that much per repair on every weighted person.
    slack = 3 * len(sites) / 3600 * sum(f.population for f in facilities)
    assert q.objective == pytest.approx(optimum, abs=slack + 1e-6)
    assert q.objective_lower_bound <= optimum + 1e-6 <= q.objective + slack + 2e-6
    assert q.objective == pytest.approx(brute_cost(facilities, finish_of(result)))


@settings(max_examples=40, deadline=None)
@given(instances(max_damaged=5))
def test_heuristic_plans_never_beat_the_optimum_and_the_bound_never_exceeds_it(case):
    facilities, crews, sites, travel = case
    result = dispatch(build_network(facilities), crews, sites, travel=travel, solver_seconds=0, samples=20)
    assert_feasible(result, crews, sites, facilities, travel)
    q = result.quality
    optimum = brute_optimum(facilities, crews, sites, travel)
    assert q.objective_lower_bound <= optimum + 1e-6 <= q.objective + 2e-6
    assert q.phu_lower_bound <= q.phu + 1e-6
    assert q.objective <= q.naive_objective + 1e-6
    assert q.optimal == (len(crews) == 1 or not sites)  # only the one-crew DP proves without the solver


def spread_event(m: int, k: int, seed: int) -> tuple[list[Facility], list[Crew], dict[str, Site]]:
    """A radial event of m damaged facilities around Kyiv with k crews, some needing the 'hv' skill."""
    rng = random.Random(seed)
    facilities = [Facility("S")]
    for i in range(1, m + 1):
        facilities.append(Facility(f"F{i}", (f"F{rng.randrange(1, i)}" if i > 1 and rng.random() < 0.7 else "S",),
                                   rng.choice([0, 200, 1000, 5000]), True, rng.choice([1, 2, 3, 4, 8])))
    crews = [Crew(f"crew-{c}", (30.5 + rng.uniform(-0.3, 0.3), 50.45 + rng.uniform(-0.2, 0.2)),
                  frozenset({"hv", "line"}) if c % 2 == 0 else frozenset({"line"}), rng.choice([0, 1]))
             for c in range(k)]
    sites = {f.id: Site(f.id, (30.5 + rng.uniform(-0.5, 0.5), 50.45 + rng.uniform(-0.3, 0.3)),
                        rng.choice(["hv", "line", None]), rng.choice([0, 0, 2, 6])) for f in facilities if f.damaged}
    return facilities, crews, sites


def test_ten_sites_and_five_crews_are_proven_optimal_within_ten_seconds():
    facilities, crews, sites = spread_event(10, 5, seed=1)
    result = dispatch(build_network(facilities), crews, sites, solver_seconds=10, samples=50)
    assert result.quality.optimal and result.quality.solver.startswith("OPTIMAL")
    assert result.quality.objective_lower_bound <= result.quality.objective
    assert_feasible(result, crews, sites, facilities, Travel())


def test_larger_event_sits_between_bound_and_naive_and_respects_skills_and_release():
    facilities, crews, sites = spread_event(60, 4, seed=2)
    result = dispatch(build_network(facilities), crews, sites, solver_seconds=0, samples=50)
    q = result.quality
    assert 0 < q.objective_lower_bound <= q.objective <= q.naive_objective
    assert not q.optimal and q.solver == "not run"
    assert_feasible(result, crews, sites, facilities, Travel())
    assert brute_cost(facilities, finish_of(result)) == pytest.approx(q.objective)


def test_etr_ranges_are_ordered_deterministic_and_depend_on_the_seed():
    facilities, crews, sites = spread_event(12, 3, seed=3)
    network = build_network(facilities)
    a = dispatch(network, crews, sites, solver_seconds=0, samples=200, seed=7)
    b = dispatch(network, crews, sites, solver_seconds=0, samples=200, seed=7)
    c = dispatch(network, crews, sites, solver_seconds=0, samples=200, seed=8)
    assert a.cases == b.cases and a.areas == b.areas
    assert a.cases != c.cases
    for etr in [*a.cases.values(), *a.areas.values()]:
        assert 0 <= etr.p50_hours <= etr.p90_hours
    assert set(a.areas) == {f.id for f in facilities if f.id != "S"}
    first = min(a.cases.values(), key=lambda e: e.hours)
    assert first.p90_hours > first.p50_hours  # repairs are uncertain, so is their ETR


def test_a_release_time_delays_the_start_and_skills_pick_the_crew():
    facilities = [Facility("S"), Facility("A", ("S",), 1000, True, 2), Facility("B", ("S",), 10, True, 1)]
    crews = [Crew("far", (30.0, 50.0), frozenset({"hv"})), Crew("near", (30.6, 50.4), frozenset())]
    sites = {"A": Site("A", (30.6, 50.4), "hv", release_hours=5), "B": Site("B", (30.6, 50.41))}
    result = dispatch(build_network(facilities), crews, sites, samples=10)
    routes = {r.crew: r.jobs for r in result.routes}
    assert [j.id for j in routes["far"]] == ["A"] and [j.id for j in routes["near"]] == ["B"]
    a = routes["far"][0]
    assert a.arrival_hours < 5 and a.start_hours == 5 and a.finish_hours == 7
    assert result.cases["A"].hours == 7 and result.quality.optimal


def test_bad_crews_and_sites_are_named():
    network = build_network([Facility("S"), Facility("A", ("S",), 10, True, 2)])
    with pytest.raises(DispatchError, match="facility 'A': no crew has the skill 'hv'"):
        dispatch(network, [Crew("c", (30, 50))], {"A": Site("A", (30, 50), "hv")})
    with pytest.raises(DispatchError, match="'A': no position"):
        dispatch(network, [Crew("c", (30, 50))], {"A": Site("A")})
    with pytest.raises(DispatchError, match="no time from 'c' to 'A'"):
        dispatch(network, [Crew("c")], {"A": Site("A")}, travel=Travel(matrix_minutes={"x": {}}))
    with pytest.raises(DispatchError, match="crew 'c': duplicate id"):
        dispatch(network, [Crew("c", (30, 50)), Crew("c", (30, 50))], {"A": Site("A", (30, 50))})


def test_the_dispatcher_never_reads_the_python_clock(monkeypatch):
    facilities, crews, sites = spread_event(8, 2, seed=4)
    network = build_network(facilities)

    def no_clock() -> float:
        raise AssertionError("the dispatcher read the clock")

    for name in ("time", "monotonic", "perf_counter", "process_time"):
        monkeypatch.setattr(time, name, no_clock)
    assert dispatch(network, crews, sites, samples=10).converged


def test_iterated_local_search_above_the_exact_size_spends_the_budget_never_worse_and_keeps_commitments():
    from geo.dispatch import Commitment

    facilities, crews, sites = spread_event(44, 3, seed=5)
    network = build_network(facilities)
    calls = {"n": 0}

    def budget(limit: int):
        def deadline() -> bool:  # a deadline counted in calls, not read from a clock
            calls["n"] += 1
            return calls["n"] > limit
        return deadline

    plain = dispatch(network, crews, sites, solver_seconds=0, samples=10)
    held = [Commitment(plain.routes[0].jobs[0].id, crews[0].id, in_progress=True, started_hours_ago=0.5)]
    longer = dispatch(network, crews, sites, solver_seconds=0, samples=10, deadline=budget(60_000),
                      commitments=held)
    kept = dispatch(network, crews, sites, solver_seconds=0, samples=10, commitments=held)
    assert longer.quality.objective <= kept.quality.objective + 1e-6
    assert longer.routes[0].jobs[0].id == held[0].job and longer.routes[0].jobs[0].commitment == "in_progress"
    assert calls["n"] > 60_000  # it searched until the deadline
    calls["n"] = 0
    again = dispatch(network, crews, sites, solver_seconds=0, samples=10, deadline=budget(60_000),
                     commitments=held)
    assert again.routes == longer.routes  # seeded: the same budget gives the same plan
    assert_feasible(dispatch(network, crews, sites, solver_seconds=0, samples=10, deadline=budget(30_000)),
                    crews, sites, facilities, Travel())
