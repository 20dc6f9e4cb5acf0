"""SQL for feature layers leaving the system: exports (filtered like the map) and OGC API collections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.repo import Conn


@dataclass(frozen=True)
class Filters:
    """What the map filters by; None means no filter on that attribute."""

    status: tuple[str, ...] | None = None
    kind: tuple[str, ...] | None = None
    severity: tuple[str, ...] | None = None
    hazard: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None

    def params(self) -> dict[str, Any]:
        return {"status": _list(self.status), "kind": _list(self.kind), "severity": _list(self.severity),
                "hazard": _list(self.hazard), "since": self.since, "until": self.until,
                "bbox": list(self.bbox) if self.bbox else None}


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values is not None else None


# Cases with counts over their own reports and those of cases merged into them; time filters on opened_at.
CASES = """
WITH RECURSIVE members AS (
  SELECT id AS case_id, id AS member_id, 0 AS depth FROM damage_case
  UNION ALL
  SELECT m.case_id, c.id, m.depth + 1 FROM damage_case c JOIN members m ON c.merged_into = m.member_id
  WHERE m.depth < 100)
SELECT c.id, c.facility_id, f.name AS facility_name, c.kind::text AS kind, c.status::text AS status,
       c.merged_into, c.assigned_crew, c.repair_hours_override, c.priority_bump, c.opened_at, c.updated_at,
       count(r.id) AS reports, max(r.severity)::text AS worst_severity,
       (SELECT string_agg(DISTINCT h::text, ',' ORDER BY h::text) FROM members m2
        JOIN report r2 ON r2.case_id = m2.member_id, unnest(r2.hazards) h WHERE m2.case_id = c.id) AS hazards,
       ST_AsBinary(c.geom) AS wkb
FROM damage_case c
LEFT JOIN facility f ON f.id = c.facility_id
LEFT JOIN members m ON m.case_id = c.id
LEFT JOIN report r ON r.case_id = m.member_id
WHERE (%(status)s::text[] IS NULL OR c.status::text = ANY(%(status)s::text[]))
  AND (%(kind)s::text[] IS NULL OR c.kind::text = ANY(%(kind)s::text[]))
  AND (%(since)s::timestamptz IS NULL OR c.opened_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR c.opened_at <= %(until)s::timestamptz)
  AND (%(bbox)s::float8[] IS NULL OR c.geom && ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                                              (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
GROUP BY c.id, f.name
HAVING (%(severity)s::text[] IS NULL OR bool_or(r.severity::text = ANY(%(severity)s::text[])))
   AND (%(hazard)s::text[] IS NULL OR bool_or(r.hazards::text[] && %(hazard)s::text[]))
ORDER BY c.id"""

# Reports; status filters by their case's status, time filters on observed_at.
REPORTS = """
SELECT r.id::text AS id, r.case_id, c.status::text AS case_status, r.facility_id, r.kind::text AS kind,
       r.severity::text AS severity, r.status::text AS operational_status, r.progress::text AS progress,
       array_to_string(r.components, ',') AS components, array_to_string(r.hazards::text[], ',') AS hazards,
       r.repair_hours, r.crew_size, r.materials, r.notes, r.accuracy_m, r.observed_at, r.received_at,
       ST_AsBinary(r.geom) AS wkb
FROM report r JOIN damage_case c ON c.id = r.case_id
WHERE (%(status)s::text[] IS NULL OR c.status::text = ANY(%(status)s::text[]))
  AND (%(kind)s::text[] IS NULL OR r.kind::text = ANY(%(kind)s::text[]))
  AND (%(severity)s::text[] IS NULL OR r.severity::text = ANY(%(severity)s::text[]))
  AND (%(hazard)s::text[] IS NULL OR r.hazards::text[] && %(hazard)s::text[])
  AND (%(since)s::timestamptz IS NULL OR r.observed_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR r.observed_at <= %(until)s::timestamptz)
  AND (%(bbox)s::float8[] IS NULL OR r.geom && ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                                              (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
ORDER BY r.observed_at, r.id"""

LAYERS = {"cases": CASES, "reports": REPORTS}


def layer(conn: Conn, name: str, filters: Filters) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and rows (geometry as WKB in `wkb`) of one export layer."""
    cursor = conn.execute(LAYERS[name], filters.params())
    columns = [d.name for d in cursor.description or ()]
    return columns, cursor.fetchall()


# OGC API collections: each statement returns the matched count and one page of GeoJSON features.
OGC = {
    "facilities": """
SELECT count(*) OVER () AS matched, f.id::text AS fid, json_build_object(
  'type', 'Feature', 'id', f.id, 'geometry', ST_AsGeoJSON(f.geom)::json,
  'properties', json_build_object('name', f.name, 'kind', f.kind, 'external_id', f.external_id,
    'voltage_kv', f.voltage_kv, 'capacity_mva', f.capacity_mva,
    'population', (SELECT fp.population FROM facility_population fp WHERE fp.facility_id = f.id
                   ORDER BY fp.computed_at DESC, fp.layer_id DESC LIMIT 1))) AS feature
FROM facility f
WHERE (%(fid)s::text IS NULL OR f.id::text = %(fid)s)
  AND (%(bbox)s::float8[] IS NULL OR f.geom && ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                                              (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
ORDER BY f.id LIMIT %(limit)s OFFSET %(offset)s""",
    "cases": """
SELECT count(*) OVER () AS matched, c.id::text AS fid, json_build_object(
  'type', 'Feature', 'id', c.id, 'geometry', ST_AsGeoJSON(c.geom)::json,
  'properties', json_build_object('facility_id', c.facility_id, 'kind', c.kind, 'status', c.status,
    'merged_into', c.merged_into, 'assigned_crew', c.assigned_crew,
    'repair_hours_override', c.repair_hours_override, 'priority_bump', c.priority_bump,
    'opened_at', c.opened_at, 'updated_at', c.updated_at)) AS feature
FROM damage_case c
WHERE (%(fid)s::text IS NULL OR c.id::text = %(fid)s)
  AND (%(bbox)s::float8[] IS NULL OR c.geom && ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                                              (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
ORDER BY c.id LIMIT %(limit)s OFFSET %(offset)s""",
    "reports": """
SELECT count(*) OVER () AS matched, r.id::text AS fid, json_build_object(
  'type', 'Feature', 'id', r.id, 'geometry', ST_AsGeoJSON(r.geom)::json,
  'properties', json_build_object('case_id', r.case_id, 'facility_id', r.facility_id, 'kind', r.kind,
    'severity', r.severity, 'status', r.status, 'progress', r.progress,
    'hazards', array_to_string(r.hazards::text[], ','), 'repair_hours', r.repair_hours, 'notes', r.notes,
    'observed_at', r.observed_at, 'received_at', r.received_at)) AS feature
FROM report r
WHERE (%(fid)s::text IS NULL OR r.id::text = %(fid)s)
  AND (%(bbox)s::float8[] IS NULL OR r.geom && ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                                              (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
ORDER BY r.observed_at, r.id LIMIT %(limit)s OFFSET %(offset)s""",
}


def ogc_items(conn: Conn, collection: str, *, bbox: tuple[float, float, float, float] | None = None,
              limit: int = 10, offset: int = 0, fid: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    """How many features match, and one page of them as GeoJSON features."""
    rows = conn.execute(OGC[collection], {"bbox": list(bbox) if bbox else None, "limit": limit,
                                          "offset": offset, "fid": fid}).fetchall()
    if rows:
        return int(rows[0]["matched"]), [row["feature"] for row in rows]
    if offset:  # past the end: count without a page
        counted = conn.execute(OGC[collection], {"bbox": list(bbox) if bbox else None, "limit": 1, "offset": 0,
                                                 "fid": fid}).fetchall()
        return (int(counted[0]["matched"]) if counted else 0), []
    return 0, []


def extent(conn: Conn) -> list[float] | None:
    """The lon/lat extent of the registered facilities."""
    row = conn.execute("SELECT ST_XMin(e) AS a, ST_YMin(e) AS b, ST_XMax(e) AS c, ST_YMax(e) AS d "
                       "FROM (SELECT ST_Extent(geom)::geometry AS e FROM facility) q").fetchone()
    if row is None or row["a"] is None:
        return None
    return [row["a"], row["b"], row["c"], row["d"]]
