"""The damage-case workflow: transitions, which actions need a reason, progress -> status, and merge rules.

Which action may start from which status and where it leads, which actions need a reason, what a field report's
progress does to its case, and what may be merged into what. Each refusal is an exception subclassing
ValueError whose message is the sentence a coordinator reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.message import N_, Code, Text
from geo.taxonomy import OPEN_CASE_STATUSES

# action -> (statuses it may start from, status it leads to; None keeps the status)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "confirm": (("reported",), "confirmed"),
    "reject": (("reported", "confirmed"), "rejected"),
    "assign": (("reported", "confirmed", "assigned"), "assigned"),
    "release": (("assigned",), "confirmed"),
    "start_repair": (("confirmed", "assigned"), "in_repair"),
    "temporarily_restore": (("assigned", "in_repair"), "temporarily_restored"),
    "repaired": (("assigned", "in_repair", "temporarily_restored"), "repaired"),
    "override_hours": (OPEN_CASE_STATUSES, None),
    "accept_hours": (OPEN_CASE_STATUSES, None),
    "set_operational_status": (OPEN_CASE_STATUSES, None),
    "set_access": (OPEN_CASE_STATUSES, None),
    "set_materials": (OPEN_CASE_STATUSES, None),
    "bump_priority": (OPEN_CASE_STATUSES, None),
    "merge": (OPEN_CASE_STATUSES, None),
    "unmerge": (OPEN_CASE_STATUSES, None),
}
ACTIONS = tuple(TRANSITIONS)
NEEDS_REASON = frozenset({"reject", "override_hours", "bump_priority", "set_operational_status"})
FROM_REPORTS = "from_reports"  # set_operational_status's value that hands the status back to the reports

# What a follow-up report's progress does to its case; it only ever moves a case forward along STATUS_ORDER.
PROGRESS_TO_STATUS = {"repair_started": "in_repair", "temporarily_restored": "temporarily_restored",
                      "restored": "repaired"}
STATUS_ORDER = (*OPEN_CASE_STATUSES, "repaired")  # the way forward; rejected and duplicate are off it

MERGED_STATUS = "duplicate"  # what a case merged into another becomes
MERGED_ACTION = "merged_into"  # the event recorded on it
MERGEABLE_STATUSES = OPEN_CASE_STATUSES  # a case may be merged into another only while open
UNMERGED_ACTION = "unmerged_from"  # the event recorded on a case taken out of the one it was merged into


class UnknownAction(ValueError):
    """An action name the workflow does not have; the message is the error of the field `action`."""

    field = "action"

    def __init__(self, action: str) -> None:
        super().__init__(Text(N_("must be one of {choices}"), choices=", ".join(ACTIONS)))
        self.action = action


class ReasonRequired(ValueError):
    """An action that needs a reason was given none; the message is the error of the field `reason`."""

    field = "reason"

    def __init__(self, action: str) -> None:
        super().__init__(Text(N_("is required to {action}"), action=Code(action, "action")))
        self.action = action


class TransitionRefused(ValueError):
    """An action the case's status does not allow."""

    def __init__(self, action: str, status: str, *, case_id: int) -> None:
        allowed, _ = TRANSITIONS[action]
        super().__init__(Text(N_("cannot {action} case {case}: it is {status} (allowed from {allowed})"),
                              action=Code(action, "action"), case=case_id, status=Code(status, "status", spaced=False),
                              allowed=Text.joined(*(Code(s, "status", spaced=False) for s in allowed), sep=", ")))
        self.action, self.status, self.case_id = action, status, case_id


class MergeRefused(ValueError):
    """A merge the rules do not allow; the message is the error of the field `duplicate_id`."""

    field = "duplicate_id"


@dataclass(frozen=True)
class Merge:
    """What a merge does to the duplicate: its new status and the event's action and reason."""

    status: str
    action: str
    reason: str


def verb(action: str) -> str:
    """An action as words in a sentence: 'start_repair' -> 'start repair'."""
    return action.replace("_", " ")


def check_action(action: str) -> str:
    """The action if the workflow has it, else UnknownAction."""
    if action not in TRANSITIONS:
        raise UnknownAction(action)
    return action


def needs_reason(action: str) -> bool:
    """Whether the action must be given a reason (refusing, overriding hours, bumping priority)."""
    return action in NEEDS_REASON


def check_reason(action: str, reason: str | None) -> None:
    """Raise ReasonRequired if the action needs a reason and `reason` is None."""
    if reason is None and needs_reason(action):
        raise ReasonRequired(action)


def target(action: str, status: str, *, case_id: int) -> str | None:
    """The status the action moves a case in `status` to (None: it keeps its status), or TransitionRefused."""
    allowed, leads_to = TRANSITIONS[check_action(action)]
    if status not in allowed:
        raise TransitionRefused(action, status, case_id=case_id)
    return leads_to


def status_after_progress(progress: str, status: str) -> str | None:
    """The status a field report's progress moves a case in `status` to, or None when it leaves it alone.

    Progress only moves a case forward: a report that repair started does not reopen a repaired case, and a
    rejected or duplicate case stays as it is.
    """
    forward = PROGRESS_TO_STATUS[progress]
    if status in STATUS_ORDER and STATUS_ORDER.index(forward) > STATUS_ORDER.index(status):
        return forward
    return None


def applies_progress(*, reporter: int | None, assignee: int | None, coordinator: bool) -> bool:
    """Whether a field report's progress may change its case's status: only when it comes from the crew account
    the case is assigned to, or from a coordinator. Anyone else's progress is kept as a report, not applied (else
    any crew could close any case by joining it with a report and following it up)."""
    return coordinator or (reporter is not None and reporter == assignee)


def merge(survivor_id: int, duplicate_id: int, duplicate_status: str, *, reason: str | None = None) -> Merge:
    """What merging case `duplicate_id` (in `duplicate_status`) into `survivor_id` does, or MergeRefused.

    The survivor's own status is checked by `target("merge", ...)`.
    """
    if duplicate_id == survivor_id:
        raise MergeRefused(Text(N_("a case cannot be merged into itself")))
    if duplicate_status not in MERGEABLE_STATUSES:
        raise MergeRefused(Text(N_("cannot merge case {case}: it is {status}"), case=duplicate_id,
                                status=Code(duplicate_status, "status", spaced=False)))
    return Merge(status=MERGED_STATUS, action=MERGED_ACTION, reason=reason or f"duplicate of case {survivor_id}")


def unmerge(survivor_id: int, duplicate_id: int, *, merged_into: int | None, status_before: str | None,
            reason: str | None = None) -> Merge:
    """What taking case `duplicate_id` out of `survivor_id` does: it gets back the status it had when it was
    merged (`status_before`, from its merge event), or MergeRefused when it is not merged into that case.

    Its reports never moved (they count for the survivor through `merged_into`), so they are its own again."""
    if merged_into != survivor_id:
        raise MergeRefused(Text(N_("case {case} is not merged into case {survivor}"), case=duplicate_id,
                                survivor=survivor_id))
    if status_before not in MERGEABLE_STATUSES:
        raise MergeRefused(Text(N_("case {case} has no merge event to undo"), case=duplicate_id))
    return Merge(status=status_before, action=UNMERGED_ACTION,
                 reason=reason or f"merge into case {survivor_id} undone")
