"""The repair hours a case is planned with: a coordinator's override, else the crew's estimate, else a default.

The defaults by facility kind and severity are planning defaults for ranking, not engineering estimates: a
crew's estimate in a report, or a coordinator's override, always replaces them, and every figure taken from
here is flagged as a default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, SupportsFloat

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
OVERRIDE_SOURCE = "coordinator override"
ESTIMATE_SOURCE = "crew estimate"
DEFAULT_SOURCE = "default"  # the start of every default's source, e.g. "default for a severe substation"


class RepairHours(NamedTuple):
    """The hours a case is planned with and where they come from, in words a coordinator reads."""

    hours: float
    source: str

    @property
    def is_default(self) -> bool:
        """Whether the hours are a planning default rather than someone's figure."""
        return self.source.startswith(DEFAULT_SOURCE)


def default_repair_hours(kind: str, severity: str) -> float:
    """The planning default for a facility kind and severity."""
    return float(DEFAULT_REPAIR_HOURS.get(kind, DEFAULT_REPAIR_HOURS["other"])[SEVERITIES.index(severity)])


def worst_severity(severities: Iterable[str]) -> str:
    """The most severe of the reported severities (reports of one case may disagree)."""
    return max(severities, key=SEVERITIES.index, default="moderate")


def repair_hours(*, override: SupportsFloat | None, estimate: SupportsFloat | None, kind: str,
                 severities: Iterable[str]) -> RepairHours:
    """A case's repair hours: the coordinator's override, else the crew's latest estimate, else the default for
    the facility kind and the worst reported severity."""
    if override is not None:
        return RepairHours(float(override), OVERRIDE_SOURCE)
    if estimate is not None:
        return RepairHours(float(estimate), ESTIMATE_SOURCE)
    severity = worst_severity(severities)
    return RepairHours(default_repair_hours(kind, severity), f"{DEFAULT_SOURCE} for a {severity} {kind}")
