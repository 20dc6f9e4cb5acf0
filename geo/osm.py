"""OpenStreetMap extracts (.osm.pbf, .osm) as a facility registry with its feed topology, read by pyosmium.

Imported: power=substation, plant, generator and transformer (nodes, closed ways or multipolygons; areas are stored
as a point inside them) and power=line, minor_line and cable (ways), with name, operator, ref and voltage. A
voltage tag may hold several values ("110000;20000", volts): voltage_kv is the highest, all are kept.

Topology: a line end belongs to a station (substation, plant, or a generator or transformer standing alone) when
it lies inside the station's area or within SNAP_M metres of it; lines also join each other where one ends on a
node of another (OSM splits long lines into several ways). Transformers within SNAP_M of a substation are its
children; generators inside a plant are part of it and not imported separately. Plants and lone generators are
sources. A connected part of lines and stations with no plant is fed from beyond the extract: its highest-voltage
substation is taken as its source. Links are then oriented away from the sources as for pandapower networks
(`geo.pandapower_topology`, an approximation on rings). Stations that no line reaches stand alone.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import shapely
import shapely.geometry
import shapely.wkb
from shapely.geometry.base import BaseGeometry

from geo.errors import DataError
from geo.io import LONLAT
from geo.osm_junctions import BRANCH_KEYS
from geo.osm_model import GENERATOR_KEYS, SMALL_MW, Element, Extract, small_generator, voltages_kv
from geo.osm_poles import POLE_KEYS, hung_on, is_pole_transformer
from geo.osm_switches import SwitchTies, open_ties, split_at_open_switches
from geo.pandapower_net import Imported
from geo.pandapower_topology import Orientation, orient
from geo.tie_switches import OSM_SUPPORTS, osm_state
from geo.tie_switches import report_lines as ties_report

MAX_NAMED = 50  # skipped open switches listed one by one in the report
SNAP_M = 50.0  # a line end this close to a station (its area, or its node) is connected to it
STATIONS = {"substation": "substation", "plant": "power_plant", "generator": "power_plant",
            "transformer": "transformer"}
LINES = {"line": "line", "minor_line": "line", "cable": "line"}
PARTS = frozenset({"tower", "pole", "portal", "insulator", "terminal", "busbar", "bay", "catenary_mast",
                   "connection", "cable_distribution_cabinet", "box", "switch", "compensator", "converter"})
SUFFIXES = (".osm.pbf", ".pbf", ".osm")
RETIRED = ("disused", "abandoned")  # lifecycle tags on an element still mapped with power=* (Key:power, Lifecycle)
STATION_PARTS = frozenset({"busbar", "bay"})  # power=line + line=busbar|bay: inside a substation (Tag:line=busbar)
KEYS = ("name", "ref", "operator", "voltage", "type", "plant:output:electricity", "plant:output:heat",  # kept
        *GENERATOR_KEYS)
SWITCH_KEYS = ("name", "ref", "operator", "voltage", "switch", "switch:state", "state", "operating", "remote",
               *BRANCH_KEYS)
NONE = frozenset({"", "no", "0", "0 mw", "none"})


def is_osm(path: Path) -> bool:
    """Whether a file is named as an OpenStreetMap extract."""
    return path.name.lower().endswith(SUFFIXES)


def kind_of(power: str, tags: dict[str, str]) -> str:
    """The facility kind of an imported power=* value; a plant with heat output is a CHP plant, or a heat plant
    when it gives heat only."""
    if power != "plant" or tags.get("plant:output:heat", "").strip().lower() in NONE:
        return LINES.get(power) or STATIONS[power]
    return "heat_plant" if tags.get("plant:output:electricity", "").strip().lower() in NONE else "chp_plant"


def _read(path: Path) -> Extract:
    extract = Extract()
    factory = osmium.geom.WKBFactory()
    processor = (osmium.FileProcessor(str(path)).with_areas(osmium.filter.KeyFilter("power"))
                 .with_filter(osmium.filter.KeyFilter("power")))
    other: Counter[str] = Counter()
    for obj in processor:
        if isinstance(obj, osmium.osm.Changeset):
            continue
        power = obj.tags.get("power") or ""
        if isinstance(obj, osmium.osm.Node) and (power == "switch" or (power in OSM_SUPPORTS and "switch" in obj.tags)):
            extract.switches[obj.id] = Element(f"n{obj.id}", power, {k: v for k in SWITCH_KEYS
                                                                    if (v := obj.tags.get(k)) is not None},
                                                shapely.geometry.Point(obj.location.lon, obj.location.lat))
        if power == "pole" and isinstance(obj, osmium.osm.Node) and is_pole_transformer(
                power, obj.tags.get("transformer")):
            extract.pole_transformers[obj.id] = Element(f"n{obj.id}", "transformer", {
                k: v for k in POLE_KEYS if (v := obj.tags.get(k)) is not None}, shapely.geometry.Point(
                    obj.location.lon, obj.location.lat))
        if power not in STATIONS and power not in LINES:
            if not isinstance(obj, osmium.osm.Area):  # an area is counted once, as its way or relation
                other[power] += 1  # by value only: most objects are towers, so no text per object
            continue
        retired = next((k for k in RETIRED if (obj.tags.get(k) or "").strip().lower() == "yes"), None)
        if retired is not None:
            if not isinstance(obj, osmium.osm.Area):
                extract.skipped[f"power={power} with {retired}=yes: carries no power"] += 1
            continue
        if power in LINES and (part := (obj.tags.get("line") or "").strip().lower()) in STATION_PARTS:
            extract.skipped[f"power={power} with line={part}: part of a substation, not a facility"] += 1
            continue
        tags = {k: v for k in KEYS if (v := obj.tags.get(k)) is not None}
        if isinstance(obj, osmium.osm.Node):
            if power in STATIONS:
                extract.stations.append(Element(f"n{obj.id}", power, tags,
                                                 shapely.geometry.Point(obj.location.lon, obj.location.lat)))
            else:
                extract.skipped[f"power={power} on a node: a line must be a way"] += 1
        elif isinstance(obj, osmium.osm.Way) and power in LINES:
            located = [n for n in obj.nodes if n.location.valid()]
            if len(located) < 2:
                extract.skipped["line with fewer than two nodes inside the extract"] += 1
                continue
            extract.lines.append(Element(f"w{obj.id}", power, tags,
                                          shapely.geometry.LineString([(n.lon, n.lat) for n in located]),
                                          tuple(n.ref for n in located)))
        elif isinstance(obj, osmium.osm.Way):
            if not obj.is_closed():
                extract.skipped[f"power={power} on an open way: not an area"] += 1
            # a closed way of a station comes again as an area
        elif isinstance(obj, osmium.osm.Area) and power in STATIONS:
            try:
                shape = shapely.wkb.loads(factory.create_multipolygon(obj), hex=True)
            except RuntimeError:
                extract.skipped[f"power={power}: area with a broken outline"] += 1
                continue
            extract.stations.append(Element(f"{'w' if obj.from_way() else 'r'}{obj.orig_id()}", power, tags, shape))
        elif isinstance(obj, osmium.osm.Relation) and (power not in STATIONS or obj.tags.get("type") != "multipolygon"):
            extract.skipped[f"power={power} on a {obj.tags.get('type', 'relation')} relation: not imported"] += 1
    for power, count in other.items():
        extract.skipped[f"power={power}: a part or support, not a facility" if power in PARTS
                        else f"power={power}: not a facility kind imported"] += count
    return extract


def read_osm(path: Path, *, snap_m: float = SNAP_M) -> Imported:
    """An OSM extract as facility rows with feed links (ids 'osm:<n|w|r><id>') and its report; DataError naming
    the file when it cannot be read."""
    try:
        extract = _read(path)
    except (RuntimeError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DataError(f"not a readable OpenStreetMap extract ({reason})", file=str(path)) from exc
    return _network(extract, snap_m=snap_m)


def _metric(geometries: list[BaseGeometry]) -> list[BaseGeometry]:
    series = gpd.GeoSeries(geometries, crs=LONLAT)
    return list(series.to_crs(series.estimate_utm_crs()).values) if geometries else []


def _network(extract: Extract, *, snap_m: float) -> Imported:
    split = split_at_open_switches(extract)
    stations, lines, skipped = extract.stations, extract.lines, Counter(extract.skipped)
    metric = _metric([s.geometry for s in stations] + [shapely.geometry.Point(c) for line in lines
                                                        for c in (line.geometry.coords[0], line.geometry.coords[-1])])
    footprints, ends = metric[:len(stations)], metric[len(stations):]
    tree = shapely.STRtree(footprints)
    # Transformers near a substation are its children; generators inside a plant are part of it.
    owner: dict[int, int] = {}
    for kind, host in (("transformer", "substation"), ("generator", "plant")):
        inner = [i for i, s in enumerate(stations) if s.power == kind]
        pairs = tree.query([footprints[i] for i in inner], predicate="dwithin", distance=snap_m) if inner else []
        for a, b in zip(*pairs, strict=True) if len(inner) else ():
            if stations[int(b)].power == host and inner[int(a)] not in owner:
                owner[inner[int(a)]] = int(b)
    parts = {i for i, h in owner.items() if stations[i].power == "generator"}
    if parts:
        skipped["generator inside a plant: part of the plant"] = len(parts)
    targets = [i for i in range(len(stations)) if i not in owner]
    target_tree = shapely.STRtree([footprints[i] for i in targets])
    snapped: dict[int, int] = {}  # line end index -> station index
    if len(ends) and targets:
        pairs = target_tree.query(ends, predicate="dwithin", distance=snap_m)
        best: dict[int, tuple[float, int]] = {}
        for e, t in zip(*pairs, strict=True):
            station = targets[int(t)]
            d = float(shapely.distance(ends[int(e)], footprints[station]))
            if int(e) not in best or (d, station) < best[int(e)]:
                best[int(e)] = (d, station)
        snapped = {e: s for e, (_, s) in best.items()}
    # Buses: one per target station, one per other node where lines join.
    node_count = Counter(n for line in lines for n in set(line.nodes))
    end_nodes = {n for line in lines for n in (line.nodes[0], line.nodes[-1])}
    junctions = {n for n in end_nodes if node_count[n] > 1}
    node_bus: dict[int, int] = {}
    for j, line in enumerate(lines):
        for e, n in ((2 * j, line.nodes[0]), (2 * j + 1, line.nodes[-1])):
            if e in snapped:
                node_bus.setdefault(n, snapped[e])
    next_bus = len(stations)
    for n in sorted(junctions | end_nodes):
        if n not in node_bus:
            node_bus[n], next_bus = next_bus, next_bus + 1
    found = open_ties(extract, node_bus=node_bus, stations=len(stations), junctions=junctions)
    cut = found.cut
    for j, n in sorted(cut):  # a normally-open switch is not a path: each line keeps its own end there
        cut[(j, n)], next_bus = next_bus, next_bus + 1

    def bus(j: int, n: int) -> int:
        return cut.get((j, n), node_bus.get(n, -1))
    terminals: dict[str, tuple[int, ...]] = {}
    inside: dict[str, int] = {}  # a line with both ends in one station
    for j, line in enumerate(lines):
        buses = [bus(j, line.nodes[0])] + [bus(j, n) for n in line.nodes[1:-1] if n in junctions]
        ends_at = tuple(dict.fromkeys(buses + [bus(j, line.nodes[-1])]))
        if len(ends_at) > 1:
            terminals[f"line:{j}"] = ends_at
        elif ends_at[0] < len(stations):
            inside[f"line:{j}"] = ends_at[0]
    buses_all = set(range(next_bus)) - set(owner)
    lined = {b for ends in terminals.values() for b in ends} | set(inside.values())
    small = {i for i in targets if stations[i].power == "generator" and i not in lined
             and small_generator(stations[i].tags)}
    if small:
        skipped[f"generator that no line reaches, on a roof or under {SMALL_MW:g} MW: not a grid facility"] = len(
            small)
    sources = {f"source:{i}": i for i in targets if stations[i].power in ("plant", "generator") and i not in small}
    fed_outside = _outside_feeds(stations, [i for i in targets if i in lined], terminals, sources)
    sources.update({f"source:{i}": i for i in fed_outside})
    graph = orient(buses_all, terminals, sources)
    hung = hung_on(extract.pole_transformers, lines, cut)
    imported = _imported(stations, lines, graph, owner=owner, parts=parts | small, inside=inside, skipped=skipped,
                         hung=hung,
                         fed_outside=len(fed_outside), snapped=len(snapped), snap_m=snap_m,
                         lone=sum(1 for i in targets if i not in lined and f"source:{i}" not in sources
                                  and i not in small))
    states = Counter(osm_state(s.tags) or "none" for s in extract.switches.values())
    read: tuple[str, ...] = (
        f"switches: {len(extract.switches)} (power=switch, or switch=* on a pole, tower, portal or insulator): "
        f"{states['open']} normally open, {states['closed']} closed, {states['none']} with no state (taken as "
        "closed: not ties)",) if extract.switches else ()
    if split:
        read += (f"lines cut at a normally-open switch inside them: {split} (the parts after the first are "
                 "'osm:w<id>:2', ':3'…)",)
    return Imported(frame=imported.frame, extra_links=imported.extra_links,
                    report=imported.report + read + ties_report(tuple(found.ties), found.skipped) + _switch_lines(
                        found), ties=tuple(found.ties))


def _switch_lines(found: SwitchTies) -> tuple[str, ...]:
    """The ties chosen at junctions by rule, and each skipped open switch with its node id and reason (the first
    MAX_NAMED)."""
    chosen = sum(1 for tie in found.ties if "breaks" in tie.attributes)
    lines = [f"tie switches where a line ends on another or three or more lines meet: {chosen} (the line each "
             "breaks found by rule: " + ", ".join(f"{rule} {n}" for rule, n in sorted(found.by_rule.items())) + ")"
             ] if chosen else []
    lines += [f"tie switch skipped {osm_id}: {reason}" for osm_id, reason in found.named[:MAX_NAMED]]
    if len(found.named) > MAX_NAMED:
        lines.append(f"… and {len(found.named) - MAX_NAMED} more skipped open switches")
    return tuple(lines)


def _outside_feeds(stations: list[Element], targets: list[int], terminals: dict[str, tuple[int, ...]],
                   sources: dict[str, int]) -> list[int]:
    """For each connected part with lines and stations but no plant, its highest-voltage substation (lowest id
    on a tie)."""
    parent = {b: b for ends in terminals.values() for b in ends} | {i: i for i in targets}

    def root(b: int) -> int:
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    for ends in terminals.values():
        for b in ends[1:]:
            parent[root(b)] = root(ends[0])
    fed = {root(b) for b in sources.values() if b in parent}
    best: dict[int, tuple[float, str, int]] = {}
    for i in targets:
        if stations[i].power == "substation" and root(i) not in fed:
            key = (-(voltages_kv(stations[i].tags.get("voltage")) or (0.0,))[0], stations[i].osm_id, i)
            best[root(i)] = min(best.get(root(i), key), key)
    return sorted(i for _, _, i in best.values())


def _imported(stations: list[Element], lines: list[Element], graph: Orientation, *, owner: dict[int, int],
              parts: set[int], inside: dict[str, int], skipped: Counter[str], fed_outside: int, snapped: int,
              snap_m: float, lone: int, hung: list[tuple[Element, list[str]]]) -> Imported:
    station_id = [f"osm:{s.osm_id}" for s in stations]
    line_id = [f"osm:{line.osm_id}" for line in lines]

    def element(name: str) -> str:
        return line_id[int(name.partition(":")[2])]

    def feeders(bus: int) -> list[str]:
        return [element(p) for p in graph.bus_parents.get(bus, ()) if not p.startswith("source:")]

    parents: dict[str, list[str]] = {}
    for i in range(len(stations)):
        if i in owner:
            parents[station_id[i]] = [station_id[owner[i]]]
        elif i in graph.bus_parents:
            parents[station_id[i]] = feeders(i)
    for name, bus in graph.element_parent.items():
        parents[element(name)] = [station_id[bus]] if bus < len(stations) else feeders(bus)
    for name, bus in inside.items():
        parents[element(name)] = [station_id[bus]]
    for pole, on in hung:
        parents[f"osm:{pole.osm_id}"] = on
    meeting = _meeting_points(graph, stations=len(stations))
    for first, later in meeting:
        parents[element(later)].append(element(first))
    rows, extra, several = [], [], 0
    for ext_id, item in [(station_id[i], s) for i, s in enumerate(stations) if i not in parts] + list(
            zip(line_id, lines, strict=True)) + [(f"osm:{pole.osm_id}", pole) for pole, _ in hung]:
        volts = voltages_kv(item.tags.get("voltage"))
        several += len(volts) > 1
        given = list(dict.fromkeys(parents.get(ext_id, [])))
        extra += [(p, ext_id) for p in given[1:]]
        geometry = item.geometry
        rows.append({"external_id": ext_id, "name": item.tags.get("name") or item.tags.get("ref") or
                     f"{item.power} {item.osm_id}", "kind": kind_of(item.power, item.tags),
                     "voltage_kv": volts[0] if volts else np.nan, "parent_external_id": given[0] if given else None,
                     "power": item.power, "voltage": item.tags.get("voltage"), "operator": item.tags.get("operator"),
                     "ref": item.tags.get("ref"), "osm_id": item.osm_id.partition(":")[0],
                     "geometry": geometry if geometry.geom_type in ("Point", "LineString")
                     else geometry.representative_point()})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=LONLAT) if rows else gpd.GeoDataFrame(
        {"external_id": [], "kind": [], "geometry": []}, geometry="geometry", crs=LONLAT)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    alone = sum(1 for name in line_id if name not in parents)
    areas = sum(1 for i, s in enumerate(stations) if i not in parts and s.geometry.geom_type.endswith("Polygon"))
    report = _report(frame, extra=len(extra), loops=graph.loops, islands=graph.islands, alone=alone,
                     snapped=snapped, line_ends=2 * len(lines), fed_outside=fed_outside, several=several, lone=lone,
                     areas=areas, skipped=skipped, snap_m=snap_m,
                     meeting=len({later for _, later in meeting}), hung=len(hung),
                     hung_alone=sum(1 for _, on in hung if not on))
    return Imported(frame=frame, extra_links=tuple(extra), report=report)


def _meeting_points(graph: Orientation, *, stations: int) -> list[tuple[str, str]]:
    """(first, later) line pairs at each junction (not a station) where lines fed from different sides meet and
    nothing is fed onward: there the first line (nearest a source, then lowest index) also feeds the later ones, so
    the connection between them is kept as a feed link. Acyclic: every link, old and new, goes up in (rank of the
    feeding bus, index)."""
    rank = {b: i for i, b in enumerate(graph.order)}
    fed_onward = set(graph.element_parent.values())
    pairs = []
    for bus, names in graph.bus_parents.items():
        if bus < stations or bus in fed_onward:
            continue
        lines = sorted((n for n in names if not n.startswith("source:")),
                       key=lambda n: (rank[graph.element_parent[n]], int(n.partition(":")[2])))
        pairs += [(lines[0], later) for later in lines[1:]]
    return pairs


def _report(frame: pd.DataFrame, *, extra: int, loops: int, islands: int, alone: int, snapped: int, line_ends: int,
            fed_outside: int, several: int, areas: int, skipped: Counter[str], snap_m: float,
            lone: int, meeting: int, hung: int, hung_alone: int) -> tuple[str, ...]:
    """What the import built, in lines a data manager reads."""
    kinds = frame.groupby(["kind", frame["voltage_kv"].fillna(-1.0)]).size() if len(frame) else pd.Series()
    built = ", ".join(f"{n} {kind}" + (f" {kv:g} kV" if kv >= 0 else " (no voltage)")
                      for (kind, kv), n in kinds.items())
    links = int(frame["parent_external_id"].notna().sum()) + extra if len(frame) else 0
    lines = [f"OpenStreetMap extract: {built or 'no facilities'}",
             f"feed links: {links} ({extra} beyond the first parent of a meshed facility); {loops} closed loops found"
             + ("" if not loops else ": links oriented by distance from the nearest source, an approximation on "
                "rings (power fed around a ring the other way is not modelled)"),
             f"line ends at a substation or plant (inside it or within {snap_m:g} m): {snapped} of {line_ends}",
             f"lines meeting, at a junction that feeds nothing onward, a line fed from another side: {meeting} (the "
             "line nearer a source also feeds them there, so the connection is kept)",
             f"parts fed from beyond the extract: {fed_outside} (each through its highest-voltage substation, "
             "taken as its source)",
             f"islands without a source: {islands} ({alone} lines reach no substation or plant, {lone} stations "
             "have no line: imported without feed links)",
             f"several voltages in one tag: {several} facilities (voltage_kv is the highest; the tag is kept)",
             f"stations mapped as areas: {areas} (stored as a point inside each)",
             f"pole-mounted transformers (power=pole with transformer=*): {hung}, each fed from the line it hangs on "
             f"({hung_alone} on no line of the extract: imported without a feed link)"]
    lines += [f"skipped {n}: {reason}" for reason, n in sorted(skipped.items())]
    return tuple(lines)
