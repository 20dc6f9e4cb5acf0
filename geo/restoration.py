"""When each area gets power back under a plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def area_etr(parents: Mapping[str, Sequence[str]], order: Sequence[str],
             etr_hours: Mapping[str, float]) -> dict[str, float]:
    """Hours until each facility's own area has power: its repair's ETR if damaged, else its earliest-fed parent's.

    `order` lists facilities parents first; facilities without parents (sources) have power now (0 h).
    A facility is fed when any parent is (meshed networks), and not before its own repair is done.
    """
    energised: dict[str, float] = {}
    for facility in order:
        fed = min((energised[p] for p in parents.get(facility, ())), default=0.0)
        energised[facility] = max(fed, etr_hours.get(facility, 0.0))
    return energised
