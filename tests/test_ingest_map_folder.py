"""The map's queue folded off the reporting transactions (migration 0021, app/reports/map_folder.py): a report only
queues itself, this server's folder folds soon after, ends when idle or when its pool closes, and starts again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from app.reports.map_folder import Folder
from tests.conftest import api_client, create_accounts, make_app
from tests.test_reports_api import report

QUEUE_ONE = """
INSERT INTO report (id, case_id, kind, severity, status, hazards, observed_at, content_hash, geom)
VALUES (%(id)s, %(case)s, 'line', 'minor', 'degraded', '{}', now(), 'x', ST_Point(%(lon)s, 50.5, 4326))"""


@pytest.fixture(scope="module")
def url(new_database) -> str:
    return new_database()


@pytest.fixture()
def db(url) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture()
def pool(url) -> Iterator[ConnectionPool]:
    made: ConnectionPool = ConnectionPool(url, min_size=1, max_size=2, kwargs={"row_factory": dict_row}, open=True)
    yield made
    made.close()


def queue(db: psycopg.Connection, n: int) -> None:
    case = db.execute("INSERT INTO damage_case (kind, geom) VALUES ('line', ST_Point(10.5, 50.5, 4326)) RETURNING id"
                      ).fetchone()["id"]
    for i in range(n):
        db.execute(QUEUE_ONE, {"id": str(uuid.uuid4()), "case": case, "lon": 10 + i / 1000})


def queued(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) AS n FROM map_report_pending").fetchone()["n"]


def folded(db: psycopg.Connection) -> int:
    return db.execute("SELECT folded FROM map_fold_state").fetchone()["folded"]


def until(condition: Callable[[], bool], *, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_poke_folds_the_queue_on_the_folders_own_thread(db, pool):
    queue(db, 30)
    assert queued(db) == 30  # the reports' own transactions did not fold
    before = folded(db)
    folder = Folder(pool, interval_s=0.05)
    folder.poke()
    assert until(lambda: queued(db) == 0)
    assert folded(db) == before + 30 and folder.folds >= 1
    # More reports while it runs: each poke is served, several reports by one fold at most every interval.
    for _ in range(5):
        queue(db, 4)
        folder.poke()
    assert until(lambda: queued(db) == 0)
    assert folded(db) == before + 50


def test_an_idle_folder_ends_its_thread_and_the_next_poke_starts_it_again(db, pool):
    folder = Folder(pool, interval_s=0.05, idle_exit_s=0.2)
    queue(db, 3)
    folder.poke()
    assert until(lambda: queued(db) == 0)
    assert until(lambda: folder._thread is None)  # idle: ended
    queue(db, 3)
    assert queued(db) == 3
    folder.poke()
    assert until(lambda: queued(db) == 0)


def test_a_closed_pool_ends_the_folder_and_the_queue_waits_for_the_next_one(db, url):
    closing: ConnectionPool = ConnectionPool(url, min_size=1, max_size=1, kwargs={"row_factory": dict_row},
                                             open=True)
    folder = Folder(closing, interval_s=0.05)
    closing.close()
    queue(db, 2)
    folder.poke()
    assert until(lambda: folder._thread is None)
    assert queued(db) == 2 and folder.folds == 0


def test_reports_through_the_api_reach_the_map_cells_soon_after(url, db):
    app = make_app(url, MAP_FOLD_INTERVAL_S=0.05)
    try:
        name = f"folder-{uuid.uuid4().hex[:8]}"
        client = api_client(app, create_accounts(app, {name: "crew"})[name])
        before = folded(db)
        for i in range(3):
            assert client.post("/api/reports", json=report(lon=11.0 + i / 100, lat=50.2)).status_code == 201
        assert until(lambda: folded(db) >= before + 3 and queued(db) == 0)
        batch = {"reports": [report(lon=11.1, lat=50.3), report(lon=11.2, lat=50.3)]}
        assert client.post("/api/reports/batch", json=batch).status_code == 200
        assert until(lambda: folded(db) >= before + 5 and queued(db) == 0)
    finally:
        app.extensions["db_pool"].close()


def test_no_folder_when_the_interval_is_zero(url):
    app = make_app(url, MAP_FOLD_INTERVAL_S=0)
    try:
        assert "map_folder" not in app.extensions
        assert "map_folder" in make_app(url).extensions
    finally:
        app.extensions["db_pool"].close()
