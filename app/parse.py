"""Parsing at the edge: query parameters, JSON bodies and redirect targets into plain values, or a 4xx naming
the field. One parser per kind of value (numbers, integers, text, choices, times, UUIDs, bboxes)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Request, request

from app.errors import BadParameter, NotFound, TooLarge, ValidationError

BBox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat in degrees
CHUNK_BYTES = 64 * 1024
F = TypeVar("F", bound=Callable[..., Any])


class Refused(ValueError):
    """Why one value is refused; the caller names the field."""


# --- single values: each returns the parsed value or raises Refused(reason) -------------------------------

def number(value: object, *, low: float, high: float) -> float:
    """A JSON number (not a boolean), finite and within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused("must be a number")
    try:
        as_float = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise Refused(f"must be between {low:g} and {high:g}") from None
    if not math.isfinite(as_float):
        raise Refused("must be a number")
    if not low <= as_float <= high:
        raise Refused(f"must be between {low:g} and {high:g}")
    return as_float


def integer(value: object, *, low: int, high: int) -> int:
    """A JSON integer (not a boolean) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused("must be an integer")
    if not low <= value <= high:
        raise Refused(f"must be between {low} and {high}")
    return value


def text(value: object, *, max_chars: int, expected: str = "a string") -> str | None:
    """A string of at most `max_chars` without NUL (PostgreSQL text cannot hold it), stripped; None when blank."""
    if not isinstance(value, str):
        raise Refused(f"must be {expected}")
    if len(value) > max_chars:
        raise Refused(f"must be at most {max_chars} characters (got {len(value)})")
    if "\x00" in value:
        raise Refused("must not contain NUL characters")
    return value.strip() or None


def choice(value: object, allowed: Iterable[str]) -> str:
    """One of `allowed`."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise Refused(f"must be one of {', '.join(allowed)}")
    return value


def choices(value: object, allowed: Iterable[str]) -> tuple[str, ...]:
    """A list of strings, each one of `allowed`; sorted, without repeats."""
    allowed = tuple(allowed)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Refused("must be a list of strings")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise Refused(f"unknown value {unknown[0]!r}; allowed: {', '.join(allowed)}")
    return tuple(sorted(set(value)))


def uuid_value(value: object) -> uuid.UUID:
    """A UUID in any of its text forms."""
    try:
        if isinstance(value, str):  # anything else (a number, a list) is not a UUID either
            return uuid.UUID(value)
    except ValueError:
        pass
    raise Refused("must be a UUID")


def time(value: object, *, example: str = "2026-11-25T08:00:00Z", naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time with a time zone, representable in UTC. With `naive_is_utc` a time without a zone (as HTML
    date-time inputs send) is read as UTC instead of refused."""
    if not isinstance(value, str) or "\x00" in value:
        raise Refused(f"must be an ISO 8601 date and time, e.g. {example}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(f"must be an ISO 8601 date and time, e.g. {example}") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise Refused("must include a time zone (e.g. Z or +02:00)")
        moment = moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)  # e.g. year 1 at +14:00 lies before the first representable UTC time
    except OverflowError:
        raise Refused("is out of range") from None
    return moment


class Fields:
    """Reads the fields of a JSON object (or a form), collecting one reason per bad field so the user sees every
    problem at once; `check()` raises the ValidationError (422) naming them."""

    def __init__(self, body: Any) -> None:
        self.body, self.errors = body, {}  # type: Any, dict[str, str]

    def fail(self, name: str, reason: str) -> None:
        self.errors.setdefault(name, reason)

    def get(self, name: str, parse: Any, *args: Any, required: bool = False, missing: str = "is required",
            **kwargs: Any) -> Any:
        """`parse(value, *args, **kwargs)` of the field; None when it is absent (a reason if `required`)."""
        value = self.body.get(name)
        if value is None or (value == "" and required):
            if required:
                self.fail(name, missing)
            return None
        try:
            return parse(value, *args, **kwargs)
        except Refused as exc:
            self.fail(name, str(exc))
            return None

    def check(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


# --- a JSON body ------------------------------------------------------------------------------------------

def larger_body(config_key: str) -> Callable[[F], F]:
    """Let a view take a body of up to `app.config[config_key]` bytes instead of REPORT_MAX_BYTES (photos)."""
    def mark(view: F) -> F:
        view.max_body_config = config_key  # type: ignore[attr-defined]
        return view
    return mark


def init_app(app: Flask) -> None:
    """Bound every request's body before anything reads it (the CSRF check reads forms): REPORT_MAX_BYTES unless
    the view says otherwise. Werkzeug then refuses a longer body with a 413, chunked bodies included."""
    @app.before_request
    def bound_body() -> None:
        view = app.view_functions.get(request.endpoint or "")
        request.max_content_length = int(app.config[getattr(view, "max_body_config", "REPORT_MAX_BYTES")])


def body_bytes(request: Request, *, max_bytes: int) -> bytes:
    """The request's body, read at most `max_bytes` whatever Content-Length says (chunked bodies included);
    a 413 naming the body past that."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise TooLarge({"body": f"is larger than {max_bytes} bytes"})
    stream, data = request.stream, bytearray()
    while chunk := stream.read(min(CHUNK_BYTES, max_bytes + 1 - len(data))):
        data += chunk
        if len(data) > max_bytes:
            raise TooLarge({"body": f"is larger than {max_bytes} bytes"})
    return bytes(data)


def json_object(request: Request, *, max_bytes: int) -> dict[str, Any]:
    """The request's body as a JSON object of at most `max_bytes`, else a 413 or 400 naming the body.

    NaN and Infinity (which JavaScript's JSON.stringify never writes) parse, so that the field's own parser can
    name the field that holds one (a 422), as it does for every other bad number."""
    data = body_bytes(request, max_bytes=max_bytes)
    if not request.is_json:
        raise BadParameter({"body": "must be a JSON object (Content-Type: application/json)"})
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):  # bad syntax, bad UTF-8, or nested deeper than the parser follows
        body = None
    if not isinstance(body, dict):
        raise BadParameter({"body": "must be a JSON object (Content-Type: application/json)"})
    return body


# --- query parameters and path segments: a 400 naming the parameter -----------------------------------------

def _param(name: str, parse: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return parse(*args, **kwargs)
    except Refused as exc:
        raise BadParameter({name: str(exc)}) from None


def parse_bbox(text: str | None, *, name: str = "bbox") -> BBox | None:
    """`minlon,minlat,maxlon,maxlat` in degrees, or None when absent."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise BadParameter({name: "must be four numbers: minlon,minlat,maxlon,maxlat"})
    if not all(math.isfinite(v) for v in values):
        raise BadParameter({name: "numbers must be finite"})
    min_lon, min_lat, max_lon, max_lat = values
    if not -180 <= min_lon <= max_lon <= 180:
        raise BadParameter({name: "longitudes must satisfy -180 <= minlon <= maxlon <= 180"})
    if not -90 <= min_lat <= max_lat <= 90:
        raise BadParameter({name: "latitudes must satisfy -90 <= minlat <= maxlat <= 90"})
    return min_lon, min_lat, max_lon, max_lat


def parse_number(text: str | None, *, name: str, low: float, high: float, default: float | None = None) -> float:
    """A finite number within [low, high]; the default when absent (required when there is none)."""
    if text is None or text == "":
        if default is None:
            raise BadParameter({name: "is required"})
        return default
    try:
        value = float(text)
    except ValueError:
        raise BadParameter({name: "must be a number"}) from None
    return float(_param(name, number, value, low=low, high=high))


def parse_int(text: str | None, *, name: str, low: int, high: int, default: int) -> int:
    """An integer within [low, high], or the default when absent."""
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadParameter({name: "must be an integer"}) from None
    return int(_param(name, integer, value, low=low, high=high))


def parse_time(text: str | None, *, name: str) -> datetime | None:
    """An ISO 8601 time with a time zone, or None when absent."""
    if text is None or text == "":
        return None
    moment: datetime = _param(name, time, text)
    return moment


def parse_choices(texts: list[str], *, name: str, allowed: Iterable[str]) -> tuple[str, ...] | None:
    """Comma-separated values (the parameter may repeat), each one of `allowed`; None when absent or sent empty.
    Separators with nothing between them (",,") name no value: a 400 rather than a silent "any"."""
    allowed = tuple(allowed)
    values = tuple(v.strip() for text in texts for v in text.split(",") if v.strip())
    if not values:
        if any(text.strip() for text in texts):
            raise BadParameter({name: f"names no value; a comma-separated list of: {', '.join(allowed)}"})
        return None
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise BadParameter({name: f"unknown value {wrong[0]!r}; a comma-separated list of: {', '.join(allowed)}"})
    return values


def parse_uuid(text: str, *, name: str) -> str:
    """A UUID path segment in its canonical form; anything else names nothing that exists: NotFound's 404."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise NotFound(f"{name} must be a UUID: nothing is stored under {text[:60]!r}") from None


# --- redirect targets --------------------------------------------------------------------------------------

def safe_next(target: str | None, *, host: str, default: str) -> str:
    """`target` reduced to a path on this site, or `default` when it points anywhere else or is malformed.

    A full URL (e.g. the Referer) is fine only when it names this very host; "//evil.example" and
    "/\\evil.example" are read by browsers as other hosts, and control characters (CR, LF, NUL) never pass.
    """
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    try:
        parts = urlsplit(target.strip())
    except ValueError:
        return default
    if (parts.scheme or parts.netloc) and (parts.scheme not in ("http", "https") or parts.netloc != host):
        return default
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path + (f"?{parts.query}" if parts.query else "")
