"""A pandapower network rebuilt from a registry: the facilities and tie switches `import-facilities` stored from a
pandapower file, so that a power flow can check a switched network in the live product.

What an import keeps (geo.pandapower_net.read_pandapower, geo.pandapower_ties.open_ties): each element it
imported as a facility with the external id '<file stem>:<table>:<index>' and the attributes `element` (the
table) and `pandapower` (every scalar column of the element's row, as JSON); each open switch as a tie switch
'<file stem>:switch:<index>' with its scalar columns (not `closed`: a tie is open in normal operation). The
rebuilt network has those rows under their own indices in the tables of `pandapower.create_empty_network()`;
columns the registry does not hold are left empty (None / NaN), as `missing` lists.

What it cannot have: elements the import left out. Elements out of service, or at buses no source reaches or
that have no position, are not in the registry (they carry nothing in the normal state either). Closed line and
transformer switches are not (a closed switch is an ideal connection in pandapower, so the flow is the same).
Static generators, shunts, storage, wards, impedances and DC lines are not imported at all: the flow runs
without them (`not_imported` says so), which on a network whose static generators produce (pandapower's
`scaling` > 0) gives other figures than the file's.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

TABLES = ("bus", "line", "trafo", "trafo3w", "load", "ext_grid", "gen", "switch")
NOT_IMPORTED = ("sgen", "shunt", "storage", "ward", "xward", "impedance", "dcline")


@dataclass(frozen=True, eq=False)
class Rebuilt:
    """One network rebuilt from a registry: the pandapower network, which element each facility and tie is, and
    what the registry does not hold."""

    prefix: str  # the network's external id prefix ('<file stem>:')
    net: Any  # a pandapower network (pandapowerNet)
    elements: dict[str, str]  # facility external id -> 'line:7', 'bus:12', 'switch:3' ...
    switches: dict[str, int]  # tie external id -> its switch index in `net`
    missing: tuple[str, ...]  # '<table>.<column>': columns no stored row of that table has
    not_imported: tuple[str, ...] = NOT_IMPORTED  # tables an import never keeps


def split_id(external_id: str) -> tuple[str, str, int] | None:
    """'<file stem>:<table>:<index>' -> (prefix with its colon, table, index), or None for any other id."""
    rest, _, index = external_id.rpartition(":")
    stem, _, table = rest.rpartition(":")
    if not stem or table not in TABLES or not index.isdigit():
        return None
    return stem + ":", table, int(index)


def _values(attributes: Mapping[str, Any]) -> dict[str, Any] | None:
    stored = attributes.get("pandapower")
    if isinstance(stored, str):
        try:
            stored = json.loads(stored)  # NaN is written as NaN by the import: json reads it back
        except ValueError:
            return None
    return dict(stored) if isinstance(stored, Mapping) else None


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
    """The pandapower network of one prefix from its facilities (external id, attributes) and its tie switches
    (external id, attributes), these as open switches. Rows of other prefixes, or without data, are ignored.
    The registry does not hold the network's frequency (line capacitances depend on it): `f_hz`, 50 unless
    given, and said in `missing`."""
    import pandapower  # only where a registry holds a pandapower network

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandapower's notes (numba missing) are not results
        net = pandapower.create_empty_network(f_hz=f_hz)
    rows: dict[str, dict[int, dict[str, Any]]] = {table: {} for table in TABLES}
    elements: dict[str, str] = {}
    for external_id, attributes in facilities:
        parts = split_id(external_id)
        values = _values(attributes)
        if parts is None or parts[0] != prefix or values is None or attributes.get("element") != parts[1]:
            continue
        rows[parts[1]][parts[2]] = values
        elements[external_id] = f"{parts[1]}:{parts[2]}"
    switches: dict[str, int] = {}
    for external_id, attributes in ties:
        parts = split_id(external_id)
        if parts is None or parts[0] != prefix or parts[1] != "switch" or "et" not in attributes:
            continue
        values = {k: v for k, v in attributes.items() if k not in ("closes", "other_bus")}
        rows["switch"][parts[2]] = {**values, "closed": False}
        switches[external_id] = parts[2]
    missing = [f"net.f_hz ({f_hz:g} Hz taken)"]
    for table, by_index in rows.items():
        if by_index:
            net[table], absent = _frame(net[table], by_index)
            missing += [f"{table}.{column}" for column in absent]
    return Rebuilt(prefix=prefix, net=net, elements=elements, switches=switches, missing=tuple(missing))


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
