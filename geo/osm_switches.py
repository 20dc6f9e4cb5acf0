"""OpenStreetMap switches as tie switches: lines cut at the normally-open switches inside them, each such switch
where exactly two lines end a tie between them, and one where more lines meet (or a line ends on another) a tie
between the line it breaks, chosen by `geo.osm_junctions`, and a line across from it (see README, "Tie
switches")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import shapely.geometry

from geo.osm_junctions import Meeting, broken_line
from geo.osm_model import Element, Extract
from geo.tie_switches import TieSwitch, osm_remote, osm_state


@dataclass
class SwitchTies:
    """The ties found, the (line index, node) ends each cuts off its node, the switches skipped by reason, each
    skipped one with its own reason, and how many ties each junction rule chose."""

    ties: list[TieSwitch] = field(default_factory=list)
    cut: dict[tuple[int, int], int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    named: list[tuple[str, str]] = field(default_factory=list)  # ('osm:n123', reason)
    by_rule: Counter[str] = field(default_factory=Counter)


def open_switches(extract: Extract) -> set[int]:
    """The node ids of the extract's normally-open switches."""
    return {n for n, s in extract.switches.items() if osm_state(s.tags) == "open"}


def split_at_open_switches(extract: Extract) -> int:
    """Cut every line at the normally-open switches inside it (on a pole, say) where no other line touches the
    node, so each switch ends two lines: the first part keeps the way's id, the next ones are '<way id>:2', ':3'…;
    how many lines were cut. (Where another line ends on the node, the switch is a junction's: see open_ties.)"""
    wanted = open_switches(extract)
    if not wanted:
        return 0
    touching = Counter(n for line in extract.lines for n in set(line.nodes) if n in wanted)
    lines, cut = [], 0
    for line in extract.lines:
        inner = [k for k, n in enumerate(line.nodes[1:-1], start=1) if n in wanted and touching[n] == 1]
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


def _tie(switch: Element, a: str, b: str, **extra: str) -> TieSwitch:
    return TieSwitch(external_id=f"osm:{switch.osm_id}",
                     name=(switch.tags.get("name") or switch.tags.get("ref") or f"switch {switch.osm_id}")[:200],
                     facility_a=a, facility_b=b, remote=osm_remote(switch.tags),
                     attributes={**switch.tags, "osm_id": switch.osm_id, "power": switch.power, **extra},
                     point=(switch.geometry.x, switch.geometry.y))


def open_ties(extract: Extract, *, node_bus: dict[int, int], stations: int, junctions: set[int]) -> SwitchTies:
    """The normally-open switches that join lines (away from any station), the line ends they cut, and the other
    open switches by reason and one by one."""
    at_node: dict[int, list[Meeting]] = {}
    wanted = open_switches(extract)
    for j, line in enumerate(extract.lines):
        ends = {line.nodes[0], line.nodes[-1]}
        for n in dict.fromkeys(line.nodes):
            if n in wanted and (n in ends or n in junctions):
                at_node.setdefault(n, []).append(Meeting(j, through=n not in ends))
    found = SwitchTies()
    lines = extract.lines
    on_lines = {n for line in lines for n in line.nodes if n in wanted}
    for n in sorted(wanted):
        switch, on = extract.switches[n], at_node.get(n, [])
        reason = None
        if not on:
            reason = ("where lines cross without joining (no line ends at it): which facilities it joins is not "
                      "determinable" if n in on_lines else
                      "on no line of the extract: which facilities it joins is not determinable")
            found.skipped[reason] += 1
        elif node_bus.get(n, stations) < stations:
            reason = "at a station: which two facilities it joins is not determinable"
            found.skipped[reason] += 1
        elif len(on) == 1:
            reason = "at the end of one line only: it joins nothing"
            found.skipped[reason] += 1
        elif len(on) == 2 and not any(m.through for m in on):
            a, b = (f"osm:{lines[m.line].osm_id}" for m in on)
            found.cut.update({(m.line, n): -1 for m in on})
            found.ties.append(_tie(switch, a, b))
        else:
            choice = broken_line(switch, on, lines)
            if isinstance(choice, str):
                reason = choice
                found.skipped["where a line ends on another or three or more lines meet, and which one it breaks "
                              "is not clear: taken as closed, the lines stay joined (each listed below)"] += 1
            else:
                found.cut[(choice.line, n)] = -1
                found.by_rule.update(rule.partition(":")[0] for rule in choice.rules)
                found.ties.append(_tie(switch, f"osm:{lines[choice.line].osm_id}",
                                       f"osm:{lines[choice.partner].osm_id}",
                                       breaks=f"osm:{lines[choice.line].osm_id}", rule="; ".join(choice.rules),
                                       lines_joined="; ".join(f"osm:{lines[m.line].osm_id}" for m in on
                                                              if m.line != choice.line)))
        if reason is not None:
            found.named.append((f"osm:{switch.osm_id}", reason))
    return found
