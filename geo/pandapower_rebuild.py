"""A pandapower network rebuilt from a registry: the facilities and tie switches `import-facilities` stored from a
pandapower file, so that a power flow can check a switched network in the live product.

What an import keeps (geo.pandapower_net.read_pandapower, geo.pandapower_ties.open_ties,
geo.pandapower_attached): each element it imported as a facility with the external id '<file stem>:<table>:
<index>' and the attributes `element` (the table) and `pandapower` (every scalar column of the element's row, as
JSON); each open switch as a tie switch '<file stem>:switch:<index>' with its scalar columns (not `closed`: a tie
is open in normal operation); on each bus facility, its static generators, shunts, storage, wards, extended
wards, impedances and DC lines (`attached`) and the network's frequency, base power and the tables the import
left out (`network`). The rebuilt network has those rows under their own indices in the tables of
`pandapower.create_empty_network(f_hz=..., sn_mva=...)`; columns the registry does not hold are left empty
(None / NaN), as `missing` lists.

What it cannot have: elements the import left out. Elements out of service, or at buses no source reaches or
that have no position, are not in the registry (they carry nothing in the normal state either). Closed line and
transformer switches are not (a closed switch is an ideal connection in pandapower, so the flow is the same).
Tables the import does not keep (motors, asymmetric loads, FACTS devices, DC grids, characteristic tables) are
named in `not_imported`. A registry imported before the attached elements were kept has none of them and no
frequency: the flow then runs without them at `f_hz` (50 Hz unless given), and `missing` and `not_imported`
say so.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo.pandapower_attached import ATTACHED

TABLES = ("bus", "line", "trafo", "trafo3w", "load", "ext_grid", "gen", "switch")
NOT_IMPORTED = tuple(ATTACHED)  # what a registry imported before `attached` was kept lacks


@dataclass(frozen=True, eq=False)
class Rebuilt:
    """One network rebuilt from a registry: the pandapower network, which element each facility and tie is, and
    what the registry does not hold."""

    prefix: str  # the network's external id prefix ('<file stem>:')
    net: Any  # a pandapower network (pandapowerNet)
    elements: dict[str, str]  # facility external id -> 'line:7', 'bus:12', 'switch:3' ...
    switches: dict[str, int]  # tie external id -> its switch index in `net`
    missing: tuple[str, ...]  # '<table>.<column>': columns no stored row of that table has
    not_imported: tuple[str, ...] = NOT_IMPORTED  # tables of the file the registry does not hold


def split_id(external_id: str) -> tuple[str, str, int] | None:
    """'<file stem>:<table>:<index>' -> (prefix with its colon, table, index), or None for any other id."""
    rest, _, index = external_id.rpartition(":")
    stem, _, table = rest.rpartition(":")
    if not stem or table not in TABLES or not index.isdigit():
        return None
    return stem + ":", table, int(index)


def _stored(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)  # registries imported before strict JSON hold the row as text (NaN as NaN)
        except ValueError:
            return None
    return dict(value) if isinstance(value, Mapping) else None


def _values(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    return _stored(attributes.get("pandapower"))


def by_network(facilities: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    """Facilities (external id, attributes) that carry pandapower data, grouped by their network's prefix."""
    out: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for external_id, attributes in facilities:
        parts = split_id(external_id)
        if parts is not None and attributes.get("element") == parts[1] and "pandapower" in attributes:
            out.setdefault(parts[0], []).append((external_id, attributes))
    return out


def rebuild(prefix: str, facilities: Iterable[tuple[str, Mapping[str, Any]]],
            ties: Iterable[tuple[str, Mapping[str, Any]]] = (), *, f_hz: float = 50.0) -> Rebuilt:
    """The pandapower network of one prefix from its facilities (external id, attributes), with the elements its
    bus facilities hold, and its tie switches (external id, attributes), these as open switches. Rows of other
    prefixes, or without data, are ignored. The frequency (line capacitances depend on it) and base power are
    the stored ones; where the registry holds none, `f_hz` (50 unless given) and pandapower's 1 MVA, said in
    `missing`."""
    import pandapower  # only where a registry holds a pandapower network

    rows: dict[str, dict[int, dict[str, Any]]] = {table: {} for table in (*TABLES, *ATTACHED)}
    elements: dict[str, str] = {}
    network: dict[str, Any] = {}
    for external_id, attributes in facilities:
        parts = split_id(external_id)
        values = _values(attributes)
        if parts is None or parts[0] != prefix or values is None or attributes.get("element") != parts[1]:
            continue
        rows[parts[1]][parts[2]] = values
        elements[external_id] = f"{parts[1]}:{parts[2]}"
        if parts[1] == "bus":
            network = network or (_stored(attributes.get("network")) or {})
            for table, by_index in (_stored(attributes.get("attached")) or {}).items():
                if table in ATTACHED and isinstance(by_index, Mapping):
                    rows[table].update({int(i): dict(v) for i, v in by_index.items()
                                        if str(i).isdigit() and isinstance(v, Mapping)})
    switches: dict[str, int] = {}
    for external_id, attributes in ties:
        parts = split_id(external_id)
        if parts is None or parts[0] != prefix or parts[1] != "switch" or "et" not in attributes:
            continue
        values = {k: v for k, v in attributes.items() if k not in ("closes", "other_bus")}
        rows["switch"][parts[2]] = {**values, "closed": False}
        switches[external_id] = parts[2]
    missing = []
    frequency, base = network.get("f_hz"), network.get("sn_mva")
    if not isinstance(frequency, int | float) or isinstance(frequency, bool):
        frequency = f_hz
        missing.append(f"net.f_hz ({f_hz:g} Hz taken)")
    if not isinstance(base, int | float) or isinstance(base, bool):
        base = 1.0
        missing.append("net.sn_mva (1 MVA taken)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandapower's notes (numba missing) are not results
        net = pandapower.create_empty_network(f_hz=float(frequency), sn_mva=float(base))
    for table, columns in ATTACHED.items():  # an element whose bus the registry no longer holds cannot be rebuilt
        dropped = [i for i, v in rows[table].items() if any(v.get(c) not in rows["bus"] for c in columns)]
        for i in dropped:
            del rows[table][i]
        if dropped:
            missing.append(f"{table}: {len(dropped)} rows at buses not in the registry")
    for table, by_index in rows.items():
        if by_index:
            net[table], absent = _frame(net[table], by_index)
            missing += [f"{table}.{column}" for column in absent]
    left_out = network.get("left_out")
    not_imported = tuple(sorted(left_out)) if isinstance(left_out, Mapping) else NOT_IMPORTED
    return Rebuilt(prefix=prefix, net=net, elements=elements, switches=switches, missing=tuple(missing),
                   not_imported=not_imported)


def _frame(empty: pd.DataFrame, by_index: Mapping[int, Mapping[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    """The stored rows as the table: pandapower's columns first (with its dtypes where the values allow), the
    stored extras after; and pandapower's columns no row has."""
    frame = pd.DataFrame.from_dict(dict(by_index), orient="index").sort_index()
    absent = [c for c in empty.columns if c not in frame.columns]
    frame = frame.reindex(columns=list(empty.columns) + [c for c in frame.columns if c not in empty.columns])
    for column, dtype in empty.dtypes.items():
        if column in absent or frame[column].isna().any() and dtype.kind in "biu":
            continue  # a bool or int column with gaps stays as read (object / float)
        with contextlib.suppress(TypeError, ValueError):  # values its dtype cannot hold stay as stored
            frame[column] = frame[column].astype(dtype)
    frame.index = frame.index.astype("int64")
    return frame, absent
