"""A crew's own work: GET /api/my/cases, the open damage cases assigned to the signed-in account, and
POST /api/my/cases/<id>/access, a crew on site saying whether the site can be worked (audited as set_access)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user

from app import db, parse
from app.auth.access import requires
from app.cases import service as cases
from app.errors import NotFound, ValidationError
from app.repo import cases as cases_repo
from app.repo import crew_work as repo
from app.repo import crews as crews_repo
from geo.access import CLEARED, access
from geo.taxonomy import ACCESS_STATES

bp = Blueprint("my_work", __name__, url_prefix="/api")


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in row.items()}


@bp.get("/my/cases")
@requires("crew")
def my_cases() -> Response:
    """Crew and up: the open cases assigned to me, with the reports on them I may see (a crew: their own)."""
    reporter = None if current_user.has("coordinator") else int(current_user.id)
    with db.connection() as conn:
        cases = repo.assigned_cases(conn, int(current_user.id), reporter_id=reporter)
    return jsonify({"username": current_user.username, "generated_at": datetime.now(UTC).isoformat(),
                    "cases": [_json(case) for case in work_list(cases)]})


def work_list(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cases with what a crew needs on the way: whether it is the next job (the repair under way, else the
    first assigned in the dispatched order), may they start (access), and a geo: link for the phone's map app."""
    waiting = sorted((c for c in cases if c["status"] == "assigned"), key=lambda c: c["assign_seq"] or 0)
    busy = [c for c in cases if c["status"] == "in_repair"]
    next_id = (busy or waiting or [{"id": None}])[0]["id"]
    out = []
    for case in cases:
        site = access(case["access_state"], case["hazards"])
        out.append({**{k: v for k, v in case.items() if k != "assign_seq"}, "next_job": case["id"] == next_id,
                    "access_state": site.state, "access_source": site.source,
                    "map_url": f"geo:{case['lat']:.6f},{case['lon']:.6f}?q={case['lat']:.6f},{case['lon']:.6f}"})
    return out


@bp.post("/my/cases/<int:case_id>/access")
@requires("crew")
def set_my_access(case_id: int) -> Response:
    """Crew and up: set the access state of a case assigned to me or to my crew ({"access_state": "cleared",
    "blocked" or "needs_clearance", "expected_at": when it should be cleared, "reason"}); 404 for any other case."""
    fields = parse.Fields(parse.json_object(request, max_bytes=current_app.config["REPORT_MAX_BYTES"]))
    state = fields.get("access_state", parse.choice, ACCESS_STATES, required=True)
    expected = fields.get("expected_at", parse.time)
    reason = fields.get("reason", parse.text, max_chars=500)
    fields.check()
    if expected is not None and state == CLEARED:
        raise ValidationError({"expected_at": "only while the site needs clearance or is blocked"})
    user = int(current_user.id)
    with db.connection() as conn:
        case, crew = cases_repo.get(conn, case_id), crews_repo.of_user(conn, user)
        if case is None or not (case["assigned_user_id"] == user
                                or (crew is not None and case["assigned_crew"] == crew["name"])):
            raise NotFound(f"case {case_id} is not among the work of you or your crew")  # whether it exists or not
        cases.apply(conn, case_id, cases.Action("set_access", reason=reason or "set by the crew on site",
                                                access_state=state, at=expected), actor_id=user)
        found = cases_repo.get(conn, case_id)
    assert found is not None
    site = access(found["access_state"], [])
    return jsonify({"case": {"id": case_id, "access_state": site.state, "access_source": site.source,
                             "access_expected_at": _json(found)["access_expected_at"]}})
