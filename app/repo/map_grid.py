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


FINE_STEPS = 3  # the view's sides are read from cells 2^3 times finer (8 px), down to the finest aggregated zoom
FINEST_ZOOM = 16  # the finest zoom that migration 0014 aggregates
Range = tuple[int, int, int, int]  # cx from, cx to, cy from, cy to (empty when from > to)
EMPTY: Range = (1, 0, 1, 0)


@dataclass(frozen=True)
class Plan:
    """How a view at one zoom is read from the aggregates (app/repo/map.py REPORTS_AGGREGATED)."""

    coarse: Split  # cells of the view's zoom wholly inside it
    fine: Split  # cells of fine_zoom wholly inside it, and the thin strips of what is left
    fine_zoom: int
    fine_cell_m: float
    scale: int  # fine cells per coarse cell, along each axis
    rings: tuple[Range, Range, Range, Range]  # fine cells inside the view but not in an inner coarse cell

    def params(self) -> dict[str, object]:
        """The statement's parameters for this plan."""
        inner_w, inner_s, inner_e, inner_n = self.fine.inner
        out: dict[str, object] = {
            "i0": self.coarse.i0, "i1": self.coarse.i1, "j0": self.coarse.j0, "j1": self.coarse.j1,
            "fi0": self.fine.i0, "fi1": self.fine.i1, "fj0": self.fine.j0, "fj1": self.fine.j1,
            "fine_zoom": self.fine_zoom, "fine_cell_m": self.fine_cell_m, "scale": float(self.scale),
            "inner_w": inner_w, "inner_s": inner_s, "inner_e": inner_e, "inner_n": inner_n}
        for side, strip, ring in zip(("w", "e", "s", "n"), self.fine.strips, self.rings, strict=True):
            out[f"strip_{side}"] = strip
            out.update({f"ring_{side}_{end}": value for end, value in zip(("x0", "x1", "y0", "y1"), ring,
                                                                           strict=True)})
        return out


def plan(bbox: tuple[float, float, float, float], zoom: int, cell_m: float) -> Plan:
    """The inner cells at `zoom` (of `cell_m` metres), the finer cells around them, and the strips left over."""
    fine_zoom = max(zoom, min(FINEST_ZOOM, zoom + FINE_STEPS))
    scale = 2 ** (fine_zoom - zoom)
    coarse, fine = split(bbox, cell_m), split(bbox, cell_m / scale)
    i0, i1, j0, j1 = fine.i0, fine.i1, fine.j0, fine.j1
    if coarse.i0 > coarse.i1 or coarse.j0 > coarse.j1:
        rings = ((i0, i1, j0, j1), EMPTY, EMPTY, EMPTY)
    else:  # the coarse inner cells in fine numbers: a0..a1, b0..b1
        a0, a1 = coarse.i0 * scale, (coarse.i1 + 1) * scale - 1
        b0, b1 = coarse.j0 * scale, (coarse.j1 + 1) * scale - 1
        rings = ((i0, a0 - 1, j0, j1), (a1 + 1, i1, j0, j1), (a0, a1, j0, b0 - 1), (a0, a1, b1 + 1, j1))
    return Plan(coarse, fine, fine_zoom, cell_m / scale, scale, rings)
