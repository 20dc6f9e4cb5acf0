"""Named regions, one per utility or area: `flask --app app region create|delete|list`.

Every import writes to one region (`--region NAME`, else the default region, which holds the demo and the data
from before regions existed). A region's facilities, study boundary, service areas, population layers and critical
sites are its own: an import into one region never changes another's numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import shapely
from flask.cli import with_appcontext

from app import db
from app.imports.options import finish, region, reports_errors
from app.imports.service_areas import read_boundary
from app.repo import imports as repo
from app.repo import regions as region_repo
from geo.errors import DataError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # as the table's CHECK


@click.group("region")
def region_group() -> None:
    """Create, list and delete the deployment's regions (one per utility or area)."""


@region_group.command("create")
@click.argument("name")
@click.option("--boundary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The region's study boundary (polygons): population outside it is refused.")
@click.option("--boundary-layer", help="The layer of the boundary file, when it has several.")
@with_appcontext
@reports_errors
def create_region(name: str, boundary: Path | None, boundary_layer: str | None) -> None:
    """Create an empty region, optionally with its boundary."""
    if not NAME.match(name):
        raise DataError(f"region name {name!r}: letters, digits, '_', '.' and '-', at most 64, starting with a "
                        "letter or digit")
    clip = read_boundary(boundary, layer=boundary_layer) if boundary is not None else None
    with db.connection() as conn:
        region_id = region_repo.create(conn, name)
        if region_id is None:
            raise DataError(f"a region named {name!r} exists already")
        if boundary is not None and clip is not None:
            source = repo.dataset(conn, name=boundary.name, source=str(boundary.resolve()))
            repo.replace_study_area(conn, name=boundary.stem, dataset_id=source, wkb=shapely.to_wkb(clip),
                                    region_id=region_id)
        repo.audit(conn, entity="region", entity_id=str(region_id), action="region-create",
                   after={"name": name, "boundary": str(boundary) if boundary else None})
    click.echo(f"region {name!r} created" + (f" with the boundary of {boundary.name}" if boundary else
                                             " (no boundary yet: derive-service-areas --boundary FILE gives one)"))


def _count(n: int, word: str) -> str:
    plural = "facilities" if word == "facility" else f"{word}s"
    return f"{n:,} {word if n == 1 else plural}"


@region_group.command("list")
@with_appcontext
def list_regions() -> None:
    """List the regions with what each holds."""
    with db.connection() as conn:
        rows = region_repo.listing(conn)
    for r in rows:
        mark = " (default)" if r["is_default"] else ""
        boundary = "a boundary" if r["has_boundary"] else "no boundary"
        held = ", ".join(_count(int(r[key]), word) for key, word in (
            ("facilities", "facility"), ("service_areas", "service area"), ("population_layers", "population layer"),
            ("critical_sites", "critical site")))
        click.echo(f"{r['name']}{mark}: {held}, {boundary}")


@region_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Say what would go, change nothing.")
@with_appcontext
@reports_errors
def delete_region(name: str, yes: bool, dry_run: bool) -> None:
    """Delete a region and everything it holds (facilities, areas, layers, sites); refused while damage cases or
    reports name its facilities, and for the default region."""
    with db.connection() as conn:
        target = region(conn, name)
        if target == region(conn, None):
            raise DataError(f"region {name!r} is the default region and cannot be deleted")
        cases = region_repo.damage_cases(conn, target.id)
        if cases:
            raise DataError(f"region {name!r} cannot be deleted: {cases} damage cases name its facilities "
                            "(they are the record of what happened)")
        if not yes and not dry_run:
            click.confirm(f"Delete region {name!r} and all its data?", abort=True)
        gone = region_repo.delete(conn, target.id)
        repo.audit(conn, entity="region", entity_id=str(target.id), action="region-delete",
                   after={"name": name, **gone})
        click.echo(f"region {name!r} deleted: {gone['facilities']} facilities, {gone['population_layers']} "
                   f"population layers, {gone['critical_sites']} critical sites")
        finish(conn, dry_run=dry_run)
