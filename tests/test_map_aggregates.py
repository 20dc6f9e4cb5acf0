"""The map's report clusters from migration 0014's aggregates equal the clusters of the raw rows, whatever arrives."""

from __future__ import annotations

import json
import random

import psycopg
import pytest
from psycopg.rows import dict_row

from app.coordinator.map import MAX_CELLS, cell_m
from app.db import upgrade
from app.repo import map as repo
from geo.taxonomy import DAMAGE_CASE_STATUSES
from tests.conftest import maintenance

# Points over 10-12 E, 50-51 N; views that cut through them at every aggregated zoom, and some around them.
SEED = """
SELECT setseed(0.17);
INSERT INTO damage_case (kind, geom)
SELECT 'line', ST_Point(10 + 2 * random(), 50 + random(), 4326) FROM generate_series(1, 40);
INSERT INTO report (id, case_id, kind, severity, status, hazards, observed_at, content_hash, geom)
SELECT gen_random_uuid(), (SELECT min(id) FROM damage_case) + i %% 40, 'line',
       (ARRAY['minor', 'moderate', 'severe'])[1 + i %% 3]::severity, 'out_of_service',
       CASE WHEN i %% 97 = 0 THEN '{live_wires,fire}'::hazard[] WHEN i %% 53 = 0 THEN '{uxo}' ELSE '{}' END,
       now(), md5(i::text), ST_Point(10 + 2 * random() ^ %(skew)s, 50 + random(), 4326)
FROM generate_series(1, %(n)s) i;
"""

ONE = """
INSERT INTO report (id, case_id, kind, severity, status, hazards, observed_at, content_hash, geom)
SELECT gen_random_uuid(), min(id) + %(case)s, 'line', 'destroyed', 'degraded', '{structural}', now(), 'x',
       ST_Point(%(lon)s, %(lat)s, 4326)
FROM damage_case"""


def views(seed: int, count: int) -> list[tuple[tuple[float, float, float, float], int]]:
    rng = random.Random(seed)
    out = [((-180.0, -90.0, 180.0, 90.0), z) for z in (0, 2, 4)]
    for _ in range(count):
        zoom = rng.randint(0, 16)
        width = min(40.0, 360 / 2 ** zoom * 5)  # about a screen of 1,400 px at that zoom
        lon, lat = rng.uniform(9.5, 12.5), rng.uniform(49.7, 51.3)
        out.append(((max(-180, lon - width / 2), max(-85, lat - width / 4), min(180, lon + width / 2),
                     min(85, lat + width / 4)), zoom))
    return out


def params(bbox: tuple[float, float, float, float], zoom: int) -> dict:
    return {"bbox": bbox, "zoom": zoom, "cell_m": cell_m(zoom), "max_cells": MAX_CELLS, "status": None,
            "kind": None, "severity": None, "hazard": None, "since": None, "until": None}


def features(body: str) -> tuple[int, list[tuple]]:
    """numberMatched and each feature as (count, lon, lat to 1e-7 degrees, properties): the mean's last digits
    depend on the order of the sum."""
    fc = json.loads(body)
    out = [(f["properties"]["count"], round(f["geometry"]["coordinates"][0], 7),
            round(f["geometry"]["coordinates"][1], 7), f.get("id"),
            json.dumps({k: v for k, v in f["properties"].items() if k != "count"}, sort_keys=True))
           for f in fc["features"]]
    return fc["numberMatched"], sorted(out)


def same_clusters(conn: psycopg.Connection, view_list: list) -> int:
    """Checks every view's aggregated clusters against the live ones; the number of features compared."""
    compared = 0
    for bbox, zoom in view_list:
        with conn.transaction():
            fast = features(repo.reports(conn, params(bbox, zoom)))
            slow = features(repo.reports(conn, params(bbox, zoom), live=True))
        assert fast == slow, (bbox, zoom)
        compared += len(fast[1])
    return compared


@pytest.fixture(scope="module")
def url(pg_server):
    url = pg_server.create_database("gt_map_aggregates")
    upgrade(url)
    yield url
    pg_server.drop_database(url)


@pytest.fixture()
def conn(url):
    with psycopg.connect(maintenance(url), autocommit=True, row_factory=dict_row) as conn:
        conn.execute("TRUNCATE report, damage_case, case_event, facility, population_layer CASCADE")
        conn.execute("ALTER SEQUENCE map_fold_tick RESTART")  # the 1024th single insert from here on folds
        for statement in SEED.split(";\n"):
            if statement.strip():
                conn.execute(statement, {"n": 3_000, "skew": 3})
        yield conn


CASE_CELLS_FROM_STATE = """
SELECT z AS zoom, floor(cx16 / 2::float8 ^ (16 - z))::int AS cx, floor(cy16 / 2::float8 ^ (16 - z))::int AS cy,
       count(*) AS n
FROM map_case_state, generate_series(0, 16) z GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


# Each cell's one member when it has one, and every member's id otherwise.
CASE_MEMBERS_FROM_STATE = """
SELECT z AS zoom, floor(cx16 / 2::float8 ^ (16 - z))::int AS cx, floor(cy16 / 2::float8 ^ (16 - z))::int AS cy,
       array_agg(case_id) AS members, round(sum(population)::numeric, 3) AS population
FROM map_case_state, generate_series(0, 16) z GROUP BY 1, 2, 3"""


def case_cells_agree(conn: psycopg.Connection) -> None:
    """map_case_cell holds exactly the counts of the cases in map_case_state, no empty cell, a cell of one case
    names it and a cell of more names one of them or none (migration 0020 looks only at the cells it wrote)."""
    cells = conn.execute("SELECT zoom, cx, cy, n FROM map_case_cell ORDER BY 1, 2, 3").fetchall()
    assert cells == conn.execute(CASE_CELLS_FROM_STATE).fetchall()
    members = {(r["zoom"], r["cx"], r["cy"]): r for r in conn.execute(CASE_MEMBERS_FROM_STATE)}
    for cell in conn.execute("SELECT zoom, cx, cy, n, one, round(population::numeric, 3) AS population "
                             "FROM map_case_cell"):
        state = members[(cell["zoom"], cell["cx"], cell["cy"])]
        assert cell["population"] == state["population"], cell
        if cell["n"] == 1:
            assert [cell["one"]] == state["members"], cell
        else:
            assert cell["one"] is None or cell["one"] in state["members"], cell


def queued(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) AS n FROM map_report_pending").fetchone()["n"]


def test_bulk_load_is_folded_and_clusters_equal_the_live_ones(conn):
    assert queued(conn) == 0
    folded = conn.execute("SELECT zoom, sum(n) AS n FROM map_report_cell GROUP BY zoom ORDER BY zoom").fetchall()
    assert [row["zoom"] for row in folded] == list(range(17)) and {row["n"] for row in folded} == {3_000}
    assert same_clusters(conn, views(1, 60)) > 1_000


def test_single_reports_only_queue_and_the_folders_fold_takes_them_all(conn):
    """A single report's transaction no longer folds (migration 0021): the queue grows until the app's folder runs
    the fold (repo.fold), and the clusters equal the live ones all along."""
    rng = random.Random(5)
    seen_queue = []
    for i in range(150):
        conn.execute(ONE, {"case": 0, "lon": rng.uniform(10, 12), "lat": rng.uniform(50, 51)})
        seen_queue.append(queued(conn))
        if i % 37 == 0:
            same_clusters(conn, views(i, 8))
        if i == 99:
            with conn.transaction():
                repo.fold(conn)
            assert queued(conn) == 0
    assert seen_queue[:100] == list(range(1, 101))  # not one fold in 100 reports' own transactions
    assert queued(conn) == 50
    same_clusters(conn, views(99, 40))
    count = conn.execute("SELECT count(*) AS n FROM report").fetchone()["n"]
    assert count == 3_150


def test_every_1024th_single_report_still_folds_in_its_transaction(conn):
    """The database's backstop when no folder runs: the queue never holds more than 1,024 single reports."""
    conn.execute("SELECT setval('map_fold_tick', 1020)")  # the next nextval is 1021
    for expected in (1, 2, 3, 0, 1):  # the insert that draws 1024 folds the queue, itself included
        conn.execute(ONE, {"case": 0, "lon": 10.5, "lat": 50.5})
        assert queued(conn) == expected
    same_clusters(conn, [((-180.0, -90.0, 180.0, 90.0), z) for z in range(17)])


def test_points_on_cell_edges_and_the_antimeridian(conn):
    # Reports exactly on grid lines of several zooms and at the world's corners, one by one (queued) and folded.
    edges = [(10.0, 50.0), (11.25, 50.5), (0.0, 0.0), (-180.0, -85.0), (180.0, 85.0), (179.9999999, 0.0)]
    for lon, lat in edges:
        conn.execute(ONE, {"case": 0, "lon": lon, "lat": lat})
    same_clusters(conn, [((-180.0, -90.0, 180.0, 90.0), z) for z in range(17)])
    same_clusters(conn, [((10.0, 50.0, 11.25, 50.5), z) for z in range(17)])
    conn.execute("SELECT map_report_fold()")
    assert queued(conn) == 0
    same_clusters(conn, [((-180.0, -90.0, 180.0, 90.0), z) for z in range(17)])


def test_deleting_and_truncating_reports_update_the_aggregates(conn):
    for _ in range(10):
        conn.execute(ONE, {"case": 0, "lon": 11.0, "lat": 50.5})  # some stay queued
    case_cells_agree(conn)
    ids = [row["id"] for row in conn.execute("SELECT id FROM report ORDER BY random() LIMIT 500")]
    conn.execute("DELETE FROM report WHERE id = ANY(%s)", (ids,))
    assert conn.execute("SELECT count(*) AS n FROM report").fetchone()["n"] == 2_510
    case_cells_agree(conn)
    same_clusters(conn, views(7, 60))
    # Down to a handful: cells of one report must name the one that is left.
    conn.execute("DELETE FROM report WHERE id NOT IN (SELECT id FROM report ORDER BY id LIMIT 5)")
    same_clusters(conn, [((-180.0, -90.0, 180.0, 90.0), z) for z in range(17)])
    cells = conn.execute("SELECT count(*) AS n FROM map_report_cell WHERE one IS NULL AND n = 1").fetchone()
    assert cells["n"] == 0
    conn.execute("TRUNCATE report, damage_case CASCADE")
    assert conn.execute("SELECT count(*) AS n FROM map_report_cell").fetchone()["n"] == 0
    assert conn.execute("SELECT folded FROM map_fold_state").fetchone()["folded"] == 0


def test_the_unfiltered_case_layer_equals_the_live_one(conn):
    conn.execute("INSERT INTO damage_case (kind, geom) VALUES ('substation', ST_Point(10.5, 50.5, 4326))")  # no report
    conn.execute("UPDATE damage_case SET status = 'rejected' WHERE id = (SELECT min(id) + 3 FROM damage_case)")
    for i in range(70):  # the first 64 are folded, the rest stay queued: both count for a case's figures
        conn.execute(ONE, {"case": i % 7, "lon": 10.1 + i / 100, "lat": 50.5})
        if i == 63:
            repo.fold(conn)
    assert queued(conn) == 6
    # A case with all of its reports queued.
    conn.execute("INSERT INTO damage_case (kind, geom) VALUES ('line', ST_Point(11.5, 50.2, 4326))")
    conn.execute(ONE, {"case": 41, "lon": 11.5, "lat": 50.2})
    for bbox, zoom in views(3, 30) + [((9.0, 49.0, 13.0, 52.0), 18)]:
        with conn.transaction():
            fast = features(repo.cases(conn, params(bbox, zoom)))
            slow = features(repo.cases(conn, params(bbox, zoom), live=True))
        assert fast == slow, (bbox, zoom)
    for bbox in (None, (10.0, 50.0, 11.0, 50.5)):
        with conn.transaction():
            index = repo.case_index(conn, {**params(bbox or (-180, -90, 180, 90), 0), "bbox": bbox})
            live = repo.case_index(conn, {**params(bbox or (-180, -90, 180, 90), 0), "bbox": bbox}, live=True)
        assert index == live and len(json.loads(index)["cases"]) > 5
    singles = features(repo.cases(conn, params((9.0, 49.0, 13.0, 52.0), 18)))
    assert singles[0] == 40  # 41 with reports, one rejected; the case without reports is not shown
    one = next(f for f in json.loads(repo.cases(conn, params((9.0, 49.0, 13.0, 52.0), 18)))["features"]
               if f["properties"]["case_id"] == singles_min(conn))
    assert one["properties"]["severity"] == "destroyed" and "structural" in one["properties"]["hazards"]


def singles_min(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT min(id) AS id FROM damage_case").fetchone()["id"]


def test_case_cells_follow_status_place_population_and_deletion(conn):
    case_cells_agree(conn)
    first = singles_min(conn)
    conn.execute("UPDATE damage_case SET status = 'confirmed' WHERE id = %s", (first,))  # still shown: no change
    conn.execute("UPDATE damage_case SET geom = ST_Point(11.9, 50.9, 4326) WHERE id = %s", (first + 1,))
    conn.execute("UPDATE damage_case SET status = 'rejected' WHERE id IN (%s, %s)", (first + 2, first + 3))
    conn.execute("UPDATE damage_case SET status = 'reported' WHERE id = %s", (first + 3,))  # shown again
    conn.execute("""INSERT INTO facility (external_id, name, kind, geom)
                    VALUES ('map-f', 'F', 'substation', ST_Point(10.5, 50.5, 4326))""")
    facility = conn.execute("SELECT max(id) AS id FROM facility").fetchone()["id"]
    conn.execute("INSERT INTO population_layer (name, kind, total) VALUES ('p', 'points', 1200)")
    layer = conn.execute("SELECT max(id) AS id FROM population_layer").fetchone()["id"]
    conn.execute("UPDATE damage_case SET facility_id = %s WHERE id = %s", (facility, first + 4))
    conn.execute("""INSERT INTO facility_population (facility_id, layer_id, population, population_served, method)
                    VALUES (%s, %s, 1200, 5000, 'given')""", (facility, layer))
    case_cells_agree(conn)
    for bbox, zoom in views(11, 40):
        with conn.transaction():
            fast = features(repo.cases(conn, params(bbox, zoom)))
            slow = features(repo.cases(conn, params(bbox, zoom), live=True))
        assert fast == slow, (bbox, zoom)
    populations = {f["properties"].get("case_id"): f["properties"]["population"]
                   for f in json.loads(repo.cases(conn, params((9.0, 49.0, 13.0, 52.0), 16)))["features"]}
    assert populations[first + 4] == 5000 and first + 2 not in populations
    conn.execute("DELETE FROM report WHERE case_id = %s", (first + 5,))
    conn.execute("DELETE FROM damage_case WHERE id = %s", (first + 5,))
    case_cells_agree(conn)
    assert conn.execute("SELECT count(*) AS n FROM map_case_state").fetchone()["n"] == 38  # 40, 1 rejected, 1 gone


MANY_CASES = """
WITH c AS (
  INSERT INTO damage_case (kind, geom)
  SELECT 'transformer', ST_Point(10 + 2 * random() ^ 2, 50 + random(), 4326) FROM generate_series(1, 2000)
  RETURNING id, geom)
INSERT INTO report (id, case_id, kind, severity, status, observed_at, content_hash, geom)
SELECT gen_random_uuid(), id, 'transformer', 'moderate', 'out_of_service', now(), 'y', geom FROM c"""


def test_many_cases_cluster_as_the_live_ones(conn):
    conn.execute(MANY_CASES)
    for i in range(5):  # queued: shown only through their queued report
        conn.execute("INSERT INTO damage_case (kind, geom) VALUES ('line', ST_Point(%s, 50.3, 4326))", (10.2 + i / 5,))
        conn.execute(ONE, {"case": 2040 + i, "lon": 10.2 + i / 5, "lat": 50.3})
    assert queued(conn) > 0
    case_cells_agree(conn)
    assert same_cases(conn, views(21, 60)) > 1_000


def same_cases(conn: psycopg.Connection, view_list: list) -> int:
    compared = 0
    for bbox, zoom in view_list:
        with conn.transaction():
            fast = features(repo.cases(conn, params(bbox, zoom)))
            slow = features(repo.cases(conn, params(bbox, zoom), live=True))
        assert fast == slow, (bbox, zoom)
        compared += len(fast[1])
    return compared


def test_the_damage_statuses_of_the_aggregates_are_the_taxonomys(conn):
    shown = {row["s"] for row in conn.execute(
        "SELECT s::text AS s FROM unnest(enum_range(NULL::case_status)) s WHERE map_case_is_damage(s)")}
    assert shown == set(DAMAGE_CASE_STATUSES)


def test_the_change_cursor_counts_reports_without_counting_the_table(conn):
    before = repo.cursor(conn)
    assert before.startswith("3000-")
    conn.execute(ONE, {"case": 0, "lon": 10.5, "lat": 50.5})
    assert repo.cursor(conn).startswith("3001-")


def test_case_cells_stay_exact_through_random_moves_status_changes_and_deletions(conn):
    """Cases moved within a cell, to a neighbour and far away, hidden and shown again, given a population, their
    reports deleted and the cases deleted, one statement at a time and several at once, interleaved with folds:
    after each step every case cell is exact, the ones the refresh did not write included."""
    rng = random.Random(23)
    first = singles_min(conn)
    conn.execute("INSERT INTO population_layer (name, kind, total) VALUES ('p', 'points', 1)")
    layer = conn.execute("SELECT max(id) AS id FROM population_layer").fetchone()["id"]
    facilities = [conn.execute("""INSERT INTO facility (external_id, name, kind, geom)
                                  VALUES (%s, 'F', 'substation', ST_Point(10.5, 50.5, 4326)) RETURNING id""",
                               (f"rand-{i}",)).fetchone()["id"] for i in range(40)]
    alive = list(range(first, first + 40))
    for step in range(60):
        ids = rng.sample(alive, rng.choice((1, 1, 2, 5)))
        action = rng.choice(("near", "far", "same", "hide", "show", "facility", "population", "report", "fold"))
        if action in ("near", "far", "same"):
            for case in ids:
                lon, lat = conn.execute("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM damage_case WHERE id = %s",
                                        (case,)).fetchone().values()
                step_deg = {"near": 0.003, "far": 0.5, "same": 1e-7}[action]
                conn.execute("UPDATE damage_case SET geom = ST_Point(%s, %s, 4326) WHERE id = %s",
                             (min(12.0, max(10.0, lon + rng.uniform(-step_deg, step_deg))),
                              min(51.0, max(50.0, lat + rng.uniform(-step_deg, step_deg))), case))
        elif action in ("hide", "show"):
            conn.execute("UPDATE damage_case SET status = %s WHERE id = ANY(%s)",
                         ("rejected" if action == "hide" else "confirmed", ids))
        elif action == "facility":
            for case in ids:  # each case its own facility (one open case per facility), or none again
                facility = facilities[case - first] if rng.random() < 0.8 else None
                conn.execute("UPDATE damage_case SET facility_id = %s WHERE id = %s", (facility, case))
        elif action == "population":
            conn.execute("""INSERT INTO facility_population (facility_id, layer_id, population, population_served,
                                                             method, computed_at)
                            VALUES (%s, %s, 1, %s, 'given', now() + %s * interval '1 second')
                            ON CONFLICT (facility_id, layer_id) DO UPDATE
                              SET population_served = excluded.population_served""",
                         (rng.choice(facilities), layer, rng.randint(1, 9_000), step))
        elif action == "report":  # a new report here and there, or a case's reports all deleted
            if rng.random() < 0.5:
                conn.execute(ONE, {"case": ids[0] - first, "lon": rng.uniform(10, 12), "lat": rng.uniform(50, 51)})
            else:
                conn.execute("DELETE FROM report WHERE case_id = ANY(%s)", (ids,))
        else:
            conn.execute("SELECT map_report_fold()")
        if step % 20 == 19:
            conn.execute("DELETE FROM report WHERE case_id = %s", (ids[0],))
            conn.execute("DELETE FROM damage_case WHERE id = %s", (ids[0],))
            alive.remove(ids[0])
        case_cells_agree(conn)
    assert same_cases(conn, views(29, 20)) > 30
