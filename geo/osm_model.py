"""What reading an OpenStreetMap extract gives (`geo.osm`): its power elements, before they become facilities."""

from __future__ import annotations

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
