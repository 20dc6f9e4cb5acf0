"""The migrations build the schema on an empty database, a second run changes nothing, and constraints hold."""

from __future__ import annotations

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from app.db import alembic_config, head_revision, upgrade

# One whole query per kind of catalogue object, each giving rows that do not depend on oids or creation order.
# Objects that belong to an extension (PostGIS's functions, types and spatial_ref_sys) are PostGIS's, not ours;
# alembic_version is Alembic's and is compared as the version instead.
CATALOGUE = {
    "relations": """
        SELECT c.relname, c.relkind::text, CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relname <> 'alembic_version'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                      AND d.deptype = 'e')""",
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity::text,
               a.attgenerated::text, pg_get_expr(ad.adbin, ad.adrelid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> 'alembic_version'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                      AND d.deptype = 'e')""",
    "indexes": """
        SELECT i.tablename, i.indexname, i.indexdef
        FROM pg_indexes i JOIN pg_namespace n ON n.nspname = i.schemaname
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = i.tablename
        WHERE n.nspname = 'public' AND c.relname <> 'alembic_version'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                      AND d.deptype = 'e')""",
    "triggers": """
        SELECT c.relname, t.tgname, t.tgenabled::text, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                      AND d.deptype = 'e')""",
    "constraints": """
        SELECT coalesce(c.relname, ty.typname), k.conname, k.contype::text, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
        LEFT JOIN pg_class c ON c.oid = k.conrelid LEFT JOIN pg_type ty ON ty.oid = k.contypid
        WHERE n.nspname = 'public' AND coalesce(c.relname, '') <> 'alembic_version'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.deptype = 'e' AND (
                (d.classid = 'pg_class'::regclass AND d.objid = c.oid)
                OR (d.classid = 'pg_type'::regclass AND d.objid = ty.oid)))""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid), p.prokind::text,
               p.provolatile::text, l.lanname, md5(p.prosrc)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
        WHERE n.nspname = 'public'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                      AND d.deptype = 'e')""",
    "enums": """
        SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = 'public'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                                                      AND d.deptype = 'e')
        GROUP BY t.typname""",
    "extensions": "SELECT extname, extversion FROM pg_extension",
}


def fingerprint(url: str) -> dict[str, list[tuple]]:
    """Everything the migrations define, by kind: relations, columns, indexes, triggers, constraints, functions,
    enums and extensions of the public schema, and the alembic version."""
    with psycopg.connect(url) as conn:
        found = {kind: sorted(conn.execute(query).fetchall(), key=repr)
                                    for kind, query in CATALOGUE.items()}
        has_version = conn.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL").fetchone()
        found["version"] = (conn.execute("SELECT version_num FROM alembic_version").fetchall()
                            if has_version and has_version[0] else [])
    return found


def revisions() -> list[str]:
    """Every migration, oldest first."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_migrations_apply_on_empty_database_and_second_run_does_nothing(pg_server):
    url = pg_server.create_database("gt_migrate")
    try:
        upgrade(url)
        first = fingerprint(url)
        upgrade(url)
        assert fingerprint(url) == first
        tables = {row[0] for row in first["relations"] if row[1] == "r"}
        assert {"facility", "feed_link", "service_area", "facility_population", "critical_site", "report",
                "damage_case", "case_event", "app_user", "audit_event"} <= tables
        assert first["version"] == [(head_revision(),)]
        # The fingerprint sees every kind of object, so a change to any of them would show.
        assert all(first[kind] for kind in CATALOGUE), [kind for kind in CATALOGUE if not first[kind]]
        assert ("case_event", "case_event_append_only") in {row[:2] for row in first["triggers"]}
    finally:
        pg_server.drop_database(url)


def test_each_downgrade_undoes_its_upgrade_exactly(pg_server):
    """Alembic's downgrade (the project has no command for it) is the exact inverse of every upgrade step."""
    url = pg_server.create_database("gt_downgrade")
    config = alembic_config(url)
    try:
        steps = revisions()
        assert steps[-1] == head_revision()
        empty = fingerprint(url)
        # 0001 creates PostGIS when it is missing and leaves it on the way down (other schemas may use it).
        empty.pop("extensions")
        assert not any(empty.values())
        on_the_way_up = {}
        for revision in steps:
            command.upgrade(config, revision)
            on_the_way_up[revision] = fingerprint(url)
        for revision in reversed(steps[:-1]):
            command.downgrade(config, revision)
            assert fingerprint(url) == on_the_way_up[revision], f"downgrade to {revision} differs from upgrade to it"
        command.downgrade(config, "base")
        left = fingerprint(url)
        assert [row[0] for row in left.pop("extensions")] == ["plpgsql", "postgis"]
        assert left == empty, "downgrade to base leaves objects of ours behind"
        upgrade(url)
        assert fingerprint(url) == on_the_way_up[steps[-1]]
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


@pytest.fixture(scope="module")
def scratch(pg_server):
    """A migrated database of its own (autocommit, dict rows): the ids these tests take are no other test's."""
    url = pg_server.create_database("gt_shared_sql")
    try:
        upgrade(url)
        with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
            yield conn
    finally:
        pg_server.drop_database(url)


CASE = """INSERT INTO damage_case (kind, geom, status, merged_into)
          VALUES ('substation', ST_Point(1, 1, 4326), %s, %s) RETURNING id"""


def test_case_members_follow_merges_down_from_each_root(scratch):
    with scratch.transaction(force_rollback=True):
        root = scratch.execute(CASE, ("reported", None)).fetchone()["id"]
        merged = scratch.execute(CASE, ("duplicate", root)).fetchone()["id"]
        deeper = scratch.execute(CASE, ("duplicate", merged)).fetchone()["id"]
        rows = scratch.execute("SELECT case_id, member_id, depth FROM case_members(%s::bigint[]) ORDER BY 1, 3",
                               ([root, merged],)).fetchall()
        assert [(r["case_id"], r["member_id"], r["depth"]) for r in rows] == [
            (root, root, 0), (root, merged, 1), (root, deeper, 2), (merged, merged, 0), (merged, deeper, 1)]
        assert scratch.execute("SELECT count(*) AS n FROM case_members('{}')").fetchone()["n"] == 0


def test_latest_population_is_the_most_recently_computed_layer_per_facility(scratch):
    with scratch.transaction(force_rollback=True):
        facility = scratch.execute("""INSERT INTO facility (external_id, name, kind, geom)
                                      VALUES ('f1', 'x', 'substation', ST_Point(1, 1, 4326)) RETURNING id""",
                                   ).fetchone()["id"]
        layers = [scratch.execute("INSERT INTO population_layer (name, kind, total) VALUES (%s, 'points', 0) "
                                  "RETURNING id", (f"layer-{i}",)).fetchone()["id"] for i in range(3)]
        for layer, people, at in zip(layers, (10, 30, 20), ("2026-01-01", "2026-01-03", "2026-01-03"), strict=True):
            scratch.execute("""INSERT INTO facility_population (facility_id, layer_id, population, population_served,
                                                                method, computed_at)
                               VALUES (%s, %s, %s, %s, 'point_sum', %s)""", (facility, layer, people, people, at))
        row = scratch.execute("""SELECT layer_id, layer, population FROM facility_population_latest
                                 WHERE facility_id = %s""", (facility,)).fetchone()
        # The latest computation wins; of two computed at the same time, the newer layer.
        assert row == {"layer_id": layers[2], "layer": "layer-2", "population": 20}


def test_bbox_envelope_is_the_box_or_the_whole_world(scratch):
    row = scratch.execute("""SELECT ST_AsText(bbox_envelope(ARRAY[1, 2, 3, 4]::float8[])) AS box,
                                    ST_AsText(bbox_envelope(NULL)) AS world,
                                    ST_SRID(bbox_envelope(NULL)) AS srid""").fetchone()
    assert row == {"box": "POLYGON((1 2,1 4,3 4,3 2,1 2))",
                   "world": "POLYGON((-180 -90,-180 90,180 90,180 -90,-180 -90))", "srid": 4326}
