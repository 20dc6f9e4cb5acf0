"""Tie switches (geo.ties): exact energisation over the undirected network, greedy switching steps, and the
facility list rewritten so the engine ranks and plans on the switched network; checked against a brute force on
small random networks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.live import live_network, picture, state
from geo.network import Facility, build_network, energised_at_start
from geo.ties import Tie, energised, sentence, switching
from geo.triage import rank
from tests.test_mesh import brute


def people(facilities: Sequence[Facility], ids: Iterable[str]) -> float:
    wanted = set(ids)
    return sum(f.population for f in facilities if f.id in wanted)


def dag_energised(facilities: Sequence[Facility]) -> set[str]:
    network = build_network(facilities)
    return {f.id for f, on in zip(network.facilities, energised_at_start(network), strict=True) if on}


@st.composite
def networks(draw: st.DrawFn, *, radial: bool | None = None) -> tuple[list[Facility], list[Tie]]:
    n = draw(st.integers(2, 9))
    meshed = draw(st.booleans()) if radial is None else not radial
    facilities = []
    for i in range(n):
        earlier = [f"F{j}" for j in range(i)]
        count = draw(st.integers(0, min(2 if meshed else 1, i)))
        parents = tuple(draw(st.lists(st.sampled_from(earlier), min_size=count, max_size=count, unique=True))
                        ) if count else ()
        damaged = draw(st.booleans())
        facilities.append(Facility(f"F{i}", parents, float(draw(st.sampled_from([0, 10, 100, 1000]))), damaged,
                                   float(draw(st.integers(1, 12))) if damaged else None))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1]),
                          max_size=4))
    ties = [Tie(id=f"T{k}", name=f"S{k}", a=f"F{a}", b=f"F{b}", remote=draw(st.booleans()),
                hours=draw(st.sampled_from([None, 0.25, 2.0])), closed=draw(st.booleans()))
            for k, (a, b) in enumerate(pairs)]
    return facilities, ties


def ends(ties: Iterable[Tie]) -> list[tuple[str, str]]:
    return [(t.a, t.b) for t in ties]


@settings(max_examples=300, deadline=None)
@given(networks())
def test_energisation_is_exact_over_the_undirected_network_with_closed_ties(case):
    facilities, ties = case
    assert energised(facilities, ties) == brute(facilities, ends(t for t in ties if t.closed))
    assert energised(facilities) == brute(facilities)


@settings(max_examples=300, deadline=None)
@given(networks())
def test_each_step_joins_an_energised_part_to_a_dark_one_and_restores_what_brute_force_says(case):
    facilities, ties = case
    result = switching(facilities, ties, remote_hours=0.1, manual_hours=0.5)
    closed = ends(t for t in ties if t.closed)
    for step in result.steps:
        before = brute(facilities, closed)
        assert (step.tie.a in before) != (step.tie.b in before)  # never two energised parts, never two dark ones
        assert not step.tie.closed
        after = brute(facilities, [*closed, (step.tie.a, step.tie.b)])
        assert set(step.restores) == after - before and step.people == pytest.approx(people(facilities, after - before))
        for f in facilities:
            if f.damaged:
                alone = brute(facilities, closed, repaired=[f.id])
                assert (f.id in step.bridges) == bool(alone & set(step.restores))
        shortest = min((f.repair_hours or 0.0 for f in facilities if f.id in step.bridges), default=None)
        assert step.people_hours_saved == pytest.approx(
            step.people * max(0.0, shortest - step.ready_hours) if shortest is not None else 0.0)
        own = step.tie.hours if step.tie.hours is not None else 0.1 if step.tie.remote else 0.5
        assert step.hours == own and step.ready_hours >= own
        closed.append((step.tie.a, step.tie.b))
    # Greedy reaches everyone any set of closings could: closing every tie restores no more people.
    assert people(facilities, brute(facilities, closed)) == pytest.approx(people(facilities, brute(facilities,
                                                                                                   ends(ties))))


@settings(max_examples=300, deadline=None)
@given(networks())
def test_the_rewritten_network_is_energised_by_the_engine_exactly_as_the_undirected_one(case):
    facilities, ties = case
    result = switching(facilities, ties, remote_hours=0.1, manual_hours=0.5)
    closed = ends(t for t in ties if t.closed)
    exact = brute(facilities, closed)
    assert result.fed == exact - dag_energised(facilities)
    assert result.changed == (result.facilities != tuple(facilities))
    after = closed + ends(s.tie for s in result.steps)
    for rewritten, links in ((result.facilities, closed), (result.proposed, after)):
        assert [f.id for f in rewritten] == [f.id for f in facilities]
        assert dag_energised(list(rewritten)) == brute(facilities, links)
        for old, new in zip(facilities, rewritten, strict=True):
            assert replace(new, parents=old.parents) == old  # only feed links change
            assert set(new.parents) <= {p for f in facilities for p in (*f.parents, f.id)
                                        if new.id in (*f.parents, f.id) or p in old.parents} | {
                a if b == new.id else b for a, b in links if new.id in (a, b)}  # along existing links only
    if not ties and not any(len(f.parents) > 1 for f in facilities):
        assert result.facilities == tuple(facilities)  # a forest without ties is left as it is


@settings(max_examples=200, deadline=None)
@given(networks(radial=True))
def test_on_a_radial_network_the_engine_counts_exactly_who_is_dark_after_switching(case):
    facilities, ties = case
    result = switching(facilities, ties, remote_hours=0.1, manual_hours=0.5)
    closed = ends(t for t in ties if t.closed)
    assert dag_energised(list(result.facilities)) == brute(facilities, closed)
    assert dag_energised(list(result.proposed)) == brute(facilities, closed + ends(s.tie for s in result.steps))


def feeders() -> list[Facility]:
    """Two feeders: S1 - L7 (damaged) - A - B, S2 - C; tie S12 between B and C."""
    return [Facility("S1"), Facility("L7", ("S1",), 0.0, True, 6.0), Facility("A", ("L7",), 1200.0),
            Facility("B", ("A",), 3000.0), Facility("S2"), Facility("C", ("S2",), 500.0)]


def test_a_tie_back_feeds_the_dark_feeder_and_the_queue_ranks_what_is_still_dark():
    facilities = feeders()
    tie = Tie("12", "S12", "B", "C", remote=True)
    result = switching(facilities, [tie], remote_hours=0.5, manual_hours=1.0)
    (step,) = result.steps
    assert (step.restores, step.people, step.hours, step.bridges) == (("A", "B"), 4200.0, 0.5, ("L7",))
    assert step.people_hours_saved == pytest.approx(4200 * 5.5)
    assert sentence(step, {"L7": "line L7"}) == ("close switch S12: restores 4,200 people in 0.5 h while line L7 is "
                                                 "repaired")
    # Fed from S2 through the tie: C feeds B, B feeds A, and A feeds L7 too, once it is repaired.
    assert [f.parents for f in result.proposed] == [(), ("S1", "A"), ("B",), ("C",), (), ("S2",)]
    assert result.facilities == tuple(facilities) and result.fed == frozenset()
    # On the switched network the repair of L7 restores nobody more (A and B are back-fed): still ranked, gain 0.
    (ranked,) = rank(build_network(result.proposed))
    assert ranked.id == "L7" and ranked.gain_now == 0.0
    (before,) = rank(build_network(facilities))
    assert before.gain_now == 4200.0
    closed = switching(facilities, [replace(tie, closed=True)], remote_hours=0.5, manual_hours=1.0)
    assert closed.steps == () and closed.fed == {"A", "B"} and closed.facilities == closed.proposed


def test_a_repair_upstream_of_a_back_fed_section_restores_only_what_is_still_dark():
    facilities = [Facility("S1"), Facility("L7", ("S1",), 0.0, True, 6.0), Facility("A", ("L7",), 1200.0),
                  Facility("L8", ("A",), 0.0, True, 2.0), Facility("B", ("L8",), 3000.0), Facility("S2"),
                  Facility("C", ("S2",), 500.0)]
    result = switching(facilities, [Tie("12", "S12", "B", "C")], remote_hours=0.1, manual_hours=0.5)
    (step,) = result.steps
    assert step.restores == ("B",) and step.bridges == ()  # two repairs stand between B and S1
    assert sentence(step, {}) == ("close switch S12: restores 3,000 people in 0.5 h, who no single repair would "
                                  "bring back")
    by_id = {r.id: r for r in rank(build_network(result.proposed))}
    # B is back-fed already: either repair alone brings A back (L8 through B), each once.
    assert by_id["L7"].gain_now == 1200.0 and by_id["L8"].gain_now == 1200.0


def test_the_best_of_two_ties_into_one_dark_part_is_closed_and_the_other_would_parallel_two_sources():
    facilities = [*feeders(), Facility("S3"), Facility("D", ("S3",), 50.0)]
    ties = [Tie("slow", "S20", "A", "D", hours=2.0), Tie("fast", "S12", "B", "C", remote=True)]
    result = switching(facilities, ties, remote_hours=0.1, manual_hours=0.5)
    assert [s.tie.id for s in result.steps] == ["fast"]


def test_a_chain_of_ties_waits_for_the_step_that_feeds_it():
    facilities = [*feeders(), Facility("L9", ("S1",), 0.0, True, 8.0), Facility("E", ("L9",), 700.0)]
    ties = [Tie("12", "S12", "B", "C", hours=0.5), Tie("13", "S13", "A", "E", hours=0.25)]
    result = switching(facilities, ties, remote_hours=0.1, manual_hours=0.5)
    first, second = result.steps
    assert (first.tie.id, first.after) == ("12", None)
    assert (second.tie.id, second.after, second.ready_hours, second.restores) == ("13", "12", 0.5, ("E",))
    assert second.bridges == ("L9",) and second.people_hours_saved == pytest.approx(700 * 7.5)


def test_a_degraded_facility_passes_power_on_and_its_dark_share_stays_a_repair():
    facilities = [Facility("S1"), Facility("L7", ("S1",), 0.0, True, 6.0), Facility("T", ("L7",), 1000.0, True, 3.0),
                  Facility("B", ("T",), 3000.0), Facility("S2"), Facility("C", ("S2",), 500.0)]
    states = {"L7": state("out_of_service", None, default_share=0.5), "T": state("degraded", 0.25, default_share=0.5)}
    conducting = {f: 1.0 - s.share_out for f, s in states.items() if s.share_out < 1.0}
    result = switching(facilities, [Tie("12", "S12", "B", "C")], remote_hours=0.1, manual_hours=0.5,
                       conducting=conducting)
    (step,) = result.steps
    assert step.restores == ("T", "B") and step.people == pytest.approx(750 + 3000)
    live = live_network(result.proposed, states)
    assert picture(live).people_without_power == pytest.approx(250)  # T's own dark share waits for T's repair


def test_a_tie_to_an_unknown_facility_is_refused_naming_it():
    with pytest.raises(ValueError, match="tie 'x': unknown facility 'Z'"):
        switching(feeders(), [Tie("x", "S", "A", "Z")], remote_hours=0.1, manual_hours=0.5)


def exact_cost(facilities: Sequence[Facility], finish: dict[str, float], closed_at: dict[tuple[str, str], float]
               ) -> float:
    """People-hours without power, simulated exactly: between events, brute-force energisation with the repairs
    done and the ties closed by then."""
    events = sorted({0.0, *finish.values(), *closed_at.values()})
    total = 0.0
    for start, end in zip(events, events[1:], strict=False):
        on = brute(facilities, [t for t, at in closed_at.items() if at <= start],
                   repaired=[f for f, at in finish.items() if at <= start])
        total += people(facilities, {f.id for f in facilities} - on) * (end - start)
    return total


@settings(max_examples=150, deadline=None)
@given(networks(radial=True), st.integers(1, 2))
def test_the_plan_after_switching_with_its_waits_never_counts_fewer_people_hours_than_an_exact_simulation(case,
                                                                                                          crews):
    from geo.plan import plan

    facilities, ties = case
    # Repairs longer than any switching step: a back-fed part then never gets power from a repair first.
    facilities = [replace(f, repair_hours=3.0 + (f.repair_hours or 0.0)) if f.damaged else f for f in facilities]
    ties = [replace(t, closed=False) for t in ties]
    result = switching(facilities, ties, remote_hours=0.1, manual_hours=0.5)
    switched = plan(build_network(result.proposed), crews=crews)
    finish = {job.id: job.finish_hours for crew in switched.crews for job in crew}
    counted = switched.quality.phu + sum(s.people * s.ready_hours for s in result.steps)
    exact = exact_cost(facilities, finish, {(s.tie.a, s.tie.b): s.ready_hours for s in result.steps})
    assert exact <= counted + 1e-6
    only = plan(build_network(facilities), crews=crews)
    only_finish = {job.id: job.finish_hours for crew in only.crews for job in crew}
    assert only.quality.phu == pytest.approx(exact_cost(facilities, only_finish, {}))  # radial: the engine is exact
    if crews == 1:  # Horn's order is optimal on both networks, and switching only brings power sooner
        assert counted <= only.quality.phu + 1e-6


def test_a_degraded_source_still_feeds_what_a_tie_joins_to_it():
    facilities = [Facility("P", (), 100.0, True, 4.0), Facility("A", ("P",), 50.0), Facility("S1"),
                  Facility("L", ("S1",), 0.0, True, 6.0), Facility("B", ("L",), 300.0)]
    tie = Tie("t", "S1", "A", "B")
    assert energised(facilities, [replace(tie, closed=True)], conducting={"P": 0.5}) == {"P", "A", "S1", "B"}
    (step,) = switching(facilities, [tie], remote_hours=0.1, manual_hours=0.5, conducting={"P": 0.5}).steps
    assert step.restores == ("B",) and step.bridges == ("L",)
