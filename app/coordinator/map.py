"""The coordinator map: the /map page and the /api/map/* layers (clustered in the database), filters and changes."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from app import db
from app.auth.access import requires
from app.errors import BadParameter
from app.parse import parse_bbox, parse_choices, parse_int, parse_time
from app.repo import map as repo
from geo.taxonomy import CASE_STATUSES, FACILITY_KINDS, HAZARDS, SEVERITIES

bp = Blueprint("coordinator", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/map")

WORLD_M = 40_075_016.686  # the Web-Mercator world's width in metres
CELL_PX = 64  # one cluster per cell of this many screen pixels
POINT_ZOOM = 17  # from this zoom on every point is drawn on its own (coincident points still count together)
MAX_CELLS = 10_000
MAX_ZOOM = 22


def cell_m(zoom: int) -> float:
    """The grid cell size in EPSG:3857 metres for a zoom level (a tiny cell at high zoom: points one by one)."""
    return 0.01 if zoom >= POINT_ZOOM else WORLD_M / (256 * 2**zoom) * CELL_PX


def _choices(name: str, allowed: tuple[str, ...]) -> list[str] | None:
    values = parse_choices(request.args.getlist(name), name=name, allowed=allowed)
    return list(values) if values is not None else None


def _filters() -> dict[str, Any]:
    """The bbox, zoom and filters of a layer request as SQL parameters, or a 400 naming the parameter."""
    bbox = parse_bbox(request.args.get("bbox"))
    if request.args.get("zoom") in (None, ""):
        raise BadParameter({"zoom": "is required (an integer 0-22)"})
    zoom = parse_int(request.args.get("zoom"), name="zoom", low=0, high=MAX_ZOOM, default=0)
    since = parse_time(request.args.get("since"), name="since")
    until = parse_time(request.args.get("until"), name="until")
    if since and until and until <= since:
        raise BadParameter({"until": "must be later than since"})
    return {"bbox": bbox, "zoom": zoom, "cell_m": cell_m(zoom), "max_cells": MAX_CELLS,
            "status": _choices("status", CASE_STATUSES), "kind": _choices("kind", FACILITY_KINDS),
            "severity": _choices("severity", SEVERITIES), "hazard": _choices("hazard", HAZARDS),
            "since": since, "until": until}


def _geojson(body: str) -> Response:
    return Response(body, mimetype="application/geo+json")


@bp.get("/map")
@requires("coordinator")
def map_page() -> str:
    """Coordinator and up: the map with damage, reports and reference layers, the repair queue and the plan."""
    return render_template("coordinator/map.html", tile_url=current_app.config["TILE_URL"],
                           tile_attribution=current_app.config["TILE_ATTRIBUTION"],
                           statuses=CASE_STATUSES, kinds=FACILITY_KINDS, severities=SEVERITIES, hazards=HAZARDS)


@bp.get("/api/map/reports")
@requires("coordinator")
def map_reports() -> Response:
    """Coordinator and up: reports in `bbox` at `zoom`, clustered on a grid, filtered; GeoJSON with counts."""
    params = _filters()
    with db.connection() as conn:
        return _geojson(repo.reports(conn, params))


@bp.get("/api/map/cases")
@requires("coordinator")
def map_cases() -> Response:
    """Coordinator and up: damage cases in `bbox` at `zoom`, clustered, filtered; GeoJSON with population."""
    params = _filters()
    with db.connection() as conn:
        return _geojson(repo.cases(conn, params))


@bp.get("/api/map/case-index")
@requires("coordinator")
def map_case_index() -> Response:
    """Coordinator and up: every case matching the filters (place, status, worst severity), for the queue."""
    request_args = _filters()
    with db.connection() as conn:
        rows = repo.case_index(conn, request_args)
    return jsonify({"cases": rows})


@bp.get("/api/map/service-areas")
@requires("coordinator")
def map_service_areas() -> Response:
    """Coordinator and up: service areas in `bbox`, simplified to about one screen pixel at `zoom`."""
    params = _filters()
    params["tolerance_deg"] = 360 / (256 * 2 ** params["zoom"])
    with db.connection() as conn:
        return _geojson(repo.service_areas(conn, params))


@bp.get("/api/map/critical-sites")
@requires("coordinator")
def map_critical_sites() -> Response:
    """Coordinator and up: the critical sites as GeoJSON."""
    with db.connection() as conn:
        return _geojson(repo.critical_sites(conn))


@bp.get("/api/map/boundary")
@requires("coordinator")
def map_boundary() -> Response:
    """Coordinator and up: the study boundary as GeoJSON."""
    with db.connection() as conn:
        return _geojson(repo.boundary(conn))


@bp.get("/api/map/changes")
@requires("coordinator")
def map_changes() -> Response:
    """Coordinator and up: the change cursor; 304 when it equals `since` or the If-None-Match ETag."""
    with db.connection() as conn:
        cursor = hashlib.sha256(repo.cursor(conn).encode()).hexdigest()[:20]
    etag = f'"{cursor}"'
    if request.args.get("since") == cursor or etag in request.headers.get("If-None-Match", ""):
        response = Response(status=304)
    else:
        response = jsonify({"cursor": cursor, "changed": request.args.get("since") is not None})
    response.headers["ETag"] = etag
    return response
