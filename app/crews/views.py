"""Crews as records: the coordinators' page (/crews) to create and edit them, GET /api/crews, and
POST /api/crews/mine/status for a crew's own status; the work is app.crews.service's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from app import db, parse
from app.auth.access import requires
from app.crews import service
from app.crews.input import FIELDS, parse_crew, time_zones
from app.errors import FieldConflict, NotFound, ValidationError, status_of
from app.repo import crews as repo
from app.site.labels import code_label
from geo.taxonomy import CREW_SKILLS, CREW_STATUSES

bp = Blueprint("crews", __name__, template_folder="templates")
LISTS = ("skills", "members")  # fields a form sends once per ticked box


def _submitted() -> dict[str, Any]:
    """The form's crew fields as sent (lists for the ticked boxes)."""
    return {name: request.form.getlist(name) if name in LISTS else request.form.get(name) for name in FIELDS}


def _page(*, editing: dict[str, Any] | None = None, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    """The crews with the form to create one, or to edit `editing`; with `errors`, next to each field."""
    with db.connection() as conn:
        crews = repo.listing(conn)
        accounts = repo.crew_accounts(conn, service.MEMBER_ROLE)
        history = repo.events(conn, limit=50)
    if values is None:
        values = _values_of(editing) if editing else {"status": service.NEW_CREW_STATUS, "time_zone": "UTC",
                                                      "skills": [], "members": []}
    now = datetime.now(UTC)
    html = render_template("crews/crews.html", crews=[service.crew_json(c, now=now) for c in crews],
                           accounts=accounts, history=history, editing=editing, values=values, errors=errors or {},
                           skills=CREW_SKILLS, statuses=CREW_STATUSES, time_zones=sorted(time_zones()))
    return html, status


def _values_of(crew: dict[str, Any]) -> dict[str, Any]:
    shown = service.crew_json(crew, now=datetime.now(UTC))
    return {"name": crew["name"], "lon": crew["lon"], "lat": crew["lat"], "skills": shown["skills"],
            "shift_start": shown["shift"]["start"], "shift_end": shown["shift"]["end"],
            "time_zone": crew["time_zone"], "status": crew["status"], "members": shown["members"]}


def _crew(crew_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        crew = repo.get(conn, crew_id)
    if crew is None:
        raise NotFound(f"there is no crew {crew_id}")
    return crew


def _save(editing: dict[str, Any] | None) -> BaseResponse | tuple[str, int]:
    values = _submitted()
    try:
        crew = parse_crew(values)
        with db.connection() as conn:
            repo.lock(conn)
            existing = repo.get(conn, int(editing["id"])) if editing else None
            if editing and existing is None:
                raise NotFound(f"there is no crew {editing['id']}")
            saved = service.save(conn, crew, existing=existing, actor_id=current_user.id, reason="crews page")
    except ValidationError as exc:
        return _page(editing=editing, values=values, errors=exc.errors, status=status_of(exc))
    except FieldConflict as exc:
        return _page(editing=editing, values=values, errors={exc.field: str(exc)}, status=status_of(exc))
    flash(gettext("Crew %(name)s: %(outcome)s.", name=saved.name, outcome=code_label(saved.outcome, "event")))
    return redirect(url_for("crews.crews_page"), 303)


@bp.get("/crews")
@requires("coordinator")
def crews_page() -> tuple[str, int]:
    """Coordinator and up: every crew, and the form to create one."""
    return _page()


@bp.post("/crews")
@requires("coordinator")
def create_crew() -> BaseResponse | tuple[str, int]:
    """Coordinator and up: create a crew (audited); bad input: the page again with the error at the field (422)."""
    return _save(None)


@bp.get("/crews/<int:crew_id>")
@requires("coordinator")
def crew_page(crew_id: int) -> tuple[str, int]:
    """Coordinator and up: the form to edit one crew."""
    return _page(editing=_crew(crew_id))


@bp.post("/crews/<int:crew_id>")
@requires("coordinator")
def update_crew(crew_id: int) -> BaseResponse | tuple[str, int]:
    """Coordinator and up: change a crew (audited); bad input: the form again with the error at the field (422)."""
    return _save(_crew(crew_id))


@bp.get("/api/crews")
@requires("coordinator")
def list_crews() -> Response:
    """Coordinator and up: every crew with its base, skills, shift, status, last position and member accounts."""
    now = datetime.now(UTC)
    with db.connection() as conn:
        crews = repo.listing(conn)
    return jsonify({"generated_at": now.isoformat(), "crews": [service.crew_json(c, now=now) for c in crews]})


@bp.post("/api/crews/mine/status")
@requires("crew")
def set_my_status() -> Response:
    """Crew and up: set the status of the crew my account belongs to ({"status": ...}); 404 if it belongs to none."""
    fields = parse.Fields(parse.json_object(request, max_bytes=current_app.config["REPORT_MAX_BYTES"]))
    status = fields.get("status", parse.choice, CREW_STATUSES, required=True)
    fields.check()
    with db.connection() as conn:
        crew = service.set_my_status(conn, user_id=int(current_user.id), status=status)
    return jsonify({"crew": service.crew_json(crew, now=datetime.now(UTC))})
