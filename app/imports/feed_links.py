"""Feed links: `import-feeds` (given parent -> child links) and `infer-feeds` (by voltage level), checked for
cycles, after which population served is recomputed."""

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
    QUIET,
    REGION,
    TERMINAL,
    Progress,
    finish,
    is_csv,
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


def store_links(conn: Conn, links: list[feeds.Link], *, file: str, column: str, dataset_id: int | None,
                region_id: int, progress: Progress = QUIET) -> tuple[int, Refreshed]:
    """Replace the parents of the linked children with these links, checking ids (of the region's facilities)
    and cycles; then population served. How many links were stored, and the refresh."""
    ids = repo.facility_ids(conn, region_id=region_id)
    for link in links:
        for value, name in ((link.parent, column), (link.child, "external_id")):
            if value not in ids:
                raise DataError(f"unknown external id {value!r}", file=file, row=link.row, column=name)
    repo.replace_parents(conn, sorted({ids[link.child] for link in links}))
    rows = [{"parent_id": ids[link.parent], "child_id": ids[link.child],
             "origin": "given" if link.distance_m is None else "inferred",
             "distance_m": link.distance_m, "dataset_id": dataset_id} for link in links]
    store_in_batches(functools.partial(repo.insert_links, conn), rows, label="storing feed links", progress=progress)
    cycle = feeds.find_cycle((r["parent"], r["child"]) for r in repo.links(conn, region_id=region_id))
    if cycle:
        pairs = set(zip(cycle, cycle[1:], strict=False))
        row = next((link.row for link in links if (link.parent, link.child) in pairs), None)
        raise DataError(f"feed links form a cycle ({' -> '.join(cycle)})", file=file, row=row, column=column)
    return len(rows), refresh(conn, region_id=region_id, direct=False, progress=progress)


@click.command("import-feeds")
@FILE
@LAYER
@map_option(feeds.FEED_FIELDS)
@click.option("--undirected", is_flag=True, help="The rows are grid lines without direction: orient each from the "
              "higher voltage level to the lower, then away from the power plants.")
@REGION
@DRY_RUN
@with_appcontext
@reports_errors
def import_feeds(file: Path, layer: str | None, map_text: str | None, undirected: bool, region_name: str | None,
                 dry_run: bool) -> None:
    """Load feed links (parent → child by external id); they replace the given parents of each child in the file."""
    columns = parse_map(map_text, fields=feeds.FEED_FIELDS)
    frame = io.read_table(file, layer=layer, columns=columns.csv_columns(), geometry=False)
    links = feeds.read_links(frame, file=str(file), columns=columns)
    warn(*(f"{file.name}: {message}" for message in ignored(frame, columns, fields=feeds.FEED_FIELDS,
                                                            csv=is_csv(file))))
    with db.connection() as conn:
        target = region(conn, region_name)
        if undirected:
            known = {f["external_id"]: f for f in repo.facilities(conn, region_id=target.id)}
            links = feeds.orient(links, voltage_kv={k: f["voltage_kv"] for k, f in known.items()},
                                 kind={k: f["kind"] for k, f in known.items()})
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        count, refreshed = store_links(conn, links, file=str(file), column=columns.columns.get(
            "parent_external_id", "parent_external_id"), dataset_id=dataset_id, region_id=target.id, progress=TERMINAL)
        show(refreshed)
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-feeds",
                   after={"file": str(file), "rows": len(frame), "links": count, "undirected": undirected})
        click.echo(f"feed links: {count} given links stored from {len(frame)} rows")
        finish(conn, dry_run=dry_run)


@click.command("infer-feeds")
@click.option("--any-higher-level", is_flag=True,
              help="Link to the nearest facility of any higher voltage level, not only the next one.")
@REGION
@DRY_RUN
@with_appcontext
@reports_errors
def infer_feeds(any_higher_level: bool, region_name: str | None, dry_run: bool) -> None:
    """Link each facility without a given parent to the nearest facility of the next higher voltage level."""
    with db.connection() as conn:
        target = region(conn, region_name)
        known = repo.facilities(conn, region_id=target.id)
        if not known:
            raise DataError(f"no facilities in region {target.name!r}: run import-facilities first")
        frame = gpd.GeoDataFrame(known, geometry=gpd.GeoSeries.from_wkb([bytes(f["wkb"]) for f in known]))
        removed = repo.delete_inferred(conn, region_id=target.id)
        given = {r["child"] for r in repo.links(conn, region_id=target.id)}
        crs = areas.metric_crs(shapely.MultiPoint(shapely.get_coordinates(frame.geometry.values)))
        with click.progressbar(length=len(frame), label="inferring feed links") as bar:
            links = feeds.infer(frame, metric_crs=crs, skip=given, any_higher=any_higher_level, progress=bar.update)
        count, refreshed = store_links(conn, links, file="infer-feeds", column="voltage_kv", dataset_id=None,
                                       region_id=target.id, progress=TERMINAL)
        show(refreshed)
        no_voltage = int(frame["voltage_kv"].isna().sum())
        if no_voltage:
            warn(f"{no_voltage} facilities have no voltage and were not linked")
        distances = sorted(link.distance_m or 0.0 for link in links)
        median = distances[len(distances) // 2] if distances else 0.0
        repo.audit(conn, entity="dataset", entity_id="infer-feeds", action="infer-feeds",
                   after={"links": count, "removed": removed, "any_higher_level": any_higher_level})
        levels = sorted(set(feeds.voltage_levels(frame["voltage_kv"]).values()))
        shown = ", ".join(f"{v:g}" for v in levels) or "none"
        click.echo(f"feed links: {count} inferred (replacing {removed}); voltage levels (kV): {shown}; "
                   f"median distance {median / 1000:.1f} km")
        finish(conn, dry_run=dry_run)
