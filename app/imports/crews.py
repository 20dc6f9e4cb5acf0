"""`import-crews`: crews with their base, skills, shift, status and member accounts, from CSV or GeoJSON;
matched by name, so a file loaded again updates the crews instead of adding copies."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import time
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
from flask.cli import with_appcontext

from app import db
from app.crews import service
from app.crews.input import FIELDS, CrewIn, parse_crew
from app.errors import FieldConflict, ValidationError
from app.imports.options import DRY_RUN, FILE, LAYER, QUIET, TERMINAL, Progress, finish, listed, reports_errors, warn
from app.repo import Conn
from app.repo import crews as repo
from app.repo import imports as imports_repo
from geo import io
from geo.errors import DataError

REQUIRED = ("name", "shift_start", "shift_end", "time_zone")
COLUMNS = tuple(f for f in FIELDS if f not in ("lon", "lat"))  # the base is the row's point (lon/lat in a CSV)


def _cell(value: Any) -> Any:
    """A file's cell as the crew parser reads it: None when blank, a list for a list, else text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, time):
        return value.isoformat()
    if hasattr(value, "tolist") and not isinstance(value, str):  # a list property of a GeoJSON feature
        value = value.tolist()
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def _base_column(file: Path) -> str:
    return "lon" if file.suffix.lower() in (".csv", ".txt", ".tsv") else "geometry"


def read_crews(frame: gpd.GeoDataFrame, *, file: Path) -> list[tuple[int, CrewIn]]:
    """Every row of the file as a checked crew (with its file row number); a DataError naming row and column."""
    for column in REQUIRED:
        if column not in frame.columns:
            raise DataError("missing column", file=str(file), column=column)
    ignored = [str(c) for c in frame.columns if c not in COLUMNS and c != frame.geometry.name]
    if ignored:
        warn(f"{file}: columns not read: {listed(ignored)}")
    crews: list[tuple[int, CrewIn]] = []
    seen: dict[str, int] = {}
    for row, geometry, *cells in zip(frame.index, frame.geometry.values,
                                     *(frame[c] if c in frame.columns else [None] * len(frame) for c in COLUMNS),
                                     strict=True):
        if geometry is None or geometry.is_empty:
            raise DataError("no base: give the crew's base point (lon and lat)", file=str(file), row=int(row),
                            column=_base_column(file))
        if geometry.geom_type != "Point":
            raise DataError(f"bad geometry: a Point expected, got {geometry.geom_type}", file=str(file),
                            row=int(row), column="geometry")
        values = {"lon": float(geometry.x), "lat": float(geometry.y),
                  **{c: _cell(v) for c, v in zip(COLUMNS, cells, strict=True)}}
        try:
            crew = parse_crew(values, status_required=False)
        except ValidationError as exc:
            column, reason = next(iter(exc.errors.items()))
            raise DataError(reason, file=str(file), row=int(row),
                            column=_base_column(file) if column in ("lon", "lat") else column) from exc
        if crew.name in seen:
            raise DataError(f"the crew {crew.name!r} is named again (first in row {seen[crew.name]})",
                            file=str(file), row=int(row), column="name")
        seen[crew.name] = int(row)
        crews.append((int(row), crew))
    return crews


def store_crews(conn: Conn, crews: Sequence[tuple[int, CrewIn]], *, file: Path,
                progress: Progress = QUIET) -> dict[str, int]:
    """Create or update each crew by name, with exactly its member accounts (an account may move between crews of
    the file); counts by outcome. A member that cannot be one is a DataError naming the row and column."""
    repo.lock(conn)
    existing = {crew.name: repo.get_by_name(conn, crew.name) for _, crew in crews}
    repo.clear_members(conn, [int(found["id"]) for found in existing.values() if found is not None])
    counts = {"created": 0, "changed": 0, "unchanged": 0}
    with progress.bar("crews", len(crews)) as bar:
        for row, crew in crews:
            try:
                saved = service.save(conn, crew, existing=existing[crew.name], actor_id=None,
                                     reason=f"import-crews {file.name}")
            except ValidationError as exc:
                column, reason = next(iter(exc.errors.items()))
                raise DataError(reason, file=str(file), row=row, column=column) from exc
            except FieldConflict as exc:
                raise DataError(str(exc), file=str(file), row=row, column=exc.field) from exc
            counts[saved.outcome] += 1
            bar.update(1)
    return counts


@click.command("import-crews")
@FILE
@LAYER
@DRY_RUN
@with_appcontext
@reports_errors
def import_crews(file: Path, layer: str | None, dry_run: bool) -> None:
    """Load crews (name, base lon/lat or point, skills, shift_start, shift_end, time_zone, status, members)."""
    frame = io.read_table(file, layer=layer)
    crews = read_crews(frame, file=file)
    with db.connection() as conn:
        counts = store_crews(conn, crews, file=file, progress=TERMINAL)
        imports_repo.audit(conn, entity="crews", entity_id=file.name, action="import-crews",
                           after={"file": str(file), **counts})
        click.echo(f"crews: {counts['created']} new, {counts['changed']} updated, {counts['unchanged']} unchanged")
        finish(conn, dry_run=dry_run)
