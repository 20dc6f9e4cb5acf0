"""`import-critical-sites`: hospitals, pumping stations, shelters… attached to the facility that supplies them."""

from __future__ import annotations

from pathlib import Path

import click
import shapely
from flask.cli import with_appcontext

from app import db
from app.imports.options import (
    CRS,
    DRY_RUN,
    FILE,
    LAYER,
    REGION,
    finish,
    is_csv,
    map_option,
    region,
    reports_errors,
    warn,
)
from app.imports.service_areas import site_warnings
from app.repo import imports as repo
from app.repo import regions as region_repo
from geo import io, records
from geo.columns import ignored, parse_map
from geo.errors import DataError


@click.command("import-critical-sites")
@FILE
@LAYER
@click.option("--kind", help="The kind of every site, when the file has one kind only (e.g. hospital).")
@click.option("--weight", type=click.FloatRange(min=0), help="The weight of every site, in people-equivalents.")
@map_option(records.SITE_FIELDS)
@CRS
@REGION
@DRY_RUN
@with_appcontext
@reports_errors
def import_critical_sites(file: Path, layer: str | None, kind: str | None, weight: float | None,
                          map_text: str | None, crs: str | None, region_name: str | None, dry_run: bool) -> None:
    """Load critical sites (hospitals, pumping stations, shelters…) and attach each to its facility."""
    columns = parse_map(map_text, fields=records.SITE_FIELDS)
    frame = io.read_table(file, layer=layer, columns=columns.csv_columns(), crs=crs)
    parsed = records.critical_sites(frame, file=str(file), mapping=columns, kind=kind, weight=weight)
    warn(*(f"{file.name}: {message}" for message in ignored(frame, columns, fields=records.SITE_FIELDS,
                                                            csv=is_csv(file))))
    for row, label in parsed.duplicates:
        warn(f"{file}, row {row}: identical to an earlier row ({label}); kept once")
    with db.connection() as conn:
        target = region(conn, region_name)
        taken = region_repo.owners(conn, table="critical_site", external_ids=list(parsed.frame["external_id"]),
                                   region_id=target.id)
        if taken:
            first = taken[0]
            row = int(parsed.frame.index[list(parsed.frame["external_id"]).index(first["external_id"])])
            raise DataError(f"external id {first['external_id']!r} is a critical site of region "
                            f"{first['region']!r}, not {target.name!r}", file=str(file), row=row,
                            column="external_id")
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        counts = repo.upsert_sites(conn, ({"external_id": r.external_id, "name": r.name, "kind": r.kind,
                                           "weight": r.weight, "dataset_id": dataset_id, "region_id": target.id,
                                           "wkb": shapely.to_wkb(r.geometry)} for r in parsed.frame.itertuples()))
        unattached = repo.attach_sites(conn, region_id=target.id)
        warn(*site_warnings(unattached))
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-critical-sites",
                   after={"file": str(file), **counts, "unattached": len(unattached)})
        click.echo(f"critical sites: {counts['created']} new, {counts['updated']} updated; "
                   f"{len(parsed.frame) - len([u for u in unattached if u in set(parsed.frame['external_id'])])} "
                   "attached to the facility whose service area contains them")
        finish(conn, dry_run=dry_run)


