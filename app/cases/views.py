"""The case page, its actions (forms and JSON) and suggested duplicates; the work is app.cases.service's."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as BaseResponse

from app import db, parse
from app.auth.access import requires
from app.cases import service
from app.cases.service import Action
from app.db import DatabaseUnavailable
from app.errors import Conflict, FieldConflict, NotFound, ValidationError, status_of
from app.repo import Conn
from app.repo import cases as repo
from app.site import tiles
from app.site.labels import code_label
from geo import workflow
from geo.access import FROM_HAZARDS
from geo.message import N_, Quantity, Text
from geo.plan import time_limit
from geo.repair_hours import MIN_REPAIR_HOURS
from geo.taxonomy import ACCESS_STATES, OPERATIONAL_STATUSES

bp = Blueprint("cases", __name__, template_folder="templates", static_folder="static",
               static_url_path="/cases/static")
MAX_TEXT = 2000
MAP_SPAN_DEG, MAP_ZOOM = 0.05, 14  # the small map's service areas: about 5 km around the site, simplified at z14
STANDING_PLAN_S = 0.5  # the plan behind the page's ETR: a short search (the map's plan panel can search longer)


def said(exc: BaseException) -> str:
    """An exception's message, keeping a geo.message.Text as it is (str() would make it plain English)."""
    message = exc.args[0] if exc.args else ""
    return message if isinstance(message, str) else str(exc)


def _number(body: Mapping[str, Any], name: str, *, low: float, high: float) -> float:
    """A number from a form field (text) or a JSON number; a 422 naming the field otherwise."""
    value = body.get(name)
    if value is None or value == "":
        raise ValidationError({name: Text(N_("is required"))})
    try:
        number = float(value) if isinstance(value, str) else value
    except ValueError:
        raise ValidationError({name: Text(N_("must be a number"))}) from None
    try:
        return parse.number(number, low=low, high=high)
    except parse.Refused:
        raise ValidationError({name: Text(N_("must be a number between {low} and {high}"),
                                         low=Quantity(low, "hours"), high=Quantity(high, "hours"))}) from None


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return parse.text(value, max_chars=MAX_TEXT, expected="text")
    except parse.Refused as exc:
        raise ValidationError({name: str(exc)}) from None


def _moment(body: Mapping[str, Any], name: str) -> datetime | None:
    """An ISO 8601 time from a form field or JSON, None when absent or empty; a time without a zone (as the
    page's date-time inputs send) is UTC, as the page says."""
    value = body.get(name)
    if value is None or value == "":
        return None
    try:
        return parse.time(value, naive_is_utc=True)
    except parse.Refused as exc:
        raise ValidationError({name: str(exc)}) from None


def parse_action(body: Mapping[str, Any]) -> Action:
    """Turn a form or JSON body into an Action, or a 422 naming the field."""
    given = body.get("action")
    try:
        name = workflow.check_action(given if isinstance(given, str) else "")
        reason = _text(body, "reason")
        workflow.check_reason(name, reason)
    except (workflow.UnknownAction, workflow.ReasonRequired) as exc:
        raise ValidationError({exc.field: said(exc)}) from None
    if name == "assign":
        crew = _text(body, "crew")
        if crew is None:
            raise ValidationError({"crew": Text(N_("is required: the crew's name or id"))})
        return Action(name, reason=reason, crew=crew, crew_account=_text(body, "crew_account"),
                      keep_account="crew_account" not in body)
    if name == "set_operational_status":
        status = _text(body, "operational_status")
        allowed = (*OPERATIONAL_STATUSES, workflow.FROM_REPORTS)
        if status not in allowed:
            raise ValidationError({"operational_status": Text(N_("must be one of {choices}"),
                                                               choices=", ".join(allowed))})
        share = _number(body, "share_out", low=0, high=1) if body.get("share_out") not in (None, "") else None
        if share is not None and status != "degraded":
            raise ValidationError({"share_out": Text(N_("only with operational status degraded"))})
        return Action(name, reason=reason, operational_status=None if status == workflow.FROM_REPORTS else status,
                      share_out=share)
    if name == "set_access":
        state = _text(body, "access_state")
        allowed_access = (*ACCESS_STATES, FROM_HAZARDS)
        if state not in allowed_access:
            raise ValidationError({"access_state": Text(N_("must be one of {choices}"),
                                                         choices=", ".join(allowed_access))})
        expected = _moment(body, "expected_at")
        if expected is not None and state == "cleared":
            raise ValidationError({"expected_at": Text(N_("only while the site needs clearance or is blocked"))})
        return Action(name, reason=reason, access_state=None if state == FROM_HAZARDS else state, at=expected)
    if name == "set_materials":
        return Action(name, reason=reason, at=_moment(body, "materials_until"))
    if name == "override_hours":
        return Action(name, reason=reason, hours=_number(body, "hours", low=MIN_REPAIR_HOURS, high=10_000))
    if name == "bump_priority":
        return Action(name, reason=reason, bump=_number(body, "bump", low=0, high=10_000_000))
    if name in ("merge", "unmerge"):
        duplicate_id = _number(body, "duplicate_id", low=1, high=2**62)
        if not duplicate_id.is_integer():
            raise ValidationError({"duplicate_id": Text(N_("must be a case id (a whole number)"))})
        return Action(name, reason=reason, duplicate_id=int(duplicate_id))
    return Action(name, reason=reason)


def _case_view(conn: Conn, case_id: int) -> dict[str, Any]:
    return service.case_view(conn, case_id, distance_m=float(current_app.config["DUPLICATE_DISTANCE_M"]),
                             window_h=float(current_app.config["DUPLICATE_WINDOW_H"]),
                             default_share=float(current_app.config["DEGRADED_SHARE_OUT"]))


def _page(case_id: int, *, status: int = 200, errors: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The case page; with `errors`, the submitted form again with each error next to its field; with
    ?merge=ID, the question whether to merge that suggested duplicate into this case."""
    with db.connection() as conn:
        view = _case_view(conn, case_id)
        crews = repo.crew_accounts(conn)
        standing = service.standing(
            conn, case_id, default_share=float(current_app.config["DEGRADED_SHARE_OUT"]),
            persons_per_customer=float(current_app.config["PERSONS_PER_CUSTOMER"]),
            deadline=time_limit(STANDING_PLAN_S, clock=time.perf_counter))
    submitted = request.form.get("action") if errors else None
    values = {k: v for k, v in request.form.items() if k != "csrf_token"} if errors else {}
    asked = request.args.get("merge", "")
    confirm_merge = next((d for d in view["duplicates"] if str(d["id"]) == asked), None)
    return render_template("cases/case.html", actions=workflow.TRANSITIONS, errors=errors or {},
                           submitted=submitted, values=values, crews=crews, standing=standing,
                           confirm_merge=confirm_merge, map_config=_map_config(view), **view), status


def _map_config(view: Mapping[str, Any]) -> dict[str, Any]:
    """What the page's small map draws: the site, its reports, and the service areas and boundary around it."""
    case = view["case"]
    lon, lat = float(case["lon"]), float(case["lat"])
    around = f"{lon - MAP_SPAN_DEG},{lat - MAP_SPAN_DEG},{lon + MAP_SPAN_DEG},{lat + MAP_SPAN_DEG}"
    return {"site": [lon, lat], "siteLabel": gettext("Case %(id)s", id=case["id"]),
            "facilityId": case["facility_id"],
            "reports": [{"lon": float(r["lon"]), "lat": float(r["lat"]),
                         "label": gettext("report %(id)s", id=str(r["id"])[:8])} for r in view["reports"]],
            "areasUrl": url_for("coordinator.map_service_areas", bbox=around, zoom=MAP_ZOOM),
            "boundaryUrl": url_for("coordinator.map_boundary"), "baseMap": tiles.base_map_settings(),
            "messages": {"zoomIn": gettext("Zoom in"), "zoomOut": gettext("Zoom out")}}


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
            service.apply(conn, case_id, action, actor_id=current_user.id)
    except ValidationError as exc:
        return _page(case_id, status=status_of(exc), errors=exc.errors)
    except FieldConflict as exc:
        return _page(case_id, status=status_of(exc), errors={exc.field: said(exc)})
    except (Conflict, workflow.TransitionRefused) as exc:
        return _page(case_id, status=status_of(exc), errors={"action": said(exc)})
    flash(gettext("Done: %(action)s.", action=code_label(action.name, "action", spaced=True)))
    return redirect(url_for("cases.case_page", case_id=case_id), code=303)


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> Response | tuple[str, int]:
    """A form sent without a valid CSRF token: the case page with the reason (400); JSON for the API."""
    case_id = (request.view_args or {}).get("case_id")
    if request.endpoint == "cases.case_form_action" and isinstance(case_id, int):
        try:
            return _page(case_id, status=400, errors={"csrf_token": gettext(
                "The form's security token (CSRF) is missing or has expired. Reload the page and retry.")})
        except (NotFound, DatabaseUnavailable):  # nothing to show: refuse plainly (an error here would be a 500)
            refused: Response = exc.get_response()
            return refused
    response = jsonify({"error": exc.description})
    response.status_code = 400
    return response


@bp.post("/api/cases/<int:case_id>/actions")
@requires("coordinator")
def case_api_action(case_id: int) -> Response:
    """Coordinator and up: apply {"action": ..., "reason": ...}; 409 if the status does not allow it."""
    action = parse_action(parse.json_object(request, max_bytes=current_app.config["REPORT_MAX_BYTES"]))
    with db.connection() as conn:
        case = service.apply(conn, case_id, action, actor_id=current_user.id)
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
        return jsonify({"case_id": case_id, "duplicates": _case_view(conn, case_id)["duplicates"]})
