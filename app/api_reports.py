"""The report API: POST /api/reports, photos, GET /api/reports, and the nearest facilities for the field form."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_login import current_user

from app import db
from app.auth import requires
from app.errors import NotFound, ValidationError
from app.params import parse_bbox, parse_int, parse_number, parse_time
from app.repo import reports as repo
from app.report_input import parse_report
from app.reports import PHOTO_TYPES, store_photo, store_report
from app.security import client_address, limit

bp = Blueprint("reports", __name__, url_prefix="/api")

HIDDEN = {"content_hash", "geom"}


def report_json(row: dict[str, Any]) -> dict[str, Any]:
    """A stored report as the API shows it (times in ISO 8601)."""
    return {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in row.items() if k not in HIDDEN}


def _too_large(limit: int) -> None:
    if request.content_length is not None and request.content_length > limit:
        raise ValidationError({"body": f"is larger than {limit} bytes"}, status=413)


def _own_only() -> int | None:
    """Crews see only their own reports; coordinators and admins see all (None)."""
    return None if current_user.has("coordinator") else int(current_user.id)


def _uuid(value: str, name: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValidationError({name: "must be a UUID"}, status=404) from None


@bp.post("/reports")
@requires("crew")
def create_report() -> tuple[Response, int]:
    """Crew and up: store a report; 201 new, 200 same again, 409 same id with other content."""
    _too_large(current_app.config["REPORT_MAX_BYTES"])
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser follows: as malformed as bad syntax
        body = None
    if body is None:
        raise ValidationError({"body": "must be a JSON object (Content-Type: application/json)"}, status=400)
    report = parse_report(body, now=datetime.now(UTC))
    limit("reports", f"user:{current_user.id}", f"addr:{client_address()}")
    with db.connection() as conn:
        stored = store_report(conn, report, reporter_id=current_user.id,
                              match_distance_m=current_app.config["MATCH_DISTANCE_M"],
                              any_case=current_user.has("coordinator"))
    response = jsonify({"report": report_json(stored.row)})
    response.headers["Location"] = url_for("reports.get_report", report_id=stored.row["id"])
    return response, 201 if stored.created else 200


@bp.get("/reports/<report_id>")
@requires("crew")
def get_report(report_id: str) -> Response:
    """Crew and up: one stored report (the outbox's receipt check)."""
    with db.connection() as conn:
        row = repo.get(conn, _uuid(report_id, "report_id"))
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
    box = (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat) if bbox else None
    with db.connection() as conn:
        body = repo.geojson(conn, bbox=box, since=since, reporter_id=_own_only(), limit=count)
    return Response(body, mimetype="application/geo+json")


@bp.put("/reports/<report_id>/photos/<photo_id>")
@requires("crew")
def put_photo(report_id: str, photo_id: str) -> tuple[Response, int]:
    """Crew and up: store a photo of a report; 201 new, 200 same again, 409 other bytes under the same id."""
    report_key, photo_key = _uuid(report_id, "report_id"), _uuid(photo_id, "photo_id")
    content_type = (request.mimetype or "").lower()
    if content_type not in PHOTO_TYPES:
        raise ValidationError({"Content-Type": f"must be one of {', '.join(PHOTO_TYPES)}"}, status=415)
    _too_large(current_app.config["PHOTO_MAX_BYTES"])
    data = request.get_data(cache=False)
    if not data:
        raise ValidationError({"body": "is empty"}, status=400)
    if len(data) > current_app.config["PHOTO_MAX_BYTES"]:
        raise ValidationError({"body": f"is larger than {current_app.config['PHOTO_MAX_BYTES']} bytes"}, status=413)
    with db.connection() as conn:
        stored = store_photo(conn, report_id=report_key, photo_id=photo_key, content_type=content_type, data=data,
                             owner_id=_own_only())
    return jsonify({"photo": stored.row}), 201 if stored.created else 200


@bp.get("/reports/<report_id>/photos/<photo_id>")
@requires("crew")
def get_photo(report_id: str, photo_id: str) -> Response:
    """Crew and up: a stored photo's bytes."""
    with db.connection() as conn:
        row = repo.photo_data(conn, _uuid(photo_id, "photo_id"))
    mine = row is not None and _own_only() in (None, row["reporter_id"])
    if row is None or not mine or row["report_id"] != _uuid(report_id, "report_id"):
        raise NotFound(f"photo {photo_id} not found")
    response = Response(bytes(row["data"]), mimetype=row["content_type"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/facilities/nearest")
@requires("crew")
def nearest_facilities() -> Response:
    """Crew and up: the registered facilities nearest to a point, with their distance in metres."""
    lon = parse_number(request.args.get("lon"), name="lon", low=-180, high=180)
    lat = parse_number(request.args.get("lat"), name="lat", low=-90, high=90)
    limit = parse_int(request.args.get("limit"), name="limit", low=1, high=50, default=5)
    with db.connection() as conn:
        rows = repo.nearest_facilities(conn, lon=lon, lat=lat, limit=limit)
    return jsonify({"facilities": rows})
