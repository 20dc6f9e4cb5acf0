"""SQL for the coordinator map: reports and cases clustered on a Web-Mercator grid, and the reference layers."""

from __future__ import annotations

from typing import Any, LiteralString

from psycopg import sql

from app.repo import BBox, Conn, bbox_param, map_grid
from app.repo.map_cells import (
    CASE_FEATURES,
    CASE_INDEX_UNFILTERED,
    CASE_POPULATION,
    CASES_AGGREGATED,
    CASES_UNFILTERED,
    GRID_CELL,
    REPORT_FEATURES,
    REPORTS_AGGREGATED,
)
from geo.taxonomy import DAMAGE_CASE_STATUSES

WORLD: BBox = (-180.0, -90.0, 180.0, 90.0)

# The map's filters, written once and used by the map's layers and by the exports (app/repo/exports.py), so a
# file holds exactly the features the map shows. Parameters (each may be NULL = no filter): bbox: float8[]
# {min_lon, min_lat, max_lon, max_lat} in degrees; status: case_status[]; kind: facility_kind[]; severity:
# severity[]; hazard: hazard[]; since/until: the time window on when the server received the reports, since
# inclusive and until exclusive; and, never NULL, damage: the case_status[] of cases that are damage
# (taxonomy.DAMAGE_CASE_STATUSES, added by `_params`).
#   MATCHING_REPORTS: FROM ... WHERE ... over reports `r` and their case `c`: each report by its own place, kind,
#     severity, hazards and receipt time, and by its case's status.
#   MATCHING_CASES: FROM ... WHERE ... over cases `c` (only those whose status is in `damage`: never duplicates or
#     rejected ones) with `agg`, one pass over the case's own reports: the case is at its place and status and of
#     its kind, its worst severity is one of `severity`, one of its reports names one of `hazard`, and one of its
#     reports was received in the window.
# Clustering groups points by floor(x / cell_m), floor(y / cell_m) in EPSG:3857 (x and y computed from lon/lat
# with the spherical Mercator formulas: same numbers as ST_Transform, but cheap enough that the planner does not
# switch JIT on); a cell holding one point is returned as that point with its properties, every other cell as its
# mean position with a count (the mean is taken in degrees: good enough for a marker within one cell).

MATCHING_REPORTS = sql.SQL("""
FROM report r JOIN damage_case c ON c.id = r.case_id
WHERE r.geom && bbox_envelope(%(bbox)s::float8[])
  AND (%(status)s::case_status[] IS NULL OR c.status = ANY(%(status)s::case_status[]))
  AND (%(kind)s::facility_kind[] IS NULL OR r.kind = ANY(%(kind)s::facility_kind[]))
  AND (%(severity)s::severity[] IS NULL OR r.severity = ANY(%(severity)s::severity[]))
  AND (%(hazard)s::hazard[] IS NULL OR r.hazards && %(hazard)s::hazard[])
  AND (%(since)s::timestamptz IS NULL OR r.received_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR r.received_at < %(until)s)
""")

# One pass over a case `c`'s own reports (a report with n hazards appears n times), for MATCHING_CASES.
CASE_REPORTS = sql.SQL("""(
  SELECT max(r.severity) AS severity, count(DISTINCT r.id) AS reports,
         coalesce(array_agg(DISTINCT h) FILTER (WHERE h IS NOT NULL), '{}') AS hazards,
         bool_or((%(since)s::timestamptz IS NULL OR r.received_at >= %(since)s)
                 AND (%(until)s::timestamptz IS NULL OR r.received_at < %(until)s)) AS in_window
  FROM report r LEFT JOIN LATERAL unnest(r.hazards) h ON true WHERE r.case_id = c.id
)""")

MATCHING_CASES = sql.SQL("""
FROM damage_case c
CROSS JOIN LATERAL {case_reports} agg
WHERE c.geom && bbox_envelope(%(bbox)s::float8[])
  AND c.status = ANY(%(damage)s::case_status[])
  AND (%(status)s::case_status[] IS NULL OR c.status = ANY(%(status)s::case_status[]))
  AND (%(kind)s::facility_kind[] IS NULL OR c.kind = ANY(%(kind)s::facility_kind[]))
  AND (%(severity)s::severity[] IS NULL OR agg.severity = ANY(%(severity)s::severity[]))
  AND (%(hazard)s::hazard[] IS NULL OR agg.hazards && %(hazard)s::hazard[])
  AND agg.in_window
""").format(case_reports=CASE_REPORTS)

# Every matching report grouped on the grid (the reference for the aggregates, and the path with filters).
REPORTS = sql.SQL("""
WITH pts AS (
  SELECT r.id, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat
  {matching}
), cells AS (
  SELECT count(*) AS n, avg(lon) AS lon, avg(lat) AS lat, min(id::text) AS one
  FROM pts GROUP BY {cell}
  ORDER BY count(*) DESC LIMIT %(max_cells)s
)
{features}""").format(matching=MATCHING_REPORTS, cell=GRID_CELL, features=REPORT_FEATURES)


CASES = sql.SQL("""
WITH c AS (
  SELECT c.id, c.status, c.kind, c.facility_id, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
         agg.severity, agg.hazards, agg.reports, {population} AS population
  {matching}
), cells AS (
  SELECT count(*) AS n, avg(lon) AS lon, avg(lat) AS lat, min(id) AS one, sum(population) AS population
  FROM c GROUP BY {cell}
  ORDER BY count(*) DESC LIMIT %(max_cells)s
)
{features}
FROM cells LEFT JOIN c ON cells.n = 1 AND c.id = cells.one
LEFT JOIN LATERAL (SELECT c.severity, c.hazards, c.reports) agg ON true
LEFT JOIN facility f ON f.id = c.facility_id
""").format(matching=MATCHING_CASES, cell=GRID_CELL, population=CASE_POPULATION, features=CASE_FEATURES)

# Every matching case with its place and worst severity: the queue panel filters /api/triage with it.
CASE_INDEX = sql.SQL("""
SELECT c.id AS case_id, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.status::text AS status,
       agg.severity::text AS severity
{matching}
ORDER BY c.id
""").format(matching=MATCHING_CASES)

SERVICE_AREAS = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
  'type', 'Feature', 'id', s.facility_id,
  'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(s.geom, %(tolerance_deg)s), 6)::json,
  'properties', json_build_object('facility_id', s.facility_id, 'facility', f.name, 'method', s.method,
                                  'area_m2', s.area_m2))), '[]'::json))::text AS body
FROM service_area s JOIN facility f ON f.id = s.facility_id
WHERE s.geom && bbox_envelope(%(bbox)s::float8[])
"""

CRITICAL_SITES = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
  'type', 'Feature', 'id', cs.id, 'geometry', ST_AsGeoJSON(cs.geom, 6)::json,
  'properties', json_build_object('id', cs.id, 'name', cs.name, 'kind', cs.kind, 'weight', cs.weight,
                                  'facility_id', cs.facility_id)) ORDER BY cs.id), '[]'::json))::text AS body
FROM critical_site cs
"""

BOUNDARY = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
  'type', 'Feature', 'id', a.id, 'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, 0.0005), 6)::json,
  'properties', json_build_object('id', a.id, 'name', a.name)) ORDER BY a.id), '[]'::json))::text AS body
FROM study_area a
"""

# What the map has seen: a new report, a new case or any case event changes it. The report count is there for
# reports received with an earlier time than the latest one (their transaction committed later).
# The report count is the folded count plus the short queue (migration 0014): counting the report table would
# take a scan of it every three seconds for every open map.
CURSOR = """
SELECT (SELECT folded FROM map_fold_state) + (SELECT count(*) FROM map_report_pending) AS reports,
       (SELECT coalesce(max(received_at), 'epoch') FROM report) AS last_report,
       (SELECT coalesce(max(id), 0) FROM damage_case) AS last_case,
       (SELECT coalesce(max(id), 0) FROM case_event) AS last_event,
       (SELECT coalesce(max(updated_at), 'epoch') FROM damage_case) AS last_case_update,
       (SELECT coalesce(max(updated_at), 'epoch') FROM tie_switch) AS last_switch
"""


def _params(params: dict[str, Any]) -> dict[str, Any]:
    """The statements' parameters from a caller's: its "bbox" (a BBox or None) as float8[], and the damage statuses."""
    out = dict(params)
    out["bbox"] = bbox_param(params.get("bbox"))
    out["damage"] = list(DAMAGE_CASE_STATUSES)
    return out


def _body(conn: Conn, statement: LiteralString | sql.Composed, params: dict[str, Any]) -> str:
    row = conn.execute(statement, params).fetchone()
    assert row is not None
    return str(row["body"])


def _no_jit(conn: Conn) -> None:
    # These queries take milliseconds; with 10^5 rows the planner's cost passes the JIT threshold and
    # compiling would take longer (about 0.7 s) than running. For this transaction only.
    conn.execute("SET LOCAL jit = off")


FILTERS = ("status", "kind", "severity", "hazard", "since", "until")
AGGREGATED_MAX_ZOOM = 16  # map_report_cell holds zooms 0-16; above, cells are points and the raw rows are read


def _unfiltered(params: dict[str, Any]) -> bool:
    return all(params.get(name) is None for name in FILTERS)


def reports(conn: Conn, params: dict[str, Any], *, live: bool = False) -> str:
    """Reports in the bbox matching the filters, clustered on a grid of `cell_m` metres, as GeoJSON text.

    Without filters at zoom 0-16 the clusters come from the aggregates of migration 0014; `live=True` groups the
    raw rows instead (what the aggregates are tested and benchmarked against).
    """
    _no_jit(conn)
    values = _params(params)
    if live or not _unfiltered(params) or params["zoom"] > AGGREGATED_MAX_ZOOM:
        return _body(conn, REPORTS, values)
    plan = map_grid.plan(params.get("bbox") or WORLD, params["zoom"], params["cell_m"])
    values.update(plan.params())
    return _body(conn, REPORTS_AGGREGATED, values)


def cases(conn: Conn, params: dict[str, Any], *, live: bool = False) -> str:
    """Damage cases (not duplicates or rejected) in the bbox matching the filters, clustered, as GeoJSON text.

    Without filters the clusters come from migration 0014's case cells (zoom 0-16) or its summaries (above);
    `live=True` groups every case with a pass over its reports instead.
    """
    _no_jit(conn)
    values = _params(params)
    if live or not _unfiltered(params):
        return _body(conn, CASES, values)
    if params["zoom"] > AGGREGATED_MAX_ZOOM:
        return _body(conn, CASES_UNFILTERED, values)
    values.update(map_grid.plan(params.get("bbox") or WORLD, params["zoom"], params["cell_m"]).params())
    return _body(conn, CASES_AGGREGATED, values)


# {"cases": [{case_id, lon, lat, status, severity}, ...]} as JSON text: thousands of rows, encoded by the database.
INDEX_JSON = """SELECT json_build_object('cases', coalesce(json_agg(row_to_json(i) ORDER BY i.case_id), '[]'))::text
  AS body FROM ({index}) i"""


def case_index(conn: Conn, params: dict[str, Any], *, live: bool = False) -> str:
    """Every matching case's id, place, status and worst severity as JSON text {"cases": [...]} (from migration
    0014's tables without filters)."""
    index = CASE_INDEX if live or not _unfiltered(params) else sql.SQL(CASE_INDEX_UNFILTERED)
    return _body(conn, sql.SQL(INDEX_JSON).format(index=index), _params(params))


def service_areas(conn: Conn, params: dict[str, Any]) -> str:
    """Service areas in the bbox, simplified by `tolerance_deg`, as GeoJSON text."""
    return _body(conn, SERVICE_AREAS, _params(params))


def critical_sites(conn: Conn) -> str:
    return _body(conn, CRITICAL_SITES, {})


def boundary(conn: Conn) -> str:
    return _body(conn, BOUNDARY, {})


def fold(conn: Conn) -> None:
    """Fold the queued reports into the map's cells (migration 0014's map_report_fold; nothing when another
    transaction is folding). The caller commits."""
    conn.execute("SELECT map_report_fold()")


def cursor(conn: Conn) -> str:
    """A short text that changes whenever a report arrives or a case changes."""
    row = conn.execute(CURSOR).fetchone()
    assert row is not None
    return "-".join(str(row[k]) for k in ("reports", "last_report", "last_case", "last_event", "last_case_update",
                                          "last_switch"))
