"""The damage-case workflow on its own: transitions, reasons, progress from field reports, merges (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo import workflow
from geo.taxonomy import CASE_STATUSES, CLOSED_CASE_STATUSES, OPEN_CASE_STATUSES, PROGRESS

# The rules as the case page and /api/cases/<id>/actions have always applied them.
EXPECTED = {
    "confirm": ({"reported"}, "confirmed"),
    "reject": ({"reported", "confirmed"}, "rejected"),
    "assign": ({"reported", "confirmed", "assigned"}, "assigned"),
    "release": ({"assigned"}, "confirmed"),
    "start_repair": ({"confirmed", "assigned"}, "in_repair"),
    "temporarily_restore": ({"assigned", "in_repair"}, "temporarily_restored"),
    "repaired": ({"assigned", "in_repair", "temporarily_restored"}, "repaired"),
    "override_hours": (set(OPEN_CASE_STATUSES), None),
    "accept_hours": (set(OPEN_CASE_STATUSES), None),
    "set_operational_status": (set(OPEN_CASE_STATUSES), None),
    "set_access": (set(OPEN_CASE_STATUSES), None),
    "set_materials": (set(OPEN_CASE_STATUSES), None),
    "bump_priority": (set(OPEN_CASE_STATUSES), None),
    "merge": (set(OPEN_CASE_STATUSES), None),
    "unmerge": (set(OPEN_CASE_STATUSES), None),
}


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("status", CASE_STATUSES)
def test_each_action_leads_from_its_statuses_to_its_status_and_is_refused_from_others(action, status):
    allowed, leads_to = EXPECTED[action]
    if status in allowed:
        assert workflow.target(action, status, case_id=7) == leads_to
    else:
        with pytest.raises(workflow.TransitionRefused) as refused:
            workflow.target(action, status, case_id=7)
        assert refused.value.status == status and refused.value.case_id == 7


def test_the_actions_are_offered_in_the_case_pages_order():
    assert workflow.ACTIONS == tuple(EXPECTED) == tuple(workflow.TRANSITIONS)


def test_a_refused_transition_says_what_the_case_is_and_where_the_action_may_start():
    with pytest.raises(ValueError, match=r"^cannot start repair case 12: it is repaired "
                                         r"\(allowed from confirmed, assigned\)$"):
        workflow.target("start_repair", "repaired", case_id=12)


def test_closed_cases_allow_no_action_at_all():
    for status in CLOSED_CASE_STATUSES:
        for action in workflow.ACTIONS:
            with pytest.raises(workflow.TransitionRefused):
                workflow.target(action, status, case_id=1)


def test_an_unknown_action_names_the_actions_there_are():
    with pytest.raises(workflow.UnknownAction) as unknown:
        workflow.target("demolish", "reported", case_id=1)
    assert isinstance(unknown.value, ValueError) and unknown.value.field == "action"
    assert str(unknown.value) == ("must be one of confirm, reject, assign, release, start_repair, "
                                  "temporarily_restore, repaired, override_hours, accept_hours, "
                                  "set_operational_status, set_access, set_materials, bump_priority, merge, unmerge")
    assert workflow.check_action("confirm") == "confirm"


def test_rejecting_overriding_hours_and_bumping_priority_need_a_reason():
    assert {a for a in workflow.ACTIONS if workflow.needs_reason(a)} == {
        "reject", "override_hours", "bump_priority", "set_operational_status"}
    with pytest.raises(workflow.ReasonRequired) as missing:
        workflow.check_reason("override_hours", None)
    assert str(missing.value) == "is required to override hours" and missing.value.field == "reason"
    assert isinstance(missing.value, ValueError)
    workflow.check_reason("override_hours", "crew found a second fault")
    workflow.check_reason("confirm", None)


@pytest.mark.parametrize(("progress", "status", "expected"), [
    ("repair_started", "reported", "in_repair"),
    ("repair_started", "assigned", "in_repair"),
    ("repair_started", "in_repair", None),
    ("repair_started", "temporarily_restored", None),
    ("repair_started", "repaired", None),
    ("temporarily_restored", "in_repair", "temporarily_restored"),
    ("temporarily_restored", "temporarily_restored", None),
    ("temporarily_restored", "repaired", None),
    ("restored", "reported", "repaired"),
    ("restored", "temporarily_restored", "repaired"),
    ("restored", "repaired", None),
    ("restored", "rejected", None),
    ("restored", "duplicate", None),
])
def test_a_field_reports_progress_only_moves_its_case_forward(progress, status, expected):
    assert workflow.status_after_progress(progress, status) == expected


@given(st.sampled_from(PROGRESS), st.sampled_from(CASE_STATUSES))
def test_progress_never_moves_a_case_back_or_out_of_rejected_or_duplicate(progress, status):
    moved = workflow.status_after_progress(progress, status)
    if moved is not None:
        assert status not in ("rejected", "duplicate")
        assert workflow.STATUS_ORDER.index(moved) > workflow.STATUS_ORDER.index(status)


def test_every_progress_has_a_status_and_every_status_named_is_in_the_vocabulary():
    assert set(workflow.PROGRESS_TO_STATUS) == set(PROGRESS)
    named = {s for allowed, leads_to in workflow.TRANSITIONS.values() for s in (*allowed, leads_to) if s}
    named |= {*workflow.STATUS_ORDER, *workflow.PROGRESS_TO_STATUS.values(), workflow.MERGED_STATUS}
    assert named <= set(CASE_STATUSES)


def test_an_open_case_merges_into_another_as_a_duplicate_with_a_default_reason():
    assert workflow.merge(3, 9, "confirmed") == workflow.Merge("duplicate", "merged_into", "duplicate of case 3")
    assert workflow.merge(3, 9, "in_repair", reason="same pylon").reason == "same pylon"


@pytest.mark.parametrize("status", CLOSED_CASE_STATUSES)
def test_a_closed_case_cannot_be_merged(status):
    with pytest.raises(workflow.MergeRefused, match=rf"^cannot merge case 9: it is {status}$") as refused:
        workflow.merge(3, 9, status)
    assert refused.value.field == "duplicate_id" and isinstance(refused.value, ValueError)


def test_a_case_cannot_be_merged_into_itself():
    with pytest.raises(workflow.MergeRefused, match="^a case cannot be merged into itself$"):
        workflow.merge(3, 3, "reported")
