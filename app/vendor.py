"""Front-end libraries installed from the npm registry, served from node_modules (no CDN, works offline)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_from_directory

from app.auth import public
from app.config import ROOT

bp = Blueprint("vendor", __name__, url_prefix="/vendor")

# Only these package folders are served; nothing else in node_modules is reachable.
PACKAGES = {"leaflet": ROOT / "node_modules" / "leaflet" / "dist"}


@bp.get("/<package>/<path:filename>")
@public
def asset(package: str, filename: str) -> Response:
    """Anyone: a file of an allowed front-end package."""
    folder = PACKAGES.get(package)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=86400)
