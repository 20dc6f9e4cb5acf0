"""The demo region (County Dublin): `flask --app app load-demo` loads it once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import shapely
from flask import current_app
from flask.cli import with_appcontext

from app import db
from app.repo import Conn, datasets, facilities, imports, users
from geo import io, region

DATASET = "dublin-demo"
LAYER = "Census 2022 small areas (CSO)"
LICENCE = ("Census 2022, Central Statistics Office Ireland (CC BY 4.0); ESB Networks; "
           "© OpenStreetMap contributors")
IRISH_TRANSVERSE_MERCATOR = "EPSG:2157"
FACILITIES_FILE = "substations.geojson"


def _facility_rows(built: region.Region, dataset_id: int) -> list[dict[str, Any]]:
    rows = []
    for record in built.facilities.to_dict("records"):
        geometry = record.pop("geometry")
        installed = record.get("installed_capacity") or None  # 0 MVA in this file means "not published"
        rows.append({
            "external_id": f"dublin:{record['station']}", "name": record["station"], "kind": "substation",
            "voltage_kv": None, "capacity_mva": installed, "capacity_mw": None,
            "attributes": json.dumps(record, default=str), "dataset_id": dataset_id,
            "wkb": shapely.to_wkb(geometry),
        })
    return rows


def _audit(conn: Conn, rows: list[dict[str, Any]], ids: list[int], *, dataset_id: int, demo_dir: Path,
           duplicates: io.Deduplicated) -> None:
    """One audit event per facility created, and one for the load, as `import-facilities` writes them."""
    for row, facility_id in zip(rows, ids, strict=True):
        # The same event import-facilities writes for a new facility; no actor means the command line.
        users.audit(conn, actor_id=None, entity="facility", entity_id=str(facility_id), action="created",
                    after={"name": row["name"], "kind": row["kind"], "voltage_kv": row["voltage_kv"],
                           "capacity_mva": row["capacity_mva"], "capacity_mw": row["capacity_mw"],
                           "geometry": shapely.from_wkb(row["wkb"]).wkt},
                    reason=f"load-demo {FACILITIES_FILE}")
    imports.audit(conn, entity="dataset", entity_id=str(dataset_id), action="load-demo",
                  after={"file": str(demo_dir / FACILITIES_FILE), "created": len(ids), "updated": 0, "unchanged": 0,
                         "duplicates": len(duplicates.dropped_rows), "links": 0})


def load(demo_dir: Path) -> dict[str, float | int | bool]:
    """Load the demo region in one transaction unless it is already there; return what was done."""
    started = time.perf_counter()
    with db.connection() as conn:
        datasets.lock(conn, DATASET)
        if datasets.find(conn, DATASET) is not None:
            return {"loaded": False}
        built = region.build(
            facilities_path=demo_dir / FACILITIES_FILE, boundary_path=demo_dir / "boundary.geojson",
            population_path=demo_dir / "small_area_population.csv", name_column="station",
            population_column="pop", metric_crs=IRISH_TRANSVERSE_MERCATOR)
        for row, name in zip(built.duplicates.dropped_rows, built.duplicates.dropped_labels, strict=True):
            click.echo(f"warning: {FACILITIES_FILE} feature {row}: identical to an earlier row "
                       f"({name}); kept once", err=True)
        dataset_id = datasets.insert(conn, name=DATASET, source=str(demo_dir), licence=LICENCE)
        datasets.insert_study_area(conn, name="County Dublin", dataset_id=dataset_id,
                                   wkb=shapely.to_wkb(built.boundary))
        rows = _facility_rows(built, dataset_id)
        ids = facilities.insert(conn, rows)
        _audit(conn, rows, ids, dataset_id=dataset_id, demo_dir=demo_dir, duplicates=built.duplicates)
        datasets.insert_service_areas(conn, (
            {"facility_id": fid, "method": "voronoi", "provenance": "Voronoi of the substations (EPSG:2157), "
             "clipped to the County Dublin boundary", "wkb": shapely.to_wkb(area)}
            for fid, area in zip(ids, built.service_areas.values, strict=True)))
        points = built.population_points
        layer_id = datasets.insert_population_layer(conn, name=LAYER, kind="points", dataset_id=dataset_id,
                                                    total=float(points["pop"].sum()))
        datasets.copy_population_points(conn, layer_id, zip(
            points["guid"].astype(str), points["pop"].astype(float), points.geometry.x, points.geometry.y,
            strict=True))
        people = built.assignment.population.to_numpy()
        # No feed links in the demo: every substation serves only its own area.
        datasets.insert_facility_population(conn, (
            {"facility_id": fid, "layer_id": layer_id, "population": float(p), "population_served": float(p),
             "method": "point_sum"} for fid, p in zip(ids, people, strict=True)))
        totals = datasets.population_totals(conn, layer_id)
    return {"loaded": True, "facilities": len(ids), "duplicates": len(built.duplicates.dropped_rows),
            "assigned": totals["assigned"], "inside": totals["inside"],
            "seconds": round(time.perf_counter() - started, 1)}


@click.command("load-demo")
@with_appcontext
def load_demo_command() -> None:
    """Load the County Dublin demo region (substations, service areas, Census 2022 population) once."""
    result = load(Path(current_app.config["DEMO_DIR"]))
    if not result["loaded"]:
        click.echo("demo region already loaded; nothing changed")
        return
    dropped = result["duplicates"]
    click.echo(f"demo region loaded in {result['seconds']} s: {result['facilities']} substations "
               f"({dropped} identical duplicate row{'' if dropped == 1 else 's'} dropped), population assigned "
               f"{result['assigned']:,.0f} = inside the boundary {result['inside']:,.0f}")
