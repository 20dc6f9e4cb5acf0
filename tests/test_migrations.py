"""The migrations build the schema on an empty database, a second run changes nothing, and constraints hold."""

from __future__ import annotations

import psycopg
import pytest
from alembic import command

from app.migrate import alembic_config, head_revision, upgrade

SCHEMA_SNAPSHOT = """
SELECT table_name, column_name, data_type, is_nullable
FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2
"""


def snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(SCHEMA_SNAPSHOT).fetchall()


def test_migrations_apply_on_empty_database_and_second_run_does_nothing(pg_server):
    url = pg_server.create_database("gt_migrate")
    try:
        upgrade(url)
        first = snapshot(url)
        upgrade(url)
        assert snapshot(url) == first
        tables = {row[0] for row in first}
        assert {"facility", "feed_link", "service_area", "facility_population", "critical_site", "report",
                "damage_case", "case_event", "app_user", "audit_event"} <= tables
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (head_revision(),)
    finally:
        pg_server.drop_database(url)


def test_downgrade_removes_everything_and_upgrade_rebuilds_it(pg_server):
    url = pg_server.create_database("gt_downgrade")
    try:
        upgrade(url)
        first = snapshot(url)
        command.downgrade(alembic_config(url), "base")
        remaining = {row[0] for row in snapshot(url)} - {"alembic_version", "spatial_ref_sys",
                                                         "geometry_columns", "geography_columns"}
        assert remaining == set()
        upgrade(url)
        assert snapshot(url) == first
    finally:
        pg_server.drop_database(url)


FACILITY = ("INSERT INTO facility (external_id, name, kind, voltage_kv, geom) "
            "VALUES (%s, 'x', %s, %s, ST_GeomFromText(%s, 4326))")


@pytest.mark.parametrize(("kind", "voltage", "wkt", "problem"), [
    ("nuclear_reactor", 10, "POINT(0 0)", "invalid input value for enum"),
    ("substation", -5, "POINT(0 0)", "facility_voltage_kv_check"),
    ("substation", 10, "POINT(200 0)", "facility_geom_check"),
    ("substation", 10, "POLYGON((0 0,1 0,1 1,0 0))", "facility_geom_check"),
])
def test_database_rejects_facilities_that_break_domain_rules(db, kind, voltage, wkt, problem):
    with pytest.raises(psycopg.Error, match=problem):
        db.execute(FACILITY, ("bad-" + problem, kind, voltage, wkt))


def test_case_events_are_append_only(db):
    case = db.execute("""INSERT INTO damage_case (kind, geom) VALUES ('substation', ST_Point(1, 1, 4326))
                         RETURNING id""").fetchone()["id"]
    db.execute("INSERT INTO case_event (case_id, action) VALUES (%s, 'opened')", (case,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute("UPDATE case_event SET action = 'changed' WHERE case_id = %s", (case,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute("DELETE FROM case_event WHERE case_id = %s", (case,))
