"""Service areas: the area each facility supplies directly, derived when none are given."""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.io import LONLAT


def voronoi(facilities: gpd.GeoSeries, boundary: BaseGeometry, *, metric_crs: str,
            max_distance_m: float | None = None) -> gpd.GeoSeries:
    """Voronoi cells of the facilities (points) in a metric CRS, clipped to the boundary, indexed like the input.

    Cells are computed in `metric_crs` so that "nearest" means nearest on the ground; with `max_distance_m`
    each cell is also limited to that radius around its facility.
    """
    points = facilities.to_crs(metric_crs)
    clip = gpd.GeoSeries([boundary], crs=facilities.crs).to_crs(metric_crs).iloc[0]
    sites = shapely.MultiPoint(list(points.values))
    # The envelope is widened so that every cell touching the boundary is closed.
    extent = shapely.box(*clip.buffer(10_000).bounds)
    cells = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=extent))
    tree = shapely.STRtree(cells)
    cell_of = tree.query(points.values, predicate="intersects")  # (point index, cell index) pairs
    by_point = {int(p): cells[int(c)] for p, c in zip(cell_of[0], cell_of[1], strict=True)}
    clipped = []
    for position, point in enumerate(points.values):
        cell = shapely.intersection(by_point[position], clip)
        if max_distance_m is not None:
            cell = shapely.intersection(cell, point.buffer(max_distance_m, quad_segs=16))
        clipped.append(shapely.make_valid(cell))
    return gpd.GeoSeries(clipped, index=facilities.index, crs=metric_crs).to_crs(LONLAT)


def as_multipolygon(geometry: BaseGeometry) -> shapely.MultiPolygon:
    """The polygonal part of a geometry as a MultiPolygon (empty if there is none)."""
    polygons = [g for g in shapely.get_parts(geometry) if g.geom_type in ("Polygon", "MultiPolygon")]
    parts = [p for g in polygons for p in shapely.get_parts(g)]
    return shapely.MultiPolygon(parts)
