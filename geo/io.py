"""Reading the files utilities and statistics offices publish into GeoDataFrames in EPSG:4326."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from geo.errors import DataError

LONLAT = "EPSG:4326"


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


def read_points_csv(path: Path, *, lon: str = "lon", lat: str = "lat") -> gpd.GeoDataFrame:
    """Read a CSV of lon/lat points; a missing column or a bad coordinate names the row and column."""
    frame = pd.read_csv(path)
    for column in (lon, lat):
        if column not in frame.columns:
            raise DataError("missing column", file=str(path), column=column)
        numbers = pd.to_numeric(frame[column], errors="coerce")
        limit = 180 if column == lon else 90
        bad = numbers.isna() | (numbers.abs() > limit)
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"not a coordinate within ±{limit}: {frame[column].iloc[row]!r}",
                            file=str(path), row=row + 2, column=column)  # +2: header line, 1-based
        frame[column] = numbers
    geometry = gpd.points_from_xy(frame[lon], frame[lat])
    return gpd.GeoDataFrame(frame.drop(columns=[lon, lat]), geometry=geometry, crs=LONLAT)


def drop_identical_rows(frame: gpd.GeoDataFrame, *, label: str) -> Deduplicated:
    """Keep the first of rows that are identical in every attribute and in geometry."""
    keys = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(str)
    keys["__wkb"] = shapely.to_wkb(frame.geometry.values, hex=True)
    repeated = keys.duplicated(keep="first").to_numpy()
    dropped = [int(i) for i in repeated.nonzero()[0]]
    return Deduplicated(
        frame=frame.loc[~repeated].reset_index(drop=True),
        dropped_rows=dropped,
        dropped_labels=[str(frame[label].iloc[i]) for i in dropped],
    )
