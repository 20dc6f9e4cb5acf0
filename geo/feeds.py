"""Feed links between facilities: reading them, inferring them by voltage level, cycles, population served."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyproj
import shapely

from geo import network
from geo.columns import ColumnMap, column, text
from geo.errors import DataError

FEED_FIELDS = ("parent_external_id", "external_id")
SOURCE_KINDS = ("power_plant", "chp_plant")
LEVEL_TOLERANCE = 0.1  # voltages within 10 % are one level: 220 and 225 kV, 380 and 400 kV
PROGRESS_CHUNK = 1_000  # facilities searched between two progress reports
_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class Link:
    """Energy flows from parent to child; `row` is the file row it came from (None when inferred)."""

    parent: str
    child: str
    row: int | None = None
    distance_m: float | None = None


def read_links(frame: pd.DataFrame, *, file: str, columns: ColumnMap) -> list[Link]:
    """Parent/child links by external id from a table; blanks and self-links name their row."""
    parent_col = column(frame, columns, "parent_external_id", file=file, required=True,
                        defaults=("parent", "from", "v_id_1"))
    child_col = column(frame, columns, "external_id", file=file, required=True,
                       defaults=("child", "child_external_id", "to", "v_id_2"))
    assert parent_col is not None and child_col is not None
    links = []
    for row, parent, child in zip(frame.index, frame[parent_col], frame[child_col], strict=True):
        p, c = text(parent), text(child)
        for value, name in ((p, parent_col), (c, child_col)):
            if value is None:
                raise DataError("missing external id", file=file, row=int(row), column=name)
        assert p is not None and c is not None
        if p == c:
            raise DataError(f"a facility cannot feed itself ({p!r})", file=file, row=int(row), column=child_col)
        links.append(Link(parent=p, child=c, row=int(row)))
    return links


def orient(links: Sequence[Link], *, voltage_kv: Mapping[str, float | None], kind: Mapping[str, str]) -> list[Link]:
    """Direct undirected links (grid lines) from higher voltage to lower, then away from the power plants.

    Each link runs along one total order of facilities (voltage level descending, hops from the nearest plant,
    external id), so the result never has a cycle; parallel lines between the same two facilities count once.
    """
    neighbours: dict[str, set[str]] = defaultdict(set)
    for link in links:
        neighbours[link.parent].add(link.child)
        neighbours[link.child].add(link.parent)
    hops = {f: 0 for f in neighbours if kind.get(f) in SOURCE_KINDS}
    queue = deque(hops)
    while queue:
        v = queue.popleft()
        for u in neighbours[v]:
            if u not in hops:
                hops[u] = hops[v] + 1
                queue.append(u)
    levels = voltage_levels(voltage_kv.values())

    def key(f: str) -> tuple[float, float, str]:
        return (-levels.get(voltage_kv.get(f), 0.0), hops.get(f, math.inf), f)

    seen: dict[tuple[str, str], Link] = {}
    for link in links:
        a, b = sorted((link.parent, link.child), key=key)
        seen.setdefault((a, b), Link(parent=a, child=b, row=link.row))
    return list(seen.values())


def voltage_levels(voltages: Iterable[float | None]) -> dict[float | None, float]:
    """Each voltage's level: the lowest voltage of its group, groups starting where a voltage is 10 % higher."""
    levels: dict[float | None, float] = {}
    start = None
    for v in sorted({v for v in voltages if v is not None and not math.isnan(v)}):
        if start is None or v > start * (1 + LEVEL_TOLERANCE):
            start = v
        levels[v] = start
    return levels


def infer(facilities: pd.DataFrame, *, metric_crs: str, skip: Iterable[str] = (), any_higher: bool = False,
          progress: Callable[[int], object] | None = None) -> list[Link]:
    """Link each point facility to the nearest one of the next higher voltage level (or any higher level).

    `facilities` has external_id, voltage_kv and geometry (lon/lat); nearness is measured in `metric_crs` and
    the reported distance is geodesic, in metres. Facilities in `skip` (those with given parents) and those
    without a voltage get no inferred parent. `progress`, when given, is called with numbers of facilities as
    they are done, in chunks, adding up to all of them.
    """
    report = progress or (lambda done: None)
    points = facilities[[g.geom_type == "Point" for g in facilities["geometry"]]]
    levels = voltage_levels(points["voltage_kv"])
    level = np.array([levels.get(v, np.nan) if v is not None and not pd.isna(v) else np.nan
                      for v in points["voltage_kv"]])
    ids = points["external_id"].to_numpy()
    lonlat = np.array(list(points["geometry"]), dtype=object)
    xy = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True).transform(
        shapely.get_x(lonlat), shapely.get_y(lonlat))
    metric = shapely.points(np.column_stack(xy)) if len(ids) else np.array([], dtype=object)
    skipped = np.isin(ids, list(set(skip)))
    ordered = sorted(set(level[~np.isnan(level)]))
    linkable = np.isin(level, ordered[:-1]) & ~skipped
    report(len(facilities) - int(linkable.sum()))  # these get no parent here: nothing to search
    links: list[Link] = []
    for position, value in enumerate(ordered[:-1]):
        children = np.nonzero((level == value) & ~skipped)[0]
        parents = np.nonzero(level > value if any_higher else level == ordered[position + 1])[0]
        tree = shapely.STRtree(metric[parents])  # never empty: a higher level exists
        for start in range(0, len(children), PROGRESS_CHUNK):
            part = children[start:start + PROGRESS_CHUNK]
            pairs = tree.query_nearest(metric[part], all_matches=False)
            links.extend(_link(lonlat, ids, parent=parents[p], child=part[c])
                         for c, p in zip(pairs[0], pairs[1], strict=True))
            report(len(part))
    return links


def _link(lonlat: np.ndarray, ids: np.ndarray, *, parent: int, child: int) -> Link:
    """The inferred link between two positions, with its geodesic length in metres."""
    _, _, distance = _GEOD.inv(lonlat[parent].x, lonlat[parent].y, lonlat[child].x, lonlat[child].y)
    return Link(parent=str(ids[parent]), child=str(ids[child]), distance_m=float(distance))


def find_cycle(links: Iterable[tuple[str, str]]) -> list[str] | None:
    """A cycle of parent→child links as [a, b, …, a], or None when the links form a directed acyclic graph."""
    children: dict[str, list[str]] = defaultdict(list)
    for parent, child in links:
        children[parent].append(child)
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in list(children):
        if start in state:
            continue
        path, stack = [start], [iter(children[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(children.get(nxt, ())))
    return None


def population_served(population: Mapping[str, float], links: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Direct population plus that of every facility downstream, each counted once even in a meshed network."""
    parents: dict[str, set[str]] = defaultdict(set)
    for parent, child in links:
        if parent in population and child in population:
            parents[child].add(parent)
    grid = network.build_network(
        network.Facility(id=f, parents=tuple(sorted(parents[f])), population=float(people))
        for f, people in population.items())
    served = network.population_served(grid, range(len(grid.facilities)))
    return {f.id: float(served[i]) for i, f in enumerate(grid.facilities)}


def leaves(ids: Iterable[str], links: Iterable[tuple[str, str]]) -> list[str]:
    """The facilities that feed no other: the lowest level, which gets the service areas."""
    parents = {p for p, _ in links}
    return [f for f in ids if f not in parents]
