"""Normally-open tie switches as the registry stores them: a switch between two facilities that closing joins, read
from a table (`import-switches`) or found in a network model (pandapower, OpenStreetMap), and what was skipped.

A table has one row per switch: external_id, name (default: the external id), facility_a and facility_b (the
external ids of the two facilities it joins; which is which does not matter), optional remote (true/false: closed
from the control room), switch_hours (how long closing it takes, travel included, 0 to 72; blank: the default)
and a point (its geometry, or lon/lat in a CSV; blank: between its facilities).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geo.columns import ColumnMap, column, is_blank, number, text, unique_ids
from geo.errors import DataError

SWITCH_FIELDS = ("external_id", "name", "facility_a", "facility_b", "remote", "switch_hours")
MAX_SWITCH_HOURS = 72.0  # the table's own bound (migration 0017)
TRUE = frozenset({"true", "yes", "y", "1", "t"})
FALSE = frozenset({"false", "no", "n", "0", "f"})
# OpenStreetMap: the approved power=switch tagging (switch=*, on its own node or on a pole, tower, portal or
# insulator of a line) has no state key; mappers who record the normal state use these.
OSM_STATE_KEYS = ("switch:state", "state")
OSM_OPEN = frozenset({"open", "normally_open"})
OSM_CLOSED = frozenset({"closed", "normally_closed"})
OSM_SUPPORTS = frozenset({"pole", "tower", "portal", "insulator"})


@dataclass(frozen=True)
class TieSwitch:
    """A normally-open switch joining facilities `facility_a` and `facility_b` (external ids); `row`: its file
    row (None when found in a network model); `point`: lon, lat or None."""

    external_id: str
    name: str
    facility_a: str
    facility_b: str
    remote: bool = False
    switch_hours: float | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    point: tuple[float, float] | None = None
    row: int | None = None


def boolean(value: Any, *, file: str, row: int, column_name: str) -> bool | None:
    """A yes/no cell (true/false, yes/no, 1/0), None when blank; anything else names the cell."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    word = (text(value) or "").lower()
    if word in TRUE or word in FALSE:
        return word in TRUE
    raise DataError(f"not a yes/no value: {value!r} (use true or false)", file=file, row=row, column=column_name)


def read_ties(frame: pd.DataFrame, *, file: str, mapping: ColumnMap) -> list[TieSwitch]:
    """Every row of a switch table as a tie; a DataError naming the row and column for a bad cell."""
    cols = {name: column(frame, mapping, name, file=file, required=False) for name in SWITCH_FIELDS}
    for name in ("external_id", "facility_a", "facility_b"):  # after the others, so no hint names a used column
        cols[name] = column(frame, mapping, name, file=file, required=True)
    id_col, a_col, b_col = cols["external_id"], cols["facility_a"], cols["facility_b"]
    assert id_col is not None and a_col is not None and b_col is not None
    ids = frame[id_col].map(text)
    for row, value in ids.items():
        if value is None:
            raise DataError("missing external id", file=file, row=int(row), column=id_col)
    unique_ids(ids, file=file, column=id_col)
    geometry = getattr(frame, "_geometry_column_name", None)
    ties = []
    for row in frame.index:
        r = int(row)
        ends = []
        for name in (a_col, b_col):
            value = text(frame.at[row, name])
            if value is None:
                raise DataError("missing facility external id", file=file, row=r, column=name)
            ends.append(value)
        if ends[0] == ends[1]:
            raise DataError(f"a tie switch joins two facilities, not {ends[0]!r} to itself", file=file, row=r,
                            column=b_col)
        remote = boolean(frame.at[row, cols["remote"]], file=file, row=r, column_name=cols["remote"]) if cols[
            "remote"] else None
        hours = number(frame.at[row, cols["switch_hours"]], file=file, row=r, column=cols["switch_hours"]) if cols[
            "switch_hours"] else None
        if hours is not None and hours > MAX_SWITCH_HOURS:
            raise DataError(f"switch_hours must be at most {MAX_SWITCH_HOURS:g} h, got {hours:g}", file=file, row=r,
                            column=cols["switch_hours"])
        shape = frame.at[row, geometry] if geometry else None
        point = None
        if shape is not None and not shape.is_empty:
            if shape.geom_type != "Point":
                raise DataError(f"bad geometry: a Point expected, got {shape.geom_type}", file=file, row=r,
                                column="geometry")
            point = (float(shape.x), float(shape.y))
        label = text(frame.at[row, cols["name"]]) if cols["name"] else None
        ties.append(TieSwitch(external_id=str(ids[row]), name=(label or str(ids[row]))[:200], facility_a=ends[0],
                              facility_b=ends[1], remote=bool(remote), switch_hours=hours, point=point, row=r))
    return ties


def osm_state(tags: Mapping[str, str]) -> str | None:
    """'open' or 'closed' as an OSM switch's tags give its normal state, None when they give none."""
    for key in OSM_STATE_KEYS:
        value = tags.get(key, "").strip().lower()
        if value in OSM_OPEN:
            return "open"
        if value in OSM_CLOSED:
            return "closed"
    return None


def osm_remote(tags: Mapping[str, str]) -> bool:
    """Whether an OSM switch is remote-controlled: operating=remote (or remote=yes)."""
    return tags.get("operating", "").strip().lower() == "remote" or tags.get("remote", "").strip().lower() == "yes"


def report_lines(ties: tuple[TieSwitch, ...], skipped: Mapping[str, int]) -> tuple[str, ...]:
    """What a network import found of its switches, in lines a data manager reads."""
    remote = sum(1 for t in ties if t.remote)
    lines = [f"tie switches: {len(ties)} (normally open" + (f"; {remote} remote-controlled)" if remote else ")")]
    lines += [f"tie switches skipped {n}: {reason}" for reason, n in sorted(skipped.items())]
    return tuple(lines)
