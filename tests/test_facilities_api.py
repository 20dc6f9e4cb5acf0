"""GET /api/facilities: GeoJSON with population, filtered by bbox, with a 400 naming a bad bbox."""

from __future__ import annotations

import pytest

DUBLIN_POPULATION = 1_456_732


def test_facilities_are_geojson_with_population(demo_loaded, client):
    response = client.get("/api/facilities")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.json
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 102
    props = body["features"][0]["properties"]
    assert set(props) >= {"id", "name", "kind", "voltage_kv", "population", "population_served",
                          "population_method"}
    assert props["population_method"] == "point_sum"
    assert sum(f["properties"]["population"] for f in body["features"]) == DUBLIN_POPULATION


def test_bbox_keeps_only_facilities_inside_it(demo_loaded, client):
    everything = client.get("/api/facilities").json["features"]
    box = (-6.30, 53.30, -6.20, 53.38)  # central Dublin
    inside = [f for f in everything
              if box[0] <= f["geometry"]["coordinates"][0] <= box[2]
              and box[1] <= f["geometry"]["coordinates"][1] <= box[3]]
    response = client.get("/api/facilities?bbox=" + ",".join(map(str, box)))
    assert response.status_code == 200
    got = {f["id"] for f in response.json["features"]}
    assert got == {f["id"] for f in inside}
    assert 0 < len(got) < 102


def test_bbox_far_away_is_empty(demo_loaded, client):
    response = client.get("/api/facilities?bbox=10,10,11,11")
    assert response.status_code == 200
    assert response.json["features"] == []


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "-6,53,-7,54", "0,0,200,1", "0,-91,1,1", "nan,0,1,1", ""])
def test_bad_bbox_is_a_400_naming_the_parameter(demo_loaded, client, bbox):
    response = client.get("/api/facilities", query_string={"bbox": bbox})
    assert response.status_code == 400
    assert "bbox" in response.json["errors"]


def test_unknown_api_route_is_a_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.is_json
