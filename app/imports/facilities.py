"""`import-facilities`: load or update a facility registry; matched by external id, so a file loaded again
updates instead of adding copies."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pandas as pd
from flask.cli import with_appcontext

from app import db
from app.imports.feed_links import store_links
from app.imports.options import (
    CRS,
    DRY_RUN,
    FILE,
    LAYER,
    QUIET,
    REGION,
    TERMINAL,
    Bar,
    Progress,
    Region,
    ewkb,
    finish,
    is_csv,
    json_default,
    listed,
    map_option,
    region,
    reports_errors,
    warn,
)
from app.imports.population import Refreshed, show
from app.imports.switches import store_ties, summary
from app.repo import Conn
from app.repo import imports as repo
from app.repo import regions as region_repo
from geo import feeds, io, osm, pandapower_net, records
from geo.columns import ignored, parse_map
from geo.errors import DataError


@dataclass(frozen=True)
class Stored:
    """What storing a registry did: facilities by outcome, repetitions kept once, links given, what to warn of."""

    counts: dict[str, int]  # created, updated, unchanged
    duplicates: int
    links: int
    warnings: list[str]
    refreshed: Refreshed | None  # population served again, when the file gave feed links

    @property
    def record(self) -> dict[str, int]:
        """What the audit event of the load keeps."""
        return {**self.counts, "duplicates": self.duplicates, "links": self.links}


def _number(value: float | None) -> float | None:
    # A numeric column with blanks holds NaN for them (pandas' None in a float column): store NULL, not NaN.
    return None if value is None or math.isnan(value) else value


def _values(rows: pd.DataFrame, bar: Bar) -> Iterator[tuple[Any, ...]]:
    for r in rows.itertuples():
        bar.update(1)
        yield (r.external_id, r.name, r.kind, _number(r.voltage_kv), _number(r.capacity_mva), _number(r.capacity_mw),
               json.dumps(r.attributes, default=json_default, sort_keys=True), ewkb(r.geometry))


def store(conn: Conn, parsed: records.Records, *, file: Path, dataset_id: int, reason: str, region: Region,
          link_column: str = "parent_external_id", progress: Progress = QUIET,
          extra_links: tuple[tuple[str, str], ...] = ()) -> Stored:
    """Insert or update checked facility rows of a region by external id (an audit event each, with `reason`), and
    the feed links they give (`extra_links`: further (parent, child) links of facilities with several parents).
    An external id another region holds is an error naming the row."""
    rows = parsed.frame
    taken = region_repo.owners(conn, table="facility", external_ids=list(rows["external_id"]), region_id=region.id)
    if taken:
        first = taken[0]
        row = int(rows.index[list(rows["external_id"]).index(first["external_id"])])
        raise DataError(f"external id {first['external_id']!r} is a facility of region {first['region']!r}, not "
                        f"{region.name!r} ({len(taken)} such ids; import into that region with --region, or give "
                        "these facilities ids of their own)", file=str(file), row=row, column="external_id")
    with progress.bar("storing facilities", len(rows)) as bar:
        counts = repo.upsert_facilities(conn, _values(rows, bar), dataset_id=dataset_id, region_id=region.id,
                                        action=reason)
    linked = rows[rows["parent_external_id"].notna()] if "parent_external_id" in rows else rows.iloc[:0]
    given = [feeds.Link(parent=p, child=c, row=int(r)) for r, p, c in
             zip(linked.index, linked["parent_external_id"], linked["external_id"], strict=True)]
    row_of = dict(zip(rows["external_id"], rows.index, strict=True)) if extra_links else {}
    given += [feeds.Link(parent=p, child=c, row=int(row_of[c])) for p, c in extra_links]
    links, refreshed = store_links(conn, given, file=str(file), column=link_column, dataset_id=dataset_id,
                                   region_id=region.id, progress=progress) if given else (0, None)
    warnings = []
    outside = repo.outside_study_area(conn, list(rows["external_id"]), region_id=region.id)
    if outside:
        warnings.append(f"{len(outside)} facilities outside the study boundary of region {region.name!r}: "
                        f"{listed(outside)}")
    if repo.service_area_counts(conn, region_id=region.id).get("voronoi") and (counts["created"] or counts["updated"]):
        warnings.append("service areas were derived from the facilities before this import: run "
                        "derive-service-areas")
    return Stored(counts=counts, duplicates=len(parsed.duplicates), links=links, warnings=warnings,
                  refreshed=refreshed)


@click.command("import-facilities")
@FILE
@LAYER
@click.option("--kind", help="The kind of every facility, when the file has one kind only (e.g. substation).")
@map_option(records.FACILITY_FIELDS)
@CRS
@REGION
@DRY_RUN
@with_appcontext
@reports_errors
def import_facilities(file: Path, layer: str | None, kind: str | None, map_text: str | None, crs: str | None,
                      region_name: str | None, dry_run: bool) -> None:
    """Load or update a facility registry (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, CSV, pandapower JSON,
    OpenStreetMap .osm.pbf).

    Facilities are matched by external id: a file loaded again updates them instead of adding copies.
    """
    columns = parse_map(map_text, fields=records.FACILITY_FIELDS)
    network = (pandapower_net.read_pandapower(file) if pandapower_net.is_pandapower(file)
               else osm.read_osm(file) if osm.is_osm(file) else None)
    frame = network.frame if network else io.read_table(file, layer=layer, columns=columns.csv_columns(), crs=crs)
    click.echo(f"read {len(frame)} rows from {file.name}")
    for line in network.report if network else ():
        click.echo(line)
    if not len(frame):
        raise DataError("nothing to import: no facility has a position", file=str(file))
    parsed = records.facilities(frame, file=str(file), mapping=columns, kind=kind)
    if network is None:
        warn(*(f"{file}: {message}" for message in ignored(frame, columns, fields=records.FACILITY_FIELDS,
                                                           csv=is_csv(file), kept_as_attributes=True)))
    warn(*(f"{file}, row {row}: identical to an earlier row ({label}); kept once" for row, label in parsed.duplicates),
         *(f"{file}: {message}" for message in parsed.warnings))
    with db.connection() as conn:
        target = region(conn, region_name)
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        stored = store(conn, parsed, file=file, dataset_id=dataset_id, reason=f"import-facilities {file.name}",
                       region=target, progress=TERMINAL,
                       link_column=columns.columns.get("parent_external_id", "parent_external_id"),
                       extra_links=network.extra_links if network else ())
        tie_counts, tie_warnings = store_ties(conn, network.ties, file=file, dataset_id=dataset_id, region=target,
                                              reason=f"import-facilities {file.name}") if network else ({}, [])
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-facilities",
                   after={"file": str(file), "region": target.name, **stored.record,
                          **({"tie_switches": tie_counts} if network else {})})
        if stored.refreshed is not None:
            show(stored.refreshed)
        warn(*stored.warnings)
        counts = stored.counts
        click.echo(f"facilities: {counts['created']} new, {counts['updated']} updated, {counts['unchanged']} "
                   f"unchanged, {stored.duplicates} identical duplicate rows kept once; {stored.links} feed links "
                   "given")
        if network is not None:  # a network model's open switches, between the facilities just stored
            warn(*tie_warnings)
            click.echo(summary(tie_counts))
        finish(conn, dry_run=dry_run)
