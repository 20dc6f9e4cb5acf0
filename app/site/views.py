"""What every visitor meets: the home page, /healthz, the language switch, vendored front-end files and the
offline base map's tiles."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from app import db
from app.auth.access import public, requires
from app.config import ROOT
from app.errors import BadParameter
from app.parse import parse_bbox, parse_int, safe_next
from app.repo import schema
from app.site import health, labels, language, tiles

bp = Blueprint("site", __name__, template_folder="templates", static_folder="static", static_url_path="/static/site")

# Only these package folders are served; nothing else in node_modules is reachable.
VENDOR_PACKAGES = {"leaflet": ROOT / "node_modules" / "leaflet" / "dist"}
TILE_MAX_AGE_S = 86400  # a day: a base-map file changes rarely, and a crew's phone may revalidate with the ETag

# A base-map file that cannot be served stops the app at start, with the file and the reason.
bp.record_once(lambda state: tiles.check_config(state.app.config))


@bp.get("/")
@requires("crew")
def home() -> str | BaseResponse:
    """Crew and up: crews go to their form; coordinators see the overview map of the registered facilities."""
    if not current_user.has("coordinator") and "field.form" in current_app.view_functions:
        return redirect(url_for("field.form"))
    return render_template("site/home.html", tile_url=current_app.config["TILE_URL"],
                           tile_attribution=current_app.config["TILE_ATTRIBUTION"],
                           base_map=tiles.base_map_settings(), config=home_config())


def home_config() -> dict[str, Any]:
    """The overview map's words in the page's language: its messages and the labels of kinds and methods."""
    return {"messages": {"count": gettext("Facilities on the map: %(n)s"),
                         "failed": gettext("Could not load facilities: %(reason)s"),
                         "popup": gettext("%(kind)s, population served %(people)s (%(method)s)"),
                         "unknown": gettext("unknown"), "noLayer": gettext("no population layer"),
                         "zoomIn": gettext("Zoom in"), "zoomOut": gettext("Zoom out")},
            "kinds": {code: str(label) for code, label in labels.KIND_LABELS.items()},
            "methods": {code: str(label) for code, label in labels.METHOD_LABELS.items()}}


@bp.get("/healthz")
@public
def healthz() -> tuple[Response, int]:
    """Anyone: 200 when the database answers and is migrated to the newest schema, else 503; with the replica's
    state (configured, reachable, lag), which never makes it fail: reads fall back to the primary."""
    head = current_app.config["SCHEMA_HEAD"]
    try:
        with db.connection() as conn:
            current = schema.revision(conn)
    except db.DatabaseUnavailable:
        return jsonify({"status": "unavailable", "database": "unreachable", "schema_head": head,
                        "replica": health.replica()}), 503
    body = {"database": "ok", "schema": current, "schema_head": head, "replica": health.replica()}
    if current != head:
        return jsonify({"status": "not migrated", **body}), 503
    return jsonify({"status": "ok", **body}), 200


@bp.get("/lang/<code>")
@public
def switch_language(code: str) -> BaseResponse:
    """Anyone: remember the chosen language in a cookie and go back to the page they came from."""
    if code not in language.LANGUAGES:
        return Response("unknown language", status=404, mimetype="text/plain")
    target = safe_next(request.args.get("next") or request.referrer, host=request.host, default="/")
    response = redirect(target, code=303)
    response.set_cookie(language.COOKIE, code, max_age=language.COOKIE_MAX_AGE_S, samesite="Lax", path="/")
    return response


@bp.get("/vendor/<package>/<path:filename>")
@public
def vendor_asset(package: str, filename: str) -> Response:
    """Anyone: a file of an allowed front-end package (installed from the npm registry; no CDN, works offline)."""
    folder = VENDOR_PACKAGES.get(package)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=86400)


@bp.get("/tiles/<int:z>/<int:x>/<int:y>.<fmt>")
@requires("crew")
def tile(z: int, x: int, y: int, fmt: str) -> Response:
    """Crew and up: one raster tile of the offline base map (FLASK_BASEMAP_FILE), cached a day; 404 without a base
    map, for another format or outside its zoom range or the world; 204 where the file has no tile."""
    basemap = tiles.configured()
    if (basemap is None or fmt != basemap.format or not basemap.min_zoom <= z <= basemap.max_zoom
            or x >= 1 << z or y >= 1 << z):
        abort(404)
    data = tiles.read_tile(basemap, z, x, y)
    response = Response(data or b"", status=200 if data else 204,
                        mimetype=tiles.MIMETYPES[fmt] if data else None)
    response.cache_control.private = True  # behind sign-in: browsers keep it, shared caches do not
    response.cache_control.max_age = TILE_MAX_AGE_S
    if data:
        response.set_etag(hashlib.sha256(data).hexdigest()[:20])
        response.make_conditional(request)
    return response


@bp.get("/tiles/area.json")
@requires("crew")
def tile_area() -> Response:
    """Crew and up: the offline base map's tiles over a bbox and zoom range, with their sizes, for a phone to keep
    them (what it would download, before it does); 404 without a base-map file, 400 naming a bad parameter."""
    basemap = tiles.configured()
    if basemap is None:
        abort(404)
    bbox = parse_bbox(request.args.get("bbox"))
    if bbox is None:
        raise BadParameter({"bbox": "is required"})
    low = parse_int(request.args.get("min_zoom"), name="min_zoom", low=basemap.min_zoom, high=basemap.max_zoom,
                    default=basemap.min_zoom)
    high = parse_int(request.args.get("max_zoom"), name="max_zoom", low=low, high=basemap.max_zoom,
                     default=basemap.max_zoom)
    positions = tiles.tile_count(bbox, min_zoom=low, max_zoom=high)
    if positions > tiles.MAX_AREA_TILES:
        raise BadParameter({"max_zoom": f"{positions} tiles over this area: more than {tiles.MAX_AREA_TILES}; "
                                        "choose a lower zoom"})
    found = tiles.area_tiles(basemap, bbox, min_zoom=low, max_zoom=high)
    one = url_for("site.tile", z=0, x=0, y=0, fmt=basemap.format)
    return jsonify({"format": basemap.format, "min_zoom": low, "max_zoom": high, "bbox": list(bbox),
                    "template": one.removesuffix(f"/0/0/0.{basemap.format}") + "/{z}/{x}/{y}." + basemap.format,
                    "tiles": [[z, x, y] for z, x, y, _ in found], "bytes": sum(size for *_, size in found)})
