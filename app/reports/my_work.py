"""A crew's own work: GET /api/my/cases, the open damage cases assigned to the signed-in account."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from flask_login import current_user

from app import db
from app.auth.access import requires
from app.repo import crew_work as repo
from geo.access import access

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
