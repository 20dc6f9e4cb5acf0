"""GET /api/facilities?changed_since=: the facilities changed after a cursor, and the next cursor."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import api_client, create_accounts, run

CSV = """id,name,type,kv,lon,lat
S1,North,substation,110,-6.25,53.35
S2,South,substation,20,-6.26,53.30
S3,Plant,power plant,220,-6.20,53.40
"""
EPOCH = "1970-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def crew(onboarding):
    app, _ = onboarding
    return create_accounts(app, {"sync_crew": "crew"})["sync_crew"]


def load(app, path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    run(app, "import-facilities", path, "--map", "external_id=id,kind=type,voltage_kv=kv")


def changed(client, since: str, **params: str) -> dict:
    response = client.get("/api/facilities", query_string={"changed_since": since, **params})
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/geo+json"
    return response.json


def test_only_facilities_changed_after_the_cursor_come_back_with_a_new_cursor(fresh, crew, tmp_path):
    app, _ = fresh
    client = api_client(app, crew)
    load(app, tmp_path / "registry.csv", CSV)
    first = changed(client, EPOCH)
    assert first["type"] == "FeatureCollection"
    assert sorted(f["properties"]["external_id"] for f in first["features"]) == ["S1", "S2", "S3"]
    assert set(first["features"][0]["properties"]) >= {"id", "external_id", "name", "kind", "population"}
    cursor = first["cursor"]
    assert datetime.fromisoformat(cursor).tzinfo is not None

    assert changed(client, cursor)["features"] == []  # nothing changed since
    # An import that renames one facility and adds another: only those two come back.
    load(app, tmp_path / "registry.csv", CSV.replace("South", "South Quay") + "S4,East,substation,20,-6.1,53.3\n")
    second = changed(client, cursor)
    assert sorted((f["properties"]["external_id"], f["properties"]["name"]) for f in second["features"]) == [
        ("S2", "South Quay"), ("S4", "East")]
    assert datetime.fromisoformat(second["cursor"]) > datetime.fromisoformat(cursor)
    assert changed(client, second["cursor"])["features"] == []


def test_without_the_parameter_the_answer_is_the_whole_registry_as_before(fresh, crew, tmp_path):
    app, _ = fresh
    client = api_client(app, crew)
    load(app, tmp_path / "registry.csv", CSV)
    body = client.get("/api/facilities").json
    assert "cursor" not in body and len(body["features"]) == 3
    assert client.get("/api/facilities?changed_since=").json == body  # empty is absent, like every optional parameter


def test_changed_since_and_bbox_together(fresh, crew, tmp_path):
    app, _ = fresh
    client = api_client(app, crew)
    load(app, tmp_path / "registry.csv", CSV)
    body = changed(client, EPOCH, bbox="-6.27,53.29,-6.24,53.36")
    assert sorted(f["properties"]["external_id"] for f in body["features"]) == ["S1", "S2"]


def test_an_empty_registry_keeps_the_cursor_given(fresh, crew):
    app, _ = fresh
    body = changed(api_client(app, crew), "2026-01-01T00:00:00+02:00")
    assert body["features"] == []
    assert datetime.fromisoformat(body["cursor"]) == datetime.fromisoformat("2026-01-01T00:00:00+02:00")


@pytest.mark.parametrize("since", ["yesterday", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z"])
def test_a_bad_cursor_is_a_400_naming_the_parameter(fresh, crew, since):
    app, _ = fresh
    response = api_client(app, crew).get("/api/facilities", query_string={"changed_since": since})
    assert response.status_code == 400
    assert "changed_since" in response.json["errors"]


def test_the_parameter_is_in_the_openapi_description(anonymous):
    operation = anonymous.get("/api/openapi.json").json["paths"]["/api/facilities"]["get"]
    names = {p["name"]: p for p in operation["parameters"]}
    assert names["changed_since"]["schema"] == {"type": "string", "format": "date-time"}
