"""SQL for feature layers leaving the system as export files, filtered like the map (OGC API: app/repo/ogc.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from app.repo import BBox, Conn, bbox_param
from app.repo import map as map_sql
from geo.taxonomy import DAMAGE_CASE_STATUSES


@dataclass(frozen=True)
class Filters:
    """What the map filters by; None means no filter on that attribute."""

    status: tuple[str, ...] | None = None
    kind: tuple[str, ...] | None = None
    severity: tuple[str, ...] | None = None
    hazard: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    bbox: BBox | None = None

    def params(self) -> dict[str, Any]:
        """The parameters of the map's filter fragments (app/repo/map.py)."""
        return {"bbox": bbox_param(self.bbox), "damage": list(DAMAGE_CASE_STATUSES), "status": _list(self.status),
                "kind": _list(self.kind), "severity": _list(self.severity), "hazard": _list(self.hazard),
                "since": self.since, "until": self.until}


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values is not None else None


# The cases the map shows for the same filters (map.MATCHING_CASES), each with counts over its own reports and
# those of the cases merged into it.
CASES = sql.SQL("""
WITH matching AS (
  SELECT c.id
  {matching}
), members AS MATERIALIZED (
  SELECT case_id, member_id FROM case_members(ARRAY(SELECT id FROM matching))
), hazards AS (
  SELECT m.case_id, string_agg(DISTINCT h::text, ',' ORDER BY h::text) AS hazards
  FROM members m JOIN report r ON r.case_id = m.member_id, unnest(r.hazards) h GROUP BY m.case_id)
SELECT c.id, c.facility_id, f.name AS facility_name, c.kind::text AS kind, c.status::text AS status,
       c.merged_into, c.assigned_crew, c.repair_hours_override, c.priority_bump, c.opened_at, c.updated_at,
       count(r.id) AS reports, max(r.severity)::text AS worst_severity,
       hz.hazards,
       st.operational_status::text AS operational_status, st.share_out,
       st.set_by AS operational_status_set_by, st.set_by_user AS operational_status_by,
       st.set_at AS operational_status_at,
       ST_AsBinary(c.geom) AS wkb
FROM matching JOIN damage_case c ON c.id = matching.id
JOIN case_operational_status st ON st.case_id = c.id
LEFT JOIN facility f ON f.id = c.facility_id
LEFT JOIN hazards hz ON hz.case_id = c.id
LEFT JOIN members m ON m.case_id = c.id
LEFT JOIN report r ON r.case_id = m.member_id
GROUP BY c.id, f.name, hz.hazards, st.operational_status, st.share_out, st.set_by, st.set_by_user, st.set_at
ORDER BY c.id""").format(matching=map_sql.MATCHING_CASES)

# The reports the map shows for the same filters (map.MATCHING_REPORTS).
REPORTS = sql.SQL("""
SELECT r.id::text AS id, r.case_id, c.status::text AS case_status, r.facility_id, r.kind::text AS kind,
       r.severity::text AS severity, r.status::text AS operational_status, r.progress::text AS progress,
       array_to_string(r.components, ',') AS components, array_to_string(r.hazards::text[], ',') AS hazards,
       r.share_out, r.repair_hours, r.crew_size, r.materials, r.notes, r.accuracy_m, r.observed_at,
       r.received_at, ST_AsBinary(r.geom) AS wkb
{matching}
ORDER BY r.observed_at, r.id""").format(matching=map_sql.MATCHING_REPORTS)

LAYERS = {"cases": CASES, "reports": REPORTS}


def layer(conn: Conn, name: str, filters: Filters) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and rows (geometry as WKB in `wkb`) of one export layer, filtered exactly as the map is."""
    conn.execute("SET LOCAL jit = off")  # as for the map: compiling would take longer than running
    cursor = conn.execute(LAYERS[name], filters.params())
    columns = [d.name for d in cursor.description or ()]
    return columns, cursor.fetchall()

