"""The damage-case workflow: the case page, its actions (forms and JSON) and suggested duplicates."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as BaseResponse

from app import db
from app.auth import requires
from app.db import DatabaseUnavailable
from app.errors import Conflict, NotFound, ValidationError
from app.repo import Conn
from app.repo import cases as repo
from app.repo.reports import add_case_event

bp = Blueprint("cases", __name__)

OPEN = ("reported", "confirmed", "assigned", "in_repair", "temporarily_restored")
# action -> (statuses it may start from, status it leads to; None keeps the status)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "confirm": (("reported",), "confirmed"),
    "reject": (("reported", "confirmed"), "rejected"),
    "assign": (("reported", "confirmed", "assigned"), "assigned"),
    "start_repair": (("confirmed", "assigned"), "in_repair"),
    "temporarily_restore": (("assigned", "in_repair"), "temporarily_restored"),
    "repaired": (("assigned", "in_repair", "temporarily_restored"), "repaired"),
    "override_hours": (OPEN, None),
    "bump_priority": (OPEN, None),
    "merge": (OPEN, None),
}
NEEDS_REASON = {"reject", "override_hours", "bump_priority"}
MAX_TEXT = 2000


class FieldConflict(Conflict):
    """A state conflict about the value of one field (e.g. the case to merge is already closed): a 409."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


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
    duplicate_id: int | None = None


def _number(body: Mapping[str, Any], name: str, *, low: float, high: float) -> float:
    value = body.get(name)
    if value is None or value == "":
        raise ValidationError({name: "is required"})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError({name: "must be a number"}) from None
    if isinstance(value, bool) or not math.isfinite(number) or not low <= number <= high:
        raise ValidationError({name: f"must be a number between {low:g} and {high:g}"})
    return number


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError({name: "must be text"})
    if len(value) > MAX_TEXT:
        raise ValidationError({name: f"must be at most {MAX_TEXT} characters"})
    if "\x00" in value:  # PostgreSQL text cannot hold it
        raise ValidationError({name: "must not contain NUL characters"})
    return value.strip() or None


def parse_action(body: Mapping[str, Any]) -> Action:
    """Turn a form or JSON body into an Action, or a 422 naming the field."""
    name = body.get("action")
    if not isinstance(name, str) or name not in TRANSITIONS:
        raise ValidationError({"action": f"must be one of {', '.join(TRANSITIONS)}"})
    reason = _text(body, "reason")
    if name in NEEDS_REASON and reason is None:
        raise ValidationError({"reason": f"is required to {name.replace('_', ' ')}"})
    if name == "assign":
        crew = _text(body, "crew")
        if crew is None:
            raise ValidationError({"crew": "is required: the crew's name or id"})
        return Action(name, reason=reason, crew=crew, crew_account=_text(body, "crew_account"),
                      keep_account="crew_account" not in body)
    if name == "override_hours":
        return Action(name, reason=reason, hours=_number(body, "hours", low=0, high=10_000))
    if name == "bump_priority":
        return Action(name, reason=reason, bump=_number(body, "bump", low=0, high=10_000_000))
    if name == "merge":
        duplicate_id = _number(body, "duplicate_id", low=1, high=2**62)
        if not duplicate_id.is_integer():
            raise ValidationError({"duplicate_id": "must be a case id (a whole number)"})
        return Action(name, reason=reason, duplicate_id=int(duplicate_id))
    return Action(name, reason=reason)


def apply(conn: Conn, case_id: int, action: Action, *, actor_id: int) -> dict[str, Any]:
    """Apply one action in the caller's transaction: update the case and record the event; return the case."""
    if action.name == "merge":
        assert action.duplicate_id is not None
        for cid in sorted({case_id, action.duplicate_id}):  # one lock order: no deadlock with a reverse merge
            repo.lock(conn, cid)
    repo.lock(conn, case_id)
    case = repo.get(conn, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    allowed, target = TRANSITIONS[action.name]
    status = case["status"]
    if status not in allowed:
        raise Conflict(f"cannot {action.name.replace('_', ' ')} case {case_id}: it is {status} "
                       f"(allowed from {', '.join(allowed)})")
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
    elif action.name == "override_hours":
        changes["repair_hours_override"] = action.hours
    elif action.name == "bump_priority":
        changes["priority_bump"] = action.bump
    elif action.name == "merge":
        _merge(conn, case, action, actor_id=actor_id)
    before = {k: case[k] for k in changes}
    repo.update(conn, case_id, changes)
    data: dict[str, Any] = {"before": before, "after": changes}
    if action.name == "assign":  # the account's name too, so the history reads without a lookup
        data = {"before": {**before, "assigned_user": case["assigned_user"]},
                "after": {**changes, "assigned_user": account["username"] if account else None}}
    if action.name == "merge":
        data = {"duplicate_id": action.duplicate_id}
    add_case_event(conn, case_id=case_id, actor_id=actor_id, action=action.name, from_status=status,
                   to_status=changes.get("status", status), reason=action.reason, data=json.dumps(data, default=str))
    updated = repo.get(conn, case_id)
    assert updated is not None
    return updated


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


def _merge(conn: Conn, survivor: dict[str, Any], action: Action, *, actor_id: int) -> None:
    dup_id = action.duplicate_id
    assert dup_id is not None
    if dup_id == survivor["id"]:
        raise FieldConflict("duplicate_id", "a case cannot be merged into itself")
    duplicate = repo.get(conn, dup_id)
    if duplicate is None:
        raise ValidationError({"duplicate_id": f"case {dup_id} does not exist"})
    if duplicate["status"] not in OPEN:
        raise FieldConflict("duplicate_id", f"cannot merge case {dup_id}: it is {duplicate['status']}")
    repo.update(conn, dup_id, {"status": "duplicate", "merged_into": survivor["id"]})
    add_case_event(conn, case_id=dup_id, actor_id=actor_id, action="merged_into", from_status=duplicate["status"],
                   to_status="duplicate", reason=action.reason or f"duplicate of case {survivor['id']}",
                   data=json.dumps({"merged_into": survivor["id"]}))


def _case_view(conn: Conn, case_id: int) -> dict[str, Any]:
    case = repo.get(conn, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    facility = repo.facility(conn, case["facility_id"]) if case["facility_id"] else None
    return {
        "case": case, "facility": facility, "reports": repo.reports(conn, case_id),
        "events": repo.events(conn, case_id),
        "dependants": repo.dependants(conn, case["facility_id"]) if case["facility_id"] else [],
        "duplicates": _duplicates(conn, case_id),
    }


def _duplicates(conn: Conn, case_id: int) -> list[dict[str, Any]]:
    return repo.duplicates(conn, case_id, distance_m=float(current_app.config["DUPLICATE_DISTANCE_M"]),
                           window_h=float(current_app.config["DUPLICATE_WINDOW_H"]))


def _page(case_id: int, *, status: int = 200, errors: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The case page; with `errors`, the submitted form again with each error next to its field."""
    with db.connection() as conn:
        view = _case_view(conn, case_id)
        crews = repo.crew_accounts(conn)
    submitted = request.form.get("action") if errors else None
    values = {k: v for k, v in request.form.items() if k != "csrf_token"} if errors else {}
    return render_template("case.html", actions=TRANSITIONS, errors=errors or {}, submitted=submitted,
                           values=values, crews=crews, **view), status


@bp.get("/cases/<int:case_id>")
@requires("coordinator")
def case_page(case_id: int) -> tuple[str, int]:
    """Coordinator and up: a case with its reports, events, facility, dependants and suggested duplicates."""
    return _page(case_id)


@bp.post("/cases/<int:case_id>/actions")
@requires("coordinator")
def case_form_action(case_id: int) -> BaseResponse | tuple[str, int]:
    """Coordinator and up: apply an action from the case page's forms and go back to the page (303); on bad
    input the page again with the error next to the field (422), or the conflict with the case's state (409)."""
    try:
        action = parse_action(request.form)
        with db.connection() as conn:
            apply(conn, case_id, action, actor_id=current_user.id)
    except ValidationError as exc:
        return _page(case_id, status=exc.status, errors=exc.errors)
    except FieldConflict as exc:
        return _page(case_id, status=409, errors={exc.field: str(exc)})
    except Conflict as exc:
        return _page(case_id, status=409, errors={"action": str(exc)})
    flash(f"Done: {action.name.replace('_', ' ')}.")
    return redirect(url_for("cases.case_page", case_id=case_id), code=303)


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> Response | tuple[str, int]:
    """A form sent without a valid CSRF token: the case page with the reason (400); JSON for the API."""
    case_id = (request.view_args or {}).get("case_id")
    if request.endpoint == "cases.case_form_action" and isinstance(case_id, int):
        try:
            return _page(case_id, status=400, errors={"csrf_token": f"{exc.description} Reload the page and retry."})
        except (NotFound, DatabaseUnavailable):  # nothing to show: refuse plainly (an error here would be a 500)
            return exc.get_response()
    response = jsonify({"error": exc.description})
    response.status_code = 400
    return response


@bp.post("/api/cases/<int:case_id>/actions")
@requires("coordinator")
def case_api_action(case_id: int) -> Response:
    """Coordinator and up: apply {"action": ..., "reason": ...}; 409 if the status does not allow it."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser follows: as malformed as bad syntax
        body = None
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object (Content-Type: application/json)"}, status=400)
    action = parse_action(body)
    with db.connection() as conn:
        case = apply(conn, case_id, action, actor_id=current_user.id)
    return jsonify({"case": case})


@bp.get("/api/cases/<int:case_id>")
@requires("coordinator")
def case_json(case_id: int) -> Response:
    """Coordinator and up: a case with its reports (merged cases included), events and dependants."""
    with db.connection() as conn:
        return jsonify(_case_view(conn, case_id))


@bp.get("/api/cases/<int:case_id>/duplicates")
@requires("coordinator")
def case_duplicates(case_id: int) -> Response:
    """Coordinator and up: open cases on the same facility, or near in space and time, to merge."""
    with db.connection() as conn:
        if repo.get(conn, case_id) is None:
            raise NotFound(f"case {case_id} does not exist")
        return jsonify({"case_id": case_id, "duplicates": _duplicates(conn, case_id)})
