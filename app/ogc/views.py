"""OGC API – Features Part 1 (core, GeoJSON, OpenAPI 3.0) under /ogc: facilities, cases and reports for QGIS, GDAL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import NotAcceptable

from app import db
from app.auth.access import requires
from app.errors import BadParameter, NotFound
from app.ogc.links import external_url as _url
from app.ogc.spec import (
    COLLECTIONS,
    CONFORMANCE,
    CRS84,
    DATETIME_FORMS,
    DEFAULT_LIMIT,
    GEOJSON,
    GREGORIAN,
    ID_TYPE,
    ITEM_PARAMETERS,
    ITEMS_PARAMETERS,
    JSON,
    JSON_SCHEMA,
    MAX_LIMIT,
    OPENAPI,
    PROPERTIES,
    TIME_PROPERTY,
    describe,
)
from app.parse import parse_bbox, parse_int
from app.repo import ogc as repo

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(body: dict[str, Any], media_type: str = JSON) -> Response:
    # Keys in the order written, so GDAL and QGIS list a layer's fields as the schema orders them (name first).
    return Response(current_app.json.dumps(body, sort_keys=False) + "\n", content_type=media_type)


def _negotiate(media_type: str, allowed: tuple[str, ...] = ("f",)) -> None:
    """A 400 naming an unknown parameter or a bad `f`; a 406 when the Accept header rules out JSON."""
    for name in request.args:
        if name not in allowed:
            raise BadParameter({name: f"unknown parameter; this resource takes {', '.join(allowed)}"})
    formats = ("json", "geojson") if media_type == GEOJSON else ("json",)
    f = request.args.get("f")
    if f is not None and f not in formats:
        raise BadParameter({"f": f"must be {' or '.join(formats)}: this resource is offered as {media_type}"})
    if f is None and request.accept_mimetypes and request.accept_mimetypes.best_match([media_type, JSON]) is None:
        raise NotAcceptable(f"this resource is offered as {media_type} only")


def _crs(name: str) -> None:
    value = request.args.get(name)
    if value is not None and value.strip("<>") != CRS84:
        raise BadParameter({name: f"only {CRS84} (longitude, latitude) is offered"})


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
        raise BadParameter({"datetime": f"must be {DATETIME_FORMS}"}) from None
    if moment.tzinfo is None:
        raise BadParameter({"datetime": "a date-time must include a time zone (e.g. Z)"})
    return moment, end


def parse_datetime(text: str | None) -> tuple[datetime | None, datetime | None]:
    """OGC `datetime` (an instant, or start/end with `..` or nothing for an open end) as [since, before)."""
    if text is None or not text.strip():
        return None, None
    parts = text.split("/")
    if len(parts) == 1:
        return _moment(parts[0])
    if len(parts) != 2:
        raise BadParameter({"datetime": f"must be {DATETIME_FORMS}"})
    since = None if parts[0].strip() in ("", "..") else _moment(parts[0])[0]
    before = None if parts[1].strip() in ("", "..") else _moment(parts[1])[1]
    if since is not None and before is not None and since >= before:
        raise BadParameter({"datetime": "the start of the interval is after its end"})
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
    with db.read_connection() as conn:
        found = [_collection(name, repo.extent(conn, name)) for name in COLLECTIONS]
    return _json({"links": [{"href": _url("ogc.collections"), "rel": "self", "type": JSON}], "collections": found})


@bp.get("/collections/<collection_id>")
@requires("coordinator")
def collection(collection_id: str) -> Response:
    """Coordinator and up: one collection's description."""
    _known(collection_id)
    _negotiate(JSON)
    with db.read_connection() as conn:
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
    query = repo.Query(bbox=box, since=since,
                       before=before, limit=limit, offset=offset)
    with db.read_connection() as conn:
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
    if not fid.isprintable():  # no feature id holds a control character (and PostgreSQL text cannot hold NUL)
        raise NotFound(f"no feature {fid!r} in {collection_id}")
    with db.read_connection() as conn:
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
