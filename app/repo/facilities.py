"""SQL for facilities and what is stored about them (service areas, population)."""

from __future__ import annotations

from typing import Any

from app.repo import BBox, Conn, bbox_param

# Population comes from the most recently computed layer for each facility (facility_population_latest).
FACILITIES_GEOJSON = """
SELECT json_build_object(
  'type', 'FeatureCollection',
  'features', coalesce(json_agg(json_build_object(
     'type', 'Feature',
     'id', f.id,
     'geometry', ST_AsGeoJSON(f.geom, 6)::json,
     'properties', json_build_object(
        'id', f.id, 'external_id', f.external_id, 'name', f.name, 'kind', f.kind,
        'voltage_kv', f.voltage_kv, 'capacity_mva', f.capacity_mva,
        'population', p.population, 'population_served', p.population_served,
        'population_method', p.method, 'population_layer', p.layer)
     ) ORDER BY f.id), '[]'::json))::text AS body
FROM facility f
LEFT JOIN facility_population_latest p ON p.facility_id = f.id
WHERE f.geom && bbox_envelope(%(bbox)s::float8[])
"""


def geojson(conn: Conn, *, bbox: BBox | None) -> str:
    """Facilities (optionally those intersecting a bbox) as a GeoJSON FeatureCollection text."""
    row = conn.execute(FACILITIES_GEOJSON, {"bbox": bbox_param(bbox)}).fetchone()
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
