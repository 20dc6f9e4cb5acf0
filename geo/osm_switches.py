"""OpenStreetMap switches as tie switches: lines cut at the normally-open switches inside them, and each such
switch where exactly two lines meet (away from a station) a tie between those two lines (see README, "Tie
switches")."""

from __future__ import annotations

from collections import Counter

import shapely.geometry

from geo.osm_model import Element, Extract
from geo.tie_switches import TieSwitch, osm_remote, osm_state


def open_switches(extract: Extract) -> set[int]:
    """The node ids of the extract's normally-open switches."""
    return {n for n, s in extract.switches.items() if osm_state(s.tags) == "open"}


def split_at_open_switches(extract: Extract) -> int:
    """Cut every line at the normally-open switches inside it (on a pole, say), so each switch ends two lines:
    the first part keeps the way's id, the next ones are '<way id>:2', ':3'…; how many lines were cut."""
    wanted = open_switches(extract)
    if not wanted:
        return 0
    lines, cut = [], 0
    for line in extract.lines:
        inner = [k for k, n in enumerate(line.nodes[1:-1], start=1) if n in wanted]
        if not inner:
            lines.append(line)
            continue
        cut += 1
        coords = list(line.geometry.coords)
        for part, (start, stop) in enumerate(zip([0, *inner], [*inner, len(line.nodes) - 1], strict=True), start=1):
            label = line.tags.get("name") or line.tags.get("ref")
            tags = line.tags if part == 1 or not label else {**line.tags, "name": f"{label} (part {part})"}
            lines.append(Element(line.osm_id if part == 1 else f"{line.osm_id}:{part}", line.power, tags,
                                  shapely.geometry.LineString(coords[start:stop + 1]), line.nodes[start:stop + 1]))
    extract.lines = lines
    return cut


def open_ties(extract: Extract, *, node_bus: dict[int, int], stations: int, junctions: set[int]) -> tuple[
        tuple[TieSwitch, ...], dict[tuple[int, int], int], dict[str, int]]:
    """The normally-open switches that join two lines where exactly those two meet (away from any station), the
    (line index, node) ends they cut, and the other open switches by reason."""
    at_node: dict[int, list[int]] = {}
    wanted = open_switches(extract)
    for j, line in enumerate(extract.lines):
        ends = {line.nodes[0], line.nodes[-1]}
        for n in dict.fromkeys(line.nodes):
            if n in wanted and (n in ends or n in junctions):
                at_node.setdefault(n, []).append(j)
    ties, cut, skipped = [], {}, Counter[str]()
    for n in sorted(wanted):
        switch, on = extract.switches[n], at_node.get(n, [])
        if not on:
            skipped["on no line of the extract: which facilities it joins is not determinable"] += 1
        elif node_bus.get(n, stations) < stations:
            skipped["at a station: which two facilities it joins is not determinable"] += 1
        elif len(on) != 2:
            skipped["at the end of one line only: it joins nothing" if len(on) == 1 else
                    f"where {len(on)} lines meet: which two it joins is not determinable"] += 1
        else:
            a, b = (f"osm:{extract.lines[j].osm_id}" for j in on)
            cut.update({(j, n): -1 for j in on})
            ties.append(TieSwitch(external_id=f"osm:{switch.osm_id}",
                                  name=(switch.tags.get("name") or switch.tags.get("ref") or
                                        f"switch {switch.osm_id}")[:200], facility_a=a, facility_b=b,
                                  remote=osm_remote(switch.tags), attributes={**switch.tags, "osm_id": switch.osm_id,
                                                                              "power": switch.power},
                                  point=(switch.geometry.x, switch.geometry.y)))
    return tuple(ties), cut, dict(skipped)
