"""Column mappings (`--map FIELD=COLUMN,…` or a small YAML file) and the cell parsing every import shares.

Row numbers, in every message: the `row N` of an error or warning is the file's own row number, as the files'
usual viewers show it: for CSV the line number with the header as line 1 (the first data row is row 2, as in a
spreadsheet), for GeoJSON, GeoPackage and Shapefile the feature's number counting from 1 (as QGIS's attribute
table). `geo.io.read_table` puts these numbers in the frame's index and every message takes them from there.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from geo.errors import DataError

GEOMETRY_FIELDS = ("lon", "lat", "wkt")
VOLTAGE_UNITS = {"kv": 1.0, "v": 0.001}
UNIT_SUFFIXES = ("_kv", "_mva", "_mw", "_external_id")  # 'voltage' is close to voltage_kv, 'parent' to parent_…
SIMILAR = 0.75  # difflib ratio from which a column is offered as "did you mean"


@dataclass(frozen=True)
class ColumnMap:
    """Which file column holds each field, how file values translate to kinds, and the voltage unit.

    `found` fills as a file is read: the column each field was taken from (mapped or by its usual name), so the
    import can then say which columns it did not use (`ignored`)."""

    columns: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    voltage_unit: str = "kV"
    found: dict[str, str] = field(default_factory=dict, compare=False)

    def csv_columns(self) -> dict[str, str]:
        return {k: v for k, v in self.columns.items() if k in GEOMETRY_FIELDS}


def parse_map(text: str | None, *, fields: tuple[str, ...]) -> ColumnMap:
    """Parse `FIELD=COLUMN,…` or read a YAML file (`columns:`, `kinds:`, `voltage_unit:`) for these fields."""
    if not text:
        return ColumnMap()
    allowed = (*fields, *GEOMETRY_FIELDS)
    if text.lower().endswith((".yaml", ".yml")):
        return _read_yaml(Path(text), allowed=allowed)
    columns: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, column = part.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise DataError(f"--map: expected FIELD=COLUMN, got {part!r}")
        columns[_known(name.strip(), allowed, where="--map")] = column.strip()
    return ColumnMap(columns=columns)


def _known(name: str, allowed: tuple[str, ...], *, where: str) -> str:
    if name not in allowed:
        raise DataError(f"{where}: unknown field {name!r} (fields: {', '.join(allowed)})")
    return name


def _read_yaml(path: Path, *, allowed: tuple[str, ...]) -> ColumnMap:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read the column mapping: {exc}", file=str(path)) from exc
    if not isinstance(document, dict):
        raise DataError("a mapping of fields to columns expected", file=str(path))
    raw_columns = document.get("columns", {k: v for k, v in document.items() if k in allowed})
    kinds = document.get("kinds", {})
    unit = str(document.get("voltage_unit", "kV"))
    if not isinstance(raw_columns, dict) or not isinstance(kinds, dict):
        raise DataError("'columns' and 'kinds' must be mappings", file=str(path))
    if unit.lower() not in VOLTAGE_UNITS:
        raise DataError(f"voltage_unit must be kV or V, got {unit!r}", file=str(path))
    columns = {_known(str(k), allowed, where=str(path)): str(v) for k, v in raw_columns.items()}
    return ColumnMap(columns=columns, kinds={str(k): str(v) for k, v in kinds.items()}, voltage_unit=unit)


def _data_columns(frame: pd.DataFrame) -> list[str]:
    geometry = getattr(frame, "_geometry_column_name", "geometry")
    return [str(c) for c in frame.columns if c != geometry]


def closest(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The candidate most like `name` (ignoring case), or None when none is alike enough."""
    lower = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=cutoff)
    return lower[found[0]] if found else None


def _missing(reason: str, frame: pd.DataFrame, names: tuple[str, ...], *, taken: Iterable[str] = ()) -> str:
    """A missing-column reason with the file's columns and the closest of them to any of `names` (of 4 letters or
    more: 'id' is like too much), among the columns no other field took."""
    present = _data_columns(frame)
    free = [c for c in present if c not in set(taken)]
    scored = [(difflib.SequenceMatcher(None, n.lower(), c.lower()).ratio(), c) for n in names if len(n) >= 4
              for c in free]
    best = max(scored, default=(0.0, ""))
    hint = f"; did you mean {best[1]!r}?" if best[0] >= 0.6 else ""
    return f"{reason}{hint} (the file's columns: {', '.join(present) or 'none'})"


def column(frame: pd.DataFrame, mapping: ColumnMap, name: str, *, file: str, required: bool,
           defaults: tuple[str, ...] = ()) -> str | None:
    """The frame column for a field: the mapped one (which must exist), else the field's own name or a default.
    A missing one is an error that lists the file's columns and the closest match."""
    if name in mapping.columns:
        mapped = mapping.columns[name]
        if mapped not in frame.columns:
            raise DataError(_missing(f"missing column (mapped to field {name!r})", frame, (mapped,),
                                     taken=mapping.found.values()), file=file, column=mapped)
        mapping.found[name] = mapped
        return mapped
    lower = {str(c).lower(): str(c) for c in frame.columns}
    for candidate in (name, *defaults):
        if candidate.lower() in lower:
            mapping.found[name] = lower[candidate.lower()]
            return lower[candidate.lower()]
    if required:
        raise DataError(_missing(f"missing column (map it with --map {name}=COLUMN)", frame, (name, *defaults),
                                 taken=mapping.found.values()), file=file, column=name)
    return None


def _field_like(column_name: str, fields: Iterable[str]) -> str | None:
    """The field a column's name resembles (its own name, or without its unit: 'voltage' for voltage_kv)."""
    names: dict[str, str] = {}
    for f in fields:
        names[f] = f
        for suffix in UNIT_SUFFIXES:
            if f.endswith(suffix):
                names[f.removesuffix(suffix)] = f
    match = closest(column_name, names, cutoff=SIMILAR)
    return names[match] if match else None


def ignored(frame: pd.DataFrame, mapping: ColumnMap, *, fields: tuple[str, ...], csv: bool,
            kept_as_attributes: bool = False) -> list[str]:
    """Warnings for what a read did not use: mapped columns no field took, and file columns left over, each with
    the field it resembles ("column 'voltage' ignored; did you mean --map voltage_kv=voltage?").

    With `kept_as_attributes` (facilities keep every other column as an attribute) only the columns that resemble
    a field are named."""
    messages = [f"--map {name}={col} not used (the field comes from an option, or this command does not read it)"
                for name, col in mapping.columns.items()
                if name not in GEOMETRY_FIELDS and mapping.found.get(name) != col]
    if not csv:
        messages += [f"--map {name}={col} not used (lon, lat and wkt are for CSV files)"
                     for name, col in mapping.columns.items() if name in GEOMETRY_FIELDS]
    taken = set(mapping.found.values())
    free = [f for f in fields if f not in mapping.found]
    plain = []
    for name in _data_columns(frame):
        if name in taken:
            continue
        like = _field_like(name, free)
        if like is not None:
            what = "kept as an attribute only" if kept_as_attributes else "ignored"
            messages.append(f"column {name!r} {what}; did you mean --map {like}={name}?")
        else:
            plain.append(name)
    if plain and not kept_as_attributes:
        messages.append(f"column{'s' if len(plain) > 1 else ''} ignored: {', '.join(plain)}")
    return messages


def is_blank(value: Any) -> bool:
    """Whether a cell holds nothing: None, NaN, NA or only whitespace."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or (
        isinstance(value, str) and not value.strip())


def text(value: Any) -> str | None:
    """A cell as stripped text (integral floats without '.0'), or None when blank."""
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def number(value: Any, *, file: str, row: int, column: str, minimum: float | None = 0.0) -> float | None:
    """A cell as a finite number (at least `minimum`), None when blank; anything else names the cell."""
    if is_blank(value):
        return None
    try:
        result = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
    except ValueError:
        raise DataError(f"not a number: {value!r}", file=file, row=row, column=column) from None
    if not math.isfinite(result) or (minimum is not None and result < minimum):
        raise DataError(f"must be a number ≥ {minimum:g}, got {value!r}", file=file, row=row, column=column)
    return result


def voltage_kv(value: Any, *, unit: str, file: str, row: int, column: str) -> float | None:
    """The highest voltage of a cell such as '110', '220000;110000' or '20 kV', in kV."""
    if is_blank(value):
        return None
    parts = [p for p in re.split(r"[;/|, ]+", str(value).lower().replace("kv", " ").strip()) if p]
    numbers = [number(p, file=file, row=row, column=column) for p in parts]
    values = [n for n in numbers if n is not None]
    if not values:
        return None
    result = max(values) * VOLTAGE_UNITS[unit.lower()]
    if result <= 0:
        raise DataError(f"voltage must be > 0, got {value!r}", file=file, row=row, column=column)
    return result


def category(value: Any, *, allowed: tuple[str, ...], translate: dict[str, str], file: str, row: int | None,
             column: str) -> str:
    """A kind from a cell: translated by the mapping, then matched ignoring case, spaces, '-' and '_'."""
    raw = text(value)
    if raw is None:
        raise DataError("missing kind", file=file, row=row, column=column)
    translated = translate.get(raw, translate.get(raw.lower(), raw))
    squashed = {k.replace("_", ""): k for k in allowed}  # 'Sub Station', 'sub-station', 'substation' alike
    normalised = squashed.get(re.sub(r"[\s_-]+", "", translated.strip().lower()), "")
    if normalised not in allowed:
        raise DataError(f"unknown kind {raw!r} (kinds: {', '.join(allowed)}; translate others with a YAML "
                        "mapping's 'kinds:')", file=file, row=row, column=column)
    return normalised


def unique_ids(ids: pd.Series, *, file: str, column: str) -> None:
    """Raise naming the second row that repeats an external id."""
    repeated = ids[ids.duplicated(keep="first")]
    if len(repeated):
        row, value = int(repeated.index[0]), repeated.iloc[0]
        first = int(ids[ids == value].index[0])
        raise DataError(f"duplicate external id {value!r} (also row {first}, with different values)",
                        file=file, row=row, column=column)
