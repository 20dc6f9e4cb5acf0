"""Server-rendered pages."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth import requires

bp = Blueprint("pages", __name__)


@bp.get("/")
@requires("crew")
def home() -> str | Response:
    """Crew and up: crews go to their form; coordinators see the overview map of the registered facilities."""
    if not current_user.has("coordinator") and "field.form" in current_app.view_functions:
        return redirect(url_for("field.form"))
    return render_template("home.html", tile_url=current_app.config["TILE_URL"],
                           tile_attribution=current_app.config["TILE_ATTRIBUTION"])
