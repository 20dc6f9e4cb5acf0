"""Parsing query parameters at the edge into plain values, or a 400 naming the parameter."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
