"""Population commands, and the refresh every import runs: service areas × layer → people per facility."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import shapely
from flask.cli import with_appcontext

from app import db
from app.imports.options import CRS, DRY_RUN, FILE, LAYER, ewkb, finish, map_option, reports_errors, warn
from app.repo import Conn
from app.repo import imports as repo
from geo import feeds, io, population
from geo import service_areas as areas
from geo.columns import parse_map
from geo.errors import DataError

METHOD = {"points": "point_sum", "polygons": "areal_weighting", "raster": "raster_exact"}
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".asc", ".img")


def _layer_sums(conn: Conn, layer: dict[str, Any], cells: gpd.GeoSeries,
                boundary: shapely.Geometry) -> tuple[population.Assignment, float]:
    """People per service area from one stored layer, and the layer's people inside the study boundary."""
    whole = gpd.GeoSeries([boundary], crs=io.LONLAT)
    if layer["kind"] == "raster":
        path = Path(layer["source"])
        if not path.exists():
            raise DataError("the raster this layer was loaded from is gone: load it again", file=str(path))
        return population.raster_sums(cells, path), population.raster_sums(whole, path).inside_total
    rows = repo.layer_features(conn, layer["id"], layer["kind"])
    frame = gpd.GeoDataFrame({"population": [float(r["population"]) for r in rows]},
                             geometry=gpd.GeoSeries.from_wkb([bytes(r["wkb"]) for r in rows]), crs=io.LONLAT)
    if layer["kind"] == "points":
        return (population.sum_points(cells, frame, column="population"),
                population.sum_points(whole, frame, column="population").inside_total)
    crs = areas.metric_crs(boundary)
    return (population.areal_weighting(cells, frame, column="population", metric_crs=crs),
            float(population.areal_weighting(whole, frame, column="population", metric_crs=crs).population.sum()))


@dataclass
class Refreshed:
    """What a refresh did: one line per layer (its conservation check), and the warnings to show."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def refresh(conn: Conn, *, direct: bool, layer: str | None = None,
            progress: Callable[[str], None] = lambda name: None) -> Refreshed:
    """Recompute direct population (or reuse the stored one) and population served, per layer; report the check.

    It neither prints nor draws: `progress(layer name)` is called as each layer starts, and the caller shows the
    returned lines and warnings (the command line with `show`)."""
    layers = repo.population_layers(conn, layer)
    if layer is not None and not layers:
        raise DataError(f"no population layer named {layer!r}")
    stored = repo.service_areas(conn)
    done = Refreshed()
    if not layers:
        return done
    if not stored:
        done.lines.append("population: no service areas yet, so none assigned (derive-service-areas or "
                          "import-service-areas)")
        return done
    known = [f["external_id"] for f in repo.facilities(conn)]
    ids = repo.facility_ids(conn)
    links = [(r["parent"], r["child"]) for r in repo.links(conn)]
    cells = gpd.GeoSeries.from_wkb([bytes(r["wkb"]) for r in stored], index=[r["external_id"] for r in stored],
                                   crs=io.LONLAT)
    boundary_wkb = repo.study_boundary(conn)
    boundary = shapely.from_wkb(boundary_wkb) if boundary_wkb else shapely.union_all(cells.values)
    for item in layers:
        progress(str(item["name"]))
        method = METHOD[item["kind"]]
        if direct:
            assignment, inside = _layer_sums(conn, item, cells, boundary)
            people = {str(k): float(v) for k, v in assignment.population.items()}
            _check(done, item, method, assigned=assignment.assigned_total, inside=inside)
        else:
            people = {r["external_id"]: float(r["population"]) for r in repo.direct_population(conn, item["id"])}
        served = feeds.population_served({f: people.get(f, 0.0) for f in known}, links)
        repo.replace_facility_population(conn, item["id"], (
            {"facility_id": ids[f], "population": people.get(f, 0.0),
             "population_served": max(served[f], people.get(f, 0.0)), "method": method} for f in known))
    return done


def show(done: Refreshed) -> None:
    """Print a refresh's lines and warnings on the command line."""
    for line in done.lines:
        click.echo(line)
    for message in done.warnings:
        warn(message)


def refresh_and_show(conn: Conn, *, direct: bool, layer: str | None = None) -> Refreshed:
    """The commands' refresh: the layer being computed on stderr, then its lines and warnings."""
    done = refresh(conn, direct=direct, layer=layer,
                   progress=lambda name: click.echo(f"population per service area: {name}", err=True))
    show(done)
    return done


def _check(done: Refreshed, layer: dict[str, Any], method: str, *, assigned: float, inside: float) -> None:
    """The conservation check: people inside the study boundary = people assigned to facilities."""
    outside = max(float(layer["total"]) - inside, 0.0)
    text = (f"population '{layer['name']}' ({method}): inside the boundary {inside:,.0f} people, assigned "
            f"{assigned:,.0f}")
    if abs(assigned - inside) <= max(0.5, 1e-6 * inside):
        done.lines.append(f"{text}: conserved ({outside:,.0f} outside the boundary)")
        return
    done.warnings.append(f"population '{layer['name']}': {assigned - inside:+,.0f} people assigned beyond those "
                         "inside the boundary (service areas overlap or leave gaps)")
    done.lines.append(f"{text}: NOT conserved ({outside:,.0f} outside the boundary)")


def _is_raster(path: Path) -> bool:
    return path.suffix.lower() in RASTER_SUFFIXES


@click.command("import-population")
@FILE
@LAYER
@map_option(population.POPULATION_FIELDS)
@click.option("--name", help="The layer's name, its provenance in the app (default: the file name).")
@CRS
@DRY_RUN
@with_appcontext
@reports_errors
def import_population(file: Path, layer: str | None, map_text: str | None, name: str | None, crs: str | None,
                      dry_run: bool) -> None:
    """Load a population layer: points with counts, census polygons with counts, or a raster (GeoTIFF).

    Points are summed per service area, polygons spread by areal weighting, rasters summed with exact
    fractional cell coverage (exactextract); the layer's name and method are kept as provenance.
    """
    name = name or file.name
    columns = parse_map(map_text, fields=population.POPULATION_FIELDS)
    counts = None
    if _is_raster(file):
        total, raster_crs = population.raster_info(file)
        kind, detail = "raster", f"raster in {raster_crs}"
    else:
        counts = population.read_counts(io.read_table(file, layer=layer, columns=columns.csv_columns(), crs=crs),
                                        file=str(file), columns=columns)
        kind, total = counts.kind, float(counts.frame["population"].sum())
        detail = f"{len(counts.frame):,} {counts.kind}"
    with db.connection() as conn:
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        layer_id = repo.upsert_population_layer(conn, name=name, kind=kind, dataset_id=dataset_id, total=total)
        if counts is not None:
            with click.progressbar(length=len(counts.frame), label=f"storing {counts.kind}") as bar:
                repo.copy_population(conn, layer_id=layer_id, kind=kind, rows=_rows(counts, bar))
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-population",
                   after={"file": str(file), "layer": name, "kind": kind, "method": METHOD[kind], "total": total})
        click.echo(f"population layer '{name}': {detail}, {total:,.0f} people, method {METHOD[kind]}")
        refresh_and_show(conn, direct=True, layer=name)
        finish(conn, dry_run=dry_run)


def _rows(counts: population.Counts, bar: Any) -> Iterable[tuple[str, float, str]]:
    polygons = counts.kind == "polygons"
    for ref, people, geometry in zip(counts.frame["ref"], counts.frame["population"], counts.frame.geometry.values,
                                     strict=True):
        bar.update(1)
        yield ref, float(people), ewkb(areas.as_multipolygon(geometry) if polygons else geometry)


@click.command("recompute-population")
@click.option("--layer", "layer", help="Only this population layer (default: every layer).")
@with_appcontext
@reports_errors
def recompute_population(layer: str | None) -> None:
    """Recompute population per facility: service areas × population layer, then served up the feed links."""
    with db.connection() as conn:
        done = refresh_and_show(conn, direct=True, layer=layer)
        if not done.lines:
            warn("no population layer: run import-population first")
        repo.audit(conn, entity="dataset", entity_id="recompute-population", action="recompute-population",
                   after={"layer": layer, "report": done.lines})
