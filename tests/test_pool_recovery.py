"""The pool after a database restart: the first request succeeds and no request waits past the pool timeout."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.db import upgrade
from tests.conftest import at_once, free_port, make_app
from tools import pgcluster

TIMEOUT_S = 3.0  # the pool timeout these tests configure (FLASK_DB_TIMEOUT_S)
CLIENTS = 16
POOL_MAX = 10


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[pgcluster.Cluster, str]]:
    """A PostgreSQL cluster of this module's own, so restarting it never disturbs the session's: (cluster, url)."""
    try:
        pgcluster.bindir()
    except pgcluster.ClusterError as exc:
        pytest.skip(f"needs a local PostgreSQL server to restart: {exc}")
    base = Path(tempfile.mkdtemp(prefix="gridtriage-test-restart-"))
    base.chmod(0o755)  # the postgres user (when we are root) must reach the cluster inside
    own = pgcluster.Cluster(base / "pg", free_port())
    try:
        url = pgcluster.up(own, dbname="gridtriage")
        upgrade(url)
        yield own, url
    finally:
        pgcluster.stop(own, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture()
def app(cluster: tuple[pgcluster.Cluster, str]) -> Iterator[Flask]:
    """The app with its pool grown to the largest size, as after busy hours: ten idle connections."""
    app = make_app(cluster[1], DB_TIMEOUT_S=TIMEOUT_S, DB_POOL_MIN=1, DB_POOL_MAX=POOL_MAX)
    pool = app.extensions["db_pool"]
    held = [pool.getconn(timeout=10) for _ in range(POOL_MAX)]
    for conn in held:
        pool.putconn(conn)
    assert pool.get_stats()["pool_available"] == POOL_MAX
    assert all(status == 200 for status, _ in health_many(app)), "the app must be healthy before the restart"
    yield app
    app.extensions["db_pool"].close()


def health(app: Flask) -> tuple[int, float]:
    """GET /healthz on a client of its own: (status, seconds taken)."""
    started = time.monotonic()
    status = app.test_client().get("/healthz").status_code
    return status, time.monotonic() - started


def health_many(app: Flask) -> list[tuple[int, float]]:
    """CLIENTS requests to /healthz released at once."""
    return at_once([lambda: health(app)] * CLIENTS)  # type: ignore[return-value]


def test_first_request_after_a_database_restart_succeeds(cluster, app):
    own, _ = cluster
    pgcluster.stop(own, mode="fast")  # every pooled connection is now dead
    pgcluster.start(own)

    status, took_s = health(app)
    assert status == 200, f"the first request after the restart answered {status} after {took_s:.1f} s"
    assert took_s < TIMEOUT_S + 1
    answers = health_many(app)
    assert [status for status, _ in answers] == [200] * CLIENTS
    assert max(took for _, took in answers) < TIMEOUT_S + 1


def test_requests_during_an_outage_fail_within_the_timeout_and_the_first_after_it_succeeds(cluster, app):
    own, _ = cluster
    pgcluster.stop(own, mode="fast")
    try:
        outage: list[tuple[int, float]] = []
        down_until = time.monotonic() + 8  # long enough for unbounded reconnect pauses to reach 8 s
        while time.monotonic() < down_until:
            outage += health_many(app)
    finally:
        pgcluster.start(own)

    assert {status for status, _ in outage} == {503}
    assert max(took for _, took in outage) < TIMEOUT_S + 1, "a request waited past the pool timeout"
    status, took_s = health(app)
    assert status == 200, f"the first request after the outage answered {status} after {took_s:.1f} s"
    answers = health_many(app)
    assert [status for status, _ in answers] == [200] * CLIENTS
    assert max(took for _, took in answers) < TIMEOUT_S + 1
