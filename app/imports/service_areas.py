"""Service areas: `import-service-areas` (given polygons) and `derive-service-areas` (Voronoi of the lowest-level
facilities clipped to the study boundary); population is recomputed after either."""

from __future__ import annotations

import functools
from pathlib import Path

import click
import geopandas as gpd
import shapely
from flask.cli import with_appcontext

from app import db
from app.imports.options import (
    DRY_RUN,
    FILE,
    LAYER,
    finish,
    listed,
    map_option,
    reports_errors,
    store_in_batches,
    warn,
)
from app.imports.population import refresh_and_show
from app.repo import imports as repo
from geo import feeds, io
from geo import service_areas as areas
from geo.columns import parse_map
from geo.errors import DataError


@click.command("import-service-areas")
@FILE
@LAYER
@map_option(areas.AREA_FIELDS)
@DRY_RUN
@with_appcontext
@reports_errors
def import_service_areas(file: Path, layer: str | None, map_text: str | None, dry_run: bool) -> None:
    """Load given service areas: one polygon per facility external id."""
    columns = parse_map(map_text, fields=areas.AREA_FIELDS)
    given = areas.read_areas(io.read_table(file, layer=layer, columns=columns.csv_columns()), file=str(file),
                             columns=columns)
    with db.connection() as conn:
        ids = repo.facility_ids(conn)
        id_col = columns.columns.get("external_id", "external_id")
        for row, eid in zip(given.index, given["external_id"], strict=True):
            if eid not in ids:
                raise DataError(f"unknown external id {eid!r}", file=str(file), row=int(row), column=id_col)
        store_in_batches(functools.partial(repo.upsert_service_areas, conn), [
            {"facility_id": ids[eid], "method": "given", "provenance": f"given: {file}", "wkb": shapely.to_wkb(g)}
            for eid, g in zip(given["external_id"], given["geometry"], strict=True)], label="storing service areas")
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-service-areas",
                   after={"file": str(file), "areas": len(given)})
        click.echo(f"service areas: {len(given)} given areas stored")
        report_sites(repo.attach_sites(conn))
        refresh_and_show(conn, direct=True)
        finish(conn, dry_run=dry_run)


@click.command("derive-service-areas")
@click.option("--boundary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The study boundary (polygons); it replaces the stored one. Default: the stored boundary.")
@click.option("--boundary-layer", help="The layer of the boundary file, when it has several.")
@click.option("--max-distance-m", type=click.FloatRange(min=0, min_open=True),
              help="Limit each area to this distance around its facility (also the boundary when none is stored).")
@click.option("--replace-given", is_flag=True, help="Replace given service areas too.")
@DRY_RUN
@with_appcontext
@reports_errors
def derive_service_areas(boundary: Path | None, boundary_layer: str | None, max_distance_m: float | None,
                         replace_given: bool, dry_run: bool) -> None:
    """Derive service areas: Voronoi cells of the lowest-level facilities, clipped to the study boundary."""
    clip = None
    if boundary is not None:
        shape = io.read_table(boundary, layer=boundary_layer)
        clip = areas.as_multipolygon(shapely.union_all(shape.geometry.dropna().values))
        if clip.is_empty:
            raise DataError("no polygons in the boundary file", file=str(boundary))
    with db.connection() as conn:
        if repo.service_area_counts(conn).get("given") and not replace_given:
            raise DataError("given service areas are stored: derive with --replace-given to replace them")
        known = repo.facilities(conn)
        lowest = set(feeds.leaves([f["external_id"] for f in known], ((r["parent"], r["child"])
                                                                     for r in repo.links(conn))))
        sites = [f for f in known if f["external_id"] in lowest]
        points = gpd.GeoSeries.from_wkb([bytes(f["wkb"]) for f in sites], crs=io.LONLAT)
        keep = (points.geom_type == "Point").to_numpy()
        sites, points = [f for f, k in zip(sites, keep, strict=True) if k], points[keep]
        if not sites:
            raise DataError("no point facilities to derive service areas from: run import-facilities first")
        if clip is not None:
            assert boundary is not None
            repo.replace_study_area(conn, name=boundary.stem, dataset_id=repo.dataset(
                conn, name=boundary.name, source=str(boundary.resolve())), wkb=shapely.to_wkb(clip))
        stored = repo.study_boundary(conn)
        if stored is None and max_distance_m is None:
            raise DataError("no study boundary: give --boundary FILE (or --max-distance-m)")
        if stored is None:
            assert max_distance_m is not None
            reach = areas.reach(points, max_distance_m=max_distance_m)
            repo.replace_study_area(conn, name=f"within {max_distance_m:g} m of the facilities", dataset_id=None,
                                    wkb=shapely.to_wkb(reach))
            stored = repo.study_boundary(conn)
        assert stored is not None
        region = shapely.from_wkb(stored)
        crs = areas.metric_crs(region)
        # The diagram itself is one quick library call; clipping its cells to the boundary is what takes time.
        with click.progressbar(length=len(sites), label=f"Voronoi of {len(sites)} facilities, clipped to the "
                               "study boundary") as bar:
            cells = areas.voronoi(points.reset_index(drop=True), region, metric_crs=crs,
                                  max_distance_m=max_distance_m, progress=bar.update)
        replaced = repo.delete_service_areas(conn)
        limit = f", at most {max_distance_m:g} m from the facility" if max_distance_m else ""
        shapes = [areas.as_multipolygon(cell) for cell in cells.values]
        empty = [f["external_id"] for f, shape in zip(sites, shapes, strict=True) if shape.is_empty]
        if empty:
            warn(f"{len(empty)} facilities get no service area (at the same place as another, or outside the "
                 f"boundary): {listed(empty)}")
        store_in_batches(functools.partial(repo.upsert_service_areas, conn), [
            {"facility_id": f["id"], "method": "voronoi", "wkb": shapely.to_wkb(shape),
             "provenance": f"Voronoi of the lowest-level facilities, clipped to the study boundary{limit}"}
            for f, shape in zip(sites, shapes, strict=True) if not shape.is_empty], label="storing service areas")
        repo.audit(conn, entity="dataset", entity_id="derive-service-areas", action="derive-service-areas",
                   after={"areas": len(sites), "replaced": replaced, "max_distance_m": max_distance_m})
        click.echo(f"service areas: {len(sites) - len(empty)} derived (Voronoi of the lowest-level facilities), "
                   f"{replaced} replaced")
        report_sites(repo.attach_sites(conn))
        refresh_and_show(conn, direct=True)
        finish(conn, dry_run=dry_run)


def report_sites(unattached: list[str]) -> None:
    if unattached:
        warn(f"{len(unattached)} critical sites are in no service area: {listed(unattached)}")


