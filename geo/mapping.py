"""Column mappings (`--map FIELD=COLUMN,…` or a small YAML file) and the per-field parsing every import shares."""

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


FACILITY_FIELDS = ("external_id", "name", "kind", "voltage_kv", "capacity_mva", "capacity_mw", "parent_external_id")
SITE_FIELDS = ("external_id", "name", "kind", "weight")
FACILITY_KINDS = ("power_plant", "chp_plant", "heat_plant", "substation", "transformer", "line", "gas_facility",
                  "other")
SITE_KINDS = ("hospital", "water_pumping", "wastewater_pumping", "heat_plant", "shelter", "telecom", "other")


@dataclass(frozen=True)
class Records:
    """Validated rows (index: file row numbers), identical rows dropped as (row, id), and warnings to list."""

    frame: pd.DataFrame
    duplicates: list[tuple[int, str]]
    warnings: list[str]


def _attributes(frame: pd.DataFrame, used: set[str]) -> list[dict[str, Any]]:
    rest = [c for c in frame.columns if c not in used and c != "geometry"]
    return [{c: text(v) if isinstance(v, str) else (None if is_blank(v) else v) for c, v in zip(rest, values,
                                                                                                 strict=True)}
            for values in frame[rest].itertuples(index=False, name=None)]


def _geometry(frame: Any, *, file: str, points_only: bool) -> tuple[list[Any], int]:
    """Point/LineString geometries; polygon footprints become their representative point (counted)."""
    import shapely

    result, footprints = [], 0
    for row, geometry in zip(frame.index, frame.geometry.values, strict=True):
        if geometry is None or geometry.is_empty:
            raise DataError("no geometry", file=file, row=int(row), column="geometry")
        kind = geometry.geom_type
        if kind in ("Polygon", "MultiPolygon"):
            geometry, footprints = geometry.representative_point(), footprints + 1
        elif kind in ("MultiPoint", "MultiLineString") and len(geometry.geoms) == 1:
            geometry = geometry.geoms[0]
        elif kind == "MultiLineString" and not points_only:
            geometry = shapely.line_merge(geometry)
        if geometry.geom_type not in (("Point",) if points_only else ("Point", "LineString")):
            expected = "a Point" if points_only else "a Point or LineString"
            raise DataError(f"bad geometry: {expected} expected, got {kind}", file=file, row=int(row),
                            column="geometry")
        result.append(geometry)
    return result, footprints


def _kinds(rows: pd.DataFrame, kind_col: str | None, kind: str | None, *, allowed: tuple[str, ...],
           mapping: ColumnMap, file: str) -> list[str]:
    if kind is not None:
        single = category(kind, allowed=allowed, translate={}, file="", row=None, column="--kind")
        return [single] * len(rows)
    assert kind_col is not None
    return [category(v, allowed=allowed, translate=mapping.kinds, file=file, row=int(r), column=kind_col)
            for r, v in zip(rows.index, rows[kind_col], strict=True)]


def facilities(frame: Any, *, file: str, mapping: ColumnMap, kind: str | None = None) -> Records:
    """Facility rows from a file: mapped, identical repetitions dropped, every value checked."""
    from geo import io

    id_col = column(frame, mapping, "external_id", file=file, required=True, defaults=("id", "ref"))
    assert id_col is not None
    name_col = column(frame, mapping, "name", file=file, required=False)
    kind_col = None if kind else column(frame, mapping, "kind", file=file, required=True, defaults=("type",))
    numbers = {f: column(frame, mapping, f, file=file, required=False) for f in FACILITY_FIELDS[3:6]}
    parent_col = column(frame, mapping, "parent_external_id", file=file, required=False, defaults=("parent",))
    deduplicated = io.drop_identical_rows(frame, label=id_col, keep_index=True)
    rows = deduplicated.frame
    geometries, footprints = _geometry(rows, file=file, points_only=False)
    ids = pd.Series([text(v) for v in rows[id_col]], index=rows.index, dtype=object)
    blank = ids.isna()
    if blank.any():
        raise DataError("missing external id", file=file, row=int(ids.index[blank.to_numpy()][0]), column=id_col)
    unique_ids(ids, file=file, column=id_col)
    out = pd.DataFrame({"external_id": ids}, index=rows.index)
    names = [text(v) for v in rows[name_col]] if name_col else [None] * len(rows)
    out["name"] = [n or i for n, i in zip(names, ids, strict=True)]
    out["kind"] = _kinds(rows, kind_col, kind, allowed=FACILITY_KINDS, mapping=mapping, file=file)
    for name, col in numbers.items():
        values = rows[col] if col else [None] * len(rows)
        parse = (lambda v, r, c: voltage_kv(v, unit=mapping.voltage_unit, file=file, row=r, column=c)) \
            if name == "voltage_kv" else (lambda v, r, c: number(v, file=file, row=r, column=c))
        out[name] = [parse(v, int(r), str(col)) for r, v in zip(rows.index, values, strict=True)]
    out["parent_external_id"] = [text(v) for v in rows[parent_col]] if parent_col else None
    used = {c for c in (id_col, name_col, kind_col, parent_col, *numbers.values()) if c}
    out["attributes"] = _attributes(rows, used)
    out["geometry"] = geometries
    warnings = [f"{footprints} polygon footprints stored as a point inside each"] if footprints else []
    return Records(frame=out, duplicates=list(zip(deduplicated.dropped_rows, deduplicated.dropped_labels,
                                                  strict=True)), warnings=warnings)


def critical_sites(frame: Any, *, file: str, mapping: ColumnMap, kind: str | None = None,
                   weight: float | None = None) -> Records:
    """Critical-site rows: external id, name, kind, weight in people-equivalents, and a point."""
    from geo import io

    id_col = column(frame, mapping, "external_id", file=file, required=True, defaults=("id", "ref"))
    assert id_col is not None
    name_col = column(frame, mapping, "name", file=file, required=False)
    kind_col = None if kind else column(frame, mapping, "kind", file=file, required=True, defaults=("type",))
    weight_col = None if weight is not None else column(frame, mapping, "weight", file=file, required=True)
    deduplicated = io.drop_identical_rows(frame, label=id_col, keep_index=True)
    rows = deduplicated.frame
    geometries, _ = _geometry(rows, file=file, points_only=True)
    ids = pd.Series([text(v) for v in rows[id_col]], index=rows.index, dtype=object)
    if ids.isna().any():
        raise DataError("missing external id", file=file, row=int(ids.index[ids.isna().to_numpy()][0]),
                        column=id_col)
    unique_ids(ids, file=file, column=id_col)
    out = pd.DataFrame({"external_id": ids}, index=rows.index)
    names = [text(v) for v in rows[name_col]] if name_col else [None] * len(rows)
    out["name"] = [n or i for n, i in zip(names, ids, strict=True)]
    out["kind"] = _kinds(rows, kind_col, kind, allowed=SITE_KINDS, mapping=mapping, file=file)
    weights = []
    for r in rows.index:
        value = weight if weight_col is None else number(rows.at[r, weight_col], file=file, row=int(r),
                                                         column=weight_col)
        if value is None:
            raise DataError("missing weight", file=file, row=int(r), column=weight_col)
        weights.append(value)
    out["weight"] = weights
    out["geometry"] = geometries
    return Records(frame=out, duplicates=list(zip(deduplicated.dropped_rows, deduplicated.dropped_labels,
                                                  strict=True)), warnings=[])
