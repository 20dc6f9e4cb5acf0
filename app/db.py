"""The connection pools, transactions and schema migrations; the one place that knows how to reach PostgreSQL.

Writes, and reads that must see them, go to the primary (`connection()`). Reads that may be a little behind
(the map, exports, OGC API, triage) take `read_connection()`: a streaming replica's (DATABASE_REPLICA_URL) when it
is up and at most REPLICA_MAX_LAG_S behind, else the primary's; every such response says which, and how stale
(the X-Data-Source and X-Data-Staleness-S headers).

The migrations themselves are SQL in migrations/versions, applied by Alembic (`flask db-upgrade`).
"""

from __future__ import annotations

import logging
import math
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, g
from flask.cli import with_appcontext
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from app.config import ROOT
from app.repo import Conn, replication

log = logging.getLogger(__name__)
# A pooled connection idle for longer than this is checked with a round trip before it is handed out; one used more
# recently only by a look at its socket (see _check).
CHECK_AFTER_IDLE_S = 1.0


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached in time; callers answer 503 and the client retries."""


def _configure(conn: Conn) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


def _new_pool(app: Flask, url: str, name: str) -> ConnectionPool[Conn]:
    """A pool that connects in the background, so the app starts even with that server down."""
    created: ConnectionPool[Conn] = ConnectionPool(
        url,
        min_size=app.config["DB_POOL_MIN"],
        max_size=app.config["DB_POOL_MAX"],
        # prepare_threshold None (FLASK_DB_PREPARE_THRESHOLD=null) for pgbouncer in transaction mode, whose
        # server connections change between transactions and so do not keep a statement prepared on them.
        kwargs={"row_factory": dict_row, "connect_timeout": 5,
                "prepare_threshold": app.config["DB_PREPARE_THRESHOLD"]},
        configure=_configure,
        check=lambda conn: _check(created, conn),
        # A lost connection is retried after 1, 2, 4 … s for at most this long in all, so no pause outlasts about
        # half of it (psycopg_pool's own default, 5 min, lets them grow past a minute); after that, the next
        # request that has to wait starts a fresh attempt at once.
        reconnect_timeout=app.config["DB_RECONNECT_TIMEOUT_S"],
        open=False,
        name=name,
    )
    created.open(wait=False)
    return created


def init_app(app: Flask) -> None:
    """Attach the primary's pool to the app, and a replica's when DATABASE_REPLICA_URL is set."""
    app.extensions["db_pool"] = _new_pool(app, app.config["DATABASE_URL"], "gridtriage")
    if app.config["DATABASE_REPLICA_URL"]:
        app.extensions["db_replica"] = Replica(_new_pool(app, app.config["DATABASE_REPLICA_URL"],
                                                         "gridtriage-replica"))
    app.after_request(_freshness_headers)
    app.config["SCHEMA_HEAD"] = head_revision()
    app.cli.add_command(db_upgrade_command)


def close(app: Flask) -> None:
    """Close the app's pools (tests and benchmarks that make many apps)."""
    app.extensions["db_pool"].close()
    if "db_replica" in app.extensions:
        app.extensions["db_replica"].pool.close()


def _returning(conn: Conn) -> None:
    """Note when a connection goes back to the pool. (Not the pool's `reset` hook: with one, psycopg_pool hands
    every returned connection to a worker thread, a wake-up per request and a connection not yet back.)"""
    conn._gridtriage_returned_at = time.monotonic()  # type: ignore[attr-defined]


def _has_input(conn: Conn) -> bool:
    """Whether the server sent something unasked: an idle connection's socket is readable only when the server
    closed it (a restart, a terminated backend: end of file, usually after a FATAL message) or sent a notice."""
    watch = select.poll()  # not select.select, which fails on descriptors past 1023
    watch.register(conn.fileno(), select.POLLIN)
    return bool(watch.poll(0))


def _check(pool: ConnectionPool[Conn], conn: Conn) -> None:
    """Hand out only a live connection. A connection returned (by `connection()`) within CHECK_AFTER_IDLE_S whose
    socket is quiet is live as far as a round trip could tell (a server that closed it has made it readable);
    anything else is checked with an empty query, one round trip, which every request paid before. A connection that
    fails later anyway (the network lost without a word) fails its request with a 503 before anything is
    acknowledged.

    The first dead one means the server restarted or went away: check every idle connection now and replace the
    dead ones, rather than letting each request find one more of them."""
    returned_at: float | None = getattr(conn, "_gridtriage_returned_at", None)
    if (returned_at is not None and not conn.closed and time.monotonic() - returned_at < CHECK_AFTER_IDLE_S
            and not _has_input(conn)):
        return
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error:
        pool.check()
        raise


def pool() -> ConnectionPool[Conn]:
    found: ConnectionPool[Conn] = current_app.extensions["db_pool"]
    return found


@contextmanager
def connection() -> Iterator[Conn]:
    """A pooled connection in a transaction: committed when the block ends, rolled back on error."""
    try:
        with pool().connection(timeout=current_app.config["DB_TIMEOUT_S"]) as conn:
            try:
                yield conn
            finally:
                _returning(conn)
    except PoolTimeout as exc:
        raise DatabaseUnavailable("no database connection available") from exc
    except psycopg.OperationalError as exc:
        pool().check()  # the server may have restarted: replace the idle connections now, not one request each
        raise DatabaseUnavailable(str(exc)) from exc


@dataclass(frozen=True)
class Freshness:
    """Where a response's data was read, and at most how many seconds it is behind the primary."""

    source: str  # "primary" or "replica"
    staleness_s: float


class Replica:
    """A replica's pool, and what is known of the primary's WAL position and of the replica's health."""

    def __init__(self, replica_pool: ConnectionPool[Conn]) -> None:
        self.pool = replica_pool
        self._lock = threading.Lock()
        self.primary_lsn: str | None = None
        self.primary_lsn_at = -math.inf  # monotonic time just before the primary was asked
        self.primary_retry_at = 0.0
        self.down_until = 0.0  # after a failure the replica is left alone until then (monotonic)

    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, reason: object) -> None:
        with self._lock:
            self.down_until = time.monotonic() + float(current_app.config["REPLICA_RETRY_S"])
        log.warning("reading from the primary for %s s: the replica failed: %s",
                    current_app.config["REPLICA_RETRY_S"], reason)

    def _primary_position(self) -> tuple[str | None, float]:
        """The primary's WAL position and when it was read: re-read when older than REPLICA_CHECK_S."""
        now = time.monotonic()
        with self._lock:
            known = self.primary_lsn, self.primary_lsn_at
            if now - known[1] < float(current_app.config["REPLICA_CHECK_S"]) or now < self.primary_retry_at:
                return known
        try:
            with pool().connection(timeout=current_app.config["REPLICA_TIMEOUT_S"]) as conn:
                lsn = replication.primary_position(conn)
        except (PoolTimeout, psycopg.Error) as exc:  # the primary down: the replay time still bounds staleness
            log.warning("could not read the primary's WAL position: %s", exc)
            with self._lock:
                self.primary_retry_at = time.monotonic() + float(current_app.config["REPLICA_RETRY_S"])
            return known
        with self._lock:
            if now > self.primary_lsn_at:
                self.primary_lsn, self.primary_lsn_at = lsn, now
            return self.primary_lsn, self.primary_lsn_at

    def staleness_s(self, conn: Conn) -> float:
        """At most how far the replica behind `conn` is behind the primary, in seconds (infinite: unknown).

        Two bounds, the smaller one holds: it has replayed everything the primary had flushed when last asked
        (then it is behind by at most the time since), and it has every transaction up to the last one it
        replayed (then by at most the time since that one's commit, which grows while the primary is idle)."""
        lsn, lsn_at = self._primary_position()
        state = replication.replica_state(conn, primary_lsn=lsn)
        if not state["in_recovery"]:  # promoted, or not a replica at all: it may not be the primary we write to
            log.warning("DATABASE_REPLICA_URL is not a replica (not in recovery): reading from the primary")
            return math.inf
        bounds = [time.monotonic() - lsn_at] if state["caught_up"] else []
        if state["since_last_replayed_s"] is not None:
            bounds.append(max(0.0, float(state["since_last_replayed_s"])))
        return min(bounds, default=math.inf)


@contextmanager
def read_connection() -> Iterator[Conn]:
    """A connection for reads that may be a little behind the primary: the replica's when it is up and at most
    REPLICA_MAX_LAG_S behind, else the primary's. Writes always take `connection()`."""
    replica: Replica | None = current_app.extensions.get("db_replica")
    if replica is not None and replica.usable():
        handed_out = False
        try:
            with replica.pool.connection(timeout=current_app.config["REPLICA_TIMEOUT_S"]) as conn:
                staleness = replica.staleness_s(conn)
                if staleness <= float(current_app.config["REPLICA_MAX_LAG_S"]):
                    g.data_freshness = Freshness("replica", staleness)
                    handed_out = True
                    yield conn
                    return
        except (PoolTimeout, psycopg.OperationalError) as exc:
            replica.failed(exc)
            if handed_out:  # it failed during the request's own reads: 503, and the retry goes to the primary
                raise DatabaseUnavailable(str(exc)) from exc
    g.data_freshness = Freshness("primary", 0.0)
    with connection() as conn:
        yield conn


def _freshness_headers(response: Response) -> Response:
    """Say where a response's data was read and how stale it may be (only responses that read through
    `read_connection`)."""
    freshness: Freshness | None = g.get("data_freshness")
    if freshness is not None:
        response.headers["X-Data-Source"] = freshness.source
        response.headers["X-Data-Staleness-S"] = f"{freshness.staleness_s:.3f}"
    return response


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for this project, pointed at one database."""
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    # Any libpq form (URL or key=value) works: migrations/env.py connects with psycopg itself.
    config.attributes["database_url"] = database_url
    return config


def head_revision() -> str | None:
    """The newest migration in the source tree."""
    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


@click.command("db-upgrade")
@with_appcontext
def db_upgrade_command() -> None:
    """Apply every migration that is not yet applied (a no-op when the schema is current)."""
    upgrade(current_app.config["DATABASE_URL"])
    click.echo(f"database schema at {head_revision()}")
