"""SQL for named regions: one per utility or area, each owning its facilities, boundary, layers and sites."""

from __future__ import annotations

from typing import Any

from app.repo import Conn


def find(conn: Conn, name: str | None) -> dict[str, Any] | None:
    """The region of this name (the default region for None), or None."""
    return conn.execute("""SELECT id, name, is_default FROM region
                           WHERE CASE WHEN %(name)s::text IS NULL THEN is_default ELSE name = %(name)s END""",
                        {"name": name}).fetchone()


def create(conn: Conn, name: str) -> int | None:
    """A new, empty region; None when the name is taken."""
    row = conn.execute("INSERT INTO region (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id",
                       (name,)).fetchone()
    return int(row["id"]) if row else None


def listing(conn: Conn) -> list[dict[str, Any]]:
    """Every region with what it holds: facilities, service areas, population layers, critical sites, boundary."""
    return conn.execute("""
        SELECT r.id, r.name, r.is_default,
               (SELECT count(*) FROM facility f WHERE f.region_id = r.id) AS facilities,
               (SELECT count(*) FROM service_area s JOIN facility f ON f.id = s.facility_id
                WHERE f.region_id = r.id) AS service_areas,
               (SELECT count(*) FROM population_layer l WHERE l.region_id = r.id) AS population_layers,
               (SELECT count(*) FROM critical_site c WHERE c.region_id = r.id) AS critical_sites,
               EXISTS (SELECT 1 FROM study_area a WHERE a.region_id = r.id) AS has_boundary
        FROM region r ORDER BY r.name""").fetchall()


def damage_cases(conn: Conn, region_id: int) -> int:
    """How many damage cases or reports name a facility of the region (they keep it from being deleted)."""
    row = conn.execute("""SELECT count(DISTINCT d.id) AS n FROM damage_case d
                          WHERE d.facility_id IN (SELECT id FROM facility WHERE region_id = %(r)s)
                             OR EXISTS (SELECT 1 FROM report p WHERE p.case_id = d.id AND p.facility_id IN
                                        (SELECT id FROM facility WHERE region_id = %(r)s))""",
                       {"r": region_id}).fetchone()
    assert row is not None
    return int(row["n"])


def delete(conn: Conn, region_id: int) -> dict[str, int]:
    """Delete the region and everything it holds; how many of each went."""
    sites = conn.execute("DELETE FROM critical_site WHERE region_id = %s", (region_id,)).rowcount
    layers = conn.execute("DELETE FROM population_layer WHERE region_id = %s", (region_id,)).rowcount
    facilities = conn.execute("DELETE FROM facility WHERE region_id = %s", (region_id,)).rowcount
    conn.execute("DELETE FROM region WHERE id = %s", (region_id,))
    return {"facilities": facilities, "population_layers": layers, "critical_sites": sites}


def owners(conn: Conn, *, table: str, external_ids: list[str], region_id: int) -> list[dict[str, Any]]:
    """Those of the external ids that another region already holds (facilities or critical sites), with it."""
    statements = {
        "facility": """SELECT t.external_id, r.name AS region FROM facility t JOIN region r ON r.id = t.region_id
                       WHERE t.external_id = ANY(%s) AND t.region_id <> %s ORDER BY t.external_id""",
        "critical_site": """SELECT t.external_id, r.name AS region FROM critical_site t
                            JOIN region r ON r.id = t.region_id
                            WHERE t.external_id = ANY(%s) AND t.region_id <> %s ORDER BY t.external_id""",
    }
    return conn.execute(statements[table], (external_ids, region_id)).fetchall()


def map_layers(conn: Conn, *, tolerance_deg: float, decimals: int) -> dict[str, Any]:
    """Every region's boundary and service areas as two GeoJSON FeatureCollections, simplified (Douglas-Peucker with
    this tolerance, topology kept) and with this many decimals: compact enough for a phone to keep."""
    row = conn.execute("""
        SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce((
                 SELECT json_agg(json_build_object('type', 'Feature', 'properties',
                          json_build_object('region', r.name, 'name', a.name),
                          'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, %(tol)s), %(dec)s)::json)
                        ORDER BY a.id)
                 FROM study_area a JOIN region r ON r.id = a.region_id), '[]'::json)) AS boundary,
               json_build_object('type', 'FeatureCollection', 'features', coalesce((
                 SELECT json_agg(json_build_object('type', 'Feature', 'id', f.id, 'properties',
                          json_build_object('name', f.name),
                          'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(s.geom, %(tol)s), %(dec)s)::json)
                        ORDER BY f.id)
                 FROM service_area s JOIN facility f ON f.id = s.facility_id), '[]'::json)) AS service_areas
        """, {"tol": tolerance_deg, "dec": decimals}).fetchone()
    assert row is not None
    return {"boundary": row["boundary"], "service_areas": row["service_areas"]}
