"""Shifts as a hard constraint: a repair starts within its crew's shift and is done by its end or waits for the
next; a repair longer than a whole shift runs over, flagged. Every solver agrees with brute force, the bound holds."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.dispatch import Crew, Dispatch, Site, Travel, dispatch
from geo.dispatch_json import dispatch_to_json
from geo.dispatch_model import DispatchError
from geo.network import Facility, build_network
from geo.scenario_dispatch import parse_crews
from geo.travel import Place, travel_hours
from tests.test_dispatch import capable, finish_of, instances
from tests.test_triage import brute_cost

BASE, A_AT, B_AT = (30.0, 50.0), (30.05, 50.0), (30.1, 50.0)


def shifts_of(crew: Crew) -> list[tuple[float, float]]:
    """The crew's shifts as explicit (begin, end) pairs, the current one first (enough for these tests)."""
    assert crew.shift_end_hours is not None
    length = (crew.shift_hours if crew.shift_hours is not None
              else crew.shift_end_hours - crew.available_from_hours)
    ends = [crew.shift_end_hours + n * crew.shift_period_hours for n in range(400)]
    return [(end - length, end) for end in ends]


def start_within(crew: Crew, ready: float, hours: float) -> float:
    """The first shift, in order, where the repair can start at or after `ready` and either fits before its end or
    is longer than a whole shift (then it starts as soon as it may and runs over)."""
    if crew.shift_end_hours is None or crew.shift_length() >= crew.shift_period_hours:
        return ready  # no shifts, or shifts back to back: always on shift
    for begin, end in shifts_of(crew):
        x = max(ready, begin)
        if x < end and (x + hours <= end + 1e-9 or hours > end - begin + 1e-12):
            return x
    raise AssertionError("no shift found")  # pragma: no cover


def brute_finish(order: Sequence[str], labels: Sequence[int], crews: Sequence[Crew], sites: Mapping[str, Site],
                 hours: Mapping[str, float], travel: Travel) -> dict[str, float]:
    t = [c.available_from_hours for c in crews]
    at = [Place(c.id, c.base) for c in crews]
    finish = {}
    for fid, c in zip(order, labels, strict=True):
        here = Place(fid, sites[fid].point)
        ready = max(t[c] + travel_hours(travel, at[c], here), sites[fid].release_hours)
        t[c] = start_within(crews[c], ready, hours[fid]) + hours[fid]
        at[c] = here
        finish[fid] = t[c]
    return finish


def brute_optimum(facilities: list[Facility], crews: Sequence[Crew], sites: Mapping[str, Site],
                  travel: Travel) -> float:
    hours = {f.id: f.repair_hours or 0.0 for f in facilities if f.damaged}
    best = math.inf
    for order in itertools.permutations(hours):
        for labels in itertools.product(range(len(crews)), repeat=len(order)):
            if all(capable(crews[c], sites[f]) for f, c in zip(order, labels, strict=True)):
                best = min(best, brute_cost(facilities, brute_finish(order, labels, crews, sites, hours, travel)))
    return best


@st.composite
def shifted_instances(draw, *, max_damaged: int = 4, max_crews: int = 3):
    """The engine's random events (tests.test_dispatch.instances) with shifts of 2-6 h every 6, 8 or 24 h on
    most crews, short enough that 5 h and 8 h repairs are longer than a whole shift."""
    facilities, crews, sites, travel = draw(instances(max_damaged=max_damaged, max_crews=max_crews))
    rng = random.Random(draw(st.integers(0, 10**6)))
    shifted = []
    for crew in crews:
        if rng.random() < 0.2:
            shifted.append(crew)
            continue
        length = rng.choice([2.0, 3.0, 4.0, 6.0])
        left = rng.choice([length, length / 2, 1.0, 0.0])  # of the current shift, from the crew's free hour
        shifted.append(Crew(crew.id, crew.base, crew.skills, crew.available_from_hours,
                            shift_end_hours=crew.available_from_hours + left, shift_hours=length,
                            shift_period_hours=rng.choice([length, 8.0, 24.0]) if length <= 8 else 24.0))
    return facilities, shifted, sites, travel


def assert_within_shifts(result: Dispatch, crews: Sequence[Crew], sites: Mapping[str, Site],
                         facilities: Sequence[Facility], travel: Travel) -> None:
    """Each job starts at the first moment its crew's shifts allow after arrival and release; only repairs
    longer than a whole shift run over, and exactly those are flagged."""
    hours = {f.id: f.repair_hours or 0.0 for f in facilities if f.damaged}
    assert sorted(finish_of(result)) == sorted(hours)
    by_id = {c.id: c for c in crews}
    for route in result.routes:
        crew = by_id[route.crew]
        t, at = crew.available_from_hours, Place(crew.id, crew.base)
        for j in route.jobs:
            here = Place(j.id, sites[j.id].point)
            assert j.travel_start_hours == pytest.approx(t)
            assert j.arrival_hours == pytest.approx(t + travel_hours(travel, at, here))
            ready = max(j.arrival_hours, sites[j.id].release_hours)
            assert j.start_hours == pytest.approx(start_within(crew, ready, hours[j.id]), abs=1e-9)
            assert j.finish_hours == pytest.approx(j.start_hours + hours[j.id])
            runs_over = crew.shift_end_hours is not None and crew.shift_length() < crew.shift_period_hours and not any(
                begin - 1e-9 <= j.start_hours < end and j.finish_hours <= end + 1e-9
                for begin, end in shifts_of(crew))
            assert j.over_shift == runs_over
            if runs_over:
                assert hours[j.id] > crew.shift_length()
            t, at = j.finish_hours, here


@settings(max_examples=40, deadline=None)
@given(shifted_instances())
def test_with_shifts_the_proven_optimum_equals_brute_force(case):
    facilities, crews, sites, travel = case
    result = dispatch(build_network(facilities), crews, sites, travel=travel, samples=20)
    assert_within_shifts(result, crews, sites, facilities, travel)
    optimum = brute_optimum(facilities, crews, sites, travel)
    q = result.quality
    slack = 3 * len(sites) / 3600 * sum(f.population for f in facilities)
    assert q.objective_lower_bound <= optimum + 1e-6 <= q.objective + 2e-6
    assert q.objective == pytest.approx(brute_cost(facilities, finish_of(result)))
    if q.optimal:
        assert q.objective == pytest.approx(optimum, abs=slack + 1e-6)
    else:  # only when the model's whole seconds miss a shift that the real times fit, and then it says so
        assert q.solver == "OPTIMAL" and q.objective > optimum + slack


@settings(max_examples=40, deadline=None)
@given(shifted_instances(max_damaged=5))
def test_with_shifts_heuristic_plans_and_the_bound_bracket_the_optimum(case):
    facilities, crews, sites, travel = case
    result = dispatch(build_network(facilities), crews, sites, travel=travel, solver_seconds=0, samples=20)
    assert_within_shifts(result, crews, sites, facilities, travel)
    q = result.quality
    optimum = brute_optimum(facilities, crews, sites, travel)
    assert q.objective_lower_bound <= optimum + 1e-6 <= q.objective + 2e-6
    assert q.phu_lower_bound <= q.phu + 1e-6
    for etr in result.cases.values():
        assert etr.p50_hours <= etr.p90_hours


def test_a_repair_that_does_not_fit_the_shift_waits_for_the_next_and_a_longer_one_runs_over_flagged():
    facilities = [Facility("S"), Facility("A", ("S",), 1000, True, 3), Facility("B", ("S",), 10, True, 12)]
    crew = Crew("c", BASE, available_from_hours=0, shift_end_hours=2, shift_hours=8, shift_period_hours=24)
    sites = {"A": Site("A", A_AT), "B": Site("B", B_AT)}
    result = dispatch(build_network(facilities), [crew], sites, samples=20)
    b, a = result.routes[0].jobs  # A cannot fit the 2 h left of this shift: B, which fits no shift, goes first
    assert (b.id, a.id) == ("B", "A") and a.arrival_hours < 18
    assert b.start_hours == b.arrival_hours < 2 and b.over_shift and b.finish_hours > 12
    assert (a.start_hours, a.finish_hours, a.over_shift) == (18, 21, False)  # the next shift: 18-26 h from now
    assert result.quality.optimal and result.quality.objective_lower_bound <= result.quality.objective
    assert "crew 'c' works past its shift end (2 h) on 'B'" in result.notes
    body = dispatch_to_json(result, datetime(2026, 12, 7, 14, tzinfo=UTC), samples=20, seed=0)
    job_b, job_a = body["plan"]["crews"][0]["jobs"]
    assert (job_a["start_at"], job_a["over_shift"], job_b["over_shift"]) == ("2026-12-08T08:00:00Z", False, True)


def test_a_second_crew_on_shift_takes_the_job_rather_than_wait_for_the_first_crews_next_shift():
    facilities = [Facility("S"), Facility("A", ("S",), 1000, True, 3)]
    crews = [Crew("ending", A_AT, available_from_hours=0, shift_end_hours=1, shift_hours=8),
             Crew("far", (30.6, 50.3), available_from_hours=0, shift_end_hours=8, shift_hours=8)]
    result = dispatch(build_network(facilities), crews, {"A": Site("A", A_AT)}, samples=10)
    assert [r.crew for r in result.routes if r.jobs] == ["far"]
    assert result.quality.optimal


def test_cli_shift_keys_are_parsed_and_bad_ones_named():
    (crew,) = parse_crews([{"id": "c", "available_from_hours": 1, "available_until_hours": 5, "shift_hours": 8,
                            "shift_period_hours": 24}])
    assert (crew.shift_end_hours, crew.shift_hours, crew.shift_period_hours) == (5, 8, 24)
    (old,) = parse_crews([{"id": "o", "shift_end_hours": 6}])
    assert (old.shift_end_hours, old.shift_length()) == (6, 6)
    network = build_network([Facility("S"), Facility("A", ("S",), 10, True, 2)])
    bad = [
        ({"id": "c", "available_until_hours": 2, "shift_hours": 30}, "shift_hours must be > 0 and <= shift_period"),
        ({"id": "c", "available_from_hours": 3, "available_until_hours": 2}, "available_until_hours must be"),
        ({"id": "c", "available_until_hours": 6, "shift_hours": 4}, "the current shift"),
        ({"id": "c", "shift_hours": 4}, "shift_hours needs available_until_hours"),
        ({"id": "c", "available_until_hours": 0}, "give shift_hours"),
    ]
    for raw, message in bad:
        with pytest.raises(DispatchError, match=message):
            dispatch(network, list(parse_crews([raw])), {"A": Site("A", BASE)}, samples=5)
    with pytest.raises(DispatchError, match="not both"):
        parse_crews([{"id": "c", "available_until_hours": 2, "shift_end_hours": 2}])
    with pytest.raises(DispatchError, match="'shift_period_hours' must be a number"):
        parse_crews([{"id": "c", "available_until_hours": 2, "shift_period_hours": "daily"}])


@settings(max_examples=40, deadline=None)
@given(st.one_of(shifted_instances(), instances()))
def test_the_release_aware_busy_time_term_alone_never_exceeds_the_brute_force_optimum(case):
    from geo.dispatch_bound import earliest_finish, released_busy_time
    from geo.dispatch_model import build_problem

    facilities, crews, sites, travel = case
    problem = build_problem(build_network(facilities), crews, sites, travel=travel)
    optimum = brute_optimum(facilities, crews, sites, travel)
    assert released_busy_time(problem, earliest_finish(problem)) <= optimum + 1e-6


def test_shifts_as_long_as_their_period_follow_each_other_with_no_break():
    facilities = [Facility("S"), Facility("A", ("S",), 1000, True, 3)]
    crew = Crew("always", BASE, available_from_hours=0, shift_end_hours=1, shift_hours=24, shift_period_hours=24)
    (job,) = dispatch(build_network(facilities), [crew], {"A": Site("A", A_AT)}, samples=5).routes[0].jobs
    assert job.start_hours == job.arrival_hours < 1 and not job.over_shift  # it works on across the shift change
