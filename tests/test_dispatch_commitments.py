"""Work in progress in the dispatch engine: committed jobs stay first on their crews, a repair under way has no
travel, every solver keeps them, the proven optimum equals brute force over the plans that keep them."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.dispatch import Commitment, Crew, Dispatch, Site, Travel, dispatch
from geo.dispatch_json import dispatch_to_json
from geo.dispatch_model import DispatchError
from geo.network import Facility, build_network
from geo.travel import Place, travel_hours
from tests.test_dispatch import capable, finish_of, instances, spread_event
from tests.test_triage import brute_cost

BASE, A_AT, B_AT = (30.0, 50.0), (30.5, 50.2), (30.6, 50.3)


def routes_of(result: Dispatch) -> dict[str, list[str]]:
    return {r.crew: [j.id for j in r.jobs] for r in result.routes}


def test_a_repair_under_way_stays_first_started_in_the_past_with_no_travel_and_the_crew_leaves_from_its_site():
    facilities = [Facility("S"), Facility("A", ("S",), 10, True, 2), Facility("B", ("S",), 5000, True, 1)]
    crews = [Crew("c", BASE, available_from_hours=3)]
    sites = {"A": Site("A", A_AT, release_hours=4), "B": Site("B", B_AT)}
    result = dispatch(build_network(facilities), crews, sites, samples=20,
                      commitments=[Commitment("A", "c", in_progress=True, started_hours_ago=1.5)])
    a, b = result.routes[0].jobs
    assert (a.id, a.commitment, b.id, b.commitment) == ("A", "in_progress", "B", None)
    # on site since it began: no travel, neither the crew's free hour nor the release delays the remaining 2 h
    assert a.travel_start_hours == a.arrival_hours == a.start_hours == -1.5 and a.finish_hours == 2
    assert b.travel_start_hours == 2
    assert b.arrival_hours == pytest.approx(2 + travel_hours(Travel(), Place("A", A_AT), Place("B", B_AT)))
    assert result.cases["A"].hours == 2 and result.quality.optimal
    assert result.quality.objective_lower_bound <= result.quality.objective + 1e-9
    assert any("work in progress kept: 1 repair(s) under way and 0 assigned" in n for n in result.notes)
    assert dispatch_to_json(result, datetime(2024, 1, 1, tzinfo=UTC), samples=20, seed=0)[
        "plan"]["crews"][0]["jobs"][0]["commitment"] == "in_progress"


def test_an_assigned_job_stays_first_although_the_free_plan_would_move_it():
    facilities = [Facility("S"), Facility("A", ("S",), 10, True, 5), Facility("B", ("S",), 5000, True, 1),
                  Facility("C", ("S",), 3000, True, 1)]
    crews = [Crew("c", BASE), Crew("d", (30.55, 50.25))]
    sites = {"A": Site("A", A_AT), "B": Site("B", B_AT), "C": Site("C", (30.4, 50.1))}
    network = build_network(facilities)
    free = dispatch(network, crews, sites, samples=10)
    assert routes_of(free)["c"][0] != "A"  # left alone, crew c would not start with the small repair
    kept = dispatch(network, crews, sites, samples=10, commitments=[Commitment("A", "c", in_progress=False)])
    first = kept.routes[0].jobs[0]
    assert (first.id, first.commitment) == ("A", "assigned")
    assert first.travel_start_hours == 0
    assert first.arrival_hours == pytest.approx(travel_hours(Travel(), Place("c", BASE), Place("A", A_AT)))
    assert kept.quality.optimal and kept.quality.objective > free.quality.objective
    assert kept.quality.objective_lower_bound <= kept.quality.objective


def test_heads_keep_their_order_on_a_larger_event_where_only_local_search_runs():
    facilities, crews, sites = spread_event(40, 3, seed=5)
    damaged = [f.id for f in facilities if f.damaged]
    picks: dict[str, list[str]] = {c.id: [] for c in crews}
    for fid in damaged:
        crew = next(c for c in crews if capable(c, sites[fid]))
        if len(picks[crew.id]) < 2:
            picks[crew.id].append(fid)
    commitments = [Commitment(fid, crew, in_progress=q == 0, started_hours_ago=0.5 if q == 0 else 0.0)
                   for crew, jobs in picks.items() for q, fid in enumerate(jobs)]
    result = dispatch(build_network(facilities), crews, sites, solver_seconds=0, samples=10, commitments=commitments)
    naive = {r.crew: [j.id for j in r.jobs] for r in result.naive_routes}
    for crew, jobs in picks.items():
        assert routes_of(result)[crew][:len(jobs)] == jobs == naive[crew][:len(jobs)]
    assert 0 < result.quality.objective_lower_bound <= result.quality.objective
    assert result.quality.objective <= result.quality.naive_objective + 1e-6


def brute_committed_optimum(facilities: list[Facility], crews: Sequence[Crew], sites: Mapping[str, Site],
                            travel: Travel, commitments: Sequence[Commitment]) -> float:
    """Best cost over every assignment and order that keeps each crew's committed jobs first, in order, a repair
    under way finishing at its hours with no travel and the crew leaving from its site."""
    hours = {f.id: f.repair_hours or 0.0 for f in facilities if f.damaged}
    head = {c.id: [cm.job for cm in sorted((cm for cm in commitments if cm.crew == c.id),
                                           key=lambda cm: not cm.in_progress)] for c in crews}
    under_way = {cm.job for cm in commitments if cm.in_progress}
    best = math.inf
    for order in itertools.permutations(hours):
        for labels in itertools.product(range(len(crews)), repeat=len(order)):
            seqs: list[list[str]] = [[] for _ in crews]
            for fid, c in zip(order, labels, strict=True):
                seqs[c].append(fid)
            if any(seqs[c][:len(head[crew.id])] != head[crew.id] or not all(capable(crew, sites[f]) for f in seqs[c])
                   for c, crew in enumerate(crews)):
                continue
            finish: dict[str, float] = {}
            for crew, seq in zip(crews, seqs, strict=True):
                t, at = crew.available_from_hours, Place(crew.id, crew.base)
                for fid in seq:
                    here = Place(fid, sites[fid].point)
                    if fid in under_way:
                        t = hours[fid]
                    else:
                        t = max(t + travel_hours(travel, at, here), sites[fid].release_hours) + hours[fid]
                    finish[fid], at = t, here
            best = min(best, brute_cost(facilities, finish))
    return best


@st.composite
def committed_instances(draw):
    """Small random events with some jobs committed to capable crews, at most one repair under way per crew."""
    facilities, crews, sites, travel = draw(instances(max_damaged=4, max_crews=3))
    rng = random.Random(draw(st.integers(0, 10**6)))
    commitments = []
    busy: set[str] = set()
    for fid in sites:
        able = [c for c in crews if capable(c, sites[fid])]
        if rng.random() < 0.5:
            crew = rng.choice(able)
            under_way = crew.id not in busy and rng.random() < 0.6
            busy.add(crew.id)
            commitments.append(Commitment(fid, crew.id, under_way, rng.choice([0.0, 1.25]) if under_way else 0.0))
    return facilities, crews, sites, travel, commitments


@settings(max_examples=150, deadline=None)
@given(committed_instances())
def test_with_commitments_the_proven_optimum_equals_brute_force_and_every_plan_sits_above_the_bound(case):
    facilities, crews, sites, travel, commitments = case
    network = build_network(facilities)
    optimum = brute_committed_optimum(facilities, crews, sites, travel, commitments)
    slack = 3 * len(sites) / 3600 * sum(f.population for f in facilities)  # CP-SAT's whole-second rounding
    result = dispatch(network, crews, sites, travel=travel, samples=10, commitments=commitments)
    heuristic = dispatch(network, crews, sites, travel=travel, samples=10, commitments=commitments, solver_seconds=0)
    for plan in (result, heuristic):
        assert plan.quality.objective == pytest.approx(brute_cost(facilities, finish_of(plan)))
        assert plan.quality.objective_lower_bound <= optimum + 1e-6 <= plan.quality.objective + slack + 2e-6
        assert plan.quality.objective <= plan.quality.naive_objective + 1e-6
        for crew in crews:
            jobs = {r.crew: r.jobs for r in plan.routes}[crew.id]
            mine = [cm for cm in commitments if cm.crew == crew.id]
            assert sorted(j.id for j in jobs[:len(mine)]) == sorted(cm.job for cm in mine)
            for j, cm in zip(jobs, sorted(mine, key=lambda cm: not cm.in_progress), strict=False):
                assert j.id == cm.job and j.commitment == ("in_progress" if cm.in_progress else "assigned")
                if cm.in_progress:
                    assert j.start_hours == j.arrival_hours == -cm.started_hours_ago
    assert result.quality.optimal, result.quality.solver
    assert result.quality.objective == pytest.approx(optimum, abs=slack + 1e-6)
    if len(crews) == 1:  # the one-crew DP is exact with the head fixed
        assert heuristic.quality.optimal and heuristic.quality.objective == pytest.approx(optimum)


def seeded_commitments(crews: Sequence[Crew], sites: Mapping[str, Site], seed: int) -> list[Commitment]:
    """Every crew gets a repair under way or an assigned job (or both) when it has the skill for some site."""
    rng = random.Random(seed)
    free = list(sites)
    rng.shuffle(free)
    out = []
    for crew in crews:
        able = [fid for fid in free if capable(crew, sites[fid])]
        for q, fid in enumerate(able[:rng.choice([1, 1, 2])]):
            under_way = q == 0 and rng.random() < 0.6
            out.append(Commitment(fid, crew.id, under_way, 0.75 if under_way else 0.0))
            free.remove(fid)
    return out


@pytest.mark.parametrize(("m", "k", "seed"), [(5, 2, s) for s in range(6)] + [(4, 3, s) for s in range(6, 10)]
                         + [(5, 1, 10), (6, 1, 11)])
def test_on_seeded_five_site_events_the_committed_optimum_equals_brute_force(m, k, seed):
    facilities, crews, sites = spread_event(m, k, seed)
    commitments = seeded_commitments(crews, sites, seed)
    assert any(cm.in_progress for cm in commitments) or seed % 3  # most cases have a repair under way
    result = dispatch(build_network(facilities), crews, sites, samples=10, commitments=commitments)
    optimum = brute_committed_optimum(facilities, crews, sites, Travel(), commitments)
    slack = 3 * len(sites) / 3600 * sum(f.population for f in facilities)
    q = result.quality
    assert q.optimal, q.solver
    assert q.objective == pytest.approx(optimum, abs=slack + 1e-6)
    assert q.objective_lower_bound <= optimum + 1e-6 and q.phu_lower_bound <= q.phu + 1e-6


def test_bad_commitments_are_named():
    facilities = [Facility("S"), Facility("A", ("S",), 10, True, 2), Facility("B", ("S",), 10, True, 1),
                  Facility("U", ("S",), 10, False)]
    network = build_network(facilities)
    crews = [Crew("c", BASE, frozenset({"hv"})), Crew("d", BASE)]
    sites = {"A": Site("A", A_AT, "hv"), "B": Site("B", B_AT)}

    def plan(*commitments: Commitment) -> Dispatch:
        return dispatch(network, crews, sites, commitments=commitments, samples=5)

    with pytest.raises(DispatchError, match="'A' to crew 'x': no such crew"):
        plan(Commitment("A", "x", True))
    with pytest.raises(DispatchError, match="'U' to crew 'c': not a damaged facility"):
        plan(Commitment("U", "c", False))
    with pytest.raises(DispatchError, match="'Z' to crew 'c': unknown facility"):
        plan(Commitment("Z", "c", False))
    with pytest.raises(DispatchError, match="'A' is committed more than once"):
        plan(Commitment("A", "c", False), Commitment("A", "c", False))
    with pytest.raises(DispatchError, match=r"crew 'c' has 2 repairs in progress \('A', 'B'\)"):
        plan(Commitment("A", "c", True), Commitment("B", "c", True))
    with pytest.raises(DispatchError, match="'A' to crew 'd': the crew lacks the skill 'hv'"):
        plan(Commitment("A", "d", False))
    with pytest.raises(ValueError, match="started_hours_ago must be a number >= 0"):
        plan(Commitment("B", "d", True, -1.0))


def test_without_commitments_the_plan_is_unchanged_and_no_job_is_marked():
    facilities, crews, sites = spread_event(6, 2, seed=6)
    network = build_network(facilities)
    plain = dispatch(network, crews, sites, samples=20, solver_workers=1)
    assert dispatch(network, crews, sites, samples=20, solver_workers=1, commitments=()) == plain
    assert all(j.commitment is None for r in plain.routes for j in r.jobs)
    assert not any("work in progress" in n for n in plain.notes)
