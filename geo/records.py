"""Facility and critical-site records from a mapped file: repetitions dropped, every value checked or named."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import shapely

from geo import io
from geo.columns import ColumnMap, category, column, is_blank, number, text, unique_ids, voltage_kv
from geo.errors import DataError
from geo.taxonomy import FACILITY_KINDS, SITE_KINDS

FACILITY_FIELDS = ("external_id", "name", "kind", "voltage_kv", "capacity_mva", "capacity_mw", "parent_external_id")
SITE_FIELDS = ("external_id", "name", "kind", "weight")


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
        unit = mapping.voltage_unit if name == "voltage_kv" else None
        out[name] = [voltage_kv(v, unit=unit, file=file, row=int(r), column=str(col)) if unit is not None
                     else number(v, file=file, row=int(r), column=str(col))
                     for r, v in zip(rows.index, values, strict=True)]
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
