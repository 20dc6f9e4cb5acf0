"""The /api/map/* layers on a throw-away database of 5,000 reports: clustering, filters, bad parameters, changes."""

from __future__ import annotations

import psycopg
import pytest

from app.db import upgrade
from tests.conftest import PASSWORD, api_client, make_app
from tests.test_reports_api import report

POINTS, CASES = 5_000, 50
WORLD = "-180,-90,180,90"

SEED = """
SELECT setseed(0.42);
INSERT INTO damage_case (kind, geom)
SELECT (ARRAY['substation', 'transformer', 'line'])[1 + i % 3]::facility_kind,
       ST_Point(10 + random(), 50 + random(), 4326)
FROM generate_series(0, 49) i;
INSERT INTO report (id, case_id, kind, severity, status, hazards, observed_at, received_at, content_hash, geom)
SELECT gen_random_uuid(), (SELECT min(id) FROM damage_case) + i % 50,
       (ARRAY['substation', 'transformer', 'line'])[1 + i % 3]::facility_kind,
       (ARRAY['minor', 'moderate', 'severe', 'destroyed'])[1 + i % 4]::severity, 'out_of_service',
       CASE WHEN i % 10 = 0 THEN '{fire}'::hazard[] ELSE '{}' END,
       '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute',
       '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 minute', md5(i::text),
       ST_Point(10 + random(), 50 + random(), 4326)
FROM generate_series(0, 4999) i;
"""


@pytest.fixture(scope="module")
def many(pg_server):
    """An app on its own database holding 5,000 reports in 50 cases between 10-11 E and 50-51 N."""
    url = pg_server.create_database("gt_map")
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED)
    app = make_app(url)
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "coord", "--role", "coordinator"], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
    token = runner.invoke(args=["create-token", "coord"]).output.strip()
    yield app, api_client(app, token), url
    app.extensions["db_pool"].close()
    pg_server.drop_database(url)


def counted(fc) -> int:
    return sum(f["properties"]["count"] for f in fc["features"])


def sql_count(url: str, where: str = "true", params: tuple = ()) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM report WHERE " + where, params).fetchone()[0]  # noqa: S608


def test_low_zoom_returns_few_clusters_whose_counts_sum_to_the_points(many):
    _, client, _ = many
    fc = client.get(f"/api/map/reports?bbox={WORLD}&zoom=4").json
    assert len(fc["features"]) < 20
    assert counted(fc) == fc["numberMatched"] == POINTS
    assert all(f["properties"]["cluster"] for f in fc["features"] if f["properties"]["count"] > 1)


def test_counts_in_a_bbox_match_the_points_inside_it(many):
    _, client, url = many
    fc = client.get("/api/map/reports?bbox=10.2,50.2,10.7,50.6&zoom=9").json
    inside = sql_count(url, "geom && ST_MakeEnvelope(10.2, 50.2, 10.7, 50.6, 4326)")
    assert 0 < len(fc["features"]) < inside
    assert counted(fc) == inside


def test_high_zoom_returns_single_reports_with_their_properties(many):
    _, client, url = many
    fc = client.get("/api/map/reports?bbox=10.5,50.5,10.52,50.52&zoom=18").json
    inside = sql_count(url, "geom && ST_MakeEnvelope(10.5, 50.5, 10.52, 50.52, 4326)")
    assert len(fc["features"]) == inside > 0
    one = fc["features"][0]["properties"]
    assert one["cluster"] is False and one["kind"] in ("substation", "transformer", "line") and one["case_id"]


@pytest.mark.parametrize(("query", "where"), [
    ("kind=line", "kind = 'line'"),
    ("severity=minor,destroyed", "severity IN ('minor', 'destroyed')"),
    ("hazard=fire", "'fire' = ANY(hazards)"),
    ("since=2026-01-02T00:00:00Z&until=2026-01-03T00:00:00Z",
     "received_at >= '2026-01-02T00:00:00Z' AND received_at < '2026-01-03T00:00:00Z'"),
    ("status=repaired", "false"),
])
def test_filters_apply_to_the_report_clusters(many, query, where):
    _, client, url = many
    fc = client.get(f"/api/map/reports?bbox={WORLD}&zoom=6&{query}").json
    assert counted(fc) == sql_count(url, where)


def test_cases_are_clustered_and_filtered(many):
    _, client, _ = many
    fc = client.get(f"/api/map/cases?bbox={WORLD}&zoom=3").json
    assert counted(fc) == fc["numberMatched"] == CASES and len(fc["features"]) < CASES
    singles = client.get("/api/map/cases?bbox=9,49,12,52&zoom=18").json
    assert len(singles["features"]) == CASES
    assert {f["properties"]["status"] for f in singles["features"]} == {"reported"}
    lines = client.get(f"/api/map/cases?bbox={WORLD}&zoom=3&kind=line").json
    assert counted(lines) == len([i for i in range(CASES) if i % 3 == 2])
    index = client.get(f"/api/map/case-index?bbox={WORLD}&zoom=0&kind=line").json["cases"]
    assert len(index) == counted(lines)


@pytest.mark.parametrize("query", [
    "", "kind=line,substation", "severity=destroyed", "hazard=fire", "status=reported",
    "since=2026-01-02T00:00:00Z&until=2026-01-02T06:00:00Z", "severity=minor&hazard=fire&since=2026-01-03T00:00:00Z",
])
def test_the_case_layer_and_the_queues_case_index_select_the_same_cases(many, query):
    _, client, _ = many
    singles = client.get(f"/api/map/cases?bbox=9,49,12,52&zoom=22&{query}").json
    assert not any(f["properties"]["cluster"] for f in singles["features"])
    index = client.get(f"/api/map/case-index?zoom=0&{query}").json["cases"]
    assert {f["properties"]["case_id"] for f in singles["features"]} == {c["case_id"] for c in index}


def test_a_case_is_in_the_time_window_when_one_of_its_reports_was_received_in_it(many):
    _, client, url = many
    since, until = "2026-01-02T00:00:00Z", "2026-01-02T00:30:00Z"
    with psycopg.connect(url) as conn:
        expected = {row[0] for row in conn.execute(
            "SELECT DISTINCT case_id FROM report WHERE received_at >= %s AND received_at < %s", (since, until))}
    index = client.get(f"/api/map/case-index?zoom=0&since={since}&until={until}").json["cases"]
    assert {c["case_id"] for c in index} == expected and 0 < len(expected) < CASES


@pytest.mark.parametrize(("query", "field"), [
    ("bbox=1,2,3", "bbox"), (f"bbox={WORLD}", "zoom"), (f"bbox={WORLD}&zoom=x", "zoom"),
    (f"bbox={WORLD}&zoom=40", "zoom"), (f"bbox={WORLD}&zoom=3&kind=nuclear", "kind"),
    (f"bbox={WORLD}&zoom=3&severity=bad", "severity"), (f"bbox={WORLD}&zoom=3&hazard=x", "hazard"),
    (f"bbox={WORLD}&zoom=3&status=open", "status"), (f"bbox={WORLD}&zoom=3&since=yesterday", "since"),
    (f"bbox={WORLD}&zoom=3&since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
])
def test_bad_parameters_are_400_naming_the_parameter(many, query, field):
    _, client, _ = many
    for layer in ("reports", "cases"):
        response = client.get(f"/api/map/{layer}?{query}")
        assert response.status_code == 400, (layer, query)
        assert field in response.json["errors"]


def test_changes_answer_304_until_a_report_arrives(many):
    _, client, url = many
    first = client.get("/api/map/changes")
    assert first.status_code == 200
    etag, cursor = first.headers["ETag"], first.json["cursor"]
    assert client.get("/api/map/changes", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"/api/map/changes?since={cursor}").status_code == 304
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""INSERT INTO report (id, case_id, kind, severity, status, observed_at, content_hash, geom)
                        SELECT gen_random_uuid(), min(id), 'line', 'minor', 'degraded', now(), 'x',
                               ST_Point(10.5, 50.5, 4326) FROM damage_case""")
    after = client.get("/api/map/changes", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.json["cursor"] != cursor


def test_reference_layers_of_the_demo(demo_loaded, coordinator):
    boundary = coordinator.get("/api/map/boundary").json
    assert len(boundary["features"]) >= 1
    areas = coordinator.get("/api/map/service-areas?bbox=-7,53,-5.9,53.7&zoom=9")
    assert areas.status_code == 200 and areas.mimetype == "application/geo+json"
    assert coordinator.get("/api/map/critical-sites").json["type"] == "FeatureCollection"


def test_crews_may_not_read_the_map(demo_loaded, client):
    assert client.get(f"/api/map/reports?bbox={WORLD}&zoom=3").status_code == 403
    assert client.get("/map").status_code == 403


def test_plan_returns_the_naive_schedule_next_to_the_plan(demo_loaded, client, coordinator, db):
    for _ in range(2):
        facility = db.execute("""SELECT f.id, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat FROM facility f
                                 WHERE NOT EXISTS (SELECT 1 FROM damage_case c WHERE c.facility_id = f.id)
                                 ORDER BY f.id LIMIT 1""").fetchone()
        body = report(facility_id=facility["id"], lon=facility["lon"], lat=facility["lat"])
        assert client.post("/api/reports", json=body).status_code == 201
    plan = coordinator.get("/api/plan?crews=2&time_limit=0.2").json
    planned = sorted(job["case_id"] for crew in plan["crews"] for job in crew)
    naive = sorted(job["case_id"] for crew in plan["naive_crews"] for job in crew)
    assert planned == naive and len(plan["naive_crews"]) == 2
    people = sum(a["population"] * a["etr_hours"] for a in plan["naive_etr_by_area"])
    assert people == pytest.approx(plan["quality"]["naive_phu"], rel=0.02)
