"""The map's Web-Mercator grid in Python: which cells lie wholly inside a view, and the strips along its sides."""

from __future__ import annotations

import math
from dataclasses import dataclass

HALF_WORLD_M = 20037508.342789244  # half the spherical-Mercator world's width
EARTH_RADIUS_M = 6378137.0
MAX_LAT = 85.05112877980659  # where the Mercator square ends
MARGIN_M = 0.001  # a cell counts as inside only with this much room: far above any rounding of x or y
MARGIN_DEG = 1e-9  # the strips reach this far into the inner cells, so no point between them is missed


@dataclass(frozen=True)
class Split:
    """A view cut into the cells wholly inside it (cx i0..i1, cy j0..j1; empty when i0 > i1) and four strips.

    Every point of the view either has its cell in the inner range or lies in one of the strips (each strip a
    [min_lon, min_lat, max_lon, max_lat] list, or None); `inner` is the lon/lat box of the inner cells.
    """

    i0: int
    i1: int
    j0: int
    j1: int
    inner: tuple[float, float, float, float]
    strips: tuple[list[float] | None, list[float] | None, list[float] | None, list[float] | None]


def _x(lon: float) -> float:
    return lon * HALF_WORLD_M / 180


def _y(lat: float) -> float:
    lat = min(MAX_LAT, max(-MAX_LAT, lat))
    return math.log(math.tan(math.radians(90 + lat) / 2)) * EARTH_RADIUS_M


def _lon(x: float) -> float:
    return x * 180 / HALF_WORLD_M


def _lat(y: float) -> float:
    return math.degrees(2 * math.atan(math.exp(y / EARTH_RADIUS_M)) - math.pi / 2)


def split(bbox: tuple[float, float, float, float], cell_m: float) -> Split:
    """The cells of `cell_m` metres wholly inside `bbox` (lon/lat degrees) and the strips covering the rest."""
    w, s, e, n = bbox
    i0, i1 = math.floor((_x(w) + MARGIN_M) / cell_m) + 1, math.floor((_x(e) - MARGIN_M) / cell_m) - 1
    j0, j1 = math.floor((_y(s) + MARGIN_M) / cell_m) + 1, math.floor((_y(n) - MARGIN_M) / cell_m) - 1
    if i0 > i1 or j0 > j1:
        return Split(1, 0, 1, 0, (0.0, 0.0, -1.0, -1.0), ([w, s, e, n], None, None, None))
    west, east = _lon(i0 * cell_m), _lon((i1 + 1) * cell_m)
    south, north = _lat(j0 * cell_m), _lat((j1 + 1) * cell_m)
    strips = ([w, s, west + MARGIN_DEG, n], [east - MARGIN_DEG, s, e, n],
              [w, s, e, south + MARGIN_DEG], [w, north - MARGIN_DEG, e, n])
    return Split(i0, i1, j0, j1, (west - MARGIN_DEG, south - MARGIN_DEG, east + MARGIN_DEG, north + MARGIN_DEG),
                 strips)
