"""geo's sentences (geo.message.Text) in the request's language, for pages and for JSON answers.

In English a Text is said as it is (the English geo wrote, byte for byte); in another language its message id is
looked up in the catalogue and its parameters are written the locale's way: numbers with the locale's signs,
times with its date order, codes by their labels (app/site/labels.py), nested texts translated in turn.
"""

from __future__ import annotations

from typing import Any

from babel import dates, numbers
from flask import Flask, has_request_context
from flask.json.provider import JSONProvider
from flask_babel import get_locale, get_timezone, get_translations
from werkzeug.sansio.response import Response

from app.site import labels
from geo.message import Code, Moment, Quantity, Text

# A moment in a sentence: the time of day (today), or with its date; always UTC, as the pages say.
MOMENT_PATTERNS = {False: "HH:mm 'UTC'", True: "dd.MM.yyyy HH:mm 'UTC'"}


def english() -> bool:
    """Whether the request (if any) is in English, the language geo writes."""
    return not has_request_context() or str(get_locale() or "en") == "en"


def say(value: Any) -> Any:
    """A Text in the request's language; anything else as it is."""
    if not isinstance(value, Text) or english():
        return value
    return _Speaker().said(value)


def localise(value: Any) -> Any:
    """A JSON-ready value with every Text in it (in dicts, lists and tuples) said in the request's language."""
    if english():
        return value
    return _Speaker().walk(value)


PLAIN = frozenset({str, int, float, bool, type(None)})  # exactly these types: a Text is a str subclass


class _Speaker:
    """One answer's way of saying geo's sentences: the catalogue, locale and time zone looked up once, each distinct
    message's translation once, each distinct number, moment and code once, each Text object once (a queue of 10^4
    cases holds 10^5 of them, most repeating a few dozen messages)."""

    def __init__(self) -> None:
        self.translations = get_translations()
        self.locale = get_locale()
        self.timezone = get_timezone()
        self.templates: dict[str, str] = {}
        self.values: dict[object, str] = {}  # Quantity, Moment, Code (frozen, hashable) -> said
        self.texts: dict[int, str] = {}  # id of a Text in the value being said (alive throughout) -> said

    def walk(self, value: Any) -> Any:
        if isinstance(value, Text):
            return self.said(value)
        if isinstance(value, dict):  # plain values (most of a queue) kept without a call each
            return {key: item if type(item) in PLAIN else self.walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [item if type(item) in PLAIN else self.walk(item) for item in value]
        return value

    def said(self, text: Text) -> str:
        found = self.texts.get(id(text))
        if found is not None:
            return found
        if text.msgid is None:
            joined = text.sep.join(self.part(part) for part in text.parts)
            found = joined[:1].upper() + joined[1:] if text.capital else joined
        else:
            template = self.templates.get(text.msgid)
            if template is None:
                template = self.templates[text.msgid] = str(self.translations.ugettext(text.msgid))
            found = template.format(**{key: self.part(value) for key, value in text.params.items()})
        self.texts[id(text)] = found
        return found

    def part(self, value: object) -> str:
        """One parameter of a sentence, the locale's way."""
        if isinstance(value, Text):
            return self.said(value)
        if not isinstance(value, Quantity | Moment | Code):
            return str(value)
        found = self.values.get(value)
        if found is None:
            if isinstance(value, Quantity):
                found = quantity(value, self.locale)
            elif isinstance(value, Moment):
                found = str(dates.format_datetime(value.at, MOMENT_PATTERNS[value.with_date], locale=self.locale,
                                                  tzinfo=self.timezone))
            else:
                found = in_sentence(labels.vocabulary_label(value.code, value.vocabulary))
            self.values[value] = found
        return found


def quantity(q: Quantity, locale: Any = None) -> str:
    """A number of a sentence as the locale (the request's, unless given) writes it, in the style geo gave it."""
    locale = locale or get_locale()
    x = q.value
    if q.style == "people":
        whole = abs(x) >= 100 or float(x).is_integer()
        return str(numbers.format_decimal(x if whole else float(f"{x:.3g}"),
                                          format="#,##0" if whole else "#,##0.##########", locale=locale))
    if q.style == "hours":
        return str(numbers.format_decimal(float(f"{x:g}"), format="#,##0.######", locale=locale))
    if q.style == "tenths":
        return str(numbers.format_decimal(x, format="#,##0.0", locale=locale))
    if q.style == "percent":
        return str(numbers.format_percent(x, format="#,##0%", locale=locale))
    if q.style == "whole":
        return str(numbers.format_decimal(x, format="#,##0", locale=locale))
    return str(numbers.format_decimal(int(x), format="0", locale=locale))


def in_sentence(label: str) -> str:
    """A label inside a sentence: its first letter in lower case, unless it is an abbreviation ("ЛЕП")."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


class LocalisedJSON(JSONProvider):
    """The app's JSON provider (`inner`), with geo's sentences said in the request's language first."""

    def __init__(self, app: Flask, inner: JSONProvider) -> None:
        super().__init__(app)
        self.inner = inner

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self.inner.dumps(localise(obj), **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return self.inner.loads(s, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        return self.inner.response(localise(self._prepare_response_obj(args, kwargs)))


def init_app(app: Flask) -> None:
    """Say geo's sentences in the request's language: in JSON answers, in what templates print, and through the
    `say` filter where a template passes a sentence into a translated message."""
    app.json = LocalisedJSON(app, app.json)
    app.jinja_env.finalize = say
    app.jinja_env.filters["say"] = say
