"""Column mappings (`--map FIELD=COLUMN,…` or a small YAML file) and the cell parsing every import shares."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from geo.errors import DataError

GEOMETRY_FIELDS = ("lon", "lat", "wkt")
VOLTAGE_UNITS = {"kv": 1.0, "v": 0.001}


@dataclass(frozen=True)
class ColumnMap:
    """Which file column holds each field, how file values translate to kinds, and the voltage unit."""

    columns: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    voltage_unit: str = "kV"

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


def column(frame: pd.DataFrame, mapping: ColumnMap, name: str, *, file: str, required: bool,
           defaults: tuple[str, ...] = ()) -> str | None:
    """The frame column for a field: the mapped one (which must exist), else the field's own name or a default."""
    if name in mapping.columns:
        mapped = mapping.columns[name]
        if mapped not in frame.columns:
            raise DataError(f"missing column (mapped to field {name!r})", file=file, column=mapped)
        return mapped
    lower = {str(c).lower(): str(c) for c in frame.columns}
    for candidate in (name, *defaults):
        if candidate.lower() in lower:
            return lower[candidate.lower()]
    if required:
        raise DataError(f"missing column (map it with --map {name}=COLUMN)", file=file, column=name)
    return None


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
