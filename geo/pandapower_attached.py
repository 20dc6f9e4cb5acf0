"""What a pandapower network's power flow needs beyond its facilities: static generators, shunts, storage, wards,
extended wards, impedances and DC lines, and the network's frequency and base power, kept as attributes of
their bus's facility (`import-facilities` stores them; geo.pandapower_rebuild rebuilds them).

Why on the bus and not as facilities of their own: a facility is what the triage ranks and what population is
attached to. These elements would be leaves of the feed graph at their bus's position, so derive-service-areas
would give each one a Voronoi cell and people, taken from the load beside it. Two of them (wards, extended wards)
and often impedances are network equivalents, not assets a crew finds. The bus facility keeps them under
`attached`: table -> index (as text) -> the element's scalar columns. An impedance or DC line is kept on its
`from_bus`, and only when both its buses are in the registry. Every bus facility also has `network`: `f_hz`,
`sn_mva` and `left_out`, the tables of the file the import does not keep (table -> rows), so the power-flow
check can say which ones it lacks. `measurement`, `pwl_cost`, `poly_cost`, `controller` and `group` are not
counted: the Newton-Raphson power flow does not read them (state estimation, OPF costs, control loops,
bookkeeping).

Values are strict JSON: NaN and missing values become null, infinities the strings 'inf' / '-inf' (which
pandas reads back as floats), numpy scalars plain numbers.

A static generator is not a source for the triage, even when it feeds (in service, p_mw > 0). Grid codes
(EN 50549-1/-2, VDE-AR-N 4105/4110, IEEE 1547) make distributed generation disconnect when it loses the grid
(anti-islanding), so it does not keep a dark part of the network energised. The triage therefore sees its bus as
fed from the grid only, and the power flow counts its infeed while the grid is there. Storage is kept the same
way. A voltage-controlling generator (`gen`) stays a source, as before.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

ATTACHED = {"sgen": ("bus",), "shunt": ("bus",), "storage": ("bus",), "ward": ("bus",), "xward": ("bus",),
            "impedance": ("from_bus", "to_bus"), "dcline": ("from_bus", "to_bus")}
KEPT = ("bus", "line", "trafo", "trafo3w", "load", "ext_grid", "gen", "switch", *ATTACHED)
NOT_FOR_THE_FLOW = ("measurement", "pwl_cost", "poly_cost", "controller", "group")


@dataclass(frozen=True)
class Attached:
    """A network's attached elements by the bus that holds them, its scalars, and what was stored and skipped."""

    by_bus: dict[int, dict[str, dict[str, dict[str, Any]]]]  # bus -> table -> index (text) -> values
    network: dict[str, Any]  # f_hz, sn_mva, left_out
    stored: dict[str, int]  # table -> rows kept
    skipped: dict[str, int]  # reason -> rows


_PLAIN = frozenset((str, int, bool))


def strict(value: Any) -> Any:
    """A cell as a strict JSON value: numbers, text, booleans or None (NaN, NA); 'inf' / '-inf' for infinities."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value if not math.isinf(value) else "inf" if value > 0 else "-inf"
    return value if isinstance(value, str | int | bool) else None


def row_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """An element's scalar columns (not its `geo` course) as strict JSON values."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "geo":
            continue
        kind = type(value)
        if kind in _PLAIN or kind is float and -math.inf < value < math.inf:  # most cells: kept as they are
            out[key] = value
        elif value is None or value is pd.NA or isinstance(value, float | np.generic):
            out[key] = strict(value)
    return out


def attach(tables: Mapping[str, pd.DataFrame], *, buses: Collection[int], f_hz: float | None,
           sn_mva: float | None) -> Attached:
    """The in-service attached elements of the network at buses in `buses` (those the registry holds), by the
    bus that keeps them, with the network's scalars; elements out of service or at other buses are counted."""
    by_bus: dict[int, dict[str, dict[str, dict[str, Any]]]] = {}
    stored: dict[str, int] = {}
    skipped: dict[str, int] = {}
    held = set(buses)
    for table, columns in ATTACHED.items():
        frame = tables.get(table)
        if frame is None or not len(frame):
            continue
        for index, record in frame.to_dict("index").items():
            if "in_service" in record and not bool(record["in_service"]):
                reason = f"{table}: out of service"
            elif not all(int(record[c]) in held for c in columns):
                reason = f"{table}: at a bus the registry does not hold (no source reaches it, or no position)"
            else:
                at = int(record[columns[0]])
                by_bus.setdefault(at, {}).setdefault(table, {})[str(int(index))] = row_json(record)
                stored[table] = stored.get(table, 0) + 1
                continue
            skipped[reason] = skipped.get(reason, 0) + 1
    left_out = {name: len(frame) for name, frame in tables.items()
                if isinstance(frame, pd.DataFrame) and len(frame) and name not in KEPT
                and name not in NOT_FOR_THE_FLOW and not name.startswith(("res_", "_")) and name != "bus_geodata"
                and name != "line_geodata"}
    network = {"f_hz": strict(f_hz), "sn_mva": strict(sn_mva), "left_out": left_out}
    return Attached(by_bus=by_bus, network=network, stored=stored, skipped=skipped)


def report_lines(attached: Attached) -> tuple[str, ...]:
    """What the import kept for the power flow, in lines a data manager reads."""
    kept = ", ".join(f"{n} {table}" for table, n in attached.stored.items()) or "none"
    net = attached.network
    left = ", ".join(f"{table} ({n} rows)" for table, n in sorted(net["left_out"].items())) or "none"
    frequency = f"{net['f_hz']:g} Hz" if isinstance(net["f_hz"], int | float) else "frequency not given"
    base = f"base {net['sn_mva']:g} MVA" if isinstance(net["sn_mva"], int | float) else "base power not given"
    return (f"kept on their buses for the power flow (not feed paths, not sources): {kept}",
            f"network: {frequency}, {base}; tables not imported: {left}")
