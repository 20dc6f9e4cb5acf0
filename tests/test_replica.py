"""A real streaming replica (a second local cluster) serves the map, exports, OGC API and triage reads, within
the lag the settings allow, and says how stale; writes go to the primary; a replica too far behind or down means
reads from the primary."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from app import db
from tests.conftest import Replicated, api_client, create_accounts, free_port, login, make_app
from tests.test_reports_api import report
from tools import pgcluster

STRICT_S = 1.0  # the lag the strict app allows
WAIT_S = 30  # the longest a test waits for the replica to catch up or come back (it takes milliseconds here)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {WAIT_S} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def setup(replica: Replicated) -> Iterator[dict[str, object]]:
    """The replicated database, and apps that read from its replica: one that accepts any lag, one that accepts
    1 s (time enough, on a loaded machine, between reading the primary's position and the replica's). Both
    measure the lag on every request (REPLICA_CHECK_S 0)."""
    apps = {name: make_app(replica.primary_url, DATABASE_REPLICA_URL=replica.replica_url, REPLICA_MAX_LAG_S=max_lag,
                           REPLICA_CHECK_S=0, REPLICA_RETRY_S=0)
            for name, max_lag in (("tolerant", 3600.0), ("strict", STRICT_S))}
    tokens = create_accounts(apps["tolerant"], {"crew": "crew", "coordinator": "coordinator"})
    yield {"primary": replica.primary_url, "replica": replica.replica_url, "apps": apps, "tokens": tokens,
           "cluster": replica.replica}
    for app in apps.values():
        db.close(app)


def client(setup: dict[str, object], name: str, role: str = "coordinator") -> FlaskClient:
    apps: dict[str, Flask] = setup["apps"]  # type: ignore[assignment]
    tokens: dict[str, str] = setup["tokens"]  # type: ignore[assignment]
    return api_client(apps[name], tokens[role])


def caught_up(setup: dict[str, object]) -> bool:
    with psycopg.connect(str(setup["primary"])) as primary, psycopg.connect(str(setup["replica"])) as standby:
        row = primary.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
        assert row is not None
        done = standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone()
        return bool(done and done[0])


@contextmanager
def replay_paused(setup: dict[str, object]) -> Iterator[None]:
    """The replica receives the primary's changes but does not apply them until the block ends."""
    with psycopg.connect(str(setup["replica"]), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        wait_for(lambda: standby.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() == ("paused",),
                 "the replica's replay pausing")
        try:
            yield
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")


def source(response) -> tuple[str, float]:
    return response.headers["X-Data-Source"], float(response.headers["X-Data-Staleness-S"])


WORLD = "-180,-85,180,85"
READS = {  # one read of each area that takes the read connection, and how to find a case or report in it
    "map": lambda c, case, rid: case in [row["case_id"] for row in
                                         c.get(f"/api/map/case-index?bbox={WORLD}&zoom=0").json["cases"]],
    "export": lambda c, case, rid: rid in c.get("/api/export/reports.csv").get_data(as_text=True),
    "ogc": lambda c, case, rid: c.get(f"/ogc/collections/reports/items/{rid}").status_code == 200,
    "triage": lambda c, case, rid: case in [row["case_id"] for row in
                                            c.get("/api/triage").json["queue"]] + _unplaced(c),
}


def _unplaced(c: FlaskClient) -> list[object]:
    """The cases at sites with no registered facility (this module's database has none)."""
    return [row["case_id"] for row in c.get("/api/triage").json["unplaced"]]


def test_reads_come_from_a_replica_that_has_caught_up(setup):
    wait_for(lambda: caught_up(setup), "the replica catching up")
    for name in ("tolerant", "strict"):
        response = client(setup, name).get(f"/api/map/cases?bbox={WORLD}&zoom=3")
        assert response.status_code == 200
        where, staleness = source(response)
        assert where == "replica" and 0 <= staleness <= STRICT_S, (name, where, staleness)
    # Reads that do not take the read connection (here, the crew's own reports) say nothing about a replica.
    own = client(setup, "tolerant", "crew").get("/api/reports")
    assert own.status_code == 200 and "X-Data-Source" not in own.headers


def test_a_replica_behind_is_read_only_within_the_allowed_lag_and_says_how_stale(setup):
    wait_for(lambda: caught_up(setup), "the replica catching up")
    with replay_paused(setup):
        sent = client(setup, "tolerant", "crew").post("/api/reports", json=report(kind="other", components=[]))
        assert sent.status_code == 201, sent.json  # the write went to the primary: the replica refuses writes
        rid, case = sent.json["report"]["id"], sent.json["report"]["case_id"]
        tolerant, strict = client(setup, "tolerant"), client(setup, "strict")
        # The tolerant app still reads the replica, which has not applied the report: stale, and it says so.
        wait_for(lambda: source(tolerant.get("/api/triage"))[1] > STRICT_S, "the replica falling 1 s behind")
        for area, shows in READS.items():
            assert not shows(tolerant, case, rid), f"{area}: the paused replica cannot have the new report"
            assert shows(strict, case, rid), f"{area}: the strict app should have read the primary"
        where, staleness = source(tolerant.get("/api/triage"))
        assert where == "replica" and STRICT_S < staleness < 3600
        assert source(strict.get("/api/triage")) == ("primary", 0.0)
        for path in ("/api/export/cases.geojson", "/ogc/collections", f"/api/map/reports?bbox={WORLD}&zoom=2",
                     "/sitrep"):
            assert source(tolerant.get(path))[0] == "replica", path
            assert source(strict.get(path)) == ("primary", 0.0), path
    wait_for(lambda: caught_up(setup), "the replica catching up after the pause")
    for name in ("tolerant", "strict"):
        reader = client(setup, name)
        for area, shows in READS.items():
            assert shows(reader, case, rid), f"{area}: the replica has caught up"
        assert source(reader.get("/api/triage"))[0] == "replica"


def test_the_map_says_how_far_behind_its_replica_data_may_be(setup, browser):
    apps: dict[str, Flask] = setup["apps"]  # type: ignore[assignment]
    wait_for(lambda: caught_up(setup), "the replica catching up")
    server = make_server("127.0.0.1", free_port(), apps["tolerant"], threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        base = f"http://127.0.0.1:{server.server_port}"
        login(page, base, "coordinator")
        page.goto(base + "/map")
        line = page.locator("#data-freshness")
        line.wait_for(state="visible")
        assert re.fullmatch(r"Read from a replica: at most \d+(\.\d)? s behind the primary database\.",
                            line.inner_text()), line.inner_text()
    finally:
        context.close()
        server.shutdown()


def test_a_replica_that_is_down_means_reads_from_the_primary_until_it_is_back(setup):
    cluster: pgcluster.Cluster = setup["cluster"]  # type: ignore[assignment]
    tolerant = client(setup, "tolerant")
    wait_for(lambda: caught_up(setup), "the replica catching up")
    assert source(tolerant.get("/api/triage"))[0] == "replica"
    pgcluster.stop(cluster, mode="immediate")
    try:
        sent = client(setup, "tolerant", "crew").post("/api/reports", json=report(kind="other", components=[]))
        assert sent.status_code == 201
        rid, case = sent.json["report"]["id"], sent.json["report"]["case_id"]
        for area, shows in READS.items():
            assert shows(tolerant, case, rid), f"{area}: read from the primary while the replica is down"
        response = tolerant.get(f"/api/map/cases?bbox={WORLD}&zoom=3")
        assert response.status_code == 200 and source(response) == ("primary", 0.0)
        health = tolerant.get("/healthz")  # the primary is fine: healthy, and it says the replica is not
        assert health.status_code == 200 and health.json["status"] == "ok"
        assert health.json["replica"]["configured"] and not health.json["replica"]["reachable"]
        assert health.json["replica"]["reads"] == "primary" and health.json["replica"]["lag_s"] is None
    finally:
        pgcluster.start(cluster)
    wait_for(lambda: source(tolerant.get("/api/triage"))[0] == "replica", "reads going back to the replica")


def test_a_replica_url_that_reaches_a_primary_is_not_read_as_a_replica(setup):
    # As after a promotion: a server not in recovery may not be the primary the app writes to.
    tokens: dict[str, str] = setup["tokens"]  # type: ignore[assignment]
    app = make_app(str(setup["primary"]), DATABASE_REPLICA_URL=str(setup["primary"]), REPLICA_CHECK_S=0)
    try:
        response = api_client(app, tokens["coordinator"]).get("/api/triage")
        assert response.status_code == 200 and source(response) == ("primary", 0.0)
    finally:
        db.close(app)


def test_health_reports_the_replica_its_lag_and_where_reads_go(setup):
    wait_for(lambda: caught_up(setup), "the replica catching up")
    replica = client(setup, "tolerant").get("/healthz").json["replica"]
    assert replica["configured"] and replica["reachable"] and replica["reads"] == "replica"
    assert 0 <= replica["lag_s"] <= STRICT_S and replica["max_lag_s"] == 3600
    with replay_paused(setup):
        sent = client(setup, "tolerant", "crew").post("/api/reports", json=report(kind="other", components=[]))
        assert sent.status_code == 201
        wait_for(lambda: client(setup, "strict").get("/healthz").json["replica"]["reads"] == "primary",
                 "the strict app's health saying the replica is too far behind")
        replica = client(setup, "strict").get("/healthz").json["replica"]
        assert replica["reachable"] and replica["lag_s"] > STRICT_S and replica["max_lag_s"] == STRICT_S


def test_the_triage_on_a_replica_shows_a_registry_change_once_the_replica_has_it(setup):
    """The registry network an app keeps is checked against the revision of the database it reads: a replica
    behind shows the registry it has, and the change as soon as it has replayed it."""
    primary = str(setup["primary"])
    with psycopg.connect(primary, autocommit=True) as conn:
        facility = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES ('rep-f', 'Replica F', "
                                "'substation', ST_Point(25, 50, 4326)) RETURNING id").fetchone()[0]
    body = report(kind="substation", components=[], lon=25, lat=50, facility_id=facility)
    sent = client(setup, "tolerant", "crew").post("/api/reports", json=body)
    assert sent.status_code == 201, sent.json
    case = sent.json["report"]["case_id"]

    def name(reader: FlaskClient) -> str:
        response = reader.get("/api/triage")
        (row,) = [r for r in response.json["queue"] if r["case_id"] == case]
        return str(row["facility_name"])

    tolerant, strict = client(setup, "tolerant"), client(setup, "strict")
    wait_for(lambda: caught_up(setup), "the replica catching up")
    assert name(tolerant) == name(strict) == "Replica F"
    with replay_paused(setup):
        with psycopg.connect(primary, autocommit=True) as conn:
            conn.execute("UPDATE facility SET name = 'Replica F renamed' WHERE id = %s", (facility,))
        wait_for(lambda: source(tolerant.get("/api/triage"))[1] > STRICT_S, "the replica falling 1 s behind")
        assert name(tolerant) == "Replica F"  # the replica has not replayed the rename, and says it is behind
        assert name(strict) == "Replica F renamed"  # read from the primary
    wait_for(lambda: caught_up(setup), "the replica catching up after the pause")
    assert source(tolerant.get("/api/triage"))[0] == "replica"
    assert name(tolerant) == "Replica F renamed"
