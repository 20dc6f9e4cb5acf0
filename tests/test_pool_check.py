"""The pool's liveness check: a connection used a moment ago costs no round trip, yet one the server has closed in
the meantime is never handed out (app/db.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask

from app import db
from tests.conftest import make_app


@pytest.fixture()
def app(database_url: str) -> Iterator[Flask]:
    """One pooled connection only, so every request gets the same one unless it is replaced."""
    app = make_app(database_url, DB_POOL_MIN=1, DB_POOL_MAX=1)
    yield app
    db.close(app)


def backend_pid(app: Flask) -> int:
    with app.app_context(), db.connection() as conn:
        return int(conn.info.backend_pid)


def sent_while(app: Flask, action) -> list[str]:  # type: ignore[no-untyped-def]
    """The statements psycopg sends while `action()` runs."""
    sent: list[str] = []
    original = psycopg.Cursor.execute

    def counting(cursor, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(str(query))
        return original(cursor, query, *args, **kwargs)

    psycopg.Cursor.execute = counting  # type: ignore[method-assign]
    try:
        action()
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]
    return sent


def test_a_connection_used_just_now_is_handed_out_without_a_round_trip(app):
    first = backend_pid(app)
    sent = sent_while(app, lambda: backend_pid(app))
    assert "" not in sent and backend_pid(app) == first


def test_a_connection_idle_for_a_while_is_checked_with_a_round_trip(app, monkeypatch):
    backend_pid(app)
    monkeypatch.setattr(db, "CHECK_AFTER_IDLE_S", 0.05)
    time.sleep(0.1)
    assert "" in sent_while(app, lambda: backend_pid(app))


def test_a_connection_the_server_closed_a_moment_ago_is_replaced_not_handed_out(app, database_url, monkeypatch):
    monkeypatch.setattr(db, "CHECK_AFTER_IDLE_S", 60.0)  # so only its socket can tell
    first = backend_pid(app)
    with psycopg.connect(database_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone() == (True,)
        deadline = time.monotonic() + 5
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (first,)).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert app.test_client().get("/healthz").status_code == 200
    assert backend_pid(app) != first
