"""Population per service area from a population layer, with a conservation check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.columns import ColumnMap, column, number, text, unique_ids
from geo.errors import DataError


@dataclass(frozen=True)
class Assignment:
    """People per service area, and the totals that prove nobody was counted twice or lost."""

    population: pd.Series  # indexed like the service areas, people
    inside_total: float  # people of the layer inside the union of the service areas
    outside_total: float  # people of the layer outside every service area

    @property
    def assigned_total(self) -> float:
        return float(self.population.sum())


def sum_points(areas: gpd.GeoSeries, points: gpd.GeoDataFrame, *, column: str) -> Assignment:
    """Sum point counts per area; a point on a shared edge counts once, for the first area in index order."""
    joined = gpd.sjoin(points[[column, points.geometry.name]], gpd.GeoDataFrame(geometry=areas),
                       how="inner", predicate="intersects")
    order = {label: position for position, label in enumerate(areas.index)}
    joined["__order"] = joined["index_right"].map(order)
    first = joined.sort_values("__order", kind="stable")
    first = first[~first.index.duplicated(keep="first")]
    population = first.groupby("index_right")[column].sum().reindex(areas.index, fill_value=0).astype(float)
    inside = float(points.loc[first.index, column].sum())
    return Assignment(population=population, inside_total=inside,
                      outside_total=float(points[column].sum()) - inside)


POPULATION_FIELDS = ("population", "ref")
POPULATION_DEFAULTS = ("pop", "total", "count", "people")


@dataclass(frozen=True)
class Counts:
    """A population layer read from a vector file: `points` or `polygons`, each with a ref and a count of people."""

    kind: str
    frame: gpd.GeoDataFrame  # columns ref, population, geometry (lon/lat); index: file rows


def read_counts(frame: gpd.GeoDataFrame, *, file: str, columns: ColumnMap) -> Counts:
    """Point or polygon counts from a table: every row a count ≥ 0 and one geometry type for the whole file."""
    count_col = column(frame, columns, "population", file=file, required=True, defaults=POPULATION_DEFAULTS)
    ref_col = column(frame, columns, "ref", file=file, required=False, defaults=("id", "guid", "code"))
    assert count_col is not None
    kinds = set()
    for row, geometry in zip(frame.index, frame.geometry.values, strict=True):
        if geometry is None or geometry.is_empty:
            raise DataError("no geometry", file=file, row=int(row), column="geometry")
        kinds.add("points" if geometry.geom_type in ("Point", "MultiPoint") else
                  "polygons" if geometry.geom_type in ("Polygon", "MultiPolygon") else geometry.geom_type)
        if len(kinds) > 1 or geometry.geom_type == "MultiPoint" and len(geometry.geoms) > 1:
            raise DataError(f"bad geometry: {geometry.geom_type} in a file of {sorted(kinds)[0]}; a population "
                            "layer is all points or all polygons", file=file, row=int(row), column="geometry")
    if not kinds <= {"points", "polygons"}:
        raise DataError(f"bad geometry: points or polygons expected, got {sorted(kinds)[0]}", file=file)
    people = []
    for row, value in zip(frame.index, frame[count_col], strict=True):
        count = number(value, file=file, row=int(row), column=count_col)
        if count is None:
            raise DataError("missing population", file=file, row=int(row), column=count_col)
        people.append(count)
    given = [text(v) for v in frame[ref_col]] if ref_col else [None] * len(frame)
    refs = [r if r is not None else str(row) for r, row in zip(given, frame.index, strict=True)]
    ids = pd.Series(refs, index=frame.index, dtype=object)
    unique_ids(ids, file=file, column=ref_col or "row")
    geometry = frame.geometry if "polygons" in kinds else gpd.GeoSeries(
        [shapely.get_parts(g)[0] for g in frame.geometry.values], index=frame.index, crs=frame.crs)
    result = gpd.GeoDataFrame({"ref": refs, "population": people}, geometry=geometry, index=frame.index,
                              crs=frame.crs)
    return Counts(kind=kinds.pop() if kinds else "points", frame=result)


def areal_weighting(areas: gpd.GeoSeries, sources: gpd.GeoDataFrame, *, column: str,
                    metric_crs: str) -> Assignment:
    """Spread each source polygon's count over the areas in proportion to the share of its area inside each.

    This is areal interpolation of an extensive variable, as tobler's `area_interpolate(..., allocate_total=False)`:
    a source polygon half inside an area gives it half its people, and the people of its part outside every
    area stay outside. Areas are measured in `metric_crs` (use an equal-area CRS).
    """
    targets = np.asarray(areas.to_crs(metric_crs).values, dtype=object)
    polygons = np.asarray(sources.geometry.to_crs(metric_crs).values, dtype=object)
    people = sources[column].to_numpy(dtype=float)
    source_area = shapely.area(polygons)
    tree = shapely.STRtree(targets)
    source_at, target_at = tree.query(polygons, predicate="intersects")
    shapely.prepare(targets)
    # Most small census units lie wholly inside one area: their share is 1 and needs no intersection.
    inside = shapely.contains_properly(targets[target_at], polygons[source_at])
    share = np.ones(len(source_at))
    cut = ~inside
    share[cut] = shapely.area(shapely.intersection(targets[target_at[cut]], polygons[source_at[cut]]))
    share[cut] /= np.where(source_area[source_at[cut]] > 0, source_area[source_at[cut]], 1.0)
    assigned = np.bincount(target_at, weights=people[source_at] * share, minlength=len(targets))
    population = pd.Series(assigned, index=areas.index, dtype=float)
    inside_total = float(population.sum())
    return Assignment(population=population, inside_total=inside_total,
                      outside_total=float(people.sum()) - inside_total)


def raster_sums(areas: gpd.GeoSeries, path: Path) -> Assignment:
    """Exact zonal sums of a population raster: each cell counts by the fraction of it inside each area.

    Uses exactextract's fractional coverage (never "all touched" or cell centres), with areas reprojected to
    the raster's CRS; nodata cells count as nobody.
    """
    from exactextract import exact_extract
    from exactextract.raster import RasterioRasterSource

    with _open_raster(path) as dataset:
        total = raster_total(dataset)
        frame = gpd.GeoDataFrame({"area": np.arange(len(areas))}, geometry=areas.to_crs(dataset.crs).values,
                                 crs=dataset.crs)
        nonempty = frame[~frame.geometry.is_empty & frame.geometry.notna()]
        sums = np.zeros(len(areas))
        if len(nonempty):
            result = exact_extract(RasterioRasterSource(dataset), nonempty, ["sum"], include_cols=["area"],
                                   output="pandas")
            sums[result["area"].to_numpy()] = result["sum"].fillna(0).to_numpy()
    population = pd.Series(sums, index=areas.index, dtype=float)
    inside = float(population.sum())
    return Assignment(population=population, inside_total=inside, outside_total=total - inside)


def _open_raster(path: Path) -> Any:
    import rasterio

    try:
        dataset = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise DataError(f"cannot read as a raster: {exc}", file=str(path)) from exc
    if dataset.crs is None:
        dataset.close()
        raise DataError("CRS missing: the raster has no coordinate reference system", file=str(path))
    return dataset


def raster_total(dataset: Any) -> float:
    """The people in a whole raster (band 1, nodata excluded), read block by block."""
    total = 0.0
    for _, window in dataset.block_windows(1):
        block = dataset.read(1, window=window, masked=True)
        total += float(block.sum()) if block.count() else 0.0
    return total


def raster_info(path: Path) -> tuple[float, str]:
    """A raster's total population and its CRS, checking that it can be read."""
    with _open_raster(path) as dataset:
        return raster_total(dataset), str(dataset.crs)
