"""Benchmark population per service area: raster zonal sums and areal weighting against their baselines.

Run: .venv/bin/python bench/bench_population.py [--quick] [--seed N]
Generates, with a fixed seed, a population raster (5,000 × 5,000 cells of 100 m in EPSG:3035; 1,000 × 1,000 with
--quick) and service areas as Voronoi cells of random points (2,000 and 20,000; 200 and 2,000 with --quick), then
times GridTriage's `geo.population.raster_sums` next to exactextract called directly and rasterstats' zonal_stats
(cell centres, so not expected to agree exactly). It then spreads 50,000 census polygons over 5,000 service areas
(5,000 over 500 with --quick) with `geo.population.areal_weighting` next to tobler's `area_interpolate`. Results
must agree with exactextract within 1e-6 relative, and with tobler within 1e-6 relative.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo import population  # noqa: E402

CRS = "EPSG:3035"
CELL_M = 100.0
ORIGIN = (4_000_000.0, 3_500_000.0)  # west, north (central Europe in EPSG:3035)


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def write_raster(path: Path, *, size: int, rng: np.random.Generator) -> None:
    """A lumpy population surface: gamma noise times a few Gaussian towns, tiled like WorldPop's GeoTIFFs."""
    y, x = np.mgrid[0:size, 0:size].astype("float32") / size
    towns = np.zeros((size, size), dtype="float32")
    for cx, cy, spread, peak in zip(rng.random(12), rng.random(12), rng.uniform(0.02, 0.1, 12),
                                    rng.uniform(20, 200, 12), strict=True):
        towns += (peak * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * spread**2))).astype("float32")
    values = (rng.gamma(0.5, 2.0, (size, size)).astype("float32") * (1 + towns))
    values[rng.random((size, size)) < 0.01] = -99999  # scattered nodata cells
    transform = Affine(CELL_M, 0, ORIGIN[0], 0, -CELL_M, ORIGIN[1])
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32", crs=CRS,
                       transform=transform, nodata=-99999, tiled=True, blockxsize=256, blockysize=256) as out:
        out.write(values, 1)


def voronoi_areas(count: int, *, extent: shapely.Polygon, rng: np.random.Generator) -> gpd.GeoSeries:
    """Voronoi cells of `count` random points, clipped to the extent, in EPSG:3035."""
    minx, miny, maxx, maxy = extent.bounds
    points = shapely.points(np.column_stack([rng.uniform(minx, maxx, count), rng.uniform(miny, maxy, count)]))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(list(points)), extend_to=extent))
    return gpd.GeoSeries(shapely.intersection(cells, extent), crs=CRS)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-9)))


def bench_raster(path: Path, size: int, counts: list[int], rng: np.random.Generator) -> None:
    from exactextract import exact_extract
    from rasterstats import zonal_stats

    extent = shapely.box(ORIGIN[0], ORIGIN[1] - size * CELL_M, ORIGIN[0] + size * CELL_M, ORIGIN[1])
    print(f"\nraster zonal sums, {size:,} x {size:,} cells of {CELL_M:g} m (EPSG:3035)")
    print(f"{'areas':>8} {'GridTriage s':>13} {'exactextract s':>15} {'overhead':>9} {'max rel diff':>13} "
          f"{'rasterstats s':>14} {'rasterstats rel diff':>21}")
    for count in counts:
        areas = voronoi_areas(count, extent=extent, rng=rng)
        frame = gpd.GeoDataFrame(geometry=areas)
        def ours_run(areas: gpd.GeoSeries = areas) -> np.ndarray:
            return np.asarray(population.raster_sums(areas, path).population.to_numpy(), dtype=float)

        def direct_run(frame: gpd.GeoDataFrame = frame) -> np.ndarray:
            return np.asarray(exact_extract(str(path), frame, ["sum"], output="pandas")["sum"].to_numpy(), dtype=float)

        def centres_run(frame: gpd.GeoDataFrame = frame) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # rasterstats' own deprecation notices
                return np.array([s["sum"] or 0.0 for s in zonal_stats(frame, str(path), stats=["sum"])])

        ours, ours_s = timed(ours_run)
        direct, direct_s = timed(direct_run)
        centres, centres_s = timed(centres_run)
        difference = relative_difference(ours, direct)
        assert difference <= 1e-6, f"GridTriage and exactextract differ by {difference:.2e}"
        print(f"{count:>8,} {ours_s:>13.2f} {direct_s:>15.2f} {ours_s / direct_s - 1:>+9.1%} {difference:>13.1e} "
              f"{centres_s:>14.2f} {relative_difference(centres, direct):>21.1e}")


def bench_areal(units: int, targets: int, rng: np.random.Generator) -> None:
    from tobler.area_weighted import area_interpolate

    extent = shapely.box(ORIGIN[0], ORIGIN[1] - 200_000, ORIGIN[0] + 200_000, ORIGIN[1])
    census = gpd.GeoDataFrame({"population": rng.gamma(2.0, 500.0, units)},
                              geometry=voronoi_areas(units, extent=extent, rng=rng), crs=CRS)
    areas = voronoi_areas(targets, extent=extent, rng=rng)
    ours, ours_s = timed(lambda: population.areal_weighting(areas, census, column="population",
                                                            metric_crs=CRS).population.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, theirs_s = timed(lambda: area_interpolate(census, gpd.GeoDataFrame(geometry=areas),
                                                          extensive_variables=["population"],
                                                          allocate_total=False)["population"].to_numpy())
    difference = relative_difference(ours, theirs)
    assert difference <= 1e-6, f"GridTriage and tobler differ by {difference:.2e}"
    print(f"\nareal weighting, {units:,} census polygons into {targets:,} service areas (extensive, EPSG:3035)")
    print(f"GridTriage {ours_s:.2f} s, tobler area_interpolate {theirs_s:.2f} s "
          f"({theirs_s / ours_s:.1f}x), max relative difference {difference:.1e}, "
          f"people {ours.sum():,.0f} of {census['population'].sum():,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small raster and fewer areas")
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    size, counts = (1_000, [200, 2_000]) if args.quick else (5_000, [2_000, 20_000])
    units, targets = (5_000, 500) if args.quick else (50_000, 5_000)
    with tempfile.TemporaryDirectory(prefix="gridtriage-bench-pop-") as tmp:
        path = Path(tmp) / "population.tif"
        _, seconds = timed(lambda: write_raster(path, size=size, rng=rng))
        print(f"synthetic raster written in {seconds:.1f} s (seed {args.seed})")
        bench_raster(path, size, counts, rng)
    bench_areal(units, targets, rng)


if __name__ == "__main__":
    main()
