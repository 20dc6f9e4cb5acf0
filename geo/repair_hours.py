"""The repair hours a case is planned with: a coordinator's override, else the crew's estimate, else a default.

The defaults by facility kind and severity are planning defaults for ranking, not engineering estimates: a
crew's estimate in a report, or a coordinator's override, always replaces them, and every figure taken from
here is flagged as a default.

No repair takes less than MIN_REPAIR_HOURS (a quarter of an hour): a figure of 0 would make a case infinitely
urgent. A crew's estimate outside the plausible range for its kind and severity, from PLAUSIBLE_FACTOR times
below to PLAUSIBLE_FACTOR times above the default (e.g. 3 to 48 h for a moderate substation, whose default is
12 h), is still used but flagged for the coordinator until they accept that estimate or override it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, SupportsFloat

from geo.message import N_, Code, Quantity, Text
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
OVERRIDE_SOURCE = Text(N_("coordinator override"))
ESTIMATE_SOURCE = Text(N_("crew estimate"))
DEFAULT_SOURCE = "default"  # the start of every default's source, e.g. "default for a severe substation"
MIN_REPAIR_HOURS = 0.25
PLAUSIBLE_FACTOR = 4.0


class RepairHours(NamedTuple):
    """The hours a case is planned with and where they come from, in words a coordinator reads."""

    hours: float
    source: str
    flag: str | None = None  # why a coordinator should look at the figure (an implausible crew estimate)

    @property
    def is_default(self) -> bool:
        """Whether the hours are a planning default rather than someone's figure."""
        return self.source.startswith(DEFAULT_SOURCE)


def default_repair_hours(kind: str, severity: str) -> float:
    """The planning default for a facility kind and severity."""
    return float(DEFAULT_REPAIR_HOURS.get(kind, DEFAULT_REPAIR_HOURS["other"])[SEVERITIES.index(severity)])


def plausible_range(kind: str, severity: str) -> tuple[float, float]:
    """The range of repair hours a crew's estimate is trusted in without a coordinator's look."""
    default = default_repair_hours(kind, severity)
    return max(MIN_REPAIR_HOURS, default / PLAUSIBLE_FACTOR), default * PLAUSIBLE_FACTOR


def worst_severity(severities: Iterable[str]) -> str:
    """The most severe of the reported severities (reports of one case may disagree)."""
    return max(severities, key=SEVERITIES.index, default="moderate")


def repair_hours(*, override: SupportsFloat | None, estimate: SupportsFloat | None, kind: str,
                 severities: Iterable[str], accepted: SupportsFloat | None = None) -> RepairHours:
    """A case's repair hours: the coordinator's override, else the crew's latest estimate, else the default for
    the facility kind and the worst reported severity; never below MIN_REPAIR_HOURS.

    An estimate outside the plausible range is flagged unless a coordinator accepted that very figure
    (`accepted`)."""
    severity = worst_severity(severities)
    if override is not None:
        return RepairHours(max(MIN_REPAIR_HOURS, float(override)), OVERRIDE_SOURCE)
    if estimate is not None:
        hours = float(estimate)
        low, high = plausible_range(kind, severity)
        if low <= hours <= high or (accepted is not None and float(accepted) == hours):
            return RepairHours(max(MIN_REPAIR_HOURS, hours), ESTIMATE_SOURCE)
        flag = (N_("the crew's estimate of {hours} h is far below the plausible {low}–{high} h for a {severity} "
                   "{kind}: used until a coordinator accepts or overrides it") if hours < low else
                N_("the crew's estimate of {hours} h is far above the plausible {low}–{high} h for a {severity} "
                   "{kind}: used until a coordinator accepts or overrides it"))
        return RepairHours(max(MIN_REPAIR_HOURS, hours), ESTIMATE_SOURCE,
                           Text(flag, hours=Quantity(hours, "hours"), low=Quantity(low, "hours"),
                                high=Quantity(high, "hours"), severity=Code(severity, "severity", spaced=False),
                                kind=Code(kind, "kind", spaced=False)))
    return RepairHours(default_repair_hours(kind, severity),
                       Text(N_("default for a {severity} {kind}"), severity=Code(severity, "severity", spaced=False),
                            kind=Code(kind, "kind", spaced=False)))


def remaining(planned: RepairHours, elapsed_hours: float) -> RepairHours:
    """What is left of a repair under way for `elapsed_hours`: the planned hours minus the time elapsed, never
    below MIN_REPAIR_HOURS; flagged as overdue once the repair has taken as long as planned."""
    elapsed = max(0.0, float(elapsed_hours))
    left = max(MIN_REPAIR_HOURS, planned.hours - elapsed)
    source = Text(N_("{source}: {left} h of {planned} h left after {elapsed} h of repair"), source=planned.source,
                  left=Quantity(left, "hours"), planned=Quantity(planned.hours, "hours"),
                  elapsed=Quantity(elapsed, "tenths"))
    if elapsed >= planned.hours:
        return RepairHours(left, source, Text(N_("overdue: in repair for {elapsed} h, over its {planned} h ({source}); "
                                                 "planned with {left} h left"), elapsed=Quantity(elapsed, "tenths"),
                                              planned=Quantity(planned.hours, "hours"), source=planned.source,
                                              left=Quantity(left, "hours")))
    return RepairHours(left, source, planned.flag)
