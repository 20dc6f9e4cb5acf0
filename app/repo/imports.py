"""SQL for data onboarding: facilities by external id, feed links, study and service areas, population, sites."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from app.repo import Conn


def dataset(conn: Conn, *, name: str, source: str, licence: str | None = None) -> int:
    """The dataset row for a file (created, or touched when the same file is loaded again)."""
    row = conn.execute("""INSERT INTO dataset (name, source, licence) VALUES (%s, %s, %s)
                          ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, loaded_at = now()
                          RETURNING id""", (name, source, licence)).fetchone()
    assert row is not None
    return int(row["id"])


def find_dataset(conn: Conn, name: str) -> int | None:
    row = conn.execute("SELECT id FROM dataset WHERE name = %s", (name,)).fetchone()
    return int(row["id"]) if row else None


def lock_dataset(conn: Conn, name: str) -> None:
    """Serialise loaders of the same dataset until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))


def audit(conn: Conn, *, entity: str, entity_id: str, action: str, after: dict[str, Any]) -> None:
    """One audit event by the command line (no acting user)."""
    conn.execute("""INSERT INTO audit_event (actor_id, entity, entity_id, action, after)
                    VALUES (NULL, %s, %s, %s, %s)""", (entity, entity_id, action, json.dumps(after)))


def upsert_facilities(conn: Conn, rows: Iterable[tuple[Any, ...]], *, dataset_id: int, region_id: int,
                      action: str) -> dict[str, int]:
    """Insert new facilities of a region and update changed ones by external id; audit each; return counts by
    outcome. The caller has checked that no external id belongs to another region.

    Rows are (external_id, name, kind, voltage_kv, capacity_mva, capacity_mw, attributes JSON, EWKB hex).
    """
    conn.execute("""CREATE TEMP TABLE facility_in (external_id text PRIMARY KEY, name text, kind text,
                      voltage_kv float8, capacity_mva float8, capacity_mw float8, attributes jsonb,
                      geom geometry, state text, before jsonb) ON COMMIT DROP""")
    with conn.cursor() as cur, cur.copy(
        "COPY facility_in (external_id, name, kind, voltage_kv, capacity_mva, capacity_mw, attributes, geom) "
        "FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute("""UPDATE facility_in i SET state = 'created'
                    WHERE NOT EXISTS (SELECT 1 FROM facility f WHERE f.external_id = i.external_id)""")
    conn.execute("""UPDATE facility_in i
                    SET state = CASE WHEN (f.name, f.kind::text, f.voltage_kv, f.capacity_mva, f.capacity_mw,
                                           f.attributes, ST_AsEWKB(f.geom))
                                          IS DISTINCT FROM
                                          (i.name, i.kind, i.voltage_kv, i.capacity_mva, i.capacity_mw,
                                           i.attributes, ST_AsEWKB(i.geom))
                                     THEN 'updated' ELSE 'unchanged' END,
                        before = jsonb_build_object('name', f.name, 'kind', f.kind, 'voltage_kv', f.voltage_kv,
                                                    'capacity_mva', f.capacity_mva, 'capacity_mw', f.capacity_mw,
                                                    'geometry', ST_AsText(f.geom))
                    FROM facility f WHERE f.external_id = i.external_id""")
    conn.execute("""INSERT INTO facility (external_id, name, kind, voltage_kv, capacity_mva, capacity_mw,
                                          attributes, dataset_id, region_id, geom)
                    SELECT external_id, name, kind::facility_kind, voltage_kv, capacity_mva, capacity_mw,
                           attributes, %(dataset)s, %(region)s, geom
                    FROM facility_in WHERE state <> 'unchanged'
                    ON CONFLICT (external_id) DO UPDATE SET
                      name = EXCLUDED.name, kind = EXCLUDED.kind, voltage_kv = EXCLUDED.voltage_kv,
                      capacity_mva = EXCLUDED.capacity_mva, capacity_mw = EXCLUDED.capacity_mw,
                      attributes = EXCLUDED.attributes, dataset_id = EXCLUDED.dataset_id, geom = EXCLUDED.geom,
                      updated_at = now()""", {"dataset": dataset_id, "region": region_id})
    conn.execute("""INSERT INTO audit_event (actor_id, entity, entity_id, action, before, after, reason)
                    SELECT NULL, 'facility', f.id::text, i.state, i.before,
                           jsonb_build_object('name', i.name, 'kind', i.kind, 'voltage_kv', i.voltage_kv,
                                              'capacity_mva', i.capacity_mva, 'capacity_mw', i.capacity_mw,
                                              'geometry', ST_AsText(i.geom)),
                           %(action)s
                    FROM facility_in i JOIN facility f USING (external_id)
                    WHERE i.state <> 'unchanged' ORDER BY f.id""", {"action": action})
    counts = {r["state"]: int(r["n"]) for r in conn.execute(
        "SELECT state, count(*) AS n FROM facility_in GROUP BY state").fetchall()}
    conn.execute("DROP TABLE facility_in")
    return {state: counts.get(state, 0) for state in ("created", "updated", "unchanged")}


def facility_ids(conn: Conn, *, region_id: int) -> dict[str, int]:
    """The region's facilities: database id by external id."""
    return {r["external_id"]: int(r["id"]) for r in conn.execute(
        "SELECT id, external_id FROM facility WHERE region_id = %s", (region_id,))}


def facilities(conn: Conn, *, region_id: int) -> list[dict[str, Any]]:
    """The region's facilities: external id, name, kind, voltage and geometry (WKB)."""
    return conn.execute("""SELECT id, external_id, name, kind::text AS kind, voltage_kv, ST_AsBinary(geom) AS wkb
                           FROM facility WHERE region_id = %s ORDER BY id""", (region_id,)).fetchall()


def outside_study_area(conn: Conn, external_ids: Sequence[str], *, region_id: int) -> list[str]:
    """Those of the given facilities that lie outside the region's study boundary (none when it has none)."""
    rows = conn.execute("""SELECT f.external_id FROM facility f
                           WHERE f.external_id = ANY(%(ids)s) AND f.region_id = %(region)s
                             AND EXISTS (SELECT 1 FROM study_area WHERE region_id = %(region)s)
                             AND NOT EXISTS (SELECT 1 FROM study_area s
                                             WHERE s.region_id = %(region)s AND ST_Intersects(s.geom, f.geom))
                           ORDER BY f.external_id""", {"ids": list(external_ids), "region": region_id}).fetchall()
    return [r["external_id"] for r in rows]


def links(conn: Conn, *, region_id: int) -> list[dict[str, Any]]:
    """The feed links into the region's facilities by external ids, with their origin."""
    return conn.execute("""SELECT p.external_id AS parent, c.external_id AS child, l.origin::text AS origin
                           FROM feed_link l JOIN facility p ON p.id = l.parent_id
                           JOIN facility c ON c.id = l.child_id WHERE c.region_id = %s
                           ORDER BY p.external_id, c.external_id""", (region_id,)).fetchall()


def replace_parents(conn: Conn, child_ids: Sequence[int], *, origin: str | None = None) -> int:
    """Remove the feed links into these children (of one origin, or all); return how many went."""
    cur = conn.execute("""DELETE FROM feed_link WHERE child_id = ANY(%s)
                          AND (%s::link_origin IS NULL OR origin = %s::link_origin)""",
                       (list(child_ids), origin, origin))
    return cur.rowcount


def delete_inferred(conn: Conn, *, region_id: int) -> int:
    return conn.execute("""DELETE FROM feed_link WHERE origin = 'inferred'
                           AND child_id IN (SELECT id FROM facility WHERE region_id = %s)""", (region_id,)).rowcount


def insert_links(conn: Conn, rows: Iterable[dict[str, Any]]) -> int:
    """Insert feed links (parent_id, child_id, origin, distance_m, dataset_id); a repeated link updates."""
    data = list(rows)
    with conn.cursor() as cur:
        cur.executemany("""INSERT INTO feed_link (parent_id, child_id, origin, distance_m, dataset_id)
                           VALUES (%(parent_id)s, %(child_id)s, %(origin)s, %(distance_m)s, %(dataset_id)s)
                           ON CONFLICT (parent_id, child_id) DO UPDATE SET origin = EXCLUDED.origin,
                             distance_m = EXCLUDED.distance_m, dataset_id = EXCLUDED.dataset_id""", data)
    return len(data)


def study_boundary(conn: Conn, *, region_id: int) -> bytes | None:
    """The union of the region's study areas as WKB, or None when it has none."""
    row = conn.execute("SELECT ST_AsBinary(ST_Union(geom)) AS wkb FROM study_area WHERE region_id = %s",
                       (region_id,)).fetchone()
    return bytes(row["wkb"]) if row and row["wkb"] is not None else None


def replace_study_area(conn: Conn, *, name: str, dataset_id: int | None, wkb: bytes, region_id: int) -> None:
    """Make this the region's one study boundary."""
    conn.execute("DELETE FROM study_area WHERE region_id = %s", (region_id,))
    conn.execute("""INSERT INTO study_area (name, dataset_id, region_id, geom)
                    VALUES (%s, %s, %s, ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(%s, 4326)), 3)))""",
                 (name, dataset_id, region_id, wkb))


def service_area_counts(conn: Conn, *, region_id: int) -> dict[str, int]:
    """The region's service areas by method."""
    return {r["method"]: int(r["n"]) for r in conn.execute(
        """SELECT s.method, count(*) AS n FROM service_area s JOIN facility f ON f.id = s.facility_id
           WHERE f.region_id = %s GROUP BY s.method""", (region_id,))}


def delete_service_areas(conn: Conn, *, region_id: int) -> int:
    return conn.execute("""DELETE FROM service_area
                           WHERE facility_id IN (SELECT id FROM facility WHERE region_id = %s)""",
                        (region_id,)).rowcount


def upsert_service_areas(conn: Conn, rows: Iterable[dict[str, Any]]) -> None:
    """Service areas (facility_id, method, provenance, wkb) with their area in m² on the spheroid."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO service_area (facility_id, method, provenance, area_m2, geom)
               SELECT %(facility_id)s, %(method)s, %(provenance)s, ST_Area(g::geography), g
               FROM ST_Multi(ST_GeomFromWKB(%(wkb)s, 4326)) AS g
               ON CONFLICT (facility_id) DO UPDATE SET method = EXCLUDED.method, provenance = EXCLUDED.provenance,
                 area_m2 = EXCLUDED.area_m2, geom = EXCLUDED.geom, computed_at = now()""", list(rows))


def service_areas(conn: Conn, *, region_id: int) -> list[dict[str, Any]]:
    """The region's service areas: facility external id and geometry (WKB)."""
    return conn.execute("""SELECT f.external_id, ST_AsBinary(s.geom) AS wkb FROM service_area s
                           JOIN facility f ON f.id = s.facility_id WHERE f.region_id = %s ORDER BY f.id""",
                        (region_id,)).fetchall()


def upsert_population_layer(conn: Conn, *, name: str, kind: str, dataset_id: int, total: float,
                            region_id: int) -> int:
    """The region's layer row, emptied of any points and polygons from an earlier load of the same name."""
    row = conn.execute("""INSERT INTO population_layer (name, kind, dataset_id, total, region_id)
                          VALUES (%s, %s, %s, %s, %s)
                          ON CONFLICT (region_id, name) DO UPDATE SET kind = EXCLUDED.kind,
                            dataset_id = EXCLUDED.dataset_id, total = EXCLUDED.total, loaded_at = now()
                          RETURNING id""", (name, kind, dataset_id, total, region_id)).fetchone()
    assert row is not None
    conn.execute("DELETE FROM population_point WHERE layer_id = %s", (row["id"],))
    conn.execute("DELETE FROM population_polygon WHERE layer_id = %s", (row["id"],))
    return int(row["id"])


def copy_population(conn: Conn, *, layer_id: int, kind: str, rows: Iterable[tuple[str, float, str]]) -> None:
    """Bulk-load (ref, population, EWKB hex) points or polygons with COPY."""
    table = {"points": "population_point", "polygons": "population_polygon"}[kind]
    statement = {"population_point": "COPY population_point (layer_id, ref, population, geom) FROM STDIN",
                 "population_polygon": "COPY population_polygon (layer_id, ref, population, geom) FROM STDIN"}
    with conn.cursor() as cur, cur.copy(statement[table]) as copy:
        for ref, people, ewkb in rows:
            copy.write_row((layer_id, ref, people, ewkb))


def population_layers(conn: Conn, name: str | None = None, *, region_id: int) -> list[dict[str, Any]]:
    """The region's population layers (all, or the one named) with the file each came from."""
    return conn.execute("""SELECT l.id, l.name, l.kind, l.total, d.source FROM population_layer l
                           LEFT JOIN dataset d ON d.id = l.dataset_id
                           WHERE l.region_id = %(region)s AND (%(name)s::text IS NULL OR l.name = %(name)s)
                           ORDER BY l.id""", {"name": name, "region": region_id}).fetchall()


def layer_features(conn: Conn, layer_id: int, kind: str) -> list[dict[str, Any]]:
    """A stored layer's points or polygons: ref, population, WKB."""
    if kind == "points":
        return conn.execute("""SELECT ref, population, ST_AsBinary(geom) AS wkb FROM population_point
                               WHERE layer_id = %s""", (layer_id,)).fetchall()
    return conn.execute("""SELECT ref, population, ST_AsBinary(geom) AS wkb FROM population_polygon
                           WHERE layer_id = %s""", (layer_id,)).fetchall()


def replace_facility_population(conn: Conn, layer_id: int, rows: Iterable[dict[str, Any]]) -> None:
    """The layer's population per facility: direct and served (facility_id, population, population_served, method)."""
    conn.execute("DELETE FROM facility_population WHERE layer_id = %s", (layer_id,))
    with conn.cursor() as cur:
        cur.executemany("""INSERT INTO facility_population (facility_id, layer_id, population, population_served,
                                                            method)
                           VALUES (%(facility_id)s, %(layer_id)s, %(population)s, %(population_served)s,
                                   %(method)s)""", [{**r, "layer_id": layer_id} for r in rows])


def direct_population(conn: Conn, layer_id: int) -> list[dict[str, Any]]:
    return conn.execute("""SELECT f.external_id, fp.population, fp.method::text AS method FROM facility_population fp
                           JOIN facility f ON f.id = fp.facility_id WHERE fp.layer_id = %s""",
                        (layer_id,)).fetchall()


def upsert_sites(conn: Conn, rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Insert or update critical sites (of `region_id`) by external id; return how many were created and updated."""
    created = updated = 0
    for row in rows:
        result = conn.execute("""INSERT INTO critical_site (external_id, name, kind, weight, dataset_id, region_id,
                                                         geom)
                                 VALUES (%(external_id)s, %(name)s, %(kind)s, %(weight)s, %(dataset_id)s,
                                         %(region_id)s, ST_GeomFromWKB(%(wkb)s, 4326))
                                 ON CONFLICT (external_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                                   weight = EXCLUDED.weight, dataset_id = EXCLUDED.dataset_id, geom = EXCLUDED.geom
                                 RETURNING (xmax = 0) AS created""", row).fetchone()
        assert result is not None
        created, updated = created + bool(result["created"]), updated + (not result["created"])
    return {"created": created, "updated": updated}


def attach_sites(conn: Conn, *, region_id: int) -> list[str]:
    """Attach each of the region's critical sites to its facility whose service area contains it; return those
    left without."""
    conn.execute("""UPDATE critical_site c SET facility_id = (
                      SELECT s.facility_id FROM service_area s JOIN facility f ON f.id = s.facility_id
                      WHERE f.region_id = c.region_id AND ST_Intersects(s.geom, c.geom)
                      ORDER BY s.facility_id LIMIT 1)
                    WHERE c.region_id = %s""", (region_id,))
    rows = conn.execute("""SELECT external_id FROM critical_site WHERE facility_id IS NULL AND region_id = %s
                           ORDER BY external_id""", (region_id,))
    return [r["external_id"] for r in rows]
