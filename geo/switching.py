"""Switching as a way to restore: a normally-open switch that reconnects a dark part of a pandapower network to
another healthy source, proposed next to the repairs it stands in for.

Energisation here is exact: a bus has power when any path of in-service, undamaged elements and closed switches
joins it to a source (an external grid or generator), whatever the direction. Bus-bus switches and line or
transformer switches are considered; a damaged switch cannot be closed. An option restores the buses that closing
its one switch re-energises; it stands in for each damaged element whose repair alone would bring at least one
of those buses back, and it saves, per bus, its people x (the earliest such repair - the switching time). Where the
network has electrical data the switched network is checked by a power flow (`geo.pandapower_flow`); where not,
the option says the check was not possible.

`python -m geo.switching_plan` prints the options of a network file, and a plan that uses them, as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo.pandapower_flow import NOT_POSSIBLE, FlowCheck, check_switching
from geo.pandapower_net import SOURCES, branch_terminals

SWITCH_HOURS = 0.5  # closing a switch on site: travel plus minutes
REMOTE_HOURS = 0.1  # closing a remote-controlled switch from the control room: minutes


@dataclass(frozen=True)
class SwitchingOption:
    """Closing one open switch: whom it restores, how soon, which repairs it stands in for, and the power flow."""

    switch: str  # 'switch:<index>'
    name: str
    restores_buses: tuple[int, ...]
    people: float
    hours: float
    bridges: tuple[str, ...]  # damaged elements whose repair it stands in for
    people_hours_saved: float
    flow: FlowCheck
    remote: bool = False  # closed from the control room

    @property
    def sentence(self) -> str:
        """The proposal in one sentence a coordinator can check."""
        repairs = " and ".join(self.bridges) if self.bridges else "the damage"
        verb = "are" if len(self.bridges) > 1 else "is"
        how = " (remote)" if self.remote else ""
        return (f"close switch {self.name}{how}: restores {self.people:,.0f} people in {self.hours:g} h while "
                f"{repairs} {verb} repaired; {self.flow.reason}")

    def as_json(self) -> dict[str, Any]:
        """The option as JSON values (the shape of the triage's optional `switching` rows)."""
        return {"switch": self.switch, "name": self.name, "restores_buses": list(self.restores_buses),
                "people": round(self.people, 1), "hours": self.hours, "bridges": list(self.bridges),
                "people_hours_saved": round(self.people_hours_saved, 1), "remote": self.remote,
                "flow": self.flow.as_json(),
                "sentence": self.sentence}


def energised(tables: Mapping[str, pd.DataFrame], *, damaged: Iterable[str] = (),
              close: Iterable[int] = ()) -> set[int]:
    """Buses joined to a source by in-service, undamaged elements and closed switches (and those in `close`)."""
    out = set(damaged)
    switch = tables.get("switch", pd.DataFrame())
    if len(switch):
        switch = switch.copy()
        switch.loc[[int(i) for i in close], "closed"] = True
        switch.loc[[i for i in switch.index if f"switch:{i}" in out], "closed"] = False
    terminals, _ = branch_terminals({**tables, "switch": switch}, switches=True)
    bus = tables["bus"]
    known = {int(b) for b, live in zip(bus.index, bus.get("in_service", pd.Series(True, index=bus.index)),
                                       strict=True) if bool(live) and f"bus:{b}" not in out}
    adjacent: dict[int, set[int]] = {b: set() for b in known}
    for element, ends in terminals.items():
        if element in out:
            continue
        inside = [b for b in ends if b in known]
        for b in inside:
            adjacent[b].update(inside)
    reached: set[int] = set()
    stack = [int(r["bus"]) for t in SOURCES for i, r in tables.get(t, pd.DataFrame()).iterrows()
             if bool(r.get("in_service", True)) and f"{t}:{i}" not in out and int(r["bus"]) in known]
    while stack:
        b = stack.pop()
        if b not in reached:
            reached.add(b)
            stack.extend(adjacent[b] - reached)
    return reached


def people_at(tables: Mapping[str, pd.DataFrame], people_per_kw: float) -> dict[int, float]:
    """People at each bus: its in-service loads' nominal p_mw x 1000 x people_per_kw."""
    load = tables.get("load", pd.DataFrame())
    people: dict[int, float] = {}
    for _, row in load.iterrows():
        if bool(row.get("in_service", True)):
            people[int(row["bus"])] = people.get(int(row["bus"]), 0.0) + float(row["p_mw"]) * 1000.0 * people_per_kw
    return people


def options(tables: Mapping[str, pd.DataFrame], repair_hours: Mapping[str, float], *, people_per_kw: float,
            net: Any = None, switch_hours: float = SWITCH_HOURS, closed: Iterable[int] = (),
            remote: Iterable[int] = (), remote_hours: float = REMOTE_HOURS) -> list[SwitchingOption]:
    """The open switches whose closing restores buses dark because of the damage (element id -> repair hours),
    most people-hours saved first, each with its power-flow check (run on `net`, the pandapower network);
    `closed`: switches already closed by earlier steps; `remote`: remote-controlled switches (as are those whose
    row has a true `remote` column), closed in `remote_hours` instead of `switch_hours`."""
    if not people_per_kw > 0 or not switch_hours >= 0 or not remote_hours >= 0:
        raise ValueError("people_per_kw must be > 0, switch_hours and remote_hours >= 0")
    damaged = set(repair_hours)
    for element in sorted(damaged):
        table, _, number = element.partition(":")
        if table not in tables or not number.isdigit() or int(number) not in tables[table].index:
            raise ValueError(f"damaged element {element!r}: not in the network")
    shut = [int(i) for i in closed]
    now = energised(tables, damaged=damaged, close=shut)
    dark = energised(tables) - now
    switch = tables.get("switch", pd.DataFrame())
    if not dark or not len(switch):
        return []
    people = people_at(tables, people_per_kw)
    alone = {e: energised(tables, damaged=damaged - {e}, close=shut) & dark for e in sorted(damaged)}
    found = []
    controlled = {int(i) for i in remote}
    if "remote" in switch.columns:
        controlled |= {int(i) for i, r in switch["remote"].items() if r is True or r == 1}
    for index, row in switch[~switch["closed"].astype(bool)].iterrows():
        if f"switch:{index}" in damaged or int(index) in shut:
            continue
        hours = remote_hours if int(index) in controlled else switch_hours
        restored = (energised(tables, damaged=damaged, close=[*shut, int(index)]) - now) & dark
        if not restored:
            continue
        bridges = tuple(e for e, back in alone.items() if back & restored)
        saved = 0.0
        for b in restored:
            waits = [repair_hours[e] for e in bridges if b in alone[e]]
            saved += people.get(b, 0.0) * max(0.0, min(waits) - hours) if waits else 0.0
        flow = (check_switching(net, close=[*shut, int(index)], out_of_service=damaged) if net is not None else
                FlowCheck(NOT_POSSIBLE, "the power-flow check was not possible: the network has no electrical data"))
        label = row.get("name")
        found.append(SwitchingOption(
            switch=f"switch:{index}", name=label if isinstance(label, str) and label else f"switch:{index}",
            restores_buses=tuple(sorted(restored)), people=sum(people.get(b, 0.0) for b in restored),
            hours=hours, bridges=bridges, people_hours_saved=saved, flow=flow, remote=int(index) in controlled))
    return sorted(found, key=lambda o: (-o.people_hours_saved, -o.people, o.switch))


def elements_of(repair_hours: Mapping[str, float], *, prefix: str) -> tuple[dict[str, float], tuple[str, ...]]:
    """Damaged registry facilities ('<network file stem>:line:97' -> repair hours, as `import-facilities` names a
    pandapower network's elements) as that network's elements, and the facility ids that are not of it."""
    mine = {f[len(prefix):]: h for f, h in repair_hours.items() if f.startswith(prefix)}
    return {e: h for e, h in mine.items() if not e.startswith("load:")}, tuple(
        sorted(f for f in repair_hours if not f.startswith(prefix)))
