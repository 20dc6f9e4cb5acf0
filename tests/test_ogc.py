"""OGC API – Features core under /ogc: what QGIS reads (landing, conformance, collections, paged items)."""

from __future__ import annotations

import pytest

from tests.conftest import api_client


@pytest.fixture()
def ogc(demo_loaded, tokens):
    return api_client(demo_loaded, tokens["coordinator"])


def test_landing_conformance_and_collections(ogc):
    landing = ogc.get("/ogc/").json
    assert {link["rel"] for link in landing["links"]} >= {"self", "conformance", "data", "service-desc"}
    conforms = ogc.get("/ogc/conformance").json["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conforms
    names = [c["id"] for c in ogc.get("/ogc/collections").json["collections"]]
    assert names == ["facilities", "cases", "reports"]
    one = ogc.get("/ogc/collections/facilities").json
    assert any(link["rel"] == "items" for link in one["links"])
    assert ogc.get("/ogc/collections/nope").status_code == 404


def test_items_page_with_limit_offset_and_next_links(ogc):
    first = ogc.get("/ogc/collections/facilities/items?limit=5")
    assert first.status_code == 200 and first.mimetype == "application/geo+json"
    body = first.json
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 5
    assert body["numberMatched"] > 5
    next_link = next(link["href"] for link in body["links"] if link["rel"] == "next")
    assert "offset=5" in next_link
    second = ogc.get(next_link.replace("http://localhost", "")).json
    assert {f["id"] for f in second["features"]}.isdisjoint({f["id"] for f in body["features"]})
    last = ogc.get(f"/ogc/collections/facilities/items?limit=10&offset={body['numberMatched'] - 2}").json
    assert last["numberReturned"] == 2 and not any(link["rel"] == "next" for link in last["links"])


def test_bbox_filters_and_single_items(ogc):
    every = ogc.get("/ogc/collections/facilities/items?limit=10000").json
    some = ogc.get("/ogc/collections/facilities/items?bbox=-6.3,53.3,-6.2,53.4&limit=10000").json
    assert 0 < some["numberMatched"] < every["numberMatched"]
    for feature in some["features"]:
        lon, lat = feature["geometry"]["coordinates"][:2]
        assert -6.3 <= lon <= -6.2 and 53.3 <= lat <= 53.4
    fid = some["features"][0]["id"]
    item = ogc.get(f"/ogc/collections/facilities/items/{fid}")
    assert item.status_code == 200 and item.json["id"] == fid and item.json["type"] == "Feature"
    assert ogc.get("/ogc/collections/facilities/items/0").status_code == 404
    assert ogc.get("/ogc/collections/cases/items").json["type"] == "FeatureCollection"
    assert ogc.get("/ogc/collections/reports/items?limit=0").status_code == 400


def test_crews_and_anonymous_callers_are_refused(demo_loaded, tokens):
    assert api_client(demo_loaded, tokens["crew"]).get("/ogc/collections").status_code == 403
    anonymous = api_client(demo_loaded, None).get("/ogc/collections", headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
