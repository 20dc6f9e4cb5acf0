"""A study region built from files: facilities, their derived service areas and the population they serve."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from geo import io, population, service_areas
from geo.errors import DataError


@dataclass(frozen=True)
class Region:
    """Everything the demo load stores: facilities with service areas and direct population."""

    facilities: gpd.GeoDataFrame
    boundary: BaseGeometry
    service_areas: gpd.GeoSeries
    population_points: gpd.GeoDataFrame
    assignment: population.Assignment
    duplicates: io.Deduplicated


def build(*, facilities_path: Path, boundary_path: Path, population_path: Path, name_column: str,
          population_column: str, metric_crs: str) -> Region:
    """Read the files, drop identical facility rows, derive Voronoi service areas and sum population points."""
    raw = io.read_vector(facilities_path)
    if name_column not in raw.columns:
        raise DataError("missing column", file=str(facilities_path), column=name_column)
    deduplicated = io.drop_identical_rows(raw, label=name_column)
    facilities = deduplicated.frame
    boundary = io.read_vector(boundary_path).union_all()
    areas = service_areas.voronoi(facilities.geometry, boundary, metric_crs=metric_crs)
    points = io.read_points_csv(population_path)
    if population_column not in points.columns:
        raise DataError("missing column", file=str(population_path), column=population_column)
    assignment = population.sum_points(areas, points, column=population_column)
    return Region(facilities=facilities, boundary=boundary, service_areas=areas, population_points=points,
                  assignment=assignment, duplicates=deduplicated)
