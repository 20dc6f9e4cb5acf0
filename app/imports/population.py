"""Population layers (read, stored, and the refresh every import runs: service areas × layer → people per
facility), and the commands `import-population` and `recompute-population`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import shapely
from flask.cli import with_appcontext

from app import db
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
    map_option,
    region,
    reports_errors,
    warn,
)
from app.repo import Conn
from app.repo import imports as repo
from geo import feeds, io, population
from geo import service_areas as areas
from geo.columns import ignored, parse_map
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
        # The same test as sum_points, against the boundary prepared once: unprepared, a detailed boundary
        # takes seconds for a few thousand points.
        shapely.prepare(boundary)
        inside = frame.loc[shapely.intersects(boundary, frame.geometry.values), "population"].sum()
        return population.sum_points(cells, frame, column="population"), float(inside)
    crs = areas.metric_crs(boundary)
    return (population.areal_weighting(cells, frame, column="population", metric_crs=crs),
            float(population.areal_weighting(whole, frame, column="population", metric_crs=crs).population.sum()))


@dataclass(frozen=True)
class Check:
    """A layer's conservation check: people assigned to facilities and people inside the study boundary."""

    assigned: float
    inside: float


@dataclass
class Refreshed:
    """What a refresh did: one line per layer (its conservation check), the warnings to show, the checks' numbers."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: dict[str, Check] = field(default_factory=dict)  # by layer name, for the layers summed again


def refresh(conn: Conn, *, region_id: int, direct: bool, layer: str | None = None,
            progress: Progress = QUIET) -> Refreshed:
    """Recompute the region's direct population (or reuse the stored one) and population served, per layer of the
    region; report the check. Other regions' facilities keep their numbers.

    It neither prints nor draws: `progress.step` hears which layer starts, and the caller shows the returned
    lines and warnings (the command line with `show`)."""
    layers = repo.population_layers(conn, layer, region_id=region_id)
    if layer is not None and not layers:
        raise DataError(f"no population layer named {layer!r} in this region")
    stored = repo.service_areas(conn, region_id=region_id)
    done = Refreshed()
    if not layers:
        return done
    if not stored:
        done.lines.append("population: no service areas yet, so none assigned (derive-service-areas or "
                          "import-service-areas)")
        return done
    known = [f["external_id"] for f in repo.facilities(conn, region_id=region_id)]
    ids = repo.facility_ids(conn, region_id=region_id)
    links = [(r["parent"], r["child"]) for r in repo.links(conn, region_id=region_id)]
    cells = gpd.GeoSeries.from_wkb([bytes(r["wkb"]) for r in stored], index=[r["external_id"] for r in stored],
                                   crs=io.LONLAT)
    boundary_wkb = repo.study_boundary(conn, region_id=region_id)
    boundary = shapely.from_wkb(boundary_wkb) if boundary_wkb else shapely.union_all(cells.values)
    for item in layers:
        progress.step(f"population per service area: {item['name']}")
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


def _check(done: Refreshed, layer: dict[str, Any], method: str, *, assigned: float, inside: float) -> None:
    """The conservation check: people inside the study boundary = people assigned to facilities."""
    done.checks[str(layer["name"])] = Check(assigned=assigned, inside=inside)
    outside = max(float(layer["total"]) - inside, 0.0)
    text = (f"population '{layer['name']}' ({method}): inside the boundary {inside:,.0f} people, assigned "
            f"{assigned:,.0f}")
    if inside <= 0.5 < outside:
        done.warnings.append(f"population '{layer['name']}': none of its {outside:,.0f} people is inside the "
                             "region's boundary, so every facility of the region gets 0 from it")
        done.lines.append(f"{text}: NOTHING assigned (all {outside:,.0f} people outside the boundary)")
        return
    if abs(assigned - inside) <= max(0.5, 1e-6 * inside):
        done.lines.append(f"{text}: conserved ({outside:,.0f} outside the boundary)")
        return
    done.warnings.append(f"population '{layer['name']}': {assigned - inside:+,.0f} people assigned beyond those "
                         "inside the boundary (service areas overlap or leave gaps)")
    done.lines.append(f"{text}: NOT conserved ({outside:,.0f} outside the boundary)")


@dataclass(frozen=True)
class Layer:
    """A population layer read from a file: its kind, its people in all, what it holds, and its counts."""

    kind: str  # points, polygons or raster
    total: float
    detail: str  # e.g. "1,469 points" or "raster in EPSG:3035"
    counts: population.Counts | None  # None for a raster, which stays in its file
    warnings: tuple[str, ...] = ()  # columns the read did not use

    @property
    def method(self) -> str:
        return METHOD[self.kind]


def read_layer(file: Path, *, layer: str | None = None, map_text: str | None = None,
               crs: str | None = None) -> Layer:
    """Read and check a population file: points or census polygons with counts, or a raster (GeoTIFF)."""
    columns = parse_map(map_text, fields=population.POPULATION_FIELDS)
    if file.suffix.lower() in RASTER_SUFFIXES:
        total, raster_crs = population.raster_info(file)
        return Layer(kind="raster", total=total, detail=f"raster in {raster_crs}", counts=None)
    frame = io.read_table(file, layer=layer, columns=columns.csv_columns(), crs=crs)
    counts = population.read_counts(frame, file=str(file), columns=columns)
    unused = ignored(frame, columns, fields=population.POPULATION_FIELDS, csv=is_csv(file))
    return Layer(kind=counts.kind, total=float(counts.frame["population"].sum()),
                 detail=f"{len(counts.frame):,} {counts.kind}", counts=counts,
                 warnings=tuple(f"{file.name}: {message}" for message in unused))


def store_layer(conn: Conn, layer: Layer, *, name: str, dataset_id: int, region: Region, accept_outside: bool = False,
                progress: Progress = QUIET) -> Refreshed:
    """Store a layer in a region under its name (replacing one of the same name), then its population per facility.

    People outside the region's boundary are refused (DataError, nothing stored) when none is inside, and unless
    `accept_outside` when some are: a layer of another area never silently becomes zeros."""
    layer_id = repo.upsert_population_layer(conn, name=name, kind=layer.kind, dataset_id=dataset_id,
                                            total=layer.total, region_id=region.id)
    if layer.counts is not None:
        with progress.bar(f"storing {layer.kind}", len(layer.counts.frame)) as bar:
            repo.copy_population(conn, layer_id=layer_id, kind=layer.kind, rows=_rows(layer.counts, bar))
    done = refresh(conn, region_id=region.id, direct=True, layer=name, progress=progress)
    check = done.checks.get(name)
    outside = layer.total - check.inside if check is not None else 0.0
    if check is not None and check.inside <= 0.5 < layer.total:
        raise DataError(f"none of the layer's {layer.total:,.0f} people is inside the boundary of region "
                        f"{region.name!r}: is this the region's layer? (`flask --app app region list`; a new "
                        "region: `region create NAME --boundary FILE`)")
    if outside > max(0.5, 1e-6 * layer.total):
        share = f"{outside:,.0f} of the layer's {layer.total:,.0f} people ({outside / layer.total:.1%})"
        if not accept_outside:
            raise DataError(f"{share} are outside the boundary of region {region.name!r} and would be counted for "
                            "no facility; nothing was stored. If that is expected (a national layer for one "
                            "region), run again with --yes")
        done.warnings.append(f"{share} are outside the boundary of region {region.name!r}: counted for no facility")
    return done


@click.command("import-population")
@FILE
@LAYER
@map_option(population.POPULATION_FIELDS)
@click.option("--name", help="The layer's name, its provenance in the app (default: the file name).")
@CRS
@REGION
@click.option("--yes", "accept_outside", is_flag=True,
              help="Import even though some of the layer's people are outside the region's boundary.")
@DRY_RUN
@with_appcontext
@reports_errors
def import_population(file: Path, layer: str | None, map_text: str | None, name: str | None, crs: str | None,
                      region_name: str | None, accept_outside: bool, dry_run: bool) -> None:
    """Load a population layer: points with counts, census polygons with counts, or a raster (GeoTIFF).

    Points are summed per service area, polygons spread by areal weighting, rasters summed with exact
    fractional cell coverage (exactextract); the layer's name and method are kept as provenance.
    """
    name = name or file.name
    found = read_layer(file, layer=layer, map_text=map_text, crs=crs)
    warn(*found.warnings)
    with db.connection() as conn:
        target = region(conn, region_name)
        dataset_id = repo.dataset(conn, name=file.name, source=str(file.resolve()))
        done = store_layer(conn, found, name=name, dataset_id=dataset_id, region=target,
                           accept_outside=accept_outside, progress=TERMINAL)
        repo.audit(conn, entity="dataset", entity_id=str(dataset_id), action="import-population",
                   after={"file": str(file), "layer": name, "kind": found.kind, "method": found.method,
                          "total": found.total, "region": target.name})
        click.echo(f"population layer '{name}': {found.detail}, {found.total:,.0f} people, method {found.method}")
        show(done)
        finish(conn, dry_run=dry_run)


def _rows(counts: population.Counts, bar: Bar) -> Iterable[tuple[str, float, str]]:
    polygons = counts.kind == "polygons"
    for ref, people, geometry in zip(counts.frame["ref"], counts.frame["population"], counts.frame.geometry.values,
                                     strict=True):
        bar.update(1)
        yield ref, float(people), ewkb(areas.as_multipolygon(geometry) if polygons else geometry)


@click.command("recompute-population")
@click.option("--layer", "layer", help="Only this population layer (default: every layer of the region).")
@REGION
@with_appcontext
@reports_errors
def recompute_population(layer: str | None, region_name: str | None) -> None:
    """Recompute population per facility: service areas × population layer, then served up the feed links."""
    with db.connection() as conn:
        target = region(conn, region_name)
        done = refresh(conn, region_id=target.id, direct=True, layer=layer, progress=TERMINAL)
        show(done)
        if not done.lines:
            warn("no population layer: run import-population first")
        repo.audit(conn, entity="dataset", entity_id="recompute-population", action="recompute-population",
                   after={"layer": layer, "region": target.name, "report": done.lines})
