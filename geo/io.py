"""Reading the files utilities and statistics offices publish into GeoDataFrames in EPSG:4326.

Tables read with `read_table` keep the file's row numbers as their index, so every later error can name the row:
for CSV the line number (the header is line 1, the first data row is row 2), for other formats the 1-based
feature number.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.errors import DataError

LONLAT = "EPSG:4326"
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".gml", ".kml")
LON_COLUMNS = ("lon", "longitude", "lng", "x")
LAT_COLUMNS = ("lat", "latitude", "y")
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")


@dataclass(frozen=True)
class Deduplicated:
    """Rows kept once, and what was dropped as an identical repetition (0-based file row numbers)."""

    frame: gpd.GeoDataFrame
    dropped_rows: list[int]
    dropped_labels: list[str]


def read_vector(path: Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file with pyogrio and reproject it to lon/lat; a file without a CRS is an error."""
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise DataError(f"cannot read: {exc}", file=str(path)) from exc
    if frame.crs is None:
        raise DataError("the file has no coordinate reference system (CRS)", file=str(path))
    return frame.to_crs(LONLAT)


def drop_identical_rows(frame: gpd.GeoDataFrame, *, label: str, keep_index: bool = False) -> Deduplicated:
    """Keep the first of rows that are identical in every attribute and in geometry.

    `dropped_rows` are 0-based positions, or with `keep_index` the index labels (file row numbers) of the input.
    """
    keys = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(str)
    keys["__wkb"] = [shapely.to_wkb(g, hex=True) if g is not None else "" for g in frame.geometry.values]
    repeated = keys.duplicated(keep="first").to_numpy()
    positions = [int(i) for i in repeated.nonzero()[0]]
    kept = frame.loc[~repeated]
    return Deduplicated(
        frame=kept if keep_index else kept.reset_index(drop=True),
        dropped_rows=[int(frame.index[i]) for i in positions] if keep_index else positions,
        dropped_labels=[str(frame[label].iloc[i]) for i in positions],
    )


def layers(path: Path) -> list[str]:
    """The layer names of a vector file."""
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise DataError(f"cannot read: {exc}", file=str(path)) from exc


def read_table(path: Path, *, layer: str | None = None, columns: dict[str, str] | None = None,
               crs: str | None = None, geometry: bool = True) -> gpd.GeoDataFrame:
    """Read CSV, GeoJSON, GeoPackage, Shapefile (zipped or not) into lon/lat, indexed by file row number.

    Rows without geometry keep a None geometry so the caller can name them; `columns` may name the CSV's
    `lon`, `lat` or `wkt` columns; `crs` is the CSV's coordinate system (default lon/lat). With
    `geometry=False` a table without geometry is read too (its geometry column is then all None).
    """
    if not path.exists():
        raise DataError("no such file", file=str(path))
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        frame = _read_csv(path, columns=columns or {}, crs=crs, geometry=geometry)
    else:
        frame = _read_vector_rows(path, layer=layer, geometry=geometry)
    invalid = _first_bad_geometry(frame)
    if invalid is not None:
        row, reason = invalid
        raise DataError(reason, file=str(path), row=row, column="geometry")
    return frame


def _read_vector_rows(path: Path, *, layer: str | None, geometry: bool = True) -> gpd.GeoDataFrame:
    names = layers(path)
    if layer is None and len(names) > 1:
        raise DataError(f"the file has several layers ({', '.join(names)}): choose one with --layer", file=str(path))
    if layer is not None and layer not in names:
        raise DataError(f"no layer {layer!r} (the file has: {', '.join(names)})", file=str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL notes on non-standard files, not errors
            frame = gpd.read_file(path, layer=layer or names[0], engine="pyogrio")
    except Exception as exc:
        raise DataError(f"cannot read: {exc}", file=str(path)) from exc
    if not isinstance(frame, gpd.GeoDataFrame) and not geometry:
        frame = gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=LONLAT)
        frame.index = pd.RangeIndex(1, len(frame) + 1)
        return frame
    if not isinstance(frame, gpd.GeoDataFrame):
        raise DataError("no geometry: the layer has no geometry column", file=str(path))
    if frame.crs is None:
        raise DataError("CRS missing: the file has no coordinate reference system", file=str(path))
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return _to_lonlat(frame, path)


def _to_lonlat(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    present = frame.geometry.notna() & ~frame.geometry.is_empty
    projected = frame.to_crs(LONLAT)
    coords = shapely.get_coordinates(projected.geometry.values[present.to_numpy()])
    if len(coords) and not np.isfinite(coords).all():
        bad = ~np.isfinite(shapely.bounds(projected.geometry.values)).all(axis=1) & present.to_numpy()
        raise DataError("bad geometry: coordinates cannot be reprojected to lon/lat", file=str(path),
                        row=int(frame.index[int(bad.nonzero()[0][0])]), column="geometry")
    projected[projected.geometry.name] = gpd.GeoSeries(shapely.force_2d(projected.geometry.values),
                                                       index=projected.index, crs=LONLAT)
    return projected


def _pick(frame: pd.DataFrame, wanted: str | None, candidates: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted
    lower = {str(c).lower(): str(c) for c in frame.columns}
    return next((lower[c] for c in candidates if c in lower), None)


def _read_csv(path: Path, *, columns: dict[str, str], crs: str | None, geometry: bool = True) -> gpd.GeoDataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], sep=None, engine="python")
    except Exception as exc:
        raise DataError(f"cannot read as CSV: {exc}", file=str(path)) from exc
    frame.index = pd.RangeIndex(2, len(frame) + 2)  # line numbers: the header is line 1
    wkt = _pick(frame, columns.get("wkt"), WKT_COLUMNS)
    lon = _pick(frame, columns.get("lon"), LON_COLUMNS)
    lat = _pick(frame, columns.get("lat"), LAT_COLUMNS)
    if "wkt" in columns or (wkt is not None and not (lon and lat)):
        if wkt not in frame.columns:
            raise DataError("missing column", file=str(path), column=wkt)
        shapes = _parse_wkt(frame, str(wkt), path)
        frame = frame.drop(columns=[str(wkt)])
    elif lon is not None and lat is not None:
        for column in (lon, lat):
            if column not in frame.columns:
                raise DataError("missing column", file=str(path), column=column)
        x, y = (_coordinates(frame, c, path, limit=None if crs else limit)
                for c, limit in ((lon, 180.0), (lat, 90.0)))
        shapes = np.asarray(gpd.points_from_xy(x, y), dtype=object)
        shapes[np.isnan(x) | np.isnan(y)] = None
        frame = frame.drop(columns=[lon, lat])
    elif not geometry:
        return gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=LONLAT)
    else:
        raise DataError("no geometry: expected lon/lat columns or a WKT column (name them with --map lon=…,lat=… "
                        "or --map wkt=…)", file=str(path))
    result = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(shapes, index=frame.index), crs=crs or LONLAT)
    return _to_lonlat(result, path) if crs else result


def _coordinates(frame: pd.DataFrame, column: str, path: Path, *, limit: float | None) -> np.ndarray:
    numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    given = frame[column].notna().to_numpy()
    bad = given & (np.isnan(numbers) | (np.abs(numbers) > limit if limit else False))
    if bad.any():
        row = int(bad.nonzero()[0][0])
        where = f" within ±{limit:g}" if limit else ""
        raise DataError(f"not a coordinate{where}: {frame[column].iloc[row]!r}", file=str(path),
                        row=int(frame.index[row]), column=column)
    return np.asarray(numbers, dtype=float)


def _parse_wkt(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    geometry = np.empty(len(frame), dtype=object)
    for position, text in enumerate(frame[column].to_numpy()):
        if isinstance(text, str):
            try:
                geometry[position] = shapely.from_wkt(text)
            except shapely.errors.GEOSException as exc:
                raise DataError(f"bad geometry: not WKT ({exc})", file=str(path),
                                row=int(frame.index[position]), column=column) from exc
    return geometry


def _first_bad_geometry(frame: gpd.GeoDataFrame) -> tuple[int, str] | None:
    values = frame.geometry.values
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    invalid = present & ~shapely.is_valid(values)
    if not invalid.any():
        return None
    position = int(invalid.nonzero()[0][0])
    return int(frame.index[position]), f"bad geometry: {shapely.is_valid_reason(values[position])}"


def missing_geometry(frame: gpd.GeoDataFrame) -> list[int]:
    """File row numbers of rows with no (or an empty) geometry."""
    values = frame.geometry.values
    return [int(r) for r in frame.index[shapely.is_missing(values) | shapely.is_empty(values)]]
