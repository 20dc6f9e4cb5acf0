"""The connection pool and transactions; the one place that knows how to reach PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from app.repo import Conn


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached in time; callers answer 503 and the client retries."""


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


def init_app(app: Flask) -> None:
    """Attach a pool to the app; it connects in the background so the app starts even with the database down."""
    pool = ConnectionPool(
        app.config["DATABASE_URL"],
        min_size=app.config["DB_POOL_MIN"],
        max_size=app.config["DB_POOL_MAX"],
        kwargs={"row_factory": dict_row, "connect_timeout": 5},
        configure=_configure,
        check=ConnectionPool.check_connection,
        open=False,
        name="gridtriage",
    )
    pool.open(wait=False)
    app.extensions["db_pool"] = pool


def pool() -> ConnectionPool[Conn]:
    return current_app.extensions["db_pool"]


@contextmanager
def connection() -> Iterator[Conn]:
    """A pooled connection in a transaction: committed when the block ends, rolled back on error."""
    try:
        with pool().connection(timeout=current_app.config["DB_TIMEOUT_S"]) as conn:
            yield conn
    except PoolTimeout as exc:
        raise DatabaseUnavailable("no database connection available") from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc)) from exc
