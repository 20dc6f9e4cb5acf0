"""What reading an OpenStreetMap extract gives (`geo.osm`): its power elements, before they become facilities."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry


@dataclass
class Element:
    """One OSM object of the power network, with the tags kept."""

    osm_id: str  # 'n123', 'w123' or 'r123' ('w123:2' for the second part of a line cut at an open switch)
    power: str
    tags: dict[str, str]
    geometry: BaseGeometry  # lon/lat: Point, LineString or (Multi)Polygon
    nodes: tuple[int, ...] = ()  # a line's node ids, in order


@dataclass
class Extract:
    """The stations, lines and switches of an extract, and what was skipped."""

    stations: list[Element] = field(default_factory=list)
    lines: list[Element] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    switches: dict[int, Element] = field(default_factory=dict)  # by node id
    pole_transformers: dict[int, Element] = field(default_factory=dict)  # by node id (power=pole + transformer=*)


VOLTAGE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(kv|v)?$", re.IGNORECASE)  # volts, as OSM asks; '110 kV' read too


def voltages_kv(tag: str | None) -> tuple[float, ...]:
    """The voltages of an OSM voltage tag in kV, highest first: '110000;20000' -> (110.0, 20.0), '20 kV' -> (20.0,);
    unreadable parts are left out."""
    values = set()
    for part in (tag or "").replace(",", ";").split(";"):
        found = VOLTAGE.match(part.strip())
        if found is None:
            continue
        number = float(found.group(1))
        kv = number if (found.group(2) or "").lower() == "kv" else number / 1000.0
        if kv > 0:
            values.add(kv)
    return tuple(sorted(values, reverse=True))


SMALL_MW = 1.0  # a generator standing alone below this output is a customer's (rooftop solar), not a grid facility
GENERATOR_KEYS = ("generator:output:electricity", "generator:place", "location")
ROOF = frozenset({"roof", "rooftop"})
POWER = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(w|kw|mw|gw)$", re.IGNORECASE)
WATTS = {"w": 1e-6, "kw": 1e-3, "mw": 1.0, "gw": 1e3}


def output_mw(tag: str | None) -> float | None:
    """An OSM output tag in MW ('5 kW' -> 0.005, '120 MW' -> 120.0), None when it gives no figure ('yes')."""
    found = POWER.match((tag or "").strip())
    return float(found.group(1)) * WATTS[found.group(2).lower()] if found else None


def small_generator(tags: dict[str, str]) -> bool:
    """Whether a generator is on a roof (location or generator:place) or gives under SMALL_MW."""
    if {tags.get("location", "").strip().lower(), tags.get("generator:place", "").strip().lower()} & ROOF:
        return True
    mw = output_mw(tags.get("generator:output:electricity"))
    return mw is not None and mw < SMALL_MW
