"""pandapower networks: their feed graph for the engine, and their elements as facility rows to import.

Networks are read by pandapower itself (`pandapower.from_json`, any format it converts). The feed graph runs
source (ext_grid, gen) -> bus -> line / transformer / closed bus-bus switch -> bus ... -> load, over elements in
service; an open switch cuts its line (et 'l'), transformer ('t', 't3' on that side) or bus-bus link ('b').
Parallel elements and closed loops make a meshed graph: see `geo.pandapower_topology` for how links are
oriented and why that is an approximation on rings. Loads are MW, not people: population = nominal p_mw x 1000
kW/MW x people_per_kw (the `scaling` column and static generators are ignored: distributed generation is not
assumed to island). An import keeps what the power flow needs beyond the facilities (static generators, shunts,
storage, wards, impedances, DC lines, the frequency) on their buses' facilities: see `geo.pandapower_attached`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely.errors
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from geo.errors import DataError
from geo.io import LONLAT
from geo.network import Facility, ScenarioError
from geo.pandapower_attached import ATTACHED, attach, row_json
from geo.pandapower_attached import report_lines as attached_report
from geo.pandapower_ties import open_ties, prefixed
from geo.pandapower_topology import BRANCHES, SWITCHED, bus_points, geojson_line, orient, place, report_lines
from geo.tie_switches import TieSwitch
from geo.tie_switches import report_lines as ties_report

SOURCES = ("ext_grid", "gen")
NOT_MODELLED = ("impedance", "dcline", "tcsc", "vsc", "ssc", "svc", "xward", "ward", "storage")


@dataclass(frozen=True)
class FeedTree:
    """Facilities of a pandapower network as a feed graph, with the stated people-per-kW factor and what it found."""

    facilities: tuple[Facility, ...]
    people_per_kw: float
    load_mw: float
    load_count: int
    unsupplied: tuple[str, ...]
    note: str
    loops: int = 0
    islands: int = 0
    skipped: tuple[tuple[str, int], ...] = ()  # (reason, count)


def read_tables(path: str | Path) -> dict[str, pd.DataFrame]:
    """The element tables of a pandapower JSON file, by name, read by pandapower (by the tables' JSON without it);
    DataError naming the file when it is not a network."""
    return read_network(path)[0]


def read_network(path: str | Path) -> tuple[dict[str, pd.DataFrame], Any]:
    """The element tables of a pandapower JSON file and the pandapower network itself (None without pandapower);
    DataError naming the file when it is not a network."""
    net = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandapower's own notes (numba, format conversion) are not errors
            try:
                import pandapower
            except ImportError:
                tables = _json_tables(path)
            else:
                net = pandapower.from_json(str(path))
                tables = {name: net[name] for name in net if isinstance(net[name], pd.DataFrame)}
    except Exception as exc:  # noqa: BLE001 - any failure of the reader means the file is unusable
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DataError(f"not a readable pandapower network ({reason})", file=str(path)) from exc
    if not len(tables.get("bus", ())):
        raise DataError("not a pandapower network with buses", file=str(path))
    return tables, net


def _json_tables(path: str | Path) -> dict[str, pd.DataFrame]:
    # Where pandapower is not installed: its JSON holds each table as a DataFrame in pandas' split orientation.
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


def branch_terminals(tables: Mapping[str, pd.DataFrame], *, switches: bool) -> tuple[dict[str, tuple[int, ...]],
                                                                                    dict[str, int]]:
    """Each element in service (element id -> its buses) with open switches applied when `switches`, and counts
    of what was left out and why."""
    empty = pd.DataFrame()
    skipped: dict[str, int] = {}
    switch = tables.get("switch", empty)
    closed = switch["closed"].astype(bool) if len(switch) else pd.Series(dtype=bool)
    cut: dict[tuple[str, int], set[int]] = {}
    if switches and len(switch):
        for s in switch[~closed & (switch["et"] != "b")].itertuples():
            cut.setdefault((SWITCHED.get(str(s.et), str(s.et)), int(s.element)), set()).add(int(s.bus))
    terminals: dict[str, tuple[int, ...]] = {}
    for table, columns in BRANCHES.items():
        frame = tables.get(table, empty)
        active = _in_service(frame)
        if len(frame) > len(active):
            skipped[f"{table}: out of service"] = len(frame) - len(active)
        for i, *buses in zip(active.index, *(active[c] for c in columns), strict=True):
            ends = tuple(dict.fromkeys(int(b) for b in buses))
            kept = tuple(b for b in ends if b not in cut.get((table, int(i)), set()))
            if len(kept) < 2 <= len(ends):
                skipped[f"{table}: cut by an open switch"] = skipped.get(f"{table}: cut by an open switch", 0) + 1
            else:
                terminals[f"{table}:{i}"] = kept
    if len(switch):
        bus_bus = switch[switch["et"] == "b"]
        chosen = bus_bus[closed[bus_bus.index]] if switches else bus_bus
        if switches and len(bus_bus) > len(chosen):
            skipped["switch: open bus-bus switch (not a path)"] = len(bus_bus) - len(chosen)
        for i, a, b in zip(chosen.index, chosen["bus"], chosen["element"], strict=True):
            terminals[f"switch:{i}"] = (int(a), int(b))
    for table in NOT_MODELLED:
        if len(tables.get(table, empty)):
            skipped[f"{table}: not modelled as a feed path"] = len(tables[table])
    return terminals, skipped


def feed_tree(tables: Mapping[str, pd.DataFrame], *, people_per_kw: float, meshed: bool = False) -> FeedTree:
    """Build the feed graph from bus, line, trafo, trafo3w, switch, ext_grid, gen and load tables.

    Without `meshed`, raises ScenarioError naming the element that closes a loop (the network must run radially);
    with it, loops and parallel elements give facilities with several parents.
    """
    if not people_per_kw > 0:
        raise ValueError(f"people_per_kw must be > 0, got {people_per_kw}")
    empty = pd.DataFrame()
    all_buses = tables["bus"]
    buses = _in_service(all_buses)
    terminals, skipped = branch_terminals(tables, switches=True)
    if len(all_buses) > len(buses):
        skipped["bus: out of service"] = len(all_buses) - len(buses)
    sources: dict[str, int] = {}
    for table in SOURCES:
        frame = tables.get(table, empty)
        active = _in_service(frame)
        if len(frame) > len(active):
            skipped[f"{table}: out of service"] = len(frame) - len(active)
        sources.update({f"{table}:{i}": int(b) for i, b in zip(active.index, active["bus"], strict=True)})
    known = {int(b) for b in buses.index}
    sources = {s: b for s, b in sources.items() if b in known}
    graph = orient(known, terminals, sources)
    if not meshed:
        for bus in graph.order:
            feeders = [p for p in graph.bus_parents[bus] if p not in sources]
            if len(graph.bus_parents[bus]) > 1 and feeders:
                element = feeders[-1]
                raise ScenarioError(f"element {element!r}: closes a loop between bus "
                                    f"{graph.element_parent[element]} and bus {bus}")
    fed_by: dict[int, list[str]] = {}
    for element, bus in graph.element_parent.items():
        fed_by.setdefault(bus, []).append(element)
    loads = _in_service(tables.get("load", empty))
    if len(tables.get("load", empty)) > len(loads):
        skipped["load: out of service"] = len(tables["load"]) - len(loads)
    loads_at: dict[int, list[tuple[str, float]]] = {}
    unsupplied: list[str] = []
    for i, at, p_mw in zip(loads.index, loads["bus"], loads["p_mw"], strict=True):
        bus = int(at)
        if bus in graph.bus_parents:
            loads_at.setdefault(bus, []).append((f"load:{i}", float(p_mw)))
        else:
            unsupplied.append(f"load:{i}")
    facilities = [Facility(id=s) for s in sources]
    load_mw = 0.0
    for bus in graph.order:
        facilities.append(Facility(id=f"bus:{bus}", parents=graph.bus_parents[bus]))
        facilities += [Facility(id=e, parents=(f"bus:{bus}",)) for e in fed_by.get(bus, [])]
        for lid, p_mw in loads_at.get(bus, []):
            facilities.append(Facility(id=lid, parents=(f"bus:{bus}",), population=p_mw * 1000.0 * people_per_kw))
            load_mw += p_mw
    unsupplied += [f"bus:{b}" for b in graph.unreached]
    return FeedTree(
        facilities=tuple(facilities), people_per_kw=people_per_kw, load_mw=load_mw,
        load_count=sum(len(v) for v in loads_at.values()), unsupplied=tuple(unsupplied),
        note=f"population = load p_mw x 1000 x {people_per_kw:g} people per kW (nominal load, scaling ignored)",
        loops=graph.loops, islands=graph.islands, skipped=tuple(sorted(skipped.items())),
    )


def read_feed_tree(path: str | Path, *, people_per_kw: float, meshed: bool = False) -> FeedTree:
    """Read a pandapower JSON file and build its feed graph."""
    return feed_tree(read_tables(path), people_per_kw=people_per_kw, meshed=meshed)


def with_damage(tree: FeedTree, repair_hours: Mapping[str, float]) -> tuple[Facility, ...]:
    """The tree's facilities with the given ones marked damaged (facility id -> repair hours)."""
    missing = sorted(set(repair_hours) - {f.id for f in tree.facilities})
    if missing:
        raise ScenarioError(f"facility {missing[0]!r}: not in the network")
    return tuple(
        Facility(f.id, f.parents, f.population, True, repair_hours[f.id]) if f.id in repair_hours else f
        for f in tree.facilities
    )


# The facility kind each element becomes when a network is imported as a registry.
PANDAPOWER_KINDS = {"ext_grid": "substation", "gen": "power_plant", "bus": "other", "line": "line",
                    "trafo": "transformer", "trafo3w": "transformer", "load": "substation", "switch": "other"}


@dataclass(frozen=True)
class Imported:
    """A network as facility rows (first feed parent in `parent_external_id`), the further feed links of meshed
    facilities (parent, child external ids), what the import found, line by line, and its tie switches."""

    frame: gpd.GeoDataFrame
    extra_links: tuple[tuple[str, str], ...]
    report: tuple[str, ...]
    ties: tuple[TieSwitch, ...] = field(default=())  # normally-open switches between two of the facilities


def is_pandapower(path: Path) -> bool:
    """Whether a file is (or claims to be) a pandapower network saved as JSON."""
    if path.suffix.lower() != ".json":
        return False
    with open(path, "rb") as f:
        return b'"pandapowerNet"' in f.read(4096)


def read_pandapower(path: Path) -> Imported:
    """A pandapower network as facility rows with its feed graph and its tie switches, ids '<file stem>:<element>:
    <index>'.

    Sources (external grids as substations, generators as power plants), buses ('other'), lines with their
    course (or a straight line between their buses), transformers, closed bus-bus switches and loads (MV/LV
    stations as substations). Buses without coordinates take the mean position of their placed neighbours;
    elements at buses that get none are left out and counted. Open switches become tie switches (`open_ties`);
    a line or transformer that one cuts is imported too, fed from its other end. Bus rows carry `attached` and
    `network` (`geo.pandapower_attached`); each row's `pandapower` holds its element's columns as strict JSON.
    """
    tables, net = read_network(path)
    tree = feed_tree(tables, people_per_kw=1.0, meshed=True)
    bus = tables["bus"]
    terminals, _ = branch_terminals(tables, switches=False)
    neighbours: dict[int, set[int]] = {int(b): set() for b in bus.index}
    for ends in terminals.values():
        for a in ends:
            neighbours.setdefault(a, set()).update(b for b in ends if b != a)
    given = bus_points(tables)
    points = place(given, neighbours)
    prefix = f"{path.stem}:"
    ties, cut, tie_skipped = open_ties(tables, reached={f.id for f in tree.facilities})
    records: dict[str, dict[int, dict[str, Any]]] = {}  # table -> index -> row: one conversion, not a .loc each
    vn_kv = {int(b): v for b, v in bus["vn_kv"].items()}
    held = {int(f.id[4:]) for f in tree.facilities if f.id.startswith("bus:") and int(f.id[4:]) in points}
    attached = attach(tables, buses=held, f_hz=getattr(net, "f_hz", None), sn_mva=getattr(net, "sn_mva", None))

    rows, extra, unplaced = [], [], 0
    placed_ids: set[str] = set()
    for facility_id, parents_of in [(f.id, f.parents) for f in tree.facilities] + [(e, (p,)) for e, p in cut.items()]:
        element, _, index_text = facility_id.partition(":")
        if element not in records:
            records[element] = {int(i): r for i, r in tables[element].to_dict("index").items()}
        record = records[element][int(index_text)]
        at = int(index_text) if element == "bus" else int(
            record[BRANCHES[element][0]] if element in BRANCHES else record["bus"])
        if at not in points or (facility_id in cut and cut[facility_id] not in placed_ids):
            unplaced += 1
            continue
        placed_ids.add(facility_id)
        parents = [p for p in parents_of if p in placed_ids]
        extra += [(prefix + p, prefix + facility_id) for p in parents[1:]]
        row = _row(element, record, facility_id, points=points, at=at, voltage=vn_kv[at], prefix=prefix,
                   parent=prefix + parents[0] if parents else None)
        if element == "bus":
            row["attached"], row["network"] = attached.by_bus.get(at, {}), attached.network
        rows.append(row)
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=LONLAT) if rows else gpd.GeoDataFrame(
        {"external_id": [], "kind": [], "geometry": []}, geometry="geometry", crs=LONLAT)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    skipped = dict(tree.skipped)
    for table in {e.partition(":")[0] for e in cut}:  # now imported: no longer skipped
        reason = f"{table}: cut by an open switch"
        left = skipped.get(reason, 0) - sum(1 for e in cut if e.startswith(f"{table}:"))
        skipped.pop(reason, None)
        if left > 0:
            skipped[reason] = left
    if unplaced:
        skipped["no coordinates (nor a placed neighbour): left unplaced"] = unplaced
    for table in ATTACHED:  # kept on their buses for the power flow (attached_report says so), still no feed path
        skipped.pop(f"{table}: not modelled as a feed path", None)
    skipped.update(attached.skipped)
    placed_ties = []
    for tie in ties:
        if tie.facility_a in placed_ids and tie.facility_b in placed_ids:
            placed_ties.append(prefixed(tie, prefix, points.get(int(tie.facility_a.partition(":")[2]))))
        else:
            reason = "an end is not imported (no coordinates, or no source reaches it)"
            tie_skipped[reason] = tie_skipped.get(reason, 0) + 1
    report = report_lines(frame, loops=tree.loops, islands=tree.islands, unsupplied=len(tree.unsupplied),
                          extra=len(extra), skipped=skipped, filled=len([b for b in points if b not in given]))
    opened = sum(1 for e in cut if e in placed_ids)
    if opened:
        report += (f"elements open at one end by a normally-open switch: {opened} (imported, fed from their other "
                   "end)",)
    report += attached_report(attached)
    return Imported(frame=frame, extra_links=tuple(extra), report=report + ties_report(tuple(placed_ties), tie_skipped),
                    ties=tuple(placed_ties))


def _row(element: str, record: Mapping[str, Any], facility_id: str, *, points: Mapping[int, tuple[float, float]],
         at: int, voltage: float, prefix: str, parent: str | None) -> dict[str, Any]:
    """One element as a facility row."""
    geometry: BaseGeometry = shapely.geometry.Point(points[at])
    if element == "line":
        course = [points.get(int(record[c])) for c in BRANCHES["line"]]
        straight = shapely.geometry.LineString(course) if None not in course and course[0] != course[1] else None
        geometry = geojson_line(record.get("geo")) or straight or geometry
    elif element in ("trafo", "trafo3w"):
        voltage = record["vn_hv_kv"]
    capacity = record.get("sn_mva", record.get("sn_hv_mva")) if element in ("trafo", "trafo3w") else None
    return {"external_id": prefix + facility_id, "name": str(record.get("name") or facility_id),
            "kind": PANDAPOWER_KINDS[element], "voltage_kv": voltage, "capacity_mva": capacity,
            "parent_external_id": parent, "element": element,
            "pandapower": row_json(record), "geometry": geometry}
