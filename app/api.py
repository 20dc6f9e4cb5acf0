"""The JSON API under /api."""

from __future__ import annotations

from flask import Blueprint, Response, request

from app import db
from app.auth import requires
from app.params import parse_bbox
from app.repo import facilities

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/facilities")
@requires("crew")
def list_facilities() -> Response:
    """Crew and up: the facilities as GeoJSON with direct and served population; `?bbox=` filters."""
    bbox = parse_bbox(request.args.get("bbox"))
    with db.connection() as conn:
        body = facilities.geojson(conn, bbox=bbox)
    return Response(body, mimetype="application/geo+json")
