"""What every data-manager command shares: its options, its one-line errors, progress bars and dry runs.

Each command reads and checks its file first, then changes the database in one transaction; `--dry-run` does
all the work and rolls it back, so it reports exactly what would change. Bad input ends the command with one
line, `error: FILE, row N, column 'X': reason`, and nothing changed.

The work itself is done by service functions (in each noun's module) that take a connection, never print and
return what they did; the commands and the demo load call the same ones. A service shows its progress through
a `Progress` (QUIET unless the caller passes TERMINAL). The command, or the demo load, writes the audit event
that records its run.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click
import shapely

from app.repo import Conn
from app.repo import regions as region_repo
from geo.errors import DataError

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
BATCH_ROWS = 1_000  # rows sent per batch of statements: the progress bar moves after each batch
FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
LAYER = click.option("--layer", help="The layer to read from a GeoPackage or other multi-layer file.")
DRY_RUN = click.option("--dry-run", is_flag=True, help="Do all the work, report what would change, change nothing.")
CRS = click.option("--crs", help="CSV only: the CRS of the coordinates (default EPSG:4326, lon/lat).")
REGION = click.option("--region", "region_name", metavar="NAME",
                      help="The region this data belongs to (`flask --app app region list`); default: the default "
                           "region.")


class ImportFailed(click.ClickException):
    """A command's one-line error: `error: FILE, row N, column 'X': reason`."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def map_option(fields: tuple[str, ...]) -> Callable[[F], F]:
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


class Bar(Protocol):
    """A progress bar a service moves on."""

    def update(self, n_steps: int) -> object: ...


class _NoBar:
    def update(self, n_steps: int) -> None:
        pass


def _no_bar(label: str, length: int) -> AbstractContextManager[Bar]:
    return contextlib.nullcontext(_NoBar())


def _click_bar(label: str, length: int) -> AbstractContextManager[Bar]:
    """A bar on the terminal (which shows only its label when not on a terminal)."""
    return click.progressbar(length=length, label=label)


@dataclass(frozen=True)
class Progress:
    """How a service shows a long step: `bar(label, length)` opens a bar, `step(message)` says what starts."""

    bar: Callable[[str, int], AbstractContextManager[Bar]] = _no_bar
    step: Callable[[str], object] = lambda message: None


QUIET = Progress()
TERMINAL = Progress(bar=_click_bar, step=lambda message: click.echo(message, err=True))


@dataclass(frozen=True)
class Region:
    """The region an import writes to: its id and name."""

    id: int
    name: str


def region(conn: Conn, name: str | None) -> Region:
    """The named region (the default one for None), or the error that names the regions there are."""
    found = region_repo.find(conn, name)
    if found is None:
        known = ", ".join(r["name"] for r in region_repo.listing(conn)) or "none"
        what = f"no region named {name!r}" if name is not None else "no default region: name one with --region"
        raise DataError(f"{what} (regions: {known}; create one with `flask --app app region create NAME`)")
    return Region(id=int(found["id"]), name=str(found["name"]))


def is_csv(path: Path) -> bool:
    """Whether `geo.io.read_table` reads this file as CSV (where --map lon, lat and wkt apply)."""
    return path.suffix.lower() in (".csv", ".txt", ".tsv")


def warn(*messages: str) -> None:
    for message in messages:
        click.echo(f"warning: {message}", err=True)


def listed(items: list[str], limit: int = 10) -> str:
    more = f" … and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def finish(conn: Conn, *, dry_run: bool) -> None:
    """End the command's transaction: roll it back on a dry run (the block's end commits otherwise)."""
    if dry_run:
        conn.rollback()
        click.echo("dry run: nothing was changed")


def store_in_batches(store: Callable[[list[T]], object], rows: list[T], *, label: str,
                     progress: Progress = QUIET) -> None:
    """Store rows batch by batch, moving a progress bar after each batch."""
    with progress.bar(label, len(rows)) as bar:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start:start + BATCH_ROWS]
            store(batch)
            bar.update(len(batch))


def json_default(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def ewkb(geometry: Any) -> str:
    return str(shapely.to_wkb(shapely.set_srid(geometry, 4326), hex=True, include_srid=True))


