"""`import-facilities`: load or update a facility registry; matched by external id, so a file loaded again
updates instead of adding copies."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from app import db
from app.imports.feed_links import store_links
from app.imports.options import (
    CRS,
    DRY_RUN,
    FILE,
    LAYER,
    ewkb,
    finish,
    json_default,
    listed,
    map_option,
    reports_errors,
    warn,
)
from app.repo import imports as repo
from geo import feeds, io, pandapower_net, records
from geo.columns import parse_map


@click.command("import-facilities")
@FILE
@LAYER
@click.option("--kind", help="The kind of every facility, when the file has one kind only (e.g. substation).")
@map_option(records.FACILITY_FIELDS)
@CRS
@DRY_RUN
@with_appcontext
@reports_errors
def import_facilities(file: Path, layer: str | None, kind: str | None, map_text: str | None, crs: str | None,
                      dry_run: bool) -> None:
    """Load or update a facility registry (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, CSV, pandapower JSON).

    Facilities are matched by external id: a file loaded again updates them instead of adding copies.
    """
    columns = parse_map(map_text, fields=records.FACILITY_FIELDS)
    frame = pandapower_net.read_pandapower(file) if pandapower_net.is_pandapower(file) else io.read_table(
        file, layer=layer, columns=columns.csv_columns(), crs=crs)
    click.echo(f"read {len(frame)} rows from {file.name}")
    parsed = records.facilities(frame, file=str(file), mapping=columns, kind=kind)
    for row, label in parsed.duplicates:
        warn(f"{file}, row {row}: identical to an earlier row ({label}); kept once")
    for message in parsed.warnings:
        warn(f"{file}: {message}")
    rows = parsed.frame
    with db.connection() as conn:
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        values = ((r.external_id, r.name, r.kind, r.voltage_kv, r.capacity_mva, r.capacity_mw,
                   json.dumps(r.attributes, default=json_default, sort_keys=True), ewkb(r.geometry))
                  for r in rows.itertuples())
        with click.progressbar(values, length=len(rows), label="storing facilities") as bar:
            counts = repo.upsert_facilities(conn, bar, dataset_id=dataset_id,
                                            action=f"import-facilities {file.name}")
        linked = rows[rows["parent_external_id"].notna()] if "parent_external_id" in rows else rows.iloc[:0]
        given = [feeds.Link(parent=p, child=c, row=int(r)) for r, p, c in
                 zip(linked.index, linked["parent_external_id"], linked["external_id"], strict=True)]
        link_count = store_links(conn, given, file=str(file), column=columns.columns.get(
            "parent_external_id", "parent_external_id"), dataset_id=dataset_id) if given else 0
        outside = repo.outside_study_area(conn, list(rows["external_id"]))
        if outside:
            warn(f"{len(outside)} facilities outside the study boundary: {listed(outside)}")
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-facilities",
                   after={"file": str(file), **counts, "duplicates": len(parsed.duplicates), "links": link_count})
        if repo.service_area_counts(conn).get("voronoi") and (counts["created"] or counts["updated"]):
            warn("service areas were derived from the facilities before this import: run derive-service-areas")
        click.echo(f"facilities: {counts['created']} new, {counts['updated']} updated, {counts['unchanged']} "
                   f"unchanged, {len(parsed.duplicates)} identical duplicate rows kept once; "
                   f"{link_count} feed links given")
        finish(conn, dry_run=dry_run)


