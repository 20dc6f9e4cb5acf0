"""Travel time between crews' bases and damaged sites: one function, great-circle or a given matrix.

Public API:
    haversine_km(a, b) -> float                        great-circle distance of two (lon, lat) points, R = 6371 km
    Travel(speed_kmh=40, detour=1.3, matrix_minutes=None)   how travel time is estimated
    travel_hours(travel, origin, destination) -> float the one travel-time function every plan uses
    travel_tables(travel, bases, sites) -> (from_base, between)   hours as numpy arrays, crews x sites and sites x sites

The estimate is the public contract: hours = haversine_km * detour / speed_kmh. A matrix, when given, is in
minutes keyed by the ids of crews (their bases) and facilities, `matrix[from][to]`; a pair missing from it falls
back to the reverse pair (travel is then assumed symmetric) and otherwise is an error naming the pair. A road
network may replace the estimate later; it would plug in here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_KM = 6371.0
DEFAULT_SPEED_KMH = 40.0
DEFAULT_DETOUR = 1.3


class TravelError(ValueError):
    """Travel time that cannot be estimated; the message names the pair of places."""


@dataclass(frozen=True)
class Place:
    """A crew base or a damaged site: its id (for a matrix) and its (lon, lat) position, if known."""

    id: str
    point: tuple[float, float] | None = None


@dataclass(frozen=True)
class Travel:
    """How travel is estimated: a speed (km/h) and detour factor over great-circle distance, or a matrix."""

    speed_kmh: float = DEFAULT_SPEED_KMH
    detour: float = DEFAULT_DETOUR
    matrix_minutes: Mapping[str, Mapping[str, float]] | None = None


GREAT_CIRCLE = Travel()  # the defaults: 40 km/h over 1.3 x the great-circle distance


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lon, lat) points in degrees, on a sphere of radius 6371 km."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def travel_hours(travel: Travel, origin: Place, destination: Place) -> float:
    """Hours from `origin` to `destination`: the matrix entry (minutes / 60), else haversine x detour / speed."""
    if origin.id == destination.id:
        return 0.0
    if travel.matrix_minutes is not None:
        row = travel.matrix_minutes.get(origin.id, {})
        if destination.id in row:
            return float(row[destination.id]) / 60.0
        back = travel.matrix_minutes.get(destination.id, {})
        if origin.id in back:
            return float(back[origin.id]) / 60.0
        raise TravelError(f"travel matrix: no time from {origin.id!r} to {destination.id!r} (nor back)")
    if origin.point is None or destination.point is None:
        missing = origin if origin.point is None else destination
        raise TravelError(f"{missing.id!r}: no position to estimate travel from (give lon/lat or a travel matrix)")
    return haversine_km(origin.point, destination.point) * travel.detour / travel.speed_kmh


def travel_tables(travel: Travel, bases: Sequence[Place], sites: Sequence[Place]) -> tuple[np.ndarray, np.ndarray]:
    """Travel hours from each base to each site (crews x sites) and between sites (sites x sites).

    Same numbers as `travel_hours`, vectorised for the great-circle estimate (10^6 pairs in well under a second).
    """
    if travel.matrix_minutes is not None or not sites:
        from_base = np.asarray([[travel_hours(travel, b, s) for s in sites] for b in bases], dtype=float)
        between = np.asarray([[travel_hours(travel, a, s) for s in sites] for a in sites], dtype=float)
        return from_base.reshape(len(bases), len(sites)), between.reshape(len(sites), len(sites))
    for place in (*bases, *sites):
        if place.point is None:
            travel_hours(travel, place, Place(f"{place.id} "))  # raises the error naming the place
    base_pts = np.radians(np.asarray([b.point for b in bases], dtype=float).reshape(len(bases), 2))
    site_pts = np.radians(np.asarray([s.point for s in sites], dtype=float).reshape(len(sites), 2))
    scale = travel.detour / travel.speed_kmh
    return _haversine_table(base_pts, site_pts) * scale, _haversine_table(site_pts, site_pts) * scale


def _haversine_table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle km between every row of `a` and every row of `b` ((lon, lat) in radians)."""
    dlat = b[None, :, 1] - a[:, None, 1]
    dlon = b[None, :, 0] - a[:, None, 0]
    h = np.sin(dlat / 2) ** 2 + np.cos(a[:, None, 1]) * np.cos(b[None, :, 1]) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h))))
