"""When a crew may start at a site: its access state and the materials it waits for.

A case's access is what a coordinator (or crew) last said, else it follows from the hazards its reports name:
unexploded ordnance (`uxo`) means the site needs clearance by the military or the emergency service first, a
blocked access (`access_blocked`) means no way in for now, anything else is cleared. A repair may not start before
the expected clearance nor before its materials are due: the later of the two is the case's release time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from geo.message import N_, Code, Text
from geo.taxonomy import ACCESS_STATES

NEEDS_CLEARANCE, CLEARED, BLOCKED = ACCESS_STATES
FROM_HAZARDS = "from_hazards"  # the set_access value that hands the access state back to the hazards
HAZARD_ACCESS = {"uxo": NEEDS_CLEARANCE, "access_blocked": BLOCKED}


class Access(NamedTuple):
    """A case's access state and where it comes from, in words."""

    state: str
    source: str


def access(stored: str | None, hazards: Iterable[str]) -> Access:
    """The access state a coordinator or crew set, else the one the reported hazards imply (blocked wins)."""
    if stored is not None:
        return Access(stored, Text(N_("set on the case")))
    implied = {HAZARD_ACCESS[h]: h for h in hazards if h in HAZARD_ACCESS}
    for state in (BLOCKED, NEEDS_CLEARANCE):
        if state in implied:
            return Access(state, Text(N_("from the reported hazard {hazard}"),
                                      hazard=Code(implied[state], "hazard", spaced=False)))
    return Access(CLEARED, Text(N_("no hazard that limits access reported")))


def release(state: str, expected_at: datetime | None, materials_until: datetime | None) -> datetime | None:
    """The earliest time the repair may start (None: no wait), from the expected clearance of a site that needs
    clearance or is blocked, and the time its materials are due."""
    waits = [t for t in ((expected_at if state != CLEARED else None), materials_until) if t is not None]
    return max(waits) if waits else None
