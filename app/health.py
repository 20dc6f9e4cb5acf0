"""GET /healthz: is the database reachable and its schema current."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from app import db
from app.auth import public
from app.repo import schema

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz() -> tuple[Response, int]:
    """Anyone: 200 when the database answers and is migrated to the newest schema, else 503."""
    head = current_app.config["SCHEMA_HEAD"]
    try:
        with db.connection() as conn:
            current = schema.revision(conn)
    except db.DatabaseUnavailable:
        return jsonify({"status": "unavailable", "database": "unreachable", "schema_head": head}), 503
    body = {"database": "ok", "schema": current, "schema_head": head}
    if current != head:
        return jsonify({"status": "not migrated", **body}), 503
    return jsonify({"status": "ok", **body}), 200
