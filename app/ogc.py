"""OGC API – Features Part 1 (core, GeoJSON) under /ogc, so QGIS can add facilities, cases and reports."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from app import db
from app.auth import requires
from app.errors import NotFound
from app.params import parse_bbox, parse_int
from app.repo import exports as repo

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

COLLECTIONS = {
    "facilities": "Registered energy facilities (substations, plants, lines…) with their direct population",
    "cases": "Damage cases: the open damage of one facility, built from reports; status and workflow",
    "reports": "Field reports from crews (immutable observations)",
}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
MAX_LIMIT = 10_000


def _url(endpoint: str, **values: Any) -> str:
    return url_for(endpoint, _external=True, **values)


def _json(body: dict[str, Any], media_type: str = "application/json") -> Response:
    response = jsonify(body)
    response.mimetype = media_type
    return response


def _collection(name: str, extent: list[float] | None) -> dict[str, Any]:
    items = _url("ogc.items", collection_id=name)
    return {
        "id": name, "title": name.capitalize(), "description": COLLECTIONS[name], "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [extent or [-180, -90, 180, 90]], "crs": CRS84}},
        "links": [{"href": _url("ogc.collection", collection_id=name), "rel": "self", "type": "application/json"},
                  {"href": items, "rel": "items", "type": GEOJSON, "title": name}],
    }


def _known(collection_id: str) -> None:
    if collection_id not in COLLECTIONS:
        raise NotFound(f"no collection {collection_id!r}; try one of {', '.join(COLLECTIONS)}")


@bp.get("/")
@requires("coordinator")
def landing() -> Response:
    """Coordinator and up: the OGC API landing page."""
    return _json({"title": "GridTriage", "description": "Energy-infrastructure damage: OGC API – Features",
                  "links": [
                      {"href": _url("ogc.landing"), "rel": "self", "type": "application/json"},
                      {"href": _url("openapi.spec"), "rel": "service-desc",
                       "type": "application/vnd.oai.openapi+json;version=3.0"},
                      {"href": _url("ogc.conformance"), "rel": "conformance", "type": "application/json"},
                      {"href": _url("ogc.collections"), "rel": "data", "type": "application/json"}]})


@bp.get("/conformance")
@requires("coordinator")
def conformance() -> Response:
    """Coordinator and up: the conformance classes implemented."""
    return _json({"conformsTo": CONFORMANCE})


@bp.get("/collections")
@requires("coordinator")
def collections() -> Response:
    """Coordinator and up: the feature collections."""
    with db.connection() as conn:
        extent = repo.extent(conn)
    return _json({"links": [{"href": _url("ogc.collections"), "rel": "self", "type": "application/json"}],
                  "collections": [_collection(name, extent) for name in COLLECTIONS]})


@bp.get("/collections/<collection_id>")
@requires("coordinator")
def collection(collection_id: str) -> Response:
    """Coordinator and up: one collection's description."""
    _known(collection_id)
    with db.connection() as conn:
        return _json(_collection(collection_id, repo.extent(conn)))


@bp.get("/collections/<collection_id>/items")
@requires("coordinator")
def items(collection_id: str) -> Response:
    """Coordinator and up: a page of features (bbox, limit, offset) with next/prev links."""
    _known(collection_id)
    limit = parse_int(request.args.get("limit"), name="limit", low=1, high=MAX_LIMIT, default=100)
    offset = parse_int(request.args.get("offset"), name="offset", low=0, high=2**31 - 1, default=0)
    box = parse_bbox(request.args.get("bbox"))
    bbox = (box.min_lon, box.min_lat, box.max_lon, box.max_lat) if box else None
    with db.connection() as conn:
        matched, features = repo.ogc_items(conn, collection_id, bbox=bbox, limit=limit, offset=offset)
    keep = {k: v for k, v in request.args.items() if k not in ("offset", "limit")}
    links = [{"href": _url("ogc.items", collection_id=collection_id, limit=limit, offset=offset, **keep),
              "rel": "self", "type": GEOJSON},
             {"href": _url("ogc.collection", collection_id=collection_id), "rel": "collection",
              "type": "application/json"}]
    if offset + len(features) < matched:
        links.append({"href": _url("ogc.items", collection_id=collection_id, limit=limit, offset=offset + limit,
                                   **keep), "rel": "next", "type": GEOJSON})
    if offset > 0:
        links.append({"href": _url("ogc.items", collection_id=collection_id, limit=limit,
                                   offset=max(0, offset - limit), **keep), "rel": "prev", "type": GEOJSON})
    return _json({"type": "FeatureCollection", "features": features, "numberMatched": matched,
                  "numberReturned": len(features), "links": links}, GEOJSON)


@bp.get("/collections/<collection_id>/items/<fid>")
@requires("coordinator")
def item(collection_id: str, fid: str) -> Response:
    """Coordinator and up: one feature."""
    _known(collection_id)
    with db.connection() as conn:
        _, features = repo.ogc_items(conn, collection_id, limit=1, fid=fid)
    if not features:
        raise NotFound(f"no feature {fid!r} in {collection_id}")
    feature = dict(features[0])
    feature["links"] = [
        {"href": _url("ogc.item", collection_id=collection_id, fid=fid), "rel": "self", "type": GEOJSON},
        {"href": _url("ogc.collection", collection_id=collection_id), "rel": "collection",
         "type": "application/json"}]
    return _json(feature, GEOJSON)
