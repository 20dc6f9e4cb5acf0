"""Work in progress in the k-crew plan: committed jobs keep their crew and their place at its head."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.network import Facility, build_network
from geo.plan import Commitment, Plan, plan
from tests.test_plan import finish_of
from tests.test_triage import exact_brute_cost as brute_cost
from tests.test_triage import random_networks


def three_feeders() -> list[Facility]:
    """X (10 people, 4 h), Y and Z (1,000 people, 1 h each), all fed straight from the source S."""
    return [
        Facility("S"),
        Facility("X", ("S",), 10, True, 4),
        Facility("Y", ("S",), 1000, True, 1),
        Facility("Z", ("S",), 1000, True, 1),
    ]


def sequence(result: Plan, label: str) -> list[str]:
    """The job ids of one crew's sequence, by its label."""
    return [j.id for j in result.crews[result.crew_labels.index(label)]]


def test_a_repair_in_progress_stays_first_on_its_crew_started_in_the_past_and_finishing_at_its_remaining_hours():
    facilities = three_feeders()  # X's repair_hours (4) are what remains of it
    result = plan(build_network(facilities), crews=1, commitments=[Commitment("X", "Crew A", True, 2.5)])
    assert result.crew_labels == ("Crew A",)
    first, *rest = result.crews[0]
    assert (first.id, first.start_hours, first.finish_hours, first.commitment) == ("X", -2.5, 4, "in_progress")
    assert [(j.id, j.start_hours, j.finish_hours, j.commitment) for j in rest] == [
        ("Y", 4, 5, None), ("Z", 5, 6, None)]
    assert result.etr_hours == {"X": 4, "Y": 5, "Z": 6}
    assert result.naive_crews[0][0] == first  # the naive plan does not pull the crew off either
    assert not result.exact and result.quality.objective == pytest.approx(brute_cost(facilities, finish_of(result)))


def test_an_assigned_repair_stays_at_the_head_of_its_crew_although_moving_it_would_cost_less():
    network = build_network(three_feeders())
    free = plan(network, crews=2)
    assert all(crew[0].id != "X" for crew in free.crews)  # left alone, the plan repairs X last
    assert free.quality.objective == pytest.approx(1000 * 1 + 1000 * 1 + 10 * 5)
    kept = plan(network, crews=2, commitments=[Commitment("X", "Crew A", False)])
    assert kept.crew_labels == ("Crew A", "Crew 1")
    assert sequence(kept, "Crew A") == ["X"] and sequence(kept, "Crew 1") == ["Y", "Z"]
    assert kept.crews[0][0].commitment == "assigned" and kept.crews[0][0].start_hours == 0
    assert kept.quality.objective == pytest.approx(10 * 4 + 1000 * 1 + 1000 * 2)
    assert kept.quality.objective > free.quality.objective
    assert kept.quality.objective_lower_bound <= free.quality.objective <= kept.quality.objective
    assert [j.id for j in kept.naive_crews[0]][:1] == ["X"]
    assert any("stays first on its crews" in n and "1 assigned" in n for n in kept.notes)


def test_a_crew_works_its_commitments_in_the_given_order_with_the_repair_under_way_first():
    network = build_network(three_feeders())
    result = plan(network, crews=1, commitments=[
        Commitment("Z", "Crew A", False), Commitment("X", "Crew A", False), Commitment("Y", "Crew A", True, 1.0)])
    assert [(j.id, j.start_hours, j.finish_hours, j.commitment) for j in result.crews[0]] == [
        ("Y", -1, 1, "in_progress"), ("Z", 1, 2, "assigned"), ("X", 2, 6, "assigned")]


def test_more_committed_crews_than_asked_plan_them_all_and_say_so():
    network = build_network(three_feeders())
    result = plan(network, crews=2, commitments=[
        Commitment("X", "Crew C", False), Commitment("Y", "Crew A", True, 1.0), Commitment("Z", "Crew B", False)])
    assert result.crew_labels == ("Crew C", "Crew A", "Crew B")
    assert [[j.id for j in crew] for crew in result.crews] == [["X"], ["Y"], ["Z"]]
    assert len(result.naive_crews) == 3
    assert ("3 crews have work in progress or assigned but the plan was asked for 2: it plans 3 crews, so that no "
            "crew is pulled off its work") in result.notes


def test_free_crews_are_labelled_with_the_smallest_numbers_no_committed_crew_uses():
    network = build_network(three_feeders())
    result = plan(network, crews=4, commitments=[Commitment("X", "Crew 2", False), Commitment("Y", "Crew A", False)])
    assert result.crew_labels == ("Crew 2", "Crew A", "Crew 1", "Crew 3")
    assert plan(network, crews=3).crew_labels == ("Crew 1", "Crew 2", "Crew 3")


@pytest.mark.parametrize(("commitments", "message"), [
    ([Commitment("NOPE", "Crew A", False)], r"damaged facilities: unknown 'NOPE'"),
    ([Commitment("S", "Crew A", False), Commitment("Q", "Crew B", True), Commitment("NOPE", "Crew C", True)],
     r"unknown 'NOPE'; not damaged 'S', 'Q'"),
    ([Commitment("X", "Crew A", False), Commitment("X", "Crew B", True)], r"more than once: 'X'"),
    ([Commitment("X", "Crew A", True), Commitment("Y", "Crew A", True)], r"'Crew A' has 2 repairs in progress"),
    ([Commitment("X", "Crew A", True, -1.0)], r"'X': started_hours_ago must be a number >= 0"),
    ([Commitment("X", "Crew A", True, float("nan"))], r"'X': started_hours_ago must be a number >= 0"),
    ([Commitment("X", "Crew A", False, 2.0)], r"'X': assigned, not started"),
    ([Commitment("X", " ", False)], r"'X': the crew label is empty"),
])
def test_commitments_the_plan_cannot_keep_are_rejected_by_name(commitments, message):
    with pytest.raises(ValueError, match=message):
        plan(build_network([*three_feeders(), Facility("Q", ("S",), 5)]), crews=2, commitments=commitments)


@settings(max_examples=40, deadline=None)
@given(random_networks(max_size=12, meshed=True, max_damaged=8), st.integers(1, 4))
def test_no_commitments_give_exactly_the_plan_without_the_parameter(facilities, crews):
    network = build_network(facilities)
    before = plan(network, crews=crews)
    assert plan(network, crews=crews, commitments=()) == before == plan(network, crews=crews, commitments=iter([]))
    assert before.crew_labels == tuple(f"Crew {n}" for n in range(1, crews + 1))
    assert all(j.commitment is None for crew in (*before.crews, *before.naive_crews) for j in crew)
    assert before.exact == (crews == 1 and network.radial)


@st.composite
def committed_networks(draw, *, max_size: int = 10, max_damaged: int = 7):
    """Small random networks (mostly radial) with some damaged facilities committed to crews, at most one
    repair under way per crew."""
    facilities = draw(random_networks(max_size=max_size, meshed=draw(st.booleans()), max_damaged=max_damaged))
    damaged = [f.id for f in facilities if f.damaged]
    jobs = draw(st.permutations(damaged))[: draw(st.integers(0, len(damaged)))]
    busy: set[str] = set()
    commitments = []
    for job in jobs:
        crew = draw(st.sampled_from(["Crew A", "Crew 1", "Crew 3"]))
        if crew not in busy and draw(st.booleans()):
            busy.add(crew)
            commitments.append(Commitment(job, crew, True, draw(st.sampled_from([0.0, 0.5, 3.0]))))
        else:
            commitments.append(Commitment(job, crew, False))
    return facilities, commitments


def heads(commitments: list[Commitment]) -> dict[str, list[Commitment]]:
    """Each crew's committed jobs as the plan must start it: the repair under way, then the assigned in order."""
    out: dict[str, list[Commitment]] = {}
    for c in commitments:
        out.setdefault(c.crew, []).append(c)
    return {crew: sorted(cs, key=lambda c: not c.in_progress) for crew, cs in out.items()}


def assert_commitments_kept(result: Plan, facilities: list[Facility], commitments: list[Commitment]) -> None:
    """Both the plan and the naive plan start each committed crew with its commitments, back to back from now."""
    hours = {f.id: f.repair_hours for f in facilities}
    for crews in (result.crews, result.naive_crews):
        for crew, committed in heads(commitments).items():
            seq = crews[result.crew_labels.index(crew)]
            assert [j.id for j in seq[:len(committed)]] == [c.job for c in committed]
            t = 0.0
            for job, c in zip(seq, committed, strict=False):
                start, t = t, t + (hours[c.job] or 0.0)
                assert job.finish_hours == pytest.approx(t)
                assert job.commitment == ("in_progress" if c.in_progress else "assigned")
                assert job.start_hours == pytest.approx(-c.started_hours_ago if c.in_progress else start)
        committed_ids = {c.job for c in commitments}
        assert all(j.commitment is None for crew in crews for j in crew if j.id not in committed_ids)


@settings(max_examples=80, deadline=None)
@given(committed_networks(), st.integers(1, 3))
def test_with_commitments_the_plan_keeps_them_and_lower_bound_objective_and_naive_stay_in_order(case, crews):
    facilities, commitments = case
    result = plan(build_network(facilities), crews=crews, commitments=commitments)
    q = result.quality
    assert q.objective_lower_bound <= q.objective + 1e-6 <= q.naive_objective + 2e-6
    assert q.phu_lower_bound <= q.phu + 1e-6
    assert q.objective == pytest.approx(brute_cost(facilities, finish_of(result)))
    naive = {j.id: j.finish_hours for crew in result.naive_crews for j in crew}
    assert q.naive_objective == pytest.approx(brute_cost(facilities, naive))
    assert sorted(finish_of(result)) == sorted(naive) == sorted(f.id for f in facilities if f.damaged)
    committed_crews = list(dict.fromkeys(c.crew for c in commitments))
    assert result.crew_labels[:len(committed_crews)] == tuple(committed_crews)
    assert len(result.crew_labels) == len(set(result.crew_labels)) == max(crews, len(committed_crews))
    assert len(result.crews) == len(result.naive_crews) == len(result.crew_labels)
    assert_commitments_kept(result, facilities, commitments)
    assert result.converged and not (commitments and result.exact)


def test_local_search_on_a_large_plan_never_moves_or_overtakes_a_commitment():
    rng = random.Random(13)
    facilities = [Facility("S")] + [
        Facility(f"F{i}", (f"F{rng.randrange(1, i)}" if i > 1 else "S",), rng.choice([0, 10, 50, 400]), i % 3 != 0,
                 float(rng.choice([1, 2, 3, 5])) if i % 3 != 0 else None)
        for i in range(1, 140)
    ]  # 93 repairs: more than local search tries exhaustively
    commitments = [Commitment("F139", "Crew B", True, 1.5), Commitment("F137", "Crew B", False),
                   Commitment("F136", "Crew 1", False), Commitment("F2", "Crew 1", False)]
    result = plan(build_network(facilities), crews=3, commitments=commitments)
    assert result.crew_labels == ("Crew B", "Crew 1", "Crew 2")
    assert_commitments_kept(result, facilities, commitments)
    assert result.quality.objective_lower_bound <= result.quality.objective <= result.quality.naive_objective
    assert result.quality.objective == pytest.approx(brute_cost(facilities, finish_of(result)))


def test_local_search_never_puts_a_repair_before_a_crews_commitments_even_when_that_would_cost_less():
    # 80 feeders of 1,000 people and 1 h each, and two of nobody and 8 h that Crew B holds: any feeder moved before
    # them would lower the cost, and the search on this many repairs tries the head of every crew's sequence.
    facilities = [Facility("S"), Facility("W1", ("S",), 0, True, 8), Facility("W2", ("S",), 0, True, 8)] + [
        Facility(f"F{i}", ("S",), 1000, True, 1) for i in range(80)]
    commitments = [Commitment("W1", "Crew B", True, 4.0), Commitment("W2", "Crew B", False)]
    result = plan(build_network(facilities), crews=3, commitments=commitments)
    assert sequence(result, "Crew B")[:2] == ["W1", "W2"]
    assert_commitments_kept(result, facilities, commitments)
    free = plan(build_network(facilities), crews=3)
    assert free.quality.objective < result.quality.objective
