"""The report API: POST /api/reports, photos and GET /api/reports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_login import current_user

from app import db
from app.auth.access import checks_token, requires
from app.auth.security import client_address
from app.auth.security import quota as limit_quota
from app.errors import BadParameter, NotFound, UnsupportedMedia
from app.parse import body_bytes, json_object, larger_body, parse_bbox, parse_int, parse_time, parse_uuid
from app.repo import reports as repo
from app.reports.input import parse_report
from app.reports.service import PHOTO_TYPES, ingest, store_photo

bp = Blueprint("reports", __name__, url_prefix="/api")

HIDDEN = {"content_hash", "geom"}


def report_json(row: dict[str, Any]) -> dict[str, Any]:
    """A stored report as the API shows it (times in ISO 8601)."""
    return {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in row.items() if k not in HIDDEN}


def _own_only() -> int | None:
    """Crews see only their own reports; coordinators and admins see all (None)."""
    return None if current_user.has("coordinator") else int(current_user.id)


@bp.post("/reports")
@requires("crew")
@checks_token
def create_report() -> tuple[Response, int]:
    """Crew and up: store a report; 201 new, 200 same again, 409 same id with other content.

    One statement does the work and the commit goes with it; it checks the bearer token again (so this view may
    take the token's account from the cache) and counts the rate limits."""
    body = json_object(request, max_bytes=current_app.config["REPORT_MAX_BYTES"])
    report = parse_report(body, now=datetime.now(UTC))
    quota = limit_quota("reports", f"user:{current_user.id}", f"addr:{client_address()}")
    with db.connection() as conn:
        stored = ingest(conn, report, user_id=int(current_user.id), token_digest=current_user.token_digest,
                        quota=quota, match_distance_m=current_app.config["MATCH_DISTANCE_M"])
    response = jsonify({"report": report_json(stored.row)})
    response.headers["Location"] = url_for("reports.get_report", report_id=stored.row["id"])
    return response, 201 if stored.created else 200


@bp.get("/reports/<report_id>")
@requires("crew")
def get_report(report_id: str) -> Response:
    """Crew and up: one stored report (the outbox's receipt check)."""
    with db.connection() as conn:
        row = repo.get(conn, parse_uuid(report_id, name="report_id"))
    if row is None or _own_only() not in (None, row["reporter_id"]):
        raise NotFound(f"report {report_id} has not been received")
    return jsonify({"report": report_json(row)})


@bp.get("/reports")
@requires("crew")
def list_reports() -> Response:
    """Crew (own) and up: reports as GeoJSON, oldest first; `bbox`, `since` (received after), `limit`."""
    bbox = parse_bbox(request.args.get("bbox"))
    since = parse_time(request.args.get("since"), name="since")
    count = parse_int(request.args.get("limit"), name="limit", low=1, high=10_000, default=1000)
    with db.connection() as conn:
        body = repo.geojson(conn, bbox=bbox, since=since, reporter_id=_own_only(), limit=count)
    return Response(body, mimetype="application/geo+json")


@bp.put("/reports/<report_id>/photos/<photo_id>")
@requires("crew")
@larger_body("PHOTO_MAX_BYTES")
def put_photo(report_id: str, photo_id: str) -> tuple[Response, int]:
    """Crew and up: store a photo of a report; 201 new, 200 same again, 409 other bytes under the same id."""
    report_key, photo_key = parse_uuid(report_id, name="report_id"), parse_uuid(photo_id, name="photo_id")
    content_type = (request.mimetype or "").lower()
    if content_type not in PHOTO_TYPES:
        raise UnsupportedMedia({"Content-Type": f"must be one of {', '.join(PHOTO_TYPES)}"})
    data = body_bytes(request, max_bytes=current_app.config["PHOTO_MAX_BYTES"])
    if not data:
        raise BadParameter({"body": "is empty"})
    with db.connection() as conn:
        stored = store_photo(conn, report_id=report_key, photo_id=photo_key, content_type=content_type, data=data,
                             owner_id=_own_only())
    return jsonify({"photo": stored.row}), 201 if stored.created else 200


@bp.get("/reports/<report_id>/photos/<photo_id>")
@requires("crew")
def get_photo(report_id: str, photo_id: str) -> Response:
    """Crew and up: a stored photo's bytes."""
    with db.connection() as conn:
        row = repo.photo_data(conn, parse_uuid(photo_id, name="photo_id"))
    mine = row is not None and _own_only() in (None, row["reporter_id"])
    if row is None or not mine or row["report_id"] != parse_uuid(report_id, name="report_id"):
        raise NotFound(f"photo {photo_id} not found")
    response = Response(bytes(row["data"]), mimetype=row["content_type"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
