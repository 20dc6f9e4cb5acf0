"""Parsing query parameters at the edge into plain values, or a 400 naming the parameter."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from app.errors import ValidationError


@dataclass(frozen=True)
class BBox:
    """A lon/lat rectangle."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def parse_bbox(text: str | None, *, name: str = "bbox") -> BBox | None:
    """`minlon,minlat,maxlon,maxlat` in degrees, or None when absent."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise ValidationError({name: "must be four numbers: minlon,minlat,maxlon,maxlat"}, status=400)
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise ValidationError({name: "must be four numbers: minlon,minlat,maxlon,maxlat"}, status=400) from None
    if not all(math.isfinite(v) for v in values):
        raise ValidationError({name: "numbers must be finite"}, status=400)
    box = BBox(*values)
    if not (-180 <= box.min_lon <= box.max_lon <= 180):
        raise ValidationError({name: "longitudes must satisfy -180 <= minlon <= maxlon <= 180"}, status=400)
    if not (-90 <= box.min_lat <= box.max_lat <= 90):
        raise ValidationError({name: "latitudes must satisfy -90 <= minlat <= maxlat <= 90"}, status=400)
    return box


def parse_number(text: str | None, *, name: str, low: float, high: float, default: float | None = None) -> float:
    """A finite number within [low, high]; a 400 naming the parameter otherwise."""
    if text is None or text == "":
        if default is None:
            raise ValidationError({name: "is required"}, status=400)
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValidationError({name: "must be a number"}, status=400) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValidationError({name: f"must be between {low:g} and {high:g}"}, status=400)
    return value


def parse_int(text: str | None, *, name: str, low: int, high: int, default: int) -> int:
    """An integer within [low, high], or the default when absent."""
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValidationError({name: "must be an integer"}, status=400) from None
    if not low <= value <= high:
        raise ValidationError({name: f"must be between {low} and {high}"}, status=400)
    return value


def parse_time(text: str | None, *, name: str) -> datetime | None:
    """An ISO 8601 time with a time zone, or None when absent."""
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError({name: "must be an ISO 8601 time, e.g. 2026-11-25T08:00:00Z"}, status=400) from None
    if moment.tzinfo is None:
        raise ValidationError({name: "must include a time zone (e.g. Z)"}, status=400)
    return moment


def parse_choices(texts: list[str], *, name: str, allowed: tuple[str, ...] | list[str]) -> tuple[str, ...] | None:
    """Comma-separated values (the parameter may repeat), each one of `allowed`; None when absent."""
    values = tuple(v.strip() for text in texts for v in text.split(",") if v.strip())
    if not values:
        return None
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise ValidationError({name: f"unknown value {wrong[0]!r}; a comma-separated list of: {', '.join(allowed)}"},
                              status=400)
    return values
