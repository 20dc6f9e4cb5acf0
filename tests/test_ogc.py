"""OGC API – Features under /ogc: what QGIS reads, checked with a real client (GDAL's OAPIF driver) too."""

from __future__ import annotations

import logging
import math
import os
import pickle
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import schemathesis
from shapely.geometry import shape

from app.ogc.spec import COLLECTIONS, CRS84, PROPERTIES
from app.ogc.views import parse_datetime
from tests.conftest import api_client
from tests.test_reports_api import AIRTON, report


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
    # A feature client asking for GeoJSON, or sending a wrong token, gets a 401 too, not the HTML login page.
    geojson = api_client(demo_loaded, None).get("/ogc/collections/facilities/items",
                                                headers={"Accept": "application/geo+json"})
    assert geojson.status_code == 401 and geojson.is_json
    wrong = api_client(demo_loaded, "not-a-token").get("/ogc/collections", headers={"Accept": "*/*"})
    assert wrong.status_code == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
    # A person in a browser is sent to the login page.
    browser = api_client(demo_loaded, None).get("/ogc/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 302 and "/login" in browser.headers["Location"]


# GDAL's OAPIF driver runs in a child process, as QGIS would: pyogrio keeps the GIL while GDAL waits on HTTP, which
# would stall the live server's threads in this process. GDAL_HTTP_HEADERS does not reach the driver's requests (it
# sets its own Accept header, which replaces it), so the token goes in GDAL_HTTP_AUTH=BEARER + GDAL_HTTP_BEARER.
READER = """
import pickle, sys
import pyogrio
calls = pickle.load(sys.stdin.buffer)
pickle.dump([getattr(pyogrio, name)(source, **kwargs) for name, source, kwargs in calls], sys.stdout.buffer)
"""
OGR_TYPES = {"string": "OFTString", "integer": "OFTInteger", "number": "OFTReal", "date-time": "OFTDateTime"}


def run_gdal(base_url: str, token: str, *calls: tuple[str, dict]) -> subprocess.CompletedProcess[bytes]:
    """Run pyogrio functions (name, keyword arguments) on OAPIF:<base_url>/ogc in a child process."""
    env = {**os.environ, "GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": token}
    payload = pickle.dumps([(name, f"OAPIF:{base_url}/ogc", kwargs) for name, kwargs in calls])
    return subprocess.run([sys.executable, "-c", READER], input=payload, env=env, capture_output=True, timeout=60)


def gdal(base_url: str, token: str, *calls: tuple[str, dict]) -> list:
    """What each pyogrio call returned."""
    done = run_gdal(base_url, token, *calls)
    assert done.returncode == 0, done.stderr.decode()
    return pickle.loads(done.stdout)


def requested(caplog, pattern: str) -> list[str]:
    """The request lines the live server logged that match a regular expression."""
    return [r.getMessage() for r in caplog.records if r.name == "werkzeug" and re.search(pattern, r.getMessage())]


@pytest.fixture(scope="module")
def damage(demo_loaded, tokens):
    """Four reports observed 2, 4, 6 and 8 hours ago within 100 m of Airton (the facility the report tests share)."""
    crew = api_client(demo_loaded, tokens["crew"])
    now = datetime.now(UTC)
    sent = []
    for step, hours in enumerate((2, 4, 6, 8)):
        body = report(lon=AIRTON[0] + 0.0004 * step, lat=AIRTON[1],
                      observed_at=(now - timedelta(hours=hours)).isoformat())
        assert crew.post("/api/reports", json=body).status_code == 201
        sent.append(body)
    return sent


def everything(ogc, name: str) -> dict:
    body = ogc.get(f"/ogc/collections/{name}/items?limit=10000").json
    assert body["numberReturned"] == body["numberMatched"]
    return body


def same_value(read, given, kind: str) -> bool:
    if given is None:
        return read is None or pd.isna(read)
    if kind == "date-time":
        return abs(pd.Timestamp(read) - pd.Timestamp(given)) < pd.Timedelta(milliseconds=1)
    if kind == "number":
        return math.isclose(read, given)
    return read == given


def test_gdal_reads_every_collection_as_the_json_api_gives_it(live_server, tokens, ogc, damage):
    calls = [("list_layers", {})]
    for name in COLLECTIONS:
        calls += [("read_info", {"layer": name}), ("read_dataframe", {"layer": name, "fid_as_index": True})]
    layers, *read = gdal(live_server, tokens["coordinator"], *calls)
    assert [str(layer) for layer, _ in layers] == list(COLLECTIONS)
    for name, info, frame in zip(COLLECTIONS, read[0::2], read[1::2], strict=True):
        given = everything(ogc, name)
        assert len(frame) == info["features"] == given["numberMatched"] > 0
        # Integer ids become GDAL's feature ids; the reports' UUIDs stay a field.
        ids = list(frame["id"]) if name == "reports" else list(frame.index)
        assert ids == [feature["id"] for feature in given["features"]]
        # Every property, typed from the collection's JSON Schema, in the schema's order.
        assert [column for column in frame.columns if column not in ("id", "geometry")] == list(PROPERTIES[name])
        fields = dict(zip(info["fields"], info["ogr_types"], strict=True))
        assert {f: fields[f] for f in PROPERTIES[name]} == {
            f: OGR_TYPES[fmt or kind] for f, (kind, fmt, _) in PROPERTIES[name].items()}
        assert frame.crs.equals("OGC:CRS84")
        for row, feature in zip(frame.itertuples(index=False), given["features"], strict=True):
            assert row.geometry.equals_exact(shape(feature["geometry"]), tolerance=1e-9)  # lon, lat: not swapped
            for field, (kind, fmt, _) in PROPERTIES[name].items():
                assert same_value(getattr(row, field), feature["properties"][field], fmt or kind), (name, field)
        assert set(frame.geom_type) == {feature["geometry"]["type"] for feature in given["features"]}


def test_gdal_follows_next_links_through_small_pages(live_server, tokens, ogc, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    [frame] = gdal(live_server, tokens["coordinator"],
                   ("read_dataframe", {"layer": "facilities", "fid_as_index": True, "PAGE_SIZE": 7}))
    given = everything(ogc, "facilities")
    assert list(frame.index) == [feature["id"] for feature in given["features"]]
    pages = requested(caplog, r"GET /ogc/collections/facilities/items\?limit=7&offset=\d+")
    assert len(pages) == math.ceil(given["numberMatched"] / 7) - 1 > 5


def test_gdal_sends_bbox_datetime_and_id_filters_to_the_server(live_server, tokens, ogc, damage, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    box = (-6.3, 53.3, -6.2, 53.4)
    cut = datetime.now(UTC) - timedelta(hours=5)  # between the reports observed 4 and 6 hours ago
    one = damage[0]["id"]
    near, recent, single = gdal(
        live_server, tokens["coordinator"],
        ("read_dataframe", {"layer": "facilities", "fid_as_index": True, "bbox": box}),
        ("read_dataframe", {"layer": "reports", "where": f"observed_at >= '{cut:%Y-%m-%dT%H:%M:%SZ}'"}),
        ("read_dataframe", {"layer": "reports", "where": f"id = '{one}'"}))
    inside = ogc.get("/ogc/collections/facilities/items?bbox=-6.3,53.3,-6.2,53.4&limit=10000").json
    assert list(near.index) == [feature["id"] for feature in inside["features"]]
    assert 0 < len(near) < everything(ogc, "facilities")["numberMatched"]
    assert requested(caplog, r"/ogc/collections/facilities/items\?.*bbox=-6\.29")
    since = ogc.get(f"/ogc/collections/reports/items?datetime={cut:%Y-%m-%dT%H:%M:%SZ}/..&limit=10000").json
    assert set(recent["id"]) == {feature["id"] for feature in since["features"]}
    assert {r["id"] for r in damage[:2]} <= set(recent["id"]) and not {r["id"] for r in damage[2:]} & set(recent["id"])
    assert requested(caplog, r"/ogc/collections/reports/items\?.*datetime=\d{4}-\d\d-\d\dT[\d:]+Z(/|%2F)\.\.")
    assert list(single["id"]) == [one] and requested(caplog, f"GET /ogc/collections/reports/items/{one}")


def test_gdal_is_refused_without_a_coordinator_token(live_server, tokens):
    for token, status in ((tokens["crew"], "403"), ("gt_not-a-token", "401")):
        done = run_gdal(live_server, token, ("list_layers", {}))
        assert done.returncode != 0 and f"HTTP error code : {status}" in done.stderr.decode()


def test_the_openapi_description_is_valid_and_covers_every_ogc_route(app, ogc):
    response = ogc.get("/ogc/api")
    assert response.status_code == 200 and response.content_type == "application/vnd.oai.openapi+json;version=3.0"
    spec = response.json
    schemathesis.openapi.from_dict(spec).validate()
    assert spec["servers"] == [{"url": "http://localhost/ogc"}]
    routes = {re.sub(r"<[^>]+>", "*", rule.rule.removeprefix("/ogc").rstrip("/") or "/")
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/ogc")}
    described = {re.sub(r"/(facilities|cases|reports)(/|$)", r"/*\2", re.sub(r"\{[^}]+\}", "*", path))
                 for path in spec["paths"]}
    assert described == routes
    limit = spec["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (100, 10_000)
    assert ogc.get("/ogc").status_code == 200  # the landing page without a trailing slash, no redirect


def test_collections_advertise_crs_extents_schemas_and_typed_links(ogc, damage):
    found = ogc.get("/ogc/collections").json["collections"]
    for collection in found:
        assert collection["storageCrs"] == CRS84 and collection["crs"] == [CRS84]
        assert all(link.get("type") for link in collection["links"])
        schema_url = next(link["href"] for link in collection["links"] if link["rel"] == "describedby")
        schema = ogc.get(schema_url)
        assert schema.content_type == "application/schema+json"
        feature = ogc.get(f"/ogc/collections/{collection['id']}/items?limit=1").json["features"][0]
        assert list(schema.json["properties"]["properties"]["properties"]) == list(feature["properties"])
    reports = next(c for c in found if c["id"] == "reports")
    first, last = map(datetime.fromisoformat, reports["extent"]["temporal"]["interval"][0])
    assert first <= min(datetime.fromisoformat(r["observed_at"]) for r in damage) <= last
    assert "temporal" not in next(c for c in found if c["id"] == "facilities")["extent"]


def test_items_carry_time_stamp_crs_header_and_keep_parameters_in_next_links(ogc):
    response = ogc.get("/ogc/collections/facilities/items?limit=2&bbox-crs=" + CRS84 + "&bbox=-7,53,-6,54&f=geojson")
    assert response.status_code == 200 and response.headers["Content-Crs"] == f"<{CRS84}>"
    body = response.json
    assert datetime.fromisoformat(body["timeStamp"]).tzinfo is not None
    assert all(link["type"] for link in body["links"])
    next_link = next(link["href"] for link in body["links"] if link["rel"] == "next")
    assert "bbox-crs=" in next_link and "bbox=" in next_link and "f=geojson" in next_link and "offset=2" in next_link
    above = ogc.get("/ogc/collections/facilities/items?limit=50000").json  # above the maximum: the maximum
    assert next(link for link in above["links"] if link["rel"] == "self")["href"].count("limit=10000") == 1
    assert ogc.get("/ogc/collections/facilities/items/1").headers["Content-Crs"] == f"<{CRS84}>"


@pytest.mark.parametrize(("url", "field"), [
    ("/ogc/collections/facilities/items?colour=red", "colour"),
    ("/ogc/collections/facilities/items?limit=ten", "limit"),
    ("/ogc/collections/facilities/items?bbox=1,2,3", "bbox"),
    ("/ogc/collections/facilities/items?crs=http://www.opengis.net/def/crs/EPSG/0/3857", "crs"),
    ("/ogc/collections/facilities/items?bbox=-7,53,-6,54&bbox-crs=EPSG:2157", "bbox-crs"),
    ("/ogc/collections/reports/items?datetime=yesterday", "datetime"),
    ("/ogc/collections/reports/items?datetime=2026-11-25T08:00:00", "datetime"),
    ("/ogc/collections/reports/items?datetime=2026-11-26/2026-11-25", "datetime"),
    ("/ogc/collections/reports/items?datetime=2026-11-25/2026-11-26/2026-11-27", "datetime"),
    ("/ogc/collections/reports/items?f=xml", "f"),
    ("/ogc/collections?limit=5", "limit"),
    ("/ogc/collections/cases/items/1?bbox=-7,53,-6,54", "bbox"),
])
def test_bad_or_unknown_parameters_are_400_naming_the_parameter(ogc, url, field):
    response = ogc.get(url)
    assert response.status_code == 400 and field in response.json["errors"], response.json


def test_json_is_negotiated_by_f_or_accept(ogc):
    assert ogc.get("/ogc/collections", headers={"Accept": "application/xml"}).status_code == 406
    assert ogc.get("/ogc/collections?f=json", headers={"Accept": "application/xml"}).status_code == 200
    browser = ogc.get("/ogc/collections", headers={"Accept": "text/html,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.status_code == 200 and browser.content_type == "application/json"
    gdal_like = ogc.get("/ogc/collections/cases/items", headers={"Accept": "application/geo+json, application/json"})
    assert gdal_like.status_code == 200 and gdal_like.content_type == "application/geo+json"


def test_datetime_takes_instants_dates_and_open_intervals(ogc, damage):
    def ids(query: str) -> set[str]:
        return {f["id"] for f in ogc.get(f"/ogc/collections/reports/items?limit=10000&{query}").json["features"]}

    observed = [datetime.fromisoformat(r["observed_at"]) for r in damage]
    mine = {r["id"] for r in damage}
    stamp = observed[1].isoformat().replace("+00:00", "Z")
    assert ids(f"datetime={stamp}") & mine == {damage[1]["id"]}  # an instant: exactly that time
    assert ids(f"datetime=../{stamp}") & mine == {r["id"] for r in damage[1:]}  # the end is included
    assert ids(f"datetime={stamp}/") & mine == {r["id"] for r in damage[:2]}
    day = observed[0].date()
    assert ids(f"datetime={day}") & mine == {r["id"] for r in damage if r["observed_at"][:10] == str(day)}
    assert ids(f"datetime={day - timedelta(days=1)}/{day}") & mine == mine
    assert ids("datetime=../..") & mine == mine
    every = ogc.get("/ogc/collections/facilities/items?limit=10000").json["numberMatched"]
    assert ogc.get("/ogc/collections/facilities/items?datetime=2000-01-01").json["numberMatched"] == every


def test_parse_datetime_gives_half_open_spans():
    day = datetime(2026, 11, 25, tzinfo=UTC)
    assert parse_datetime("2026-11-25") == (day, day + timedelta(days=1))
    assert parse_datetime("2026-11-25T") == (day, day + timedelta(days=1))  # how GDAL sends a bare date
    assert parse_datetime("2026-11-25T00:00:00Z") == (day, day + timedelta(microseconds=1))
    assert parse_datetime("../2026-11-25") == (None, day + timedelta(days=1))
    assert parse_datetime("2026-11-25T00:00:00+02:00/..") == (day - timedelta(hours=2), None)
    assert parse_datetime("") == (None, None)

