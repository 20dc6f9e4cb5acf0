"""Service areas: `import-service-areas` (given polygons) and `derive-service-areas` (Voronoi of the lowest-level
facilities clipped to the study boundary); population is recomputed after either."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import pandas as pd
import shapely
from flask.cli import with_appcontext
from shapely.geometry.base import BaseGeometry

from app import db
from app.imports.options import (
    DRY_RUN,
    FILE,
    LAYER,
    QUIET,
    REGION,
    TERMINAL,
    Progress,
    Region,
    finish,
    is_csv,
    listed,
    map_option,
    region,
    reports_errors,
    store_in_batches,
    warn,
)
from app.imports.population import Refreshed, refresh, show
from app.repo import Conn
from app.repo import imports as repo
from geo import feeds, io
from geo import service_areas as areas
from geo.columns import ignored, parse_map
from geo.errors import DataError

DERIVED = "Voronoi of the lowest-level facilities, clipped to the study boundary"


@dataclass(frozen=True)
class StudyArea:
    """A study boundary to store (replacing the stored one): its name, the dataset it came from, its polygons."""

    name: str
    dataset_id: int | None
    geometry: BaseGeometry  # lon/lat


@dataclass(frozen=True)
class Areas:
    """What storing service areas did: how many, what to warn of, and the population computed again."""

    areas: int
    warnings: list[str]
    refreshed: Refreshed


@dataclass(frozen=True)
class Derived(Areas):
    """What deriving did, also: the facilities the diagram was drawn from, and the areas it replaced."""

    sites: int
    replaced: int


def site_warnings(unattached: list[str]) -> list[str]:
    return [f"{len(unattached)} critical sites are in no service area: {listed(unattached)}"] if unattached else []


def _store(conn: Conn, rows: list[dict[str, Any]], *, region_id: int, warnings: list[str],
           progress: Progress) -> Areas:
    """Store a region's areas (facility_id, method, provenance, wkb), attach its critical sites, recompute its
    population."""
    store_in_batches(functools.partial(repo.upsert_service_areas, conn), rows, label="storing service areas",
                     progress=progress)
    unattached = repo.attach_sites(conn, region_id=region_id)
    return Areas(areas=len(rows), warnings=warnings + site_warnings(unattached),
                  refreshed=refresh(conn, region_id=region_id, direct=True, progress=progress))


def store_given(conn: Conn, given: pd.DataFrame, *, file: Path, id_column: str, region: Region,
                progress: Progress = QUIET) -> Areas:
    """Store given service areas (external_id, geometry; index: file rows) of a region's facilities over theirs."""
    ids = repo.facility_ids(conn, region_id=region.id)
    for row, eid in zip(given.index, given["external_id"], strict=True):
        if eid not in ids:
            raise DataError(f"unknown external id {eid!r} (no such facility in region {region.name!r})",
                            file=str(file), row=int(row), column=id_column)
    return _store(conn, [
        {"facility_id": ids[eid], "method": "given", "provenance": f"given: {file}", "wkb": shapely.to_wkb(g)}
        for eid, g in zip(given["external_id"], given["geometry"], strict=True)], region_id=region.id, warnings=[],
        progress=progress)


def read_boundary(file: Path, *, layer: str | None = None) -> shapely.MultiPolygon:
    """A study boundary file's polygons, as one MultiPolygon in lon/lat."""
    shape = io.read_table(file, layer=layer)
    clip = areas.as_multipolygon(shapely.union_all(shape.geometry.dropna().values))
    if clip.is_empty:
        raise DataError("no polygons in the boundary file", file=str(file))
    return clip


def derive(conn: Conn, *, region: Region, study_area: StudyArea | None = None, max_distance_m: float | None = None,
           replace_given: bool = False, metric_crs: str | None = None, provenance: str | None = None,
           progress: Progress = QUIET) -> Derived:
    """Replace the region's service areas with the Voronoi cells of its lowest-level point facilities, clipped to
    its study boundary (`study_area` replaces the stored one; without either, discs of `max_distance_m` make one).

    The cells are drawn in `metric_crs` (default: an equal-area CRS centred on the boundary)."""
    if repo.service_area_counts(conn, region_id=region.id).get("given") and not replace_given:
        raise DataError("given service areas are stored: derive with --replace-given to replace them")
    known = repo.facilities(conn, region_id=region.id)
    lowest = set(feeds.leaves([f["external_id"] for f in known], ((r["parent"], r["child"])
                                                                 for r in repo.links(conn, region_id=region.id))))
    sites = [f for f in known if f["external_id"] in lowest]
    points = gpd.GeoSeries.from_wkb([bytes(f["wkb"]) for f in sites], crs=io.LONLAT)
    keep = (points.geom_type == "Point").to_numpy()
    sites, points = [f for f, k in zip(sites, keep, strict=True) if k], points[keep]
    if not sites:
        raise DataError(f"no point facilities in region {region.name!r} to derive service areas from: run "
                        "import-facilities first")
    if study_area is not None:
        repo.replace_study_area(conn, name=study_area.name, dataset_id=study_area.dataset_id,
                                wkb=shapely.to_wkb(study_area.geometry), region_id=region.id)
    stored = repo.study_boundary(conn, region_id=region.id)
    if stored is None and max_distance_m is None:
        raise DataError("no study boundary: give --boundary FILE (or --max-distance-m)")
    if stored is None:
        assert max_distance_m is not None
        reach = areas.reach(points, max_distance_m=max_distance_m)
        repo.replace_study_area(conn, name=f"within {max_distance_m:g} m of the facilities", dataset_id=None,
                                wkb=shapely.to_wkb(reach), region_id=region.id)
        stored = repo.study_boundary(conn, region_id=region.id)
    assert stored is not None
    outline = shapely.from_wkb(stored)
    # The diagram itself is one quick library call; clipping its cells to the boundary is what takes time.
    with progress.bar(f"Voronoi of {len(sites)} facilities, clipped to the study boundary", len(sites)) as bar:
        cells = areas.voronoi(points.reset_index(drop=True), outline,
                              metric_crs=metric_crs or areas.metric_crs(outline), max_distance_m=max_distance_m,
                              progress=bar.update)
    replaced = repo.delete_service_areas(conn, region_id=region.id)
    limit = f", at most {max_distance_m:g} m from the facility" if max_distance_m else ""
    shapes = [areas.as_multipolygon(cell) for cell in cells.values]
    empty = [f["external_id"] for f, shape in zip(sites, shapes, strict=True) if shape.is_empty]
    warnings = [f"{len(empty)} facilities get no service area (at the same place as another, or outside the "
                f"boundary): {listed(empty)}"] if empty else []
    done = _store(conn, [
        {"facility_id": f["id"], "method": "voronoi", "wkb": shapely.to_wkb(shape),
         "provenance": provenance or f"{DERIVED}{limit}"}
        for f, shape in zip(sites, shapes, strict=True) if not shape.is_empty], region_id=region.id,
        warnings=warnings, progress=progress)
    return Derived(areas=done.areas, warnings=done.warnings, refreshed=done.refreshed, sites=len(sites),
                   replaced=replaced)


@click.command("import-service-areas")
@FILE
@LAYER
@map_option(areas.AREA_FIELDS)
@REGION
@DRY_RUN
@with_appcontext
@reports_errors
def import_service_areas(file: Path, layer: str | None, map_text: str | None, region_name: str | None,
                         dry_run: bool) -> None:
    """Load given service areas: one polygon per facility external id."""
    columns = parse_map(map_text, fields=areas.AREA_FIELDS)
    frame = io.read_table(file, layer=layer, columns=columns.csv_columns())
    given = areas.read_areas(frame, file=str(file), columns=columns)
    warn(*(f"{file.name}: {message}" for message in ignored(frame, columns, fields=areas.AREA_FIELDS,
                                                            csv=is_csv(file))))
    with db.connection() as conn:
        done = store_given(conn, given, file=file, id_column=columns.columns.get("external_id", "external_id"),
                           region=region(conn, region_name), progress=TERMINAL)
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-service-areas",
                   after={"file": str(file), "areas": done.areas})
        click.echo(f"service areas: {done.areas} given areas stored")
        warn(*done.warnings)
        show(done.refreshed)
        finish(conn, dry_run=dry_run)


@click.command("derive-service-areas")
@click.option("--boundary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The study boundary (polygons); it replaces the stored one. Default: the stored boundary.")
@click.option("--boundary-layer", help="The layer of the boundary file, when it has several.")
@click.option("--max-distance-m", type=click.FloatRange(min=0, min_open=True),
              help="Limit each area to this distance around its facility (also the boundary when none is stored).")
@click.option("--replace-given", is_flag=True, help="Replace given service areas too.")
@REGION
@DRY_RUN
@with_appcontext
@reports_errors
def derive_service_areas(boundary: Path | None, boundary_layer: str | None, max_distance_m: float | None,
                         replace_given: bool, region_name: str | None, dry_run: bool) -> None:
    """Derive service areas: Voronoi cells of the lowest-level facilities, clipped to the study boundary."""
    clip = read_boundary(boundary, layer=boundary_layer) if boundary is not None else None
    with db.connection() as conn:
        target = region(conn, region_name)
        study_area = None
        if boundary is not None and clip is not None:
            source = repo.dataset(conn, name=boundary.name, source=str(boundary.resolve()))
            study_area = StudyArea(name=boundary.stem, dataset_id=source, geometry=clip)
        done = derive(conn, region=target, study_area=study_area, max_distance_m=max_distance_m,
                      replace_given=replace_given, progress=TERMINAL)
        repo.audit(conn, entity="dataset", entity_id="derive-service-areas", action="derive-service-areas",
                   after={"areas": done.sites, "replaced": done.replaced, "max_distance_m": max_distance_m,
                          "region": target.name})
        warn(*done.warnings)
        click.echo(f"service areas: {done.areas} derived (Voronoi of the lowest-level facilities), "
                   f"{done.replaced} replaced")
        show(done.refreshed)
        finish(conn, dry_run=dry_run)
