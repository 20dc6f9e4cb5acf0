"""Tie switches in the coordinator's situation: closed ties are part of the live network (the people they feed
count as supplied), open ones are proposals (geo.ties chooses the switching steps); app/coordinator/proposals.py
ranks and plans on the network after them. Flask-free: load_situation calls it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.repo import Conn
from app.repo import switches as repo
from geo import live, ties
from geo.message import N_, Text
from geo.network import Facility
from geo.pandapower_flow import NOT_POSSIBLE
from geo.switching import REMOTE_HOURS, SWITCH_HOURS

# The registry holds no bus, line or transformer data, so no power flow can check a switched network here.
NO_FLOW = {"status": NOT_POSSIBLE,
           "reason": Text(N_("the power-flow check was not possible: the registry holds no electrical data"))}
DONE_BY = Text(N_("switching steps are done by the control room or a switching operator, not by the repair crews"))


@dataclass(frozen=True, eq=False)
class TieSwitching:
    """The ties of the registry applied to the network: geo's result, the stored rows by tie id, and the
    situation after the proposed steps once someone asks for it."""

    result: ties.Switching
    rows: dict[str, dict[str, Any]]
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def steps(self) -> tuple[ties.Step, ...]:
        return self.result.steps


def apply_ties(conn: Conn, facilities: Sequence[Facility], states: Mapping[str, live.State],
               position: Mapping[str, int]) -> TieSwitching:
    """Read the tie switches and apply them to the facilities (`position`: a facility id as text -> its place in
    `facilities`): the closed ones as part of the network, the open ones as proposed switching steps."""
    rows = repo.ties(conn)
    node = {r[end]: facilities[position[r[end]]].id for r in rows for end in ("facility_a", "facility_b")}
    found = [ties.Tie(id=str(r["id"]), name=r["name"], a=node[r["facility_a"]], b=node[r["facility_b"]],
                      remote=bool(r["remote"]), hours=r["switch_hours"], closed=r["closed_at"] is not None)
             for r in rows]
    conducting = {node: 1.0 - s.share_out for node, s in states.items() if s.share_out < 1.0}
    result = ties.switching(facilities, found, remote_hours=REMOTE_HOURS, manual_hours=SWITCH_HOURS,
                            conducting=conducting)
    return TieSwitching(result=result, rows={str(r["id"]): r for r in rows})
