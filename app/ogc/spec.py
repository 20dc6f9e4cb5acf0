"""What /ogc serves and its OpenAPI 3.0 description: collections, their properties, media types and parameters."""

from __future__ import annotations

from typing import Any

from app.ogc.links import external_url
from app.openapi import ERROR

COLLECTIONS = {
    "facilities": "Registered energy facilities (substations, plants, lines…) with their direct population",
    "cases": "Damage cases: the open damage of one facility, built from reports; status and workflow",
    "reports": "Field reports from crews (immutable observations)",
}
# The property the `datetime` parameter filters on; facilities have no time of their own, so it does not filter them.
TIME_PROPERTY = {"facilities": None, "cases": "opened_at", "reports": "observed_at"}
ID_TYPE = {"facilities": "integer", "cases": "integer", "reports": "string"}
# Each collection's feature properties, as the SQL in app/repo/ogc.py builds them: (JSON type, format, meaning).
# One type per property (null is allowed everywhere but the names), since GDAL reads only a single type.
PROPERTIES: dict[str, dict[str, tuple[str, str | None, str]]] = {
    "facilities": {
        "name": ("string", None, "facility name"), "kind": ("string", None, "facility kind"),
        "external_id": ("string", None, "the registry's identifier"), "voltage_kv": ("number", None, "voltage, kV"),
        "capacity_mva": ("number", None, "capacity, MVA"),
        "population": ("number", None, "people in its own service area (latest population layer)")},
    "cases": {
        "facility_id": ("integer", None, "the damaged facility"), "kind": ("string", None, "facility kind"),
        "status": ("string", None, "workflow status"), "merged_into": ("integer", None, "case it duplicates"),
        "assigned_crew": ("string", None, "crew assigned"),
        "repair_hours_override": ("number", None, "repair time set by a coordinator, hours"),
        "priority_bump": ("number", None, "priority added by a coordinator"),
        "opened_at": ("string", "date-time", "when the case was opened"),
        "updated_at": ("string", "date-time", "last change")},
    "reports": {
        "case_id": ("integer", None, "the case it belongs to"), "facility_id": ("integer", None, "facility reported"),
        "kind": ("string", None, "facility kind"), "severity": ("string", None, "damage severity"),
        "status": ("string", None, "operational status"), "progress": ("string", None, "repair progress"),
        "hazards": ("string", None, "comma-separated hazards"), "repair_hours": ("number", None, "estimate, hours"),
        "notes": ("string", None, "the crew's notes"), "observed_at": ("string", "date-time", "when it was seen"),
        "received_at": ("string", "date-time", "when the server stored it")},
}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
JSON_SCHEMA = "application/schema+json"
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
# The query parameters each kind of resource takes; anything else is a 400 naming it (OGC API – Features /req/core/
# query-param-unknown). GDAL sends `crs` and `bbox-crs` once a collection names its storageCrs.
ITEMS_PARAMETERS = ("f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime")
ITEM_PARAMETERS = ("f", "crs")
DATETIME_FORMS = "an RFC 3339 date or date-time, or an interval start/end with .. for an open end, e.g. 2026-11-25/.."


def _operation(summary: str, media_type: str, *, parameters: list[dict[str, Any]] | None = None,
               not_found: bool = False) -> dict[str, Any]:
    error = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses = {"200": {"description": summary, "content": {media_type: {"schema": {"type": "object"}}}},
                 "400": {"description": "a bad or unknown query parameter, named in `errors`", **error},
                 "401": {"description": "no valid bearer token", **error},
                 "403": {"description": "the account is not a coordinator or admin", **error},
                 "406": {"description": "the Accept header rules out JSON"}}
    if not_found:
        responses["404"] = {"description": "no such collection or feature", **error}
    return {"get": {"summary": summary, "parameters": parameters or [{"$ref": "#/components/parameters/f"}],
                    "responses": responses}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description,
            "style": "form", "explode": False}


def describe() -> dict[str, Any]:
    """The OpenAPI 3.0 document of /ogc, with one path per collection so clients find each one's parameters."""
    ref = {name: {"$ref": f"#/components/parameters/{name}"} for name in ITEMS_PARAMETERS}
    paths = {"/": _operation("the landing page", JSON), "/api": _operation("this description", OPENAPI),
             "/conformance": _operation("the conformance classes implemented", JSON),
             "/collections": _operation("the feature collections", JSON)}
    for name in COLLECTIONS:
        when = (f"only features whose {TIME_PROPERTY[name]} falls in this instant or interval" if TIME_PROPERTY[name]
                else "accepted, but facilities have no time of their own: it does not filter them")
        paths[f"/collections/{name}"] = _operation(f"the {name} collection", JSON, not_found=True)
        paths[f"/collections/{name}/schema"] = _operation(f"JSON Schema of a {name} feature", JSON_SCHEMA)
        paths[f"/collections/{name}/items"] = _operation(
            f"a page of {name}, with next/prev links", GEOJSON,
            parameters=[ref["limit"], ref["offset"], ref["bbox"], ref["bbox-crs"], ref["crs"], ref["f"],
                        _query("datetime", {"type": "string"}, f"{DATETIME_FORMS}: {when}")])
        paths[f"/collections/{name}/items/{{featureId}}"] = _operation(
            f"one of the {name}", GEOJSON, not_found=True, parameters=[
                {"name": "featureId", "in": "path", "required": True, "schema": {"type": ID_TYPE[name]}},
                ref["crs"], ref["f"]])
    crs = {"type": "string", "format": "uri", "enum": [CRS84], "default": CRS84}
    return {
        "openapi": "3.0.3",
        "info": {"title": "GridTriage OGC API – Features", "version": "1.0",
                 "description": "Facilities, damage cases and field reports for GIS clients (QGIS, GDAL)."},
        "servers": [{"url": external_url("ogc.landing").rstrip("/")}],
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from `flask --app app create-token NAME`"}},
            "schemas": {"Error": ERROR},
            "parameters": {
                "limit": _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                          "default": DEFAULT_LIMIT}, "features per page; more than the maximum "
                                "gives the maximum"),
                "offset": _query("offset", {"type": "integer", "minimum": 0, "default": 0},
                                 "features to skip (the next link carries it)"),
                "bbox": _query("bbox", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                               "minlon,minlat,maxlon,maxlat (CRS84): only features whose box overlaps it"),
                "bbox-crs": _query("bbox-crs", crs, "the CRS of bbox: CRS84 only"),
                "crs": _query("crs", crs, "the CRS of the response: CRS84 only"),
                "f": _query("f", {"type": "string", "enum": ["json", "geojson"]},
                            "the format, instead of an Accept header: JSON (GeoJSON for features)"),
            },
        },
    }
