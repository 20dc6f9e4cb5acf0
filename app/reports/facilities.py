"""GET /api/facilities and /api/facilities/nearest: the registry as crews pick from it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app import db
from app.auth.access import requires
from app.parse import parse_bbox, parse_int, parse_number, parse_time
from app.repo import facilities
from app.repo import reports as reports_repo

bp = Blueprint("facilities", __name__, url_prefix="/api")


@bp.get("/facilities")
@requires("crew")
def list_facilities() -> Response:
    """Crew and up: the facilities as GeoJSON with direct and served population; `?bbox=` filters.

    With `?changed_since=` (the `cursor` of the previous answer) only the facilities changed after it, and a new
    `cursor`: how the field form keeps its copy of the registry current without downloading it whole.
    """
    bbox = parse_bbox(request.args.get("bbox"))
    since = parse_time(request.args.get("changed_since"), name="changed_since")
    with db.connection() as conn:
        body = (facilities.geojson(conn, bbox=bbox) if since is None
                else facilities.changed_geojson(conn, since=since, bbox=bbox))
    return Response(body, mimetype="application/geo+json")


@bp.get("/facilities/nearest")
@requires("crew")
def nearest_facilities() -> Response:
    """Crew and up: the registered facilities nearest to a point, with their distance in metres."""
    lon = parse_number(request.args.get("lon"), name="lon", low=-180, high=180)
    lat = parse_number(request.args.get("lat"), name="lat", low=-90, high=90)
    limit = parse_int(request.args.get("limit"), name="limit", low=1, high=50, default=5)
    with db.connection() as conn:
        rows = reports_repo.nearest_facilities(conn, lon=lon, lat=lat, limit=limit)
    return jsonify({"facilities": rows})
