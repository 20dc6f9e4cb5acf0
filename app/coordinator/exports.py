"""GET /api/export/{cases,reports}.{geojson,csv,gpkg}: the map's features as files for GIS and spreadsheets."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from flask import Blueprint, Response, request

from app import db
from app.auth.access import requires
from app.errors import BadParameter
from app.parse import parse_bbox, parse_choices, parse_time
from app.repo import exports as repo
from geo.taxonomy import CASE_STATUSES, FACILITY_KINDS, HAZARDS, SEVERITIES

bp = Blueprint("exports", __name__, url_prefix="/api/export")

FORMATS = {  # format -> (OGR driver, layer creation options, media type)
    "geojson": ("GeoJSON", {}, "application/geo+json"),
    "csv": ("CSV", {"GEOMETRY": "AS_WKT", "STRING_QUOTING": "ALWAYS"}, "text/csv"),
    "gpkg": ("GPKG", {}, "application/geopackage+sqlite3"),
}


def _choices(name: str, allowed: tuple[str, ...]) -> tuple[str, ...] | None:
    return parse_choices(request.args.getlist(name), name=name, allowed=allowed)


def parse_filters() -> repo.Filters:
    """The map's filters from the query string (read as /api/map/* reads them), or a 400 naming the parameter."""
    box = parse_bbox(request.args.get("bbox"))
    since = parse_time(request.args.get("since"), name="since")
    until = parse_time(request.args.get("until"), name="until")
    if since and until and until <= since:
        raise BadParameter({"until": "must be later than since"})
    return repo.Filters(
        status=_choices("status", CASE_STATUSES), kind=_choices("kind", tuple(FACILITY_KINDS)),
        severity=_choices("severity", tuple(SEVERITIES)), hazard=_choices("hazard", tuple(HAZARDS)),
        since=since, until=until, bbox=box)


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(data: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The text cells of `data` that a spreadsheet would run as formulas, prefixed with a single quote (OWASP's
    advice; with every text cell quoted too) so that they show as the text the crew wrote."""
    out = data.copy()
    for column in out.columns:
        if column != out.geometry.name and not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)
    return out


def frame(columns: list[str], rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Rows with WKB geometry as a lon/lat GeoDataFrame."""
    attributes = pd.DataFrame([{k: v for k, v in row.items() if k != "wkb"} for row in rows],
                              columns=[c for c in columns if c != "wkb"])
    geometry = gpd.GeoSeries.from_wkb([bytes(row["wkb"]) for row in rows], crs="EPSG:4326")
    return gpd.GeoDataFrame(attributes, geometry=geometry, crs="EPSG:4326")


@bp.get("/<any(cases, reports):layer>.<any(geojson, csv, gpkg):fmt>")
@requires("coordinator")
def export(layer: str, fmt: str) -> Response:
    """Coordinator and up: cases or reports, filtered exactly as the map is, as GeoJSON, CSV (WKT) or GeoPackage."""
    filters = parse_filters()
    with db.read_connection() as conn:
        columns, rows = repo.layer(conn, layer, filters)
    data = frame(columns, rows)
    if fmt == "csv":
        data = neutralise_formulas(data)
    driver, options, media_type = FORMATS[fmt]
    with tempfile.TemporaryDirectory(prefix="gridtriage-export-") as tmp:
        path = Path(tmp) / f"{layer}.{fmt}"
        pyogrio.write_dataframe(data, path, driver=driver, layer=layer, layer_options=options or None)
        body = path.read_bytes()
    response = Response(body, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="gridtriage-{layer}.{fmt}"'
    return response
