"""Feed direction and positions for a bus network: links oriented away from the sources, buses placed by neighbours,
and the lines that report what an import of one built.

Every element (line, transformer, closed bus-bus switch) joins two or more buses. Buses are ranked by
breadth-first distance from the nearest source, ties broken by lower bus index; each element is fed by its
lowest-ranked bus and feeds the others. Rank is a strict order, so the feed graph is a DAG, and a bus reached by
several elements (parallel transformers, a closed ring) has several parents: it is meshed.

The direction is only how the links are stored: the triage counts a meshed network exactly, "energised when any
path from a source is intact" whatever the direction (geo.mesh turns the links of each damaged state so that
power fed around a ring the other way, or from one source back towards another, is counted; geo.mesh_restore
gives what each repair restores and the plan's figures over the undirected network).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd
import shapely.errors
import shapely.geometry
from shapely.geometry.base import BaseGeometry

Point = tuple[float, float]
# Two-or-more-bus elements that carry power, by table: the columns naming their buses.
BRANCHES = {"line": ("from_bus", "to_bus"), "trafo": ("hv_bus", "lv_bus"), "trafo3w": ("hv_bus", "mv_bus", "lv_bus")}
SWITCHED = {"l": "line", "t": "trafo", "t3": "trafo3w"}  # switch et -> the table of the element it cuts


@dataclass(frozen=True)
class Orientation:
    """Buses reached from a source in feed order, each element's feeding bus, each bus's feeding elements."""

    order: tuple[int, ...]  # reached buses, parents first
    element_parent: dict[str, int]  # element -> the bus that feeds it (reached elements only)
    bus_parents: dict[int, tuple[str, ...]]  # bus -> elements or sources that feed it
    loops: int  # independent closed loops (cyclomatic number) among reached buses
    islands: int  # connected groups of buses without a source
    unreached: tuple[int, ...]


def orient(buses: Iterable[int], terminals: Mapping[str, tuple[int, ...]],
           sources: Mapping[str, int]) -> Orientation:
    """Orient elements (element -> its buses) away from the sources (source id -> its bus) by (distance, index)."""
    known = set(buses)
    adjacent: dict[int, list[tuple[str, int]]] = {b: [] for b in known}
    edges = {e: tuple(sorted(set(t) & known)) for e, t in terminals.items()}
    edges = {e: t for e, t in edges.items() if len(t) >= 2}
    for element, ends in edges.items():
        for a in ends:
            adjacent[a].extend((element, b) for b in ends if b != a)
    distance: dict[int, int] = {}
    queue: deque[int] = deque()
    for bus in sorted({b for b in sources.values() if b in known}):
        distance[bus] = 0
        queue.append(bus)
    while queue:
        bus = queue.popleft()
        for _, other in sorted(adjacent[bus], key=lambda link: link[1]):
            if other not in distance:
                distance[other] = distance[bus] + 1
                queue.append(other)
    order = tuple(sorted(distance, key=lambda b: (distance[b], b)))
    rank = {b: i for i, b in enumerate(order)}
    bus_parents: dict[int, list[str]] = {b: [] for b in order}
    for source, bus in sources.items():
        if bus in bus_parents:
            bus_parents[bus].append(source)
    element_parent: dict[str, int] = {}
    cycle_edges = 0
    for element, ends in edges.items():
        if ends[0] not in rank:  # an element touches only buses of one group, reached or not
            continue
        feeder = min(ends, key=rank.__getitem__)
        element_parent[element] = feeder
        for bus in ends:
            if bus != feeder:
                bus_parents[bus].append(element)
        cycle_edges += len(ends) - 1
    sourced_groups = _groups(order, adjacent)
    loops = cycle_edges - (len(order) - sourced_groups)
    unreached = tuple(sorted(known - set(order)))
    return Orientation(order=order, element_parent=element_parent,
                       bus_parents={b: tuple(p) for b, p in bus_parents.items()}, loops=loops,
                       islands=_groups(unreached, adjacent), unreached=unreached)


def _groups(buses: Iterable[int], adjacent: Mapping[int, list[tuple[str, int]]]) -> int:
    """How many connected groups these buses form."""
    left, count = set(buses), 0
    while left:
        count += 1
        stack = [left.pop()]
        while stack:
            for _, other in adjacent[stack.pop()]:
                if other in left:
                    left.remove(other)
                    stack.append(other)
    return count


def place(points: Mapping[int, Point], neighbours: Mapping[int, Iterable[int]]) -> dict[int, Point]:
    """Positions for all buses that can have one: missing ones get the mean of their placed neighbours, repeatedly."""
    placed = dict(points)
    links = {b: tuple(n) for b, n in neighbours.items()}
    waiting = {b for b in links if b not in placed}
    while waiting:
        step: dict[int, Point] = {}
        for bus in sorted(waiting):
            near = [placed[n] for n in links[bus] if n in placed]
            if near:
                step[bus] = (sum(p[0] for p in near) / len(near), sum(p[1] for p in near) / len(near))
        if not step:
            break
        placed.update(step)
        waiting -= set(step)
    return placed


def bus_points(tables: Mapping[str, pd.DataFrame]) -> dict[int, Point]:
    """Bus positions given by the network: the `geo` column of `bus` (GeoJSON) or the older `bus_geodata` x/y."""
    points: dict[int, Point] = {}
    geodata = tables.get("bus_geodata")
    if geodata is not None and {"x", "y"} <= set(geodata.columns):
        points.update({int(i): (float(r["x"]), float(r["y"])) for i, r in geodata.iterrows()
                       if pd.notna(r["x"]) and pd.notna(r["y"])})
    if "geo" in tables["bus"].columns:
        for i, value in tables["bus"]["geo"].items():
            point = _geojson_point(value)
            if point is not None:
                points[int(i)] = point
    return points


def _geojson_point(value: object) -> Point | None:
    try:
        shape = json.loads(value) if isinstance(value, str) else value
        if isinstance(shape, Mapping) and shape.get("type") == "Point":
            x, y = shape["coordinates"][:2]
            return float(x), float(y)
    except (ValueError, TypeError, KeyError, IndexError):
        pass
    return None  # missing, not a point, or not GeoJSON: the bus is placed from its neighbours


def geojson_line(value: object) -> BaseGeometry | None:
    """A line's course from its GeoJSON, or None when it has none."""
    try:
        shape = shapely.geometry.shape(json.loads(value) if isinstance(value, str) else value)
    except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.GEOSException):
        return None
    return shape if shape.geom_type in ("LineString", "MultiLineString") and not shape.is_empty else None


def report_lines(frame: pd.DataFrame, *, loops: int, islands: int, unsupplied: int, extra: int,
                 skipped: Mapping[str, int], filled: int) -> tuple[str, ...]:
    """What the import built, in lines a data manager reads."""
    kinds = frame.groupby(["kind", frame["voltage_kv"].fillna(-1.0)]).size() if len(frame) else pd.Series()
    built = ", ".join(f"{n} {kind}" + (f" {kv:g} kV" if kv >= 0 else "") for (kind, kv), n in kinds.items())
    links = int(frame["parent_external_id"].notna().sum()) + extra if len(frame) else 0
    lines = [f"pandapower network: {built or 'no facilities'}",
             f"feed links: {links} ({extra} beyond the first parent of a meshed facility); {loops} closed "
             "loops found" + ("" if not loops else ": links oriented by distance from the nearest source; the "
                              "triage energises them whatever the direction (power fed around a ring either way)"),
             f"islands without a source: {islands} ({unsupplied} buses and loads not imported)",
             f"buses placed from their neighbours' mean position: {filled}"]
    lines += [f"skipped {n}: {reason}" for reason, n in sorted(skipped.items())]
    return tuple(lines)
