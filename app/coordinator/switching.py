"""Tie switches in the coordinator's situation: closed ties are part of the live network (the people they feed
count as supplied), open ones are proposals (geo.ties chooses the switching steps); app/coordinator/proposals.py
ranks and plans on the network after them. Flask-free: load_situation calls it.

Where the registry holds a network imported from pandapower (its facilities' `pandapower` attributes), each
proposed step whose switch and two ends come from that network is checked by a power flow
(geo.pandapower_flow.check_switching) on the network rebuilt from the registry (geo.pandapower_rebuild): its
damaged elements out of service (those that still pass power on, degraded or operating, stay in), the closed
ties, the earlier steps and this one closed. The rebuilt networks are kept per registry revision and tie
switches, the verdicts per (revision, network, damaged elements, switches closed); elsewhere the check is said
to be not possible."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.coordinator import registry
from app.repo import Conn
from app.repo import switches as repo
from app.repo import triage as triage_repo
from geo import live, pandapower_rebuild, ties
from geo.message import N_, Quantity, Text
from geo.network import Facility
from geo.pandapower_flow import NOT_POSSIBLE, WITHIN, Breach, FlowCheck, check_switching
from geo.switching import REMOTE_HOURS, SWITCH_HOURS

POWER_FLOW = True  # bench/bench_switching_flow.py turns the check off for its baseline
KEEP_NETWORKS, KEEP_FLOWS = 2, 512
# A power flow takes about 70 ms on MV Oberrhein (more on larger networks): the first steps (the most valuable)
# are checked, the others say that the check was not run.
CHECKED_STEPS = 12

# The registry holds no bus, line or transformer data, so no power flow can check a switched network here.
NO_FLOW = {"status": NOT_POSSIBLE,
           "reason": Text(N_("the power-flow check was not possible: the registry holds no electrical data"))}
NOT_THIS_NETWORK = {"status": NOT_POSSIBLE, "reason": Text(N_(
    "the power-flow check was not possible: this switch and its two ends are not all from one network with "
    "electrical data"))}
DONE_BY = Text(N_("switching steps are done by the control room or a switching operator, not by the repair crews"))


@dataclass(frozen=True, eq=False)
class Electrical:
    """The registry's pandapower networks at one revision: each rebuilt, and which element each facility and tie
    switch is in which of them."""

    key: tuple[object, ...]  # the registry revision's token and the tie switches it was built with
    networks: dict[str, pandapower_rebuild.Rebuilt]  # by prefix
    element: dict[str, tuple[str, str]]  # facility id (text) -> (prefix, 'line:7')
    switch: dict[str, tuple[str, int]]  # tie switch id (text) -> (prefix, switch index)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)


_lock = threading.Lock()
_networks: dict[tuple[object, ...], Electrical] = {}
_flows: dict[tuple[object, ...], FlowCheck] = {}


def electrical(conn: Conn, tie_rows: Sequence[Mapping[str, Any]]) -> Electrical | None:
    """The registry's pandapower networks, rebuilt once per registry revision and set of tie switches (None when
    it holds none)."""
    global _networks
    key = (triage_repo.registry_revision(conn)["token"], tuple((str(r["id"]), r["external_id"]) for r in tie_rows))
    found = _networks.get(key)
    if found is None:
        with _lock:  # one rebuild per revision; readers see the old dict or the new one, never a half-made one
            found = _networks.get(key) or _rebuild(conn, key)
            kept = {k: v for k, v in _networks.items() if k != key}
            while len(kept) >= KEEP_NETWORKS:
                kept.pop(next(iter(kept)))
            _networks = kept | {key: found}
    return found if found.networks else None


def _rebuild(conn: Conn, key: tuple[object, ...]) -> Electrical:
    rows = repo.pandapower_facilities(conn)
    grouped = pandapower_rebuild.by_network((r["external_id"], r["attributes"]) for r in rows)
    if not grouped:
        return Electrical(key=key, networks={}, element={}, switch={})
    tie_rows = repo.pandapower_ties(conn)
    networks = {prefix: pandapower_rebuild.rebuild(prefix, members, [(t["external_id"], t["attributes"])
                                                                      for t in tie_rows])
                for prefix, members in grouped.items()}
    by_external = {r["external_id"]: r["id"] for r in rows}
    element = {by_external[e]: (prefix, name) for prefix, net in networks.items() for e, name in net.elements.items()}
    by_tie = {t["external_id"]: t["id"] for t in tie_rows}
    switch = {by_tie[e]: (prefix, index) for prefix, net in networks.items() for e, index in net.switches.items()}
    return Electrical(key=key, networks=networks, element=element, switch=switch)


@dataclass(frozen=True, eq=False)
class TieSwitching:
    """The ties of the registry applied to the network: geo's result, the stored rows by tie id, and the
    situation after the proposed steps once someone asks for it; with the registry's electrical data, what a
    power flow says of each step."""

    result: ties.Switching
    rows: dict[str, dict[str, Any]]
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    electrical: Electrical | None = None
    damaged: tuple[str, ...] = ()  # facility ids (text) of the electrical networks out of service now

    @property
    def steps(self) -> tuple[ties.Step, ...]:
        return self.result.steps

    def flow(self, number: int) -> dict[str, Any]:
        """The power-flow check of the step at `number` (with the closed ties and the steps before it closed)."""
        grid = self.electrical
        step = self.result.steps[number]
        row = self.rows[step.tie.id]
        at = grid.switch.get(step.tie.id) if grid else None
        ends = {grid.element.get(row[end], ("", ""))[0] for end in ("facility_a", "facility_b")} if grid else set()
        if grid is None or at is None or ends != {at[0]}:
            return NO_FLOW if grid is None else NOT_THIS_NETWORK
        if number >= CHECKED_STEPS:
            return {"status": NOT_POSSIBLE, "reason": Text(N_(
                "the power-flow check was not run: only the first {count} steps are checked"),
                count=Quantity(CHECKED_STEPS, "count"))}
        prefix = at[0]
        closed = [t for t, r in self.rows.items() if r["closed_at"] is not None]
        close = sorted({grid.switch[t][1] for t in [*closed, *(s.tie.id for s in self.result.steps[:number + 1])]
                        if t in grid.switch and grid.switch[t][0] == prefix})
        out = sorted({grid.element[f][1] for f in self.damaged if grid.element[f][0] == prefix})
        key = (grid.key, prefix, tuple(out), tuple(close))
        check = _flows.get(key)
        if check is None:
            check = check_switching(grid.networks[prefix].net, close=close, out_of_service=out)
            with _lock:
                while len(_flows) >= KEEP_FLOWS:
                    _flows.pop(next(iter(_flows)))
                _flows[key] = check
        rebuilt = grid.networks[prefix]
        return {**flow_json(check), "network": prefix.removesuffix(":"),
                "not_in_registry": [*rebuilt.missing, *(f"{table} (never imported)" for table in rebuilt.not_imported)]}


def flow_json(check: FlowCheck) -> dict[str, Any]:
    """A power-flow verdict as the API gives it: its figures, and its sentence said in the reader's language."""
    return {**check.as_json(), "reason": verdict(check)}


def verdict(check: FlowCheck) -> Text:
    """The verdict in one sentence: within limits with the peaks, the limits broken, or no convergence."""
    if check.status == WITHIN:
        return Text(N_("the power flow stays within limits: lines loaded up to {line} %, transformers up to "
                       "{trafo} %, voltages {low}-{high} pu"),
                    line=_figure(check.max_line_loading_percent, "tenths"),
                    trafo=_figure(check.max_trafo_loading_percent, "tenths"),
                    low=_figure(check.min_vm_pu, "hours"), high=_figure(check.max_vm_pu, "hours"))
    if check.converged is False:
        return Text(N_("the power flow does not converge: the switched network cannot carry the load (voltage "
                       "collapse)"))
    if check.breaches:
        said = Text.joined(*(_breach(b) for b in check.breaches[:3]), sep="; ")
        if len(check.breaches) > 3:
            return Text(N_("the power flow breaks limits: {breaches} and {count} more"), breaches=said,
                        count=Quantity(len(check.breaches) - 3, "count"))
        return Text(N_("the power flow breaks limits: {breaches}"), breaches=said)
    return Text(N_("the power-flow check was not possible: {reason}"),
                reason=check.reason.removeprefix("the power-flow check was not possible: "))


def _breach(breach: Breach) -> Text:
    if breach.table == "bus":
        return Text(N_("bus {element} at {value} pu (bounds {low}-{high} pu)"), element=breach.element,
                    value=Quantity(breach.value, "hours"), low=Quantity(breach.low or 0.0, "hours"),
                    high=Quantity(breach.high, "hours"))
    if breach.table == "trafo":
        return Text(N_("transformer {element} loaded {value} % (limit {limit} %)"), element=breach.element,
                    value=Quantity(breach.value, "tenths"), limit=Quantity(breach.high, "hours"))
    return Text(N_("line {element} loaded {value} % (limit {limit} %)"), element=breach.element,
                value=Quantity(breach.value, "tenths"), limit=Quantity(breach.high, "hours"))


def _figure(value: float | None, style: str) -> Quantity | str:
    return "?" if value is None else Quantity(value, style)


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
    # Without ties a forest is left as it is; a meshed registry (as the kept one says, else looked at) has its
    # feed links oriented so that what any path energises counts as energised (geo.mesh).
    result = ties.switching(facilities, found, remote_hours=REMOTE_HOURS, manual_hours=SWITCH_HOURS,
                            conducting=conducting, meshed=registry.meshed(position))
    grid = electrical(conn, rows) if result.steps and POWER_FLOW else None
    damaged: tuple[str, ...] = ()
    if grid is not None:  # out of service: damaged facilities of its networks that pass no power on
        damaged = tuple(f for f in (_facility_of(grid, facilities, position).get(node) for node in states
                                    if node not in conducting) if f is not None)
    return TieSwitching(result=result, rows={str(r["id"]): r for r in rows}, electrical=grid, damaged=damaged)


def _facility_of(grid: Electrical, facilities: Sequence[Facility], position: Mapping[str, int]) -> dict[str, str]:
    """Network id -> facility id (text) of the electrical networks' facilities, made once per kept networks (the
    registry's network ids do not change while its revision does not)."""
    found: dict[str, str] | None = grid.cache.get("facility_of")
    if found is None:
        found = {str(facilities[position[f]].id): f for f in grid.element if f in position}
        grid.cache["facility_of"] = found
    return found
