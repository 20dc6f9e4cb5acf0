"""Default repair hours by facility kind and severity, for cases whose reports give none.

These are planning defaults for ranking, not engineering estimates: a crew's estimate in a report, or a
coordinator's override, always replaces them, and every figure taken from here is flagged as a default.
"""

from __future__ import annotations

from collections.abc import Iterable

from geo.taxonomy import SEVERITIES

# hours for minor, moderate, severe, destroyed
DEFAULT_REPAIR_HOURS: dict[str, tuple[float, float, float, float]] = {
    "power_plant": (8, 48, 240, 720),
    "chp_plant": (8, 48, 240, 720),
    "heat_plant": (6, 24, 96, 336),
    "substation": (4, 12, 48, 168),
    "transformer": (3, 8, 24, 72),
    "line": (2, 6, 16, 48),
    "gas_facility": (4, 12, 48, 168),
    "other": (4, 12, 36, 120),
}


def default_repair_hours(kind: str, severity: str) -> float:
    """The planning default for a facility kind and severity."""
    return float(DEFAULT_REPAIR_HOURS.get(kind, DEFAULT_REPAIR_HOURS["other"])[SEVERITIES.index(severity)])


def worst_severity(severities: Iterable[str]) -> str:
    """The most severe of the reported severities (reports of one case may disagree)."""
    return max(severities, key=SEVERITIES.index, default="moderate")

