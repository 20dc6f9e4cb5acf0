"""Which line a normally-open OpenStreetMap switch breaks where three or more lines meet at its node.

OSM maps a switch as a tag on a node (power=switch, or switch=* on a pole or tower), not on the line it breaks;
where several lines meet there, the line is read from these documented conventions, each a rule:

- **branch** (Key:line_management, value branch: "a side line connected to a main one"; Tag:power=switch: switches
  on high-voltage lines "are usually used on tap connections"): the node is the end of exactly one of the ways and
  lies inside every other one. The way that ends there is the branch, and the switch breaks it.
- **name/ref**: the switch's `ref` or `name` equals the `ref` or `name` of exactly one of the lines.
- **main line continues** (only where the node says line_management=branch, or the older pole:type=branch or
  tower:type=branch): every way ends at the node, and all but one share a `ref` or `name` with another way there
  (the main line, mapped as several ways); the one left is the branch.
- **voltage**: exactly one of the lines carries the switch's `voltage`.

Every rule that gives an answer must give the same line, and that line must end at the node (a line passing
through would leave open which side the others join); otherwise the switch is reported with the reason. Nodes
tagged line_management=split or cross (several lines from one origin part, or lines only share a support) are
reported whatever the other rules say.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.osm_model import Element, voltages_kv

BRANCH_KEYS = ("line_management", "pole:type", "tower:type")
NOT_ONE_BRANCH = ("split", "cross")  # line_management values that say no single line branches off here


@dataclass(frozen=True)
class Meeting:
    """A line at the switch's node: its index in the extract's lines, and whether the node lies inside it."""

    line: int
    through: bool


@dataclass(frozen=True)
class Choice:
    """The line a switch breaks (index in the extract's lines), the line it joins on the other side, and the rules
    that chose it."""

    line: int
    partner: int
    rules: tuple[str, ...]


def _labels(tags: dict[str, str]) -> set[str]:
    return {v.strip().casefold() for k in ("ref", "name") if (v := tags.get(k)) and v.strip()}


def _management(tags: dict[str, str]) -> set[str]:
    return {part.strip().lower() for key in BRANCH_KEYS for part in tags.get(key, "").replace(";", "|").split("|")}


def _voltages(tag: str | None) -> set[float]:
    return set(voltages_kv(tag))


def _answers(switch: Element, meeting: list[Meeting], lines: list[Element]) -> dict[int, list[str]]:
    """Each rule's line, when the rule picks exactly one: line index -> the rules that picked it."""
    picked: dict[int, list[str]] = {}
    ending = [m.line for m in meeting if not m.through]
    if len(ending) == 1:
        picked.setdefault(ending[0], []).append("branch: the only line that ends at the switch")
    own = _labels(switch.tags)
    named = [m.line for m in meeting if own & _labels(lines[m.line].tags)]
    if own and len(named) == 1:
        picked.setdefault(named[0], []).append("name/ref: the switch's name or ref")
    if "branch" in _management(switch.tags) and not any(m.through for m in meeting):
        odd = [m.line for m in meeting if not any(_labels(lines[m.line].tags) & _labels(lines[o.line].tags)
                                                 for o in meeting if o.line != m.line)]
        if len(odd) == 1:
            picked.setdefault(odd[0], []).append("main line continues: the one way at a branch support that "
                                                 "shares no name or ref with another")
    volts = _voltages(switch.tags.get("voltage"))
    carrying = [m.line for m in meeting if volts and volts <= _voltages(lines[m.line].tags.get("voltage"))]
    if len(carrying) == 1:
        picked.setdefault(carrying[0], []).append("voltage: the only line at the switch's voltage")
    return picked


def broken_line(switch: Element, meeting: list[Meeting], lines: list[Element]) -> Choice | str:
    """The line a normally-open switch breaks where several lines meet at its node, and the line across from it;
    or why that is not clear (a sentence naming the lines)."""
    def met() -> str:
        return f"where {len(meeting)} lines meet (" + ", ".join(f"osm:{lines[m.line].osm_id}" for m in meeting) + ")"

    parting = _management(switch.tags) & set(NOT_ONE_BRANCH)
    if parting:
        return f"{met()}, tagged line_management={sorted(parting)[0]}: no single line branches off there"
    picked = _answers(switch, meeting, lines)
    if not picked:
        return (f"{met()}: no rule says which it breaks (no single line ends there, and no name, ref or voltage "
                "matches one line only)")
    if len(picked) > 1:
        said = "; ".join(f"osm:{lines[j].osm_id} by {', '.join(rules)}" for j, rules in sorted(picked.items()))
        return f"{met()}: the rules disagree ({said})"
    (line, rules), = picked.items()
    if any(m.through for m in meeting if m.line == line):
        return (f"{met()}: it breaks osm:{lines[line].osm_id}, which passes through the node, so which side the "
                "other lines join is not given")
    others = [m for m in meeting if m.line != line]
    volts = _voltages(lines[line].tags.get("voltage"))
    partner = min(others, key=lambda m: (not m.through, not (volts & _voltages(lines[m.line].tags.get("voltage"))),
                                         m.line)).line
    return Choice(line=line, partner=partner, rules=tuple(rules))
