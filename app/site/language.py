"""English and Ukrainian: the locale from the `lang` cookie, else the browser's Accept-Language; and the filters
that write numbers and times the locale's way."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, request
from flask_babel import Babel, format_datetime, format_decimal, get_locale

from app.site import labels, sentences

LANGUAGES = ("en", "uk")
COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
# Times on the desk pages (always UTC, as the pages say): ISO-like in English, day first in Ukrainian.
TIME_PATTERNS = {
    "en": {"minute": "yyyy-MM-dd HH:mm", "second": "yyyy-MM-dd HH:mm:ss", "day": "yyyy-MM-dd"},
    "uk": {"minute": "dd.MM.yyyy HH:mm", "second": "dd.MM.yyyy HH:mm:ss", "day": "dd.MM.yyyy"},
}

babel = Babel()


def select_locale() -> str:
    """The `lang` cookie when it names a supported language, else the best match for Accept-Language."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0]) or LANGUAGES[0]


def number(value: float | None, digits: int = 0) -> str:
    """A number rounded to `digits` decimals with the locale's grouping and decimal signs ("4,100" / "4 100")."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value or 0, format=pattern))


def plain_number(value: float | None, digits: int = 1) -> str:
    """A number with exactly `digits` decimals and no grouping ("3.5" / "3,5"), as "%.1f" writes it in English."""
    return str(format_decimal(value or 0, format="0." + "0" * digits if digits else "0"))


def short_number(value: float | None, *, grouped: bool = False) -> str:
    """A number with as many decimals as it has (up to 10), as "{:.10g}" writes it in English ("2.5" / "2,5")."""
    return str(format_decimal(value or 0, format=("#,##0" if grouped else "0") + ".##########"))


def when(value: datetime | str | None, precision: str = "minute") -> str:
    """A moment (a datetime or an ISO 8601 string) in UTC, to the minute, second or day, the locale's way."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    patterns = TIME_PATTERNS.get(str(get_locale()), TIME_PATTERNS["uk"])
    return str(format_datetime(moment, patterns[precision]))


def init_app(app: Flask) -> None:
    """Attach Flask-Babel (translations in app/translations); the switch is site.views.switch_language."""
    babel.init_app(app, locale_selector=select_locale)
    sentences.init_app(app)
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["languages"] = LANGUAGES
    app.jinja_env.filters.update(number=number, plain_number=plain_number, short_number=short_number, when=when,
                                 code_label=labels.code_label, label=labels.vocabulary_label,
                                 reason=labels.reason, changes=labels.changes)
