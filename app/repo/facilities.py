"""SQL for facilities and what is stored about them (service areas, population)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql

from app.repo import BBox, Conn, bbox_param

# Each facility with its population from the most recently computed layer (facility_population_latest), in a bbox,
# and the same facility as a GeoJSON Feature: what both the whole registry and its changes are made of.
_ROWS = """
  SELECT f.id, f.external_id, f.name, f.kind, f.voltage_kv, f.capacity_mva, f.geom,
         p.population, p.population_served, p.method, p.layer,
         greatest(f.updated_at, p.computed_at) AS changed_at
  FROM facility f
  LEFT JOIN facility_population_latest p ON p.facility_id = f.id
  WHERE f.geom && bbox_envelope(%(bbox)s::float8[])
"""
_FEATURE = """json_build_object(
     'type', 'Feature',
     'id', f.id,
     'geometry', ST_AsGeoJSON(f.geom, 6)::json,
     'properties', json_build_object(
        'id', f.id, 'external_id', f.external_id, 'name', f.name, 'kind', f.kind,
        'voltage_kv', f.voltage_kv, 'capacity_mva', f.capacity_mva,
        'population', f.population, 'population_served', f.population_served,
        'population_method', f.method, 'population_layer', f.layer)
     )"""

FACILITIES_GEOJSON = sql.SQL("""
WITH f AS ({rows})
SELECT json_build_object(
  'type', 'FeatureCollection',
  'features', coalesce(json_agg({feature} ORDER BY f.id), '[]'::json))::text AS body
FROM f
""").format(rows=sql.SQL(_ROWS), feature=sql.SQL(_FEATURE))


# The registry as a phone keeps it, synced by changes: the facilities changed after a cursor (a facility changes when
# an import updates it or a new population is computed for it; facilities are never deleted), and the next cursor.
# The cursor is the latest change seen, held back before the start of any transaction still open: an import stamps
# its rows with its start time (now()) but they become visible only at its commit, which may come after this read;
# a cursor held back makes the next sync repeat a few facilities rather than miss them.
FACILITIES_CHANGED = sql.SQL("""
WITH f AS ({rows}), open_since AS (
  SELECT min(xact_start) - interval '1 microsecond' AS at
  FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
)
SELECT json_build_object(
  'type', 'FeatureCollection',
  'cursor', least((SELECT coalesce(max(changed_at), %(since)s) FROM f), (SELECT at FROM open_since)),
  'features', coalesce(json_agg({feature} ORDER BY f.id) FILTER (WHERE f.changed_at > %(since)s),
                       '[]'::json))::text AS body
FROM f
""").format(rows=sql.SQL(_ROWS), feature=sql.SQL(_FEATURE))


def geojson(conn: Conn, *, bbox: BBox | None) -> str:
    """Facilities (optionally those intersecting a bbox) as a GeoJSON FeatureCollection text."""
    row = conn.execute(FACILITIES_GEOJSON, {"bbox": bbox_param(bbox)}).fetchone()
    assert row is not None
    return str(row["body"])


def changed_geojson(conn: Conn, *, since: datetime, bbox: BBox | None) -> str:
    """Facilities changed after `since` as a GeoJSON FeatureCollection text with a `cursor` for the next call."""
    row = conn.execute(FACILITIES_CHANGED, {"bbox": bbox_param(bbox), "since": since}).fetchone()
    assert row is not None
    return str(row["body"])


def insert(conn: Conn, rows: list[dict[str, Any]]) -> list[int]:
    """Insert facilities (geometry as WKB) and return their ids in input order."""
    ids: list[int] = []
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO facility (external_id, name, kind, voltage_kv, capacity_mva, capacity_mw,
                                     attributes, dataset_id, geom)
               VALUES (%(external_id)s, %(name)s, %(kind)s, %(voltage_kv)s, %(capacity_mva)s, %(capacity_mw)s,
                       %(attributes)s, %(dataset_id)s, ST_GeomFromWKB(%(wkb)s, 4326))
               RETURNING id""",
            rows,
            returning=True,
        )
        while True:
            row = cur.fetchone()
            if row is not None:
                ids.append(row["id"])
            if not cur.nextset():
                break
    return ids


def count(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) AS n FROM facility").fetchone()
    return int(row["n"]) if row else 0
