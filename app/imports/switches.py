"""`import-switches`: normally-open tie switches between two registered facilities, from CSV, GeoJSON or
GeoPackage; matched by external id, so a file loaded again updates instead of adding copies. `store_ties` also
stores the ties that `import-facilities` finds in a pandapower network or an OpenStreetMap extract."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from flask.cli import with_appcontext

from app import db
from app.imports.options import (
    DRY_RUN,
    FILE,
    LAYER,
    REGION,
    Region,
    finish,
    is_csv,
    listed,
    map_option,
    region,
    reports_errors,
    warn,
)
from app.repo import Conn, switch_import
from app.repo import imports as repo
from geo import io
from geo.columns import ignored, parse_map
from geo.errors import DataError
from geo.tie_switches import SWITCH_FIELDS, TieSwitch, read_ties


def store_ties(conn: Conn, ties: Sequence[TieSwitch], *, file: Path, dataset_id: int, region: Region,
               reason: str, columns: dict[str, str] | None = None) -> tuple[dict[str, int], list[str]]:
    """Insert or update tie switches between the region's facilities by external id (an audit event each); the
    counts by outcome and what to warn of. A facility the region does not have, or a tie another region holds,
    is an error naming the row and column (`columns`: the file's column of each field)."""
    names = {"external_id": "external_id", "facility_a": "facility_a", "facility_b": "facility_b", **(columns or {})}
    taken = switch_import.other_regions(conn, [t.external_id for t in ties], region_id=region.id)
    if taken:
        first = next(t for t in ties if t.external_id == taken[0]["external_id"])
        raise DataError(f"tie switch {first.external_id!r} joins facilities of region {taken[0]['region']!r}, not "
                        f"{region.name!r} (import into that region with --region)", file=str(file), row=first.row,
                        column=names["external_id"])
    ids = repo.facility_ids(conn, region_id=region.id)
    rows = []
    for tie in ties:
        for end, field in ((tie.facility_a, "facility_a"), (tie.facility_b, "facility_b")):
            if end not in ids:
                raise DataError(f"unknown facility {end!r} (no facility of region {region.name!r} has this external "
                                "id; import the facilities first)", file=str(file), row=tie.row, column=names[field])
        rows.append({"external_id": tie.external_id, "name": tie.name, "facility_a": ids[tie.facility_a],
                     "facility_b": ids[tie.facility_b], "remote": tie.remote, "switch_hours": tie.switch_hours,
                     "attributes": dict(tie.attributes), "lon": tie.point[0] if tie.point else None,
                     "lat": tie.point[1] if tie.point else None})
    counts = switch_import.upsert_ties(conn, rows, dataset_id=dataset_id, action=reason) if rows else {
        "created": 0, "updated": 0, "unchanged": 0}
    gone = switch_import.not_in(conn, dataset_id=dataset_id, external_ids=[t.external_id for t in ties])
    warnings = [f"{len(gone)} tie switches loaded earlier from {file.name} are not in it now (kept; they stay "
                f"until their facilities are deleted): {listed(gone)}"] if gone else []
    return counts, warnings


def summary(counts: dict[str, int]) -> str:
    """The line that says what storing ties did."""
    return (f"tie switches: {counts['created']} new, {counts['updated']} updated, {counts['unchanged']} "
            "unchanged")


@click.command("import-switches")
@FILE
@LAYER
@map_option(SWITCH_FIELDS)
@REGION
@DRY_RUN
@with_appcontext
@reports_errors
def import_switches(file: Path, layer: str | None, map_text: str | None, region_name: str | None,
                    dry_run: bool) -> None:
    """Load normally-open tie switches (external_id, name, facility_a, facility_b, remote, switch_hours, point)
    between facilities already in the registry."""
    columns = parse_map(map_text, fields=SWITCH_FIELDS)
    frame = io.read_table(file, layer=layer, columns=columns.csv_columns(), geometry=False)
    ties = read_ties(frame, file=str(file), mapping=columns)
    warn(*(f"{file}: {message}" for message in ignored(frame, columns, fields=SWITCH_FIELDS, csv=is_csv(file))))
    click.echo(f"read {len(frame)} rows from {file.name}")
    if not ties:
        raise DataError("nothing to import: the file has no rows", file=str(file))
    with db.connection() as conn:
        target = region(conn, region_name)
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        counts, warnings = store_ties(conn, ties, file=file, dataset_id=dataset_id, region=target,
                                      reason=f"import-switches {file.name}", columns=dict(columns.found))
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-switches",
                   after={"file": str(file), "region": target.name, **counts})
        warn(*warnings)
        click.echo(summary(counts))
        finish(conn, dry_run=dry_run)
