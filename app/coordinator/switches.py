"""Tie switches for coordinators: GET /api/switches (every switch, its state, and whether a step proposes it) and
POST /api/switches/<id>/close and /open, recording that the control room did a switching step (audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user

from app import db, parse
from app.auth.access import requires
from app.coordinator import proposals
from app.coordinator.situation import load_situation
from app.errors import NotFound
from app.repo import switches as repo

bp = Blueprint("switches", __name__, url_prefix="/api")

REASON_MAX_CHARS = 500


@bp.get("/switches")
@requires("coordinator")
def list_switches() -> Response:
    """Coordinator and up: every tie switch as a GeoJSON point, open or closed, and the steps proposed now."""
    with db.read_connection() as conn:
        situation = load_situation(conn, default_share=float(current_app.config["DEGRADED_SHARE_OUT"]))
        body = proposals.ties_json(conn, situation)
    response = jsonify(body)  # the app's JSON provider says the sentences in the request's language
    response.mimetype = "application/geo+json"
    return response


@bp.post("/switches/<switch_id>/close")
@requires("coordinator")
def close_switch(switch_id: str) -> Response:
    """Coordinator and up: record that the switch was closed (now, by me); {"reason": ...} optional. Closing a
    closed switch changes nothing."""
    return _set(switch_id, closed=True)


@bp.post("/switches/<switch_id>/open")
@requires("coordinator")
def open_switch(switch_id: str) -> Response:
    """Coordinator and up: record that the switch was opened again; opening an open switch changes nothing."""
    return _set(switch_id, closed=False)


def _set(text: str, *, closed: bool) -> Response:
    switch_id = parse.parse_int(text, name="switch_id", low=1, high=2**62, default=0)
    reason = None
    if request.content_length:
        fields = parse.Fields(parse.json_object(request, max_bytes=current_app.config["REPORT_MAX_BYTES"]))
        reason = fields.get("reason", parse.text, max_chars=REASON_MAX_CHARS)
        fields.check()
    with db.connection() as conn:
        changed = repo.set_closed(conn, switch_id, closed=closed, actor_id=int(current_user.id), reason=reason)
        if changed is None:
            raise NotFound(f"no tie switch {switch_id}")
        (row,) = repo.ties(conn, switch_id)
    return jsonify({"changed": changed, "switch": _json(row)})


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(row["id"]), "external_id": row["external_id"], "name": row["name"],
            "state": "closed" if row["closed_at"] is not None else "open",
            **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()
               if k in ("closed_at", "closed_by", "remote", "switch_hours", "lon", "lat")}}
