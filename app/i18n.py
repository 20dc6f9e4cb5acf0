"""English and Ukrainian: the locale from the `lang` cookie, else the browser's Accept-Language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, request
from flask_babel import Babel, get_locale
from werkzeug.wrappers import Response

from app.auth import public

LANGUAGES = ("en", "uk")
COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The `lang` cookie when it names a supported language, else the best match for Accept-Language."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0]) or LANGUAGES[0]


def safe_next(target: str | None) -> str:
    """`target` reduced to a path on this site, or "/" when it points anywhere else."""
    if not target:
        return "/"
    parts = urlsplit(target.strip())
    # A full URL (e.g. the Referer) is fine only when it names this very host.
    if (parts.scheme or parts.netloc) and (parts.scheme not in ("http", "https") or parts.netloc != request.host):
        return "/"
    path = parts.path or "/"
    # "//evil.example" and "/\evil.example" are read by browsers as other hosts.
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(ord(c) < 32 for c in path):
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")


@bp.get("/lang/<code>")
@public
def switch(code: str) -> Response:
    """Anyone: remember the chosen language in a cookie and go back to the page they came from."""
    if code not in LANGUAGES:
        return Response("unknown language", status=404, mimetype="text/plain")
    response = redirect(safe_next(request.args.get("next") or request.referrer), code=303)
    response.set_cookie(COOKIE, code, max_age=COOKIE_MAX_AGE_S, samesite="Lax", path="/")
    return response


def init_app(app: Flask) -> None:
    """Attach Flask-Babel (translations in app/translations) and the /lang/<code> switch."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["languages"] = LANGUAGES
    app.register_blueprint(bp)
