"""The connection pool, transactions and schema migrations; the one place that knows how to reach PostgreSQL.

The migrations themselves are SQL in migrations/versions, applied by Alembic (`flask db-upgrade`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import with_appcontext
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from app.config import ROOT
from app.repo import Conn


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached in time; callers answer 503 and the client retries."""


def _configure(conn: Conn) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


def init_app(app: Flask) -> None:
    """Attach a pool to the app; it connects in the background so the app starts even with the database down."""
    created: ConnectionPool[Conn] = ConnectionPool(
        app.config["DATABASE_URL"],
        min_size=app.config["DB_POOL_MIN"],
        max_size=app.config["DB_POOL_MAX"],
        kwargs={"row_factory": dict_row, "connect_timeout": 5},
        configure=_configure,
        check=lambda conn: _check(created, conn),
        # A lost connection is retried after 1, 2, 4 … s for at most this long in all, so no pause outlasts about
        # half of it (psycopg_pool's own default, 5 min, lets them grow past a minute); after that, the next
        # request that has to wait starts a fresh attempt at once.
        reconnect_timeout=app.config["DB_RECONNECT_TIMEOUT_S"],
        open=False,
        name="gridtriage",
    )
    created.open(wait=False)
    app.extensions["db_pool"] = created
    app.config["SCHEMA_HEAD"] = head_revision()
    app.cli.add_command(db_upgrade_command)


def _check(pool: ConnectionPool[Conn], conn: Conn) -> None:
    """Hand out only a live connection. The first dead one means the server restarted or went away: check every idle
    connection now and replace the dead ones, rather than letting each request find one more of them."""
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
            yield conn
    except PoolTimeout as exc:
        raise DatabaseUnavailable("no database connection available") from exc
    except psycopg.OperationalError as exc:
        pool().check()  # the server may have restarted: replace the idle connections now, not one request each
        raise DatabaseUnavailable(str(exc)) from exc


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
