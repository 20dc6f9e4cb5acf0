"""OGC API – Features Part 1 (core, GeoJSON, OpenAPI 3.0) under /ogc: facilities, cases and reports for QGIS, GDAL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import NotAcceptable

from app import db
from app.auth import requires
from app.errors import NotFound, ValidationError
from app.openapi import ERROR
from app.params import parse_bbox, parse_int
from app.repo import ogc as repo

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

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
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME_FORMS = "an RFC 3339 date or date-time, or an interval start/end with .. for an open end, e.g. 2026-11-25/.."


def _url(endpoint: str, **values: Any) -> str:
    return url_for(endpoint, _external=True, **values)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(body: dict[str, Any], media_type: str = JSON) -> Response:
    # Keys in the order written, so GDAL and QGIS list a layer's fields as the schema orders them (name first).
    return Response(current_app.json.dumps(body, sort_keys=False) + "\n", content_type=media_type)


def _negotiate(media_type: str, allowed: tuple[str, ...] = ("f",)) -> None:
    """A 400 naming an unknown parameter or a bad `f`; a 406 when the Accept header rules out JSON."""
    for name in request.args:
        if name not in allowed:
            raise ValidationError({name: f"unknown parameter; this resource takes {', '.join(allowed)}"}, status=400)
    formats = ("json", "geojson") if media_type == GEOJSON else ("json",)
    f = request.args.get("f")
    if f is not None and f not in formats:
        raise ValidationError({"f": f"must be {' or '.join(formats)}: this resource is offered as {media_type}"},
                              status=400)
    if f is None and request.accept_mimetypes and request.accept_mimetypes.best_match([media_type, JSON]) is None:
        raise NotAcceptable(f"this resource is offered as {media_type} only")


def _crs(name: str) -> None:
    value = request.args.get(name)
    if value is not None and value.strip("<>") != CRS84:
        raise ValidationError({name: f"only {CRS84} (longitude, latitude) is offered"}, status=400)


def _moment(text: str) -> tuple[datetime, datetime]:
    """An RFC 3339 date (a whole UTC day) or date-time (one microsecond) as the half-open span it covers."""
    text = text.strip()
    bare = text.removesuffix("T")  # GDAL sends a bare date as 2026-11-25T
    try:
        if DATE.fullmatch(bare):
            day = datetime.fromisoformat(bare).replace(tzinfo=UTC)
            return day, day + timedelta(days=1)
        moment = datetime.fromisoformat(text)
        end = moment + timedelta(microseconds=1)
    except (ValueError, OverflowError):
        raise ValidationError({"datetime": f"must be {DATETIME_FORMS}"}, status=400) from None
    if moment.tzinfo is None:
        raise ValidationError({"datetime": "a date-time must include a time zone (e.g. Z)"}, status=400)
    return moment, end


def parse_datetime(text: str | None) -> tuple[datetime | None, datetime | None]:
    """OGC `datetime` (an instant, or start/end with `..` or nothing for an open end) as [since, before)."""
    if text is None or not text.strip():
        return None, None
    parts = text.split("/")
    if len(parts) == 1:
        return _moment(parts[0])
    if len(parts) != 2:
        raise ValidationError({"datetime": f"must be {DATETIME_FORMS}"}, status=400)
    since = None if parts[0].strip() in ("", "..") else _moment(parts[0])[0]
    before = None if parts[1].strip() in ("", "..") else _moment(parts[1])[1]
    if since is not None and before is not None and since >= before:
        raise ValidationError({"datetime": "the start of the interval is after its end"}, status=400)
    return since, before


def _known(collection_id: str) -> None:
    if collection_id not in COLLECTIONS:
        raise NotFound(f"no collection {collection_id!r}; try one of {', '.join(COLLECTIONS)}")


def _collection(name: str, extent: repo.Extent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": name, "title": name.capitalize(), "description": COLLECTIONS[name], "itemType": "feature",
        "crs": [CRS84], "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [extent.bbox or [-180, -90, 180, 90]], "crs": CRS84}},
        "links": [{"href": _url("ogc.collection", collection_id=name), "rel": "self", "type": JSON},
                  {"href": _url("ogc.items", collection_id=name), "rel": "items", "type": GEOJSON, "title": name},
                  {"href": _url("ogc.schema", collection_id=name), "rel": "describedby", "type": JSON_SCHEMA,
                   "title": f"JSON Schema of a {name} feature"}]}
    if TIME_PROPERTY[name]:
        body["extent"]["temporal"] = {"interval": [[_iso(extent.first), _iso(extent.last)]], "trs": GREGORIAN}
    return body


@bp.get("/", strict_slashes=False)
@requires("coordinator")
def landing() -> Response:
    """Coordinator and up: the OGC API landing page (at /ogc and /ogc/)."""
    _negotiate(JSON)
    return _json({"title": "GridTriage", "description": "Energy-infrastructure damage: OGC API – Features",
                  "links": [
                      {"href": _url("ogc.landing"), "rel": "self", "type": JSON},
                      {"href": _url("ogc.api"), "rel": "service-desc", "type": OPENAPI},
                      {"href": _url("ogc.conformance"), "rel": "conformance", "type": JSON},
                      {"href": _url("ogc.collections"), "rel": "data", "type": JSON}]})


@bp.get("/api")
@requires("coordinator")
def api() -> Response:
    """Coordinator and up: the OpenAPI 3.0 description of /ogc (GDAL reads the items' page size limits from it)."""
    _negotiate(OPENAPI)
    return _json(describe(), OPENAPI)


@bp.get("/conformance")
@requires("coordinator")
def conformance() -> Response:
    """Coordinator and up: the conformance classes implemented."""
    _negotiate(JSON)
    return _json({"conformsTo": CONFORMANCE})


@bp.get("/collections")
@requires("coordinator")
def collections() -> Response:
    """Coordinator and up: the feature collections."""
    _negotiate(JSON)
    with db.connection() as conn:
        found = [_collection(name, repo.extent(conn, name)) for name in COLLECTIONS]
    return _json({"links": [{"href": _url("ogc.collections"), "rel": "self", "type": JSON}], "collections": found})


@bp.get("/collections/<collection_id>")
@requires("coordinator")
def collection(collection_id: str) -> Response:
    """Coordinator and up: one collection's description."""
    _known(collection_id)
    _negotiate(JSON)
    with db.connection() as conn:
        return _json(_collection(collection_id, repo.extent(conn, collection_id)))


@bp.get("/collections/<collection_id>/schema")
@requires("coordinator")
def schema(collection_id: str) -> Response:
    """Coordinator and up: the JSON Schema of the collection's features, from which GDAL takes the field types."""
    _known(collection_id)
    _negotiate(JSON_SCHEMA)
    properties = {name: {"type": kind, **({"format": fmt} if fmt else {}), "description": meaning}
                  for name, (kind, fmt, meaning) in PROPERTIES[collection_id].items()}
    return _json({"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$id": _url("ogc.schema", collection_id=collection_id),
                  "title": f"{collection_id.capitalize()} feature", "type": "object",
                  "required": ["type", "id", "geometry", "properties"],
                  "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                 "id": {"type": ID_TYPE[collection_id]},
                                 "geometry": {"type": "object", "description": "GeoJSON geometry, CRS84 (lon, lat)"},
                                 "properties": {"type": "object", "properties": properties}}}, JSON_SCHEMA)


@bp.get("/collections/<collection_id>/items")
@requires("coordinator")
def items(collection_id: str) -> Response:
    """Coordinator and up: a page of features (bbox, datetime, limit, offset) with next/prev links."""
    _known(collection_id)
    _negotiate(GEOJSON, ITEMS_PARAMETERS)
    # A limit above the maximum is not an error: the maximum is used (OGC API – Features, 7.15.3).
    limit = min(parse_int(request.args.get("limit"), name="limit", low=1, high=2**31 - 1, default=DEFAULT_LIMIT),
                MAX_LIMIT)
    offset = parse_int(request.args.get("offset"), name="offset", low=0, high=2**31 - 1, default=0)
    text = request.args.get("bbox")
    if text is not None and text.count(",") == 5:  # minlon,minlat,minz,maxlon,maxlat,maxz: heights do not filter
        parts = text.split(",")
        text = ",".join(parts[0:2] + parts[3:5])
    box = parse_bbox(text)
    _crs("bbox-crs")
    _crs("crs")
    since, before = parse_datetime(request.args.get("datetime"))
    query = repo.Query(bbox=(box.min_lon, box.min_lat, box.max_lon, box.max_lat) if box else None, since=since,
                       before=before, limit=limit, offset=offset)
    with db.connection() as conn:
        matched, features = repo.items(conn, collection_id, query)
    keep = {k: v for k, v in request.args.items() if k not in ("offset", "limit")}

    def page(rel: str, at: int) -> dict[str, str]:
        return {"href": _url("ogc.items", collection_id=collection_id, limit=limit, offset=at, **keep), "rel": rel,
                "type": GEOJSON}

    links = [page("self", offset),
             {"href": _url("ogc.collection", collection_id=collection_id), "rel": "collection", "type": JSON}]
    if offset + len(features) < matched:
        links.append(page("next", offset + limit))
    if offset > 0:
        links.append(page("prev", max(0, offset - limit)))
    response = _json({"type": "FeatureCollection", "features": features, "numberMatched": matched,
                      "numberReturned": len(features), "timeStamp": _iso(datetime.now(UTC)), "links": links}, GEOJSON)
    response.headers["Content-Crs"] = f"<{CRS84}>"
    return response


@bp.get("/collections/<collection_id>/items/<fid>")
@requires("coordinator")
def item(collection_id: str, fid: str) -> Response:
    """Coordinator and up: one feature."""
    _known(collection_id)
    _negotiate(GEOJSON, ITEM_PARAMETERS)
    _crs("crs")
    with db.connection() as conn:
        _, features = repo.items(conn, collection_id, repo.Query(fid=fid, limit=1))
    if not features:
        raise NotFound(f"no feature {fid!r} in {collection_id}")
    feature = dict(features[0])
    feature["links"] = [
        {"href": _url("ogc.item", collection_id=collection_id, fid=fid), "rel": "self", "type": GEOJSON},
        {"href": _url("ogc.collection", collection_id=collection_id), "rel": "collection", "type": JSON}]
    response = _json(feature, GEOJSON)
    response.headers["Content-Crs"] = f"<{CRS84}>"
    return response


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
        "servers": [{"url": _url("ogc.landing").rstrip("/")}],
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
