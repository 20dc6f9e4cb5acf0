"""Server-rendered pages."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> str:
    """The overview map of the registered facilities."""
    return render_template("home.html", tile_url=current_app.config["TILE_URL"],
                           tile_attribution=current_app.config["TILE_ATTRIBUTION"])
