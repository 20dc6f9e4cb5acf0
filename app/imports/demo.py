"""The demo region (County Dublin): `flask --app app load-demo` loads it once, through the import services."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app import db
from app.imports import facilities, options, population, service_areas
from app.repo import imports as repo
from geo import io, records
from geo.columns import ColumnMap
from geo.errors import DataError

DATASET = "dublin-demo"
LAYER = "Census 2022 small areas (CSO)"
LICENCE = ("Census 2022, Central Statistics Office Ireland (CC BY 4.0); ESB Networks; "
           "© OpenStreetMap contributors")
IRISH_TRANSVERSE_MERCATOR = "EPSG:2157"
FACILITIES_FILE = "substations.geojson"
PREFIX = "dublin:"
PROVENANCE = f"Voronoi of the substations ({IRISH_TRANSVERSE_MERCATOR}), clipped to the County Dublin boundary"


def substations(path: Path) -> records.Records:
    """The substations file as facility records: id `dublin:<station>`, every property kept as an attribute."""
    frame = io.read_table(path)
    for column in ("station", "installed_capacity"):
        if column not in frame.columns:
            raise DataError("missing column", file=str(path), column=column)
    installed = frame["installed_capacity"]
    frame = frame.assign(external_id=PREFIX + frame["station"], name=frame["station"],
                         capacity_mva=installed.where(installed > 0))  # 0 MVA in this file means "not published"
    return records.facilities(frame, file=str(path), mapping=ColumnMap(), kind="substation")


def load(demo_dir: Path, *, warn: Callable[[str], object] = lambda message: None) -> dict[str, float | int | bool]:
    """Load the demo region in one transaction unless it is already there; return what was done."""
    started = time.perf_counter()
    path = demo_dir / FACILITIES_FILE
    with db.connection() as conn:
        repo.lock_dataset(conn, DATASET)
        if repo.find_dataset(conn, DATASET) is not None:
            return {"loaded": False}
        parsed = substations(path)
        for row, external_id in parsed.duplicates:
            warn(f"{FACILITIES_FILE}, row {row}: identical to an earlier row "
                 f"({external_id.removeprefix(PREFIX)}); kept once")
        dataset_id = repo.dataset(conn, name=DATASET, source=str(demo_dir), licence=LICENCE)
        home = options.region(conn, None)  # the default region is the demo's
        stored = facilities.store(conn, parsed, file=path, dataset_id=dataset_id, reason=f"load-demo {path.name}",
                                  region=home)
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="load-demo",
                   after={"file": str(path), **stored.record})
        county = service_areas.StudyArea(name="County Dublin", dataset_id=dataset_id,
                                         geometry=service_areas.read_boundary(demo_dir / "boundary.geojson"))
        derived = service_areas.derive(conn, region=home, study_area=county, metric_crs=IRISH_TRANSVERSE_MERCATOR,
                                       provenance=PROVENANCE)
        people = population.store_layer(conn, population.read_layer(demo_dir / "small_area_population.csv"),
                                        name=LAYER, dataset_id=dataset_id, region=home,
                                        accept_outside=True)  # the census of all Ireland, for County Dublin
        for message in (*stored.warnings, *derived.warnings, *people.warnings):
            warn(message)
    check = people.checks[LAYER]
    return {"loaded": True, "facilities": stored.counts["created"], "duplicates": stored.duplicates,
            "assigned": check.assigned, "inside": check.inside, "seconds": round(time.perf_counter() - started, 1)}


@click.command("load-demo")
@with_appcontext
@options.reports_errors
def load_demo_command() -> None:
    """Load the County Dublin demo region (substations, service areas, Census 2022 population) once."""
    result = load(Path(current_app.config["DEMO_DIR"]), warn=options.warn)
    if not result["loaded"]:
        click.echo("demo region already loaded; nothing changed")
        return
    dropped = result["duplicates"]
    click.echo(f"demo region loaded in {result['seconds']} s: {result['facilities']} substations "
               f"({dropped} identical duplicate row{'' if dropped == 1 else 's'} dropped), population assigned "
               f"{result['assigned']:,.0f} = inside the boundary {result['inside']:,.0f}")
