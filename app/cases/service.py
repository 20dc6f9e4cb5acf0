"""The damage-case workflow on the database: apply an action (status change, assignment, override, merge) in the
caller's transaction and record its event; the rules themselves are geo.workflow's."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context

from app.coordinator.proposals import switched
from app.coordinator.situation import load_situation, plan_for, ranking
from app.errors import Conflict, FieldConflict, NotFound, ValidationError
from app.repo import Conn
from app.repo import cases as repo
from app.repo import crews as crews_repo
from app.repo import switches as switches_repo
from app.repo import triage as triage_repo
from app.repo.reports import add_case_event
from geo import explain as words
from geo import live, workflow
from geo.access import access
from geo.network import without_gc_pauses
from geo.repair_hours import repair_hours


@dataclass(frozen=True)
class Action:
    """One validated workflow action on a case."""

    name: str
    reason: str | None = None
    crew: str | None = None
    crew_account: str | None = None  # with assign: the user name of the crew's account (None: no account)
    keep_account: bool = False  # with assign: crew_account not given at all, so the account assigned stays
    hours: float | None = None
    bump: float | None = None
    operational_status: str | None = None  # with set_operational_status: a status, or None for "from reports"
    share_out: float | None = None  # with set_operational_status degraded: the share without supply
    access_state: str | None = None  # with set_access: a state, or None to derive it from the hazards again
    at: datetime | None = None  # with set_access: the expected clearance; with set_materials: when they are due
    duplicate_id: int | None = None


def apply(conn: Conn, case_id: int, action: Action, *, actor_id: int | None) -> dict[str, Any]:
    """Apply one action in the caller's transaction: update the case and record the event; return the case."""
    if action.name in ("merge", "unmerge"):
        assert action.duplicate_id is not None
        for cid in sorted({case_id, action.duplicate_id}):  # one lock order: no deadlock with a reverse merge
            repo.lock(conn, cid)
    repo.lock(conn, case_id)
    case = repo.get(conn, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    status = case["status"]
    target = workflow.target(action.name, status, case_id=case_id)  # TransitionRefused: a 409
    changes: dict[str, Any] = {}
    if target:
        changes["status"] = target
    account = None
    if action.name == "assign":
        changes["assigned_crew"] = action.crew
        if action.keep_account:  # only the crew's label changes
            account = {"id": case["assigned_user_id"], "username": case["assigned_user"]} \
                if case["assigned_user_id"] is not None else None
        else:  # an empty crew_account unassigns the account before
            account = _assignee(conn, action.crew_account)
            changes["assigned_user_id"] = account["id"] if account else None
    elif action.name == "release":  # the crew no longer holds the case: the plan may give it to any crew
        changes["assigned_crew"], changes["assigned_user_id"] = None, None
    elif action.name == "set_operational_status":
        changes["operational_status"], changes["share_out"] = action.operational_status, action.share_out
    elif action.name == "set_access":
        changes["access_state"], changes["access_expected_at"] = action.access_state, action.at
    elif action.name == "set_materials":
        changes["materials_until"] = action.at
    elif action.name == "override_hours":
        changes["repair_hours_override"] = action.hours
    elif action.name == "accept_hours":
        estimate = repo.latest_estimate(conn, case_id)
        if estimate is None:
            raise Conflict(f"case {case_id} has no crew estimate of repair hours to accept")
        changes["repair_hours_accepted"] = estimate
    elif action.name == "bump_priority":
        changes["priority_bump"] = action.bump
    elif action.name == "merge":
        _merge(conn, case, action, actor_id=actor_id)
    elif action.name == "unmerge":
        _unmerge(conn, case, action, actor_id=actor_id)
    before = {k: case[k] for k in changes}
    repo.update(conn, case_id, changes)
    data: dict[str, Any] = {"before": before, "after": changes}
    if action.name == "assign":  # the account's name too, so the history reads without a lookup
        data = {"before": {**before, "assigned_user": case["assigned_user"]},
                "after": {**changes, "assigned_user": account["username"] if account else None}}
    if action.name in ("merge", "unmerge"):
        data = {"duplicate_id": action.duplicate_id}
    add_case_event(conn, case_id=case_id, actor_id=actor_id, action=action.name, from_status=status,
                   to_status=changes.get("status", status), reason=action.reason, data=json.dumps(data, default=str))
    updated = repo.get(conn, case_id)
    assert updated is not None
    return updated


def _operational(row: dict[str, Any] | None, *, default_share: float) -> dict[str, Any] | None:
    """The case's operational status with its share without supply and the sentence that says where it came from."""
    if row is None or row["operational_status"] is None:
        return None
    state = live.state(row["operational_status"], row["share_out"], default_share=default_share)
    seen = row["reported_statuses"] or []
    return {"status": state.status, "share_out": state.share_out, "set_by": row["set_by"],
            "source": words.status_source(state.status, state.share_out, set_by=row["set_by"],
                                          who=row["set_by_user"], when=row["set_at"], reason=row["reason"],
                                          share_given=row["share_out"] is not None),
            "disagree": words.reports_disagree(seen, state.status) if len(seen) > 1 else None}


def _assignee(conn: Conn, username: str | None) -> dict[str, Any] | None:
    """The account named to assign a case to, or None for no account; a 422 naming the field if it cannot be."""
    if username is None:
        return None
    account = repo.account(conn, username)
    if account is None:
        raise ValidationError({"crew_account": f"there is no account named {username!r}"})
    if not account["active"]:
        raise ValidationError({"crew_account": f"the account {username!r} is deactivated"})
    if account["role"] != "crew":
        raise ValidationError({"crew_account": f"{username!r} is a {account['role']} account, not a crew's"})
    return account


def _merge(conn: Conn, survivor: dict[str, Any], action: Action, *, actor_id: int | None) -> None:
    dup_id = action.duplicate_id
    assert dup_id is not None
    duplicate = survivor if dup_id == survivor["id"] else repo.get(conn, dup_id)
    if duplicate is None:
        raise ValidationError({"duplicate_id": f"case {dup_id} does not exist"})
    try:
        merge = workflow.merge(survivor["id"], dup_id, duplicate["status"], reason=action.reason)
    except workflow.MergeRefused as exc:
        raise FieldConflict(exc.field, exc.args[0]) from None
    repo.update(conn, dup_id, {"status": merge.status, "merged_into": survivor["id"]})
    add_case_event(conn, case_id=dup_id, actor_id=actor_id, action=merge.action, from_status=duplicate["status"],
                   to_status=merge.status, reason=merge.reason, data=json.dumps({"merged_into": survivor["id"]}))


def _unmerge(conn: Conn, survivor: dict[str, Any], action: Action, *, actor_id: int | None) -> None:
    """Undo a merge exactly: the duplicate gets back the status it had, and with it its own reports."""
    dup_id = action.duplicate_id
    assert dup_id is not None
    duplicate = repo.get(conn, dup_id)
    if duplicate is None:
        raise ValidationError({"duplicate_id": f"case {dup_id} does not exist"})
    event = repo.merge_event(conn, dup_id)
    try:
        undone = workflow.unmerge(survivor["id"], dup_id, merged_into=duplicate["merged_into"],
                                  status_before=event["from_status"] if event else None, reason=action.reason)
    except workflow.MergeRefused as exc:
        raise FieldConflict(exc.field, exc.args[0]) from None
    repo.update(conn, dup_id, {"status": undone.status, "merged_into": None})
    add_case_event(conn, case_id=dup_id, actor_id=actor_id, action=undone.action, from_status=duplicate["status"],
                   to_status=undone.status, reason=undone.reason,
                   data=json.dumps({"unmerged_from": survivor["id"]}))


STANDINGS_MAX_AGE_S = 60.0  # how long a server may show the standings of a plan made for the same open cases


@dataclass(frozen=True)
class Standings:
    """Every open case's rank and plan ETR and crew, from one ranking and one plan, and what they were made of."""

    key: str  # the registry revision, a digest of the open cases as read, the crews counted, the settings
    made_at: float  # monotonic seconds
    as_of: datetime
    crews: int
    of: int
    by_case: dict[int, dict[str, Any]]


def standing(conn: Conn, case_id: int, *, default_share: float, persons_per_customer: float,
             deadline: Callable[[], bool], now: datetime | None = None) -> dict[str, Any] | None:
    """Where the case stands in the response: its rank in the repair queue, and its ETR and crew in the plan for
    the crews not off shift (at least one); None when it is not in the plan (closed, or at no registered site).

    The ranking and the plan cover every open case, so this server keeps them (STANDINGS_MAX_AGE_S at most) for
    the next case page while the registry, the open cases as read and the crews counted are the same: the key is
    read from the database on each view, so several servers and every change stay right."""
    crews = max(1, sum(1 for c in crews_repo.listing(conn) if c["status"] != "off_shift"))
    revision = triage_repo.registry_revision(conn)["token"]
    key = repr((revision, triage_repo.open_cases_digest(conn), switches_repo.state_digest(conn), crews,
                default_share, persons_per_customer))
    kept: dict[str, Standings] = current_app.extensions.setdefault("case_standings", {}) if has_app_context() else {}
    found = kept.get("last")
    if found is None or found.key != key or time.monotonic() - found.made_at > STANDINGS_MAX_AGE_S:
        found = _standings(conn, key, crews=crews, default_share=default_share,
                           persons_per_customer=persons_per_customer, deadline=deadline, now=now)
        kept["last"] = found
    mine = found.by_case.get(case_id)
    if mine is None:
        return None
    etr, crew = mine["etr_hours"], mine["crew"]
    # The plan's own label of a crew it was not given a name for ("Crew 2"): said in the page's language.
    anonymous = re.fullmatch(r"Crew (\d+)", crew or "")
    return {"rank": mine["rank"], "of": found.of, "crews": found.crews, "etr_hours": etr, "crew": crew,
            "crew_number": int(anonymous.group(1)) if anonymous else None,
            "etr_at": found.as_of + timedelta(hours=etr) if etr is not None else None}


@without_gc_pauses
def _standings(conn: Conn, key: str, *, crews: int, default_share: float, persons_per_customer: float,
               deadline: Callable[[], bool], now: datetime | None) -> Standings:
    situation = switched(load_situation(conn, default_share=default_share, now=now))  # as the queue ranks it
    ranked = ranking(situation)
    result = plan_for(situation, crews=crews, deadline=deadline, persons_per_customer=persons_per_customer)
    crew_of = {job.id: result.crew_labels[i] for i, jobs in enumerate(result.crews) for job in jobs}
    by_case = {situation.cases[r.id]["case_id"]: {"rank": r.rank, "etr_hours": result.etr_hours.get(r.id),
                                                   "crew": crew_of.get(r.id)} for r in ranked}
    return Standings(key=key, made_at=time.monotonic(), as_of=situation.as_of, crews=crews, of=len(ranked),
                     by_case=by_case)


def case_view(conn: Conn, case_id: int, *, distance_m: float, window_h: float,
              default_share: float) -> dict[str, Any]:
    """A case with its facility, reports (merged cases included), events, dependants, suggested duplicates, its
    operational status and where that comes from, and the repair hours it is planned with."""
    case = repo.get(conn, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    facility = repo.facility(conn, case["facility_id"]) if case["facility_id"] else None
    reports = repo.reports(conn, case_id)
    planned = repair_hours(override=case["repair_hours_override"], estimate=repo.latest_estimate(conn, case_id),
                           kind=case["kind"], severities=[r["severity"] for r in reports],
                           accepted=case["repair_hours_accepted"])
    hazards = sorted({h for r in reports for h in r["hazards"]})
    return {
        "case": case, "facility": facility, "reports": reports, "planned_hours": planned,
        "access": access(case["access_state"], hazards)._asdict(),
        "operational": _operational(repo.operational_status(conn, case_id), default_share=default_share),
        "events": repo.events(conn, case_id),
        "dependants": repo.dependants(conn, case["facility_id"]) if case["facility_id"] else [],
        "duplicates": repo.duplicates(conn, case_id, distance_m=distance_m, window_h=window_h),
        "merged": repo.merged(conn, case_id),
    }
