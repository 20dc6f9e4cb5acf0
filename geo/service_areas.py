"""Service areas: the area each facility supplies directly, derived when none are given."""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.columns import ColumnMap, column, text, unique_ids
from geo.errors import DataError
from geo.io import LONLAT

AREA_FIELDS = ("external_id",)
PROGRESS_CHUNK = 100  # cells clipped to the boundary between two progress reports


def metric_crs(geometry: BaseGeometry) -> str:
    """An equal-area CRS in metres centred on a lon/lat geometry (Lambert azimuthal), for areas and distances."""
    lon, lat = shapely.get_coordinates(geometry.envelope.centroid)[0]
    return f"+proj=laea +lat_0={lat:.4f} +lon_0={lon:.4f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"


def voronoi(facilities: gpd.GeoSeries, boundary: BaseGeometry, *, metric_crs: str,
            max_distance_m: float | None = None, progress: Callable[[int], object] | None = None) -> gpd.GeoSeries:
    """Voronoi cells of the facilities (points) in a metric CRS, clipped to the boundary, indexed like the input.

    Cells are computed in `metric_crs` so that "nearest" means nearest on the ground; with `max_distance_m`
    each cell is also limited to that radius around its facility. Of facilities at the same place, the first
    gets the cell and the others an empty area, so nobody is counted twice. `progress`, when given, is called
    with numbers of cells as they are done (clipping those across a detailed boundary is the slow part), adding up
    to all of them.
    """
    report = progress or (lambda done: None)
    points = facilities.to_crs(metric_crs)
    clip = gpd.GeoSeries([boundary], crs=facilities.crs).to_crs(metric_crs).iloc[0]
    first = ~pd.Series(shapely.to_wkb(points.values)).duplicated().to_numpy()
    sites = shapely.MultiPoint(list(points.values[first]))
    # The envelope is widened so that every cell touching the boundary is closed.
    extent = shapely.box(*clip.buffer(10_000).bounds)
    if int(first.sum()) == 1:
        cells = np.array([extent], dtype=object)
    else:
        cells = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=extent))
    tree = shapely.STRtree(cells)
    cell_of = tree.query(points.values, predicate="intersects")  # (point index, cell index) pairs
    by_point = {int(p): cells[int(c)] for p, c in zip(cell_of[0], cell_of[1], strict=True)}
    raw = []
    for position, point in enumerate(points.values):
        cell = by_point[position] if first[position] else shapely.Polygon()
        if max_distance_m is not None and not cell.is_empty:
            cell = shapely.intersection(cell, point.buffer(max_distance_m, quad_segs=16))
        raw.append(cell)
    # Clipped in lon/lat, where the boundary is stored, so that the cells tile it exactly: neighbours share
    # their edges vertex for vertex, and the boundary's own edges are not bent by a round trip.
    # Cells wholly inside the boundary (most of them) are kept as they are; only those across it are cut.
    lonlat = np.asarray(gpd.GeoSeries(raw, index=facilities.index, crs=metric_crs).to_crs(LONLAT).values,
                        dtype=object)
    shapely.prepare(boundary)
    inside = shapely.contains_properly(boundary, lonlat) | shapely.is_empty(lonlat)
    if inside.any():
        report(int(inside.sum()))
    crossing = np.flatnonzero(~inside)
    clipped = lonlat.copy()
    for start in range(0, len(crossing), PROGRESS_CHUNK):
        part = crossing[start:start + PROGRESS_CHUNK]
        clipped[part] = shapely.make_valid(shapely.intersection(lonlat[part], boundary))
        report(len(part))
    return gpd.GeoSeries(clipped, index=facilities.index, crs=LONLAT)


def as_multipolygon(geometry: BaseGeometry) -> shapely.MultiPolygon:
    """The polygonal part of a geometry as a MultiPolygon (empty if there is none)."""
    polygons = [g for g in shapely.get_parts(geometry) if g.geom_type in ("Polygon", "MultiPolygon")]
    parts = [p for g in polygons for p in shapely.get_parts(g)]
    return shapely.MultiPolygon(parts)


def reach(facilities: gpd.GeoSeries, *, max_distance_m: float) -> BaseGeometry:
    """The union of discs of `max_distance_m` around the facilities: a study boundary when none is given."""
    crs = metric_crs(shapely.MultiPoint(list(facilities.values)))
    discs = facilities.to_crs(crs).buffer(max_distance_m, quad_segs=16)
    return gpd.GeoSeries([discs.union_all()], crs=crs).to_crs(LONLAT).iloc[0]


def read_areas(frame: gpd.GeoDataFrame, *, file: str, columns: ColumnMap) -> pd.DataFrame:
    """Given service areas: one polygon per facility external id, as MultiPolygons (index: file rows)."""
    id_col = column(frame, columns, "external_id", file=file, required=True, defaults=("id", "ref"))
    assert id_col is not None
    ids = pd.Series([text(v) for v in frame[id_col]], index=frame.index, dtype=object)
    if ids.isna().any():
        raise DataError("missing external id", file=file, row=int(ids.index[ids.isna().to_numpy()][0]),
                        column=id_col)
    unique_ids(ids, file=file, column=id_col)
    areas = []
    for row, geometry in zip(frame.index, frame.geometry.values, strict=True):
        if geometry is None or geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
            got = "no geometry" if geometry is None or geometry.is_empty else geometry.geom_type
            raise DataError(f"bad geometry: a Polygon expected, got {got}", file=file, row=int(row),
                            column="geometry")
        areas.append(as_multipolygon(geometry))
    return pd.DataFrame({"external_id": ids, "geometry": areas}, index=frame.index)
