"""English and Ukrainian: the locale from the `lang` cookie, else the browser's Accept-Language."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = ("en", "uk")
COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600

babel = Babel()


def select_locale() -> str:
    """The `lang` cookie when it names a supported language, else the best match for Accept-Language."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0]) or LANGUAGES[0]


def init_app(app: Flask) -> None:
    """Attach Flask-Babel (translations in app/translations); the switch is site.views.switch_language."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["languages"] = LANGUAGES
