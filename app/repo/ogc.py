"""SQL for the OGC API – Features collections: pages of GeoJSON features, and each collection's extent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.repo import BBox, Conn, bbox_param


@dataclass(frozen=True)
class Query:
    """What a client asks of a collection; None means no filter. Times filter [since, before), half-open."""

    bbox: BBox | None = None
    since: datetime | None = None
    before: datetime | None = None
    fid: str | None = None
    limit: int = 10
    offset: int = 0

    def params(self) -> dict[str, Any]:
        return {"bbox": bbox_param(self.bbox), "since": self.since, "before": self.before,
                "fid": self.fid, "limit": self.limit, "offset": self.offset}


# Each statement returns the matched count and one page of GeoJSON features. Facilities have no time of their own,
# so `since`/`before` do not filter them; cases filter on opened_at and reports on observed_at (OGC's datetime is
# the features' own time), unlike the map and the exports, whose window is on when reports were received.
ITEMS = {
    "facilities": """
SELECT count(*) OVER () AS matched, json_build_object(
  'type', 'Feature', 'id', f.id, 'geometry', ST_AsGeoJSON(f.geom)::json,
  'properties', json_build_object('name', f.name, 'kind', f.kind, 'external_id', f.external_id,
    'voltage_kv', f.voltage_kv, 'capacity_mva', f.capacity_mva,
    'population', (SELECT p.population FROM facility_population_latest p WHERE p.facility_id = f.id))) AS feature
FROM facility f
WHERE (%(fid)s::text IS NULL OR f.id::text = %(fid)s)
  AND f.geom && bbox_envelope(%(bbox)s::float8[])
ORDER BY f.id LIMIT %(limit)s OFFSET %(offset)s""",
    "cases": """
SELECT count(*) OVER () AS matched, json_build_object(
  'type', 'Feature', 'id', c.id, 'geometry', ST_AsGeoJSON(c.geom)::json,
  'properties', json_build_object('facility_id', c.facility_id, 'kind', c.kind, 'status', c.status,
    'merged_into', c.merged_into, 'assigned_crew', c.assigned_crew,
    'repair_hours_override', c.repair_hours_override, 'priority_bump', c.priority_bump,
    'opened_at', c.opened_at, 'updated_at', c.updated_at)) AS feature
FROM damage_case c
WHERE (%(fid)s::text IS NULL OR c.id::text = %(fid)s)
  AND c.geom && bbox_envelope(%(bbox)s::float8[])
  AND (%(since)s::timestamptz IS NULL OR c.opened_at >= %(since)s::timestamptz)
  AND (%(before)s::timestamptz IS NULL OR c.opened_at < %(before)s::timestamptz)
ORDER BY c.id LIMIT %(limit)s OFFSET %(offset)s""",
    "reports": """
SELECT count(*) OVER () AS matched, json_build_object(
  'type', 'Feature', 'id', r.id, 'geometry', ST_AsGeoJSON(r.geom)::json,
  'properties', json_build_object('case_id', r.case_id, 'facility_id', r.facility_id, 'kind', r.kind,
    'severity', r.severity, 'status', r.status, 'progress', r.progress,
    'hazards', array_to_string(r.hazards::text[], ','), 'repair_hours', r.repair_hours, 'notes', r.notes,
    'observed_at', r.observed_at, 'received_at', r.received_at)) AS feature
FROM report r
WHERE (%(fid)s::text IS NULL OR r.id::text = %(fid)s)
  AND r.geom && bbox_envelope(%(bbox)s::float8[])
  AND (%(since)s::timestamptz IS NULL OR r.observed_at >= %(since)s::timestamptz)
  AND (%(before)s::timestamptz IS NULL OR r.observed_at < %(before)s::timestamptz)
ORDER BY r.observed_at, r.id LIMIT %(limit)s OFFSET %(offset)s""",
}


def items(conn: Conn, collection: str, query: Query) -> tuple[int, list[dict[str, Any]]]:
    """How many features match, and one page of them as GeoJSON features."""
    rows = conn.execute(ITEMS[collection], query.params()).fetchall()
    if rows:
        return int(rows[0]["matched"]), [row["feature"] for row in rows]
    if query.offset:  # past the end: count without a page
        counted = conn.execute(ITEMS[collection], {**query.params(), "limit": 1, "offset": 0}).fetchall()
        return (int(counted[0]["matched"]) if counted else 0), []
    return 0, []


# The lon/lat box of each collection and the span of the time its `datetime` parameter filters on.
EXTENTS = {
    "facilities": """
SELECT ST_XMin(box) AS min_lon, ST_YMin(box) AS min_lat, ST_XMax(box) AS max_lon, ST_YMax(box) AS max_lat,
       NULL::timestamptz AS first, NULL::timestamptz AS last
FROM (SELECT ST_Extent(geom)::geometry AS box FROM facility) q""",
    "cases": """
SELECT ST_XMin(box) AS min_lon, ST_YMin(box) AS min_lat, ST_XMax(box) AS max_lon, ST_YMax(box) AS max_lat, first, last
FROM (SELECT ST_Extent(geom)::geometry AS box, min(opened_at) AS first, max(opened_at) AS last FROM damage_case) q""",
    "reports": """
SELECT ST_XMin(box) AS min_lon, ST_YMin(box) AS min_lat, ST_XMax(box) AS max_lon, ST_YMax(box) AS max_lat, first, last
FROM (SELECT ST_Extent(geom)::geometry AS box, min(observed_at) AS first, max(observed_at) AS last FROM report) q""",
}


@dataclass(frozen=True)
class Extent:
    """A collection's lon/lat box (None when it is empty) and time span (None when it has no times)."""

    bbox: BBox | None
    first: datetime | None
    last: datetime | None


def extent(conn: Conn, collection: str) -> Extent:
    """The extent of one collection's features."""
    row = conn.execute(EXTENTS[collection]).fetchone()
    if row is None or row["min_lon"] is None:
        return Extent(None, None, None)
    return Extent((row["min_lon"], row["min_lat"], row["max_lon"], row["max_lat"]), row["first"], row["last"])
