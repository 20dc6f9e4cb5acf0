"""pandapower JSON networks: their radial feed tree for the engine, and their elements as facility rows to import.

The feed tree runs source (ext_grid) -> bus -> HV/MV transformer -> bus -> line -> bus ... -> load, over
elements in service, with open switches cutting their line (et 'l'), bus-bus link (et 'b') or transformer
(et 't'). Loads are MW, not people: population = nominal p_mw x 1000 kW/MW x people_per_kw (the `scaling`
column and static generators are ignored: distributed generation is not assumed to island).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from geo.io import LONLAT
from geo.network import Facility, ScenarioError

# The facility kind each element becomes when a network is imported as a registry.
PANDAPOWER_KINDS = {"ext_grid": "substation", "bus": "other", "line": "line", "trafo": "transformer",
                    "load": "substation", "switch": "other"}


@dataclass(frozen=True)
class FeedTree:
    """Facilities of a pandapower network as a radial feed tree, with the stated people-per-kW factor."""

    facilities: tuple[Facility, ...]
    people_per_kw: float
    load_mw: float
    load_count: int
    unsupplied: tuple[str, ...]
    note: str


def read_tables(path: str | Path) -> dict[str, pd.DataFrame]:
    """The DataFrames of a pandapower JSON file, by table name (nested frames are JSON strings)."""
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    tables: dict[str, pd.DataFrame] = {}
    for name, value in document.get("_object", {}).items():
        if isinstance(value, Mapping) and value.get("_class") == "DataFrame":
            frame = json.loads(value["_object"])
            tables[name] = pd.DataFrame(frame["data"], index=frame["index"], columns=frame["columns"])
    return tables


def _in_service(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["in_service"].astype(bool)] if "in_service" in table.columns else table


def feed_tree(tables: Mapping[str, pd.DataFrame], *, people_per_kw: float) -> FeedTree:
    """Build the radial feed tree from bus, line, trafo, switch, ext_grid and load tables.

    Raises ScenarioError naming the element that closes a loop (the network must run radially).
    """
    if not people_per_kw > 0:
        raise ValueError(f"people_per_kw must be > 0, got {people_per_kw}")
    empty = pd.DataFrame()
    buses = _in_service(tables["bus"])
    switch = tables.get("switch", empty)
    open_sw = switch[~switch["closed"].astype(bool)] if len(switch) else switch
    cut = {(str(s.et), int(s.element)) for s in open_sw.itertuples()}
    # Undirected adjacency: bus -> [(element facility id, other bus)].
    links: dict[int, list[tuple[str, int]]] = {int(b): [] for b in buses.index}

    def connect(element: str, a: int, b: int) -> None:
        if a in links and b in links and a != b:
            links[a].append((element, b))
            links[b].append((element, a))

    for i, line in _in_service(tables.get("line", empty)).iterrows():
        if ("l", int(i)) not in cut:
            connect(f"line:{i}", int(line["from_bus"]), int(line["to_bus"]))
    for i, trafo in _in_service(tables.get("trafo", empty)).iterrows():
        if ("t", int(i)) not in cut:
            connect(f"trafo:{i}", int(trafo["hv_bus"]), int(trafo["lv_bus"]))
    if len(switch):
        for i, s in switch[(switch["et"] == "b") & switch["closed"].astype(bool)].iterrows():
            connect(f"switch:{i}", int(s["bus"]), int(s["element"]))

    parent: dict[str, str | None] = {}
    bus_parent: dict[int, str] = {}
    queue: deque[int] = deque()
    for i, grid in _in_service(tables["ext_grid"]).iterrows():
        source, bus = f"ext_grid:{i}", int(grid["bus"])
        parent[source] = None
        if bus in links and bus not in bus_parent:
            bus_parent[bus] = source
            parent[f"bus:{bus}"] = source
            queue.append(bus)
    used: set[str] = set()
    while queue:  # breadth-first from the sources: each bus and element gets exactly one feeding parent
        bus = queue.popleft()
        for element, other in links[bus]:
            if element in used:
                continue
            used.add(element)
            if other in bus_parent:
                raise ScenarioError(f"element {element!r}: closes a loop between bus {bus} and bus {other}")
            parent[element] = f"bus:{bus}"
            bus_parent[other] = element
            parent[f"bus:{other}"] = element
            queue.append(other)

    population: dict[str, float] = {}
    load_mw = 0.0
    unsupplied: list[str] = []
    loads = _in_service(tables.get("load", empty))
    for i, load in loads.iterrows():
        lid, bus = f"load:{i}", int(load["bus"])
        if bus not in bus_parent:
            unsupplied.append(lid)
            continue
        parent[lid] = f"bus:{bus}"
        population[lid] = float(load["p_mw"]) * 1000.0 * people_per_kw
        load_mw += float(load["p_mw"])
    unsupplied += [f"bus:{b}" for b in links if b not in bus_parent]
    facilities = tuple(
        Facility(id=fid, parents=(up,) if up else (), population=population.get(fid, 0.0))
        for fid, up in parent.items()
    )
    return FeedTree(
        facilities=facilities,
        people_per_kw=people_per_kw,
        load_mw=load_mw,
        load_count=len(population),
        unsupplied=tuple(unsupplied),
        note=f"population = load p_mw x 1000 x {people_per_kw:g} people per kW (nominal load, scaling ignored)",
    )


def read_feed_tree(path: str | Path, *, people_per_kw: float) -> FeedTree:
    """Read a pandapower JSON file and build its radial feed tree."""
    return feed_tree(read_tables(path), people_per_kw=people_per_kw)


def with_damage(tree: FeedTree, repair_hours: Mapping[str, float]) -> tuple[Facility, ...]:
    """The tree's facilities with the given ones marked damaged (facility id -> repair hours)."""
    missing = sorted(set(repair_hours) - {f.id for f in tree.facilities})
    if missing:
        raise ScenarioError(f"facility {missing[0]!r}: not in the network")
    return tuple(
        Facility(f.id, f.parents, f.population, True, repair_hours[f.id]) if f.id in repair_hours else f
        for f in tree.facilities
    )


def is_pandapower(path: Path) -> bool:
    """Whether a file is a pandapower network saved as JSON."""
    if path.suffix.lower() != ".json":
        return False
    with open(path, encoding="utf-8") as f:
        return '"pandapowerNet"' in f.read(4096)


def read_pandapower(path: Path) -> gpd.GeoDataFrame:
    """A pandapower network as facility rows with its radial feed tree in `parent_external_id`.

    Elements in service become facilities: the external grid and loads (MV/LV stations) as substations, buses
    as nodes ('other'), lines with their course, HV/MV transformers; ids are '<file stem>:<element>:<index>'.
    """
    tables = read_tables(path)
    tree = feed_tree(tables, people_per_kw=1.0)
    bus = tables["bus"]
    prefix = f"{path.stem}:"

    def point(bus_index: int) -> BaseGeometry:
        return shapely.geometry.shape(json.loads(bus.at[bus_index, "geo"]))

    rows = []
    for facility in tree.facilities:
        element, _, index_text = facility.id.partition(":")
        index = int(index_text)
        table = tables[element]
        record = table.loc[index]
        voltage = None
        if element == "line":
            geometry = shapely.geometry.shape(json.loads(record["geo"]))
            voltage = bus.at[int(record["from_bus"]), "vn_kv"]
        elif element == "trafo":
            geometry, voltage = point(int(record["hv_bus"])), record["vn_hv_kv"]
        elif element == "bus":
            geometry, voltage = point(index), record["vn_kv"]
        else:
            geometry, voltage = point(int(record["bus"])), bus.at[int(record["bus"]), "vn_kv"]
        attributes = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()
                      if k != "geo" and isinstance(v, str | int | float | bool | np.generic)}
        rows.append({
            "external_id": prefix + facility.id, "name": str(record.get("name") or facility.id),
            "kind": PANDAPOWER_KINDS[element], "voltage_kv": voltage,
            "capacity_mva": record["sn_mva"] if element == "trafo" else None,
            "parent_external_id": prefix + facility.parents[0] if facility.parents else None,
            "element": element, "pandapower": json.dumps(attributes, default=str), "geometry": geometry,
        })
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=LONLAT)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame
