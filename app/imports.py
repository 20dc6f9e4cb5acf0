"""Data onboarding commands: facilities, feed links, service areas, population layers and critical sites.

Each command reads and checks its file first, then changes the database in one transaction; `--dry-run` does
all the work and rolls it back, so it reports exactly what would change. Bad input ends the command with one
line, `error: FILE, row N, column 'X': reason`, and nothing changed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
import geopandas as gpd
import shapely
from flask import Flask
from flask.cli import with_appcontext

from app import db
from app.repo import Conn
from app.repo import imports as repo
from geo import feeds, io, mapping
from geo import service_areas as areas
from geo.errors import DataError

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
BATCH_ROWS = 1_000  # rows sent per batch of statements: the progress bar moves after each batch
FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
LAYER = click.option("--layer", help="The layer to read from a GeoPackage or other multi-layer file.")
DRY_RUN = click.option("--dry-run", is_flag=True, help="Do all the work, report what would change, change nothing.")
CRS = click.option("--crs", help="CSV only: the CRS of the coordinates (default EPSG:4326, lon/lat).")


class ImportFailed(click.ClickException):
    """A command's one-line error: `error: FILE, row N, column 'X': reason`."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _map_option(fields: tuple[str, ...]) -> Callable[[F], F]:
    return click.option("--map", "map_text", metavar="FIELD=COLUMN,…|FILE.yaml",
                        help=f"Which column holds each field ({', '.join(fields)}, and for CSV lon, lat, wkt), "
                             "or a YAML file with 'columns:', 'kinds:' and 'voltage_unit:'.")


def reports_errors(command: F) -> F:
    """Turn bad input into the one-line error (and a non-zero exit), never a traceback."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DataError as exc:
            raise ImportFailed(str(exc)) from exc
    return wrapper  # type: ignore[return-value]


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _listed(items: list[str], limit: int = 10) -> str:
    more = f" … and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def finish(conn: Conn, *, dry_run: bool) -> None:
    """End the command's transaction: roll it back on a dry run (the block's end commits otherwise)."""
    if dry_run:
        conn.rollback()
        click.echo("dry run: nothing was changed")


def store_in_batches(store: Callable[[list[T]], object], rows: list[T], *, label: str) -> None:
    """Store rows batch by batch behind a progress bar (which shows only its label when not on a terminal)."""
    with click.progressbar(length=len(rows), label=label) as bar:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start:start + BATCH_ROWS]
            store(batch)
            bar.update(len(batch))


def _json_default(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def _ewkb(geometry: Any) -> str:
    return shapely.to_wkb(shapely.set_srid(geometry, 4326), hex=True, include_srid=True)


@click.command("import-facilities")
@FILE
@LAYER
@click.option("--kind", help="The kind of every facility, when the file has one kind only (e.g. substation).")
@_map_option(mapping.FACILITY_FIELDS)
@CRS
@DRY_RUN
@with_appcontext
@reports_errors
def import_facilities(file: Path, layer: str | None, kind: str | None, map_text: str | None, crs: str | None,
                      dry_run: bool) -> None:
    """Load or update a facility registry (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, CSV, pandapower JSON).

    Facilities are matched by external id: a file loaded again updates them instead of adding copies.
    """
    columns = mapping.parse_map(map_text, fields=mapping.FACILITY_FIELDS)
    frame = io.read_pandapower(file) if io.is_pandapower(file) else io.read_table(
        file, layer=layer, columns=columns.csv_columns(), crs=crs)
    click.echo(f"read {len(frame)} rows from {file.name}")
    records = mapping.facilities(frame, file=str(file), mapping=columns, kind=kind)
    for row, label in records.duplicates:
        warn(f"{file}, row {row}: identical to an earlier row ({label}); kept once")
    for message in records.warnings:
        warn(f"{file}: {message}")
    rows = records.frame
    with db.connection() as conn:
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        values = ((r.external_id, r.name, r.kind, r.voltage_kv, r.capacity_mva, r.capacity_mw,
                   json.dumps(r.attributes, default=_json_default, sort_keys=True), _ewkb(r.geometry))
                  for r in rows.itertuples())
        with click.progressbar(values, length=len(rows), label="storing facilities") as bar:
            counts = repo.upsert_facilities(conn, bar, dataset_id=dataset_id,
                                            action=f"import-facilities {file.name}")
        linked = rows[rows["parent_external_id"].notna()] if "parent_external_id" in rows else rows.iloc[:0]
        given = [feeds.Link(parent=p, child=c, row=int(r)) for r, p, c in
                 zip(linked.index, linked["parent_external_id"], linked["external_id"], strict=True)]
        link_count = _store_links(conn, given, file=str(file), column=columns.columns.get(
            "parent_external_id", "parent_external_id"), dataset_id=dataset_id) if given else 0
        outside = repo.outside_study_area(conn, list(rows["external_id"]))
        if outside:
            warn(f"{len(outside)} facilities outside the study boundary: {_listed(outside)}")
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-facilities",
                   after={"file": str(file), **counts, "duplicates": len(records.duplicates), "links": link_count})
        if repo.service_area_counts(conn).get("voronoi") and (counts["created"] or counts["updated"]):
            warn("service areas were derived from the facilities before this import: run derive-service-areas")
        click.echo(f"facilities: {counts['created']} new, {counts['updated']} updated, {counts['unchanged']} "
                   f"unchanged, {len(records.duplicates)} identical duplicate rows kept once; "
                   f"{link_count} feed links given")
        finish(conn, dry_run=dry_run)


def _store_links(conn: Conn, links: list[feeds.Link], *, file: str, column: str, dataset_id: int | None) -> int:
    """Replace the parents of the linked children with these links, checking ids and cycles."""
    ids = repo.facility_ids(conn)
    for link in links:
        for value, name in ((link.parent, column), (link.child, "external_id")):
            if value not in ids:
                raise DataError(f"unknown external id {value!r}", file=file, row=link.row, column=name)
    repo.replace_parents(conn, sorted({ids[link.child] for link in links}))
    rows = [{"parent_id": ids[link.parent], "child_id": ids[link.child],
             "origin": "given" if link.distance_m is None else "inferred",
             "distance_m": link.distance_m, "dataset_id": dataset_id} for link in links]
    store_in_batches(functools.partial(repo.insert_links, conn), rows, label="storing feed links")
    cycle = feeds.find_cycle((r["parent"], r["child"]) for r in repo.links(conn))
    if cycle:
        pairs = set(zip(cycle, cycle[1:], strict=False))
        row = next((link.row for link in links if (link.parent, link.child) in pairs), None)
        raise DataError(f"feed links form a cycle ({' -> '.join(cycle)})", file=file, row=row, column=column)
    from app.imports_population import refresh

    refresh(conn, direct=False)
    return len(rows)


@click.command("import-feeds")
@FILE
@LAYER
@_map_option(feeds.FEED_FIELDS)
@click.option("--undirected", is_flag=True, help="The rows are grid lines without direction: orient each from the "
              "higher voltage level to the lower, then away from the power plants.")
@DRY_RUN
@with_appcontext
@reports_errors
def import_feeds(file: Path, layer: str | None, map_text: str | None, undirected: bool, dry_run: bool) -> None:
    """Load feed links (parent → child by external id); they replace the given parents of each child in the file."""
    columns = mapping.parse_map(map_text, fields=feeds.FEED_FIELDS)
    frame = io.read_table(file, layer=layer, columns=columns.csv_columns(), geometry=False)
    links = feeds.read_links(frame, file=str(file), columns=columns)
    with db.connection() as conn:
        if undirected:
            known = {f["external_id"]: f for f in repo.facilities(conn)}
            links = feeds.orient(links, voltage_kv={k: f["voltage_kv"] for k, f in known.items()},
                                 kind={k: f["kind"] for k, f in known.items()})
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        count = _store_links(conn, links, file=str(file), column=columns.columns.get(
            "parent_external_id", "parent_external_id"), dataset_id=dataset_id)
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-feeds",
                   after={"file": str(file), "rows": len(frame), "links": count, "undirected": undirected})
        click.echo(f"feed links: {count} given links stored from {len(frame)} rows")
        finish(conn, dry_run=dry_run)


@click.command("infer-feeds")
@click.option("--any-higher-level", is_flag=True,
              help="Link to the nearest facility of any higher voltage level, not only the next one.")
@DRY_RUN
@with_appcontext
@reports_errors
def infer_feeds(any_higher_level: bool, dry_run: bool) -> None:
    """Link each facility without a given parent to the nearest facility of the next higher voltage level."""
    with db.connection() as conn:
        known = repo.facilities(conn)
        if not known:
            raise DataError("no facilities: run import-facilities first")
        frame = gpd.GeoDataFrame(known, geometry=gpd.GeoSeries.from_wkb([bytes(f["wkb"]) for f in known]))
        removed = repo.delete_inferred(conn)
        given = {r["child"] for r in repo.links(conn)}
        crs = areas.metric_crs(shapely.MultiPoint(shapely.get_coordinates(frame.geometry.values)))
        with click.progressbar(length=len(frame), label="inferring feed links") as bar:
            links = feeds.infer(frame, metric_crs=crs, skip=given, any_higher=any_higher_level, progress=bar.update)
        count = _store_links(conn, links, file="infer-feeds", column="voltage_kv", dataset_id=None)
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


def _refresh_report(conn: Conn) -> None:
    from app.imports_population import refresh

    for line in refresh(conn, direct=True):
        click.echo(line)


@click.command("import-service-areas")
@FILE
@LAYER
@_map_option(areas.AREA_FIELDS)
@DRY_RUN
@with_appcontext
@reports_errors
def import_service_areas(file: Path, layer: str | None, map_text: str | None, dry_run: bool) -> None:
    """Load given service areas: one polygon per facility external id."""
    columns = mapping.parse_map(map_text, fields=areas.AREA_FIELDS)
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
        _report_sites(repo.attach_sites(conn))
        _refresh_report(conn)
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
                 f"boundary): {_listed(empty)}")
        store_in_batches(functools.partial(repo.upsert_service_areas, conn), [
            {"facility_id": f["id"], "method": "voronoi", "wkb": shapely.to_wkb(shape),
             "provenance": f"Voronoi of the lowest-level facilities, clipped to the study boundary{limit}"}
            for f, shape in zip(sites, shapes, strict=True) if not shape.is_empty], label="storing service areas")
        repo.audit(conn, entity="dataset", entity_id="derive-service-areas", action="derive-service-areas",
                   after={"areas": len(sites), "replaced": replaced, "max_distance_m": max_distance_m})
        click.echo(f"service areas: {len(sites) - len(empty)} derived (Voronoi of the lowest-level facilities), "
                   f"{replaced} replaced")
        _report_sites(repo.attach_sites(conn))
        _refresh_report(conn)
        finish(conn, dry_run=dry_run)


def _report_sites(unattached: list[str]) -> None:
    if unattached:
        warn(f"{len(unattached)} critical sites are in no service area: {_listed(unattached)}")


@click.command("import-critical-sites")
@FILE
@LAYER
@click.option("--kind", help="The kind of every site, when the file has one kind only (e.g. hospital).")
@click.option("--weight", type=click.FloatRange(min=0), help="The weight of every site, in people-equivalents.")
@_map_option(mapping.SITE_FIELDS)
@CRS
@DRY_RUN
@with_appcontext
@reports_errors
def import_critical_sites(file: Path, layer: str | None, kind: str | None, weight: float | None,
                          map_text: str | None, crs: str | None, dry_run: bool) -> None:
    """Load critical sites (hospitals, pumping stations, shelters…) and attach each to its facility."""
    columns = mapping.parse_map(map_text, fields=mapping.SITE_FIELDS)
    frame = io.read_table(file, layer=layer, columns=columns.csv_columns(), crs=crs)
    records = mapping.critical_sites(frame, file=str(file), mapping=columns, kind=kind, weight=weight)
    for row, label in records.duplicates:
        warn(f"{file}, row {row}: identical to an earlier row ({label}); kept once")
    with db.connection() as conn:
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        counts = repo.upsert_sites(conn, ({"external_id": r.external_id, "name": r.name, "kind": r.kind,
                                           "weight": r.weight, "dataset_id": dataset_id,
                                           "wkb": shapely.to_wkb(r.geometry)} for r in records.frame.itertuples()))
        unattached = repo.attach_sites(conn)
        _report_sites(unattached)
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-critical-sites",
                   after={"file": str(file), **counts, "unattached": len(unattached)})
        click.echo(f"critical sites: {counts['created']} new, {counts['updated']} updated; "
                   f"{len(records.frame) - len([u for u in unattached if u in set(records.frame['external_id'])])} "
                   "attached to the facility whose service area contains them")
        finish(conn, dry_run=dry_run)


def commands() -> Iterable[click.Command]:
    from app import imports_population

    return (import_facilities, import_feeds, infer_feeds, import_service_areas, derive_service_areas,
            import_critical_sites, *imports_population.commands())


def init_app(app: Flask) -> None:
    for command in commands():
        app.cli.add_command(command)
