"""Event, report and photo tables refuse TRUNCATE (also by CASCADE) outside a maintenance transaction."""

from __future__ import annotations

import psycopg
import pytest

APPEND_ONLY = ["case_event", "audit_event", "report", "report_photo"]


@pytest.fixture(scope="module")
def own_url(new_database) -> str:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO audit_event (entity, entity_id, action) VALUES ('user', '1', 'created')")
    return url


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_truncate_is_refused(own_url, table):
    with psycopg.connect(own_url, autocommit=True) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"{table} is append-only"):
        conn.execute(f"TRUNCATE {table} CASCADE")


def test_a_cascade_from_another_table_is_refused_too(own_url):
    with psycopg.connect(own_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("TRUNCATE damage_case CASCADE")  # would empty case_event and report with it
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone() == (1,)


def test_a_maintenance_transaction_may_truncate(own_url):
    with psycopg.connect(own_url) as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL gridtriage.maintenance = 'on'")
        conn.execute("TRUNCATE audit_event")
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone() == (0,)
    with psycopg.connect(own_url) as conn:
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone() == (1,)
