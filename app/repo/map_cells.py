"""SQL of the map's Web-Mercator grid: cell numbers, the FeatureCollections of cells, and the statements that read
the aggregates of migration 0014 (app/repo/map.py chooses between them and the statements over the raw rows)."""

from __future__ import annotations

from psycopg import sql

# The grid cell of a point's lon/lat (app/repo/map.py describes the grid), for GROUP BY. Latitudes are kept off
# the south pole, where the Mercator y is infinite (the same bound as migration 0014's fold, which must give the
# same cells).
CELL_X_OF = "floor(lon * 20037508.342789244 / 180 / {size})"
CELL_Y_OF = "floor(ln(tan(radians(90 + greatest(lat, -89.999999)) / 2)) * 6378137 / {size})"
CELL_X = sql.SQL(CELL_X_OF).format(size=sql.Placeholder("cell_m"))
CELL_Y = sql.SQL(CELL_Y_OF).format(size=sql.Placeholder("cell_m"))
GRID_CELL = sql.SQL("{x}, {y}").format(x=CELL_X, y=CELL_Y)

# The FeatureCollection of report `cells` (n, lon, lat and `one`, the id of its report when n = 1).
REPORT_FEATURES = sql.SQL("""
SELECT json_build_object(
  'type', 'FeatureCollection',
  'numberMatched', coalesce(sum(cells.n), 0),
  'features', coalesce(json_agg(json_build_object(
     'type', 'Feature',
     'id', CASE WHEN cells.n = 1 THEN cells.one END,
     'geometry', json_build_object('type', 'Point', 'coordinates', json_build_array(cells.lon, cells.lat)),
     'properties', CASE WHEN cells.n = 1 THEN (SELECT json_build_object(
         'cluster', false, 'count', 1, 'id', r.id, 'case_id', r.case_id, 'kind', r.kind,
         'severity', r.severity, 'status', r.status, 'hazards', r.hazards, 'notes', r.notes,
         'observed_at', r.observed_at, 'received_at', r.received_at) FROM report r WHERE r.id = cells.one::uuid)
       ELSE json_build_object('cluster', true, 'count', cells.n) END)), '[]'::json))::text AS body
FROM cells
""")

def _box(name: str) -> sql.Composable:
    """The envelope of the float8[] parameter `name` (NULL when it is NULL: no strip)."""
    b = sql.SQL("{}::float8[]").format(sql.Placeholder(name))
    return sql.SQL("ST_MakeEnvelope(({b})[1], ({b})[2], ({b})[3], ({b})[4], 4326)").format(b=b)


def _ring(name: str) -> sql.Composable:
    """Fine cells in the ring `name`'s ranges of cx and cy (parameters ring_<name>_x0, _x1, _y0, _y1)."""
    return sql.SQL("(cx BETWEEN {x0} AND {x1} AND cy BETWEEN {y0} AND {y1})").format(
        **{end: sql.Placeholder(f"ring_{name}_{end}") for end in ("x0", "x1", "y0", "y1")})


SIDES = ("w", "e", "s", "n")

# Every report, clustered from the aggregates of migration 0014 (map_grid.Plan names the ranges):
#   - the cells wholly inside the view (cx i0..i1, cy j0..j1) from map_report_cell at the view's zoom;
#   - around them, the cells 2^k times finer (zoom fine_zoom) wholly inside the view, in four rings, each added
#     to the cell that contains it;
#   - the queued reports (map_report_pending) whose fine cell is wholly inside the view;
#   - the raw points of the fine cells that straddle the view's sides, through four thin strips along them (the
#     GiST index does the strips; a NULL strip is none).
# Each report of the view is in exactly one of these.
REPORTS_AGGREGATED = sql.SQL("""
WITH side AS (
  SELECT r.id, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat
  FROM report r
  WHERE ({strips}) AND r.geom && bbox_envelope(%(bbox)s::float8[])
), queued AS (
  SELECT q.id, q.lon, q.lat FROM map_report_pending q
  WHERE q.lon BETWEEN %(inner_w)s AND %(inner_e)s AND q.lat BETWEEN %(inner_s)s AND %(inner_n)s
), parts AS (
  SELECT {x} AS cx, {y} AS cy, 1 AS n, lon, lat, id::text AS one FROM side
  WHERE NOT ({fx} BETWEEN %(fi0)s AND %(fi1)s AND {fy} BETWEEN %(fj0)s AND %(fj1)s)
  UNION ALL
  SELECT {x}, {y}, 1, lon, lat, id::text FROM queued
  WHERE {fx} BETWEEN %(fi0)s AND %(fi1)s AND {fy} BETWEEN %(fj0)s AND %(fj1)s
  UNION ALL
  SELECT cx, cy, n, sum_lon, sum_lat, one::text FROM map_report_cell
  WHERE zoom = %(zoom)s AND cx BETWEEN %(i0)s AND %(i1)s AND cy BETWEEN %(j0)s AND %(j1)s
  UNION ALL
  SELECT floor(cx / %(scale)s), floor(cy / %(scale)s), n, sum_lon, sum_lat, one::text FROM map_report_cell
  WHERE zoom = %(fine_zoom)s AND ({rings})
), cells AS (
  SELECT sum(n) AS n, sum(lon) / sum(n) AS lon, sum(lat) / sum(n) AS lat, min(one) AS one
  FROM parts GROUP BY cx, cy
  ORDER BY sum(n) DESC LIMIT %(max_cells)s
)
{features}""").format(
    x=CELL_X, y=CELL_Y, features=REPORT_FEATURES,
    fx=sql.SQL(CELL_X_OF).format(size=sql.Placeholder("fine_cell_m")),
    fy=sql.SQL(CELL_Y_OF).format(size=sql.Placeholder("fine_cell_m")),
    strips=sql.SQL(" OR ").join(sql.SQL("r.geom && {}").format(_box(f"strip_{side}")) for side in SIDES),
    rings=sql.SQL(" OR ").join(_ring(side) for side in SIDES))

# The FeatureCollection of case `cells` (n, lon, lat, population and `one`, the case id when n = 1), with `c`
# giving each single case's population and `agg` its reports.
CASE_FEATURES = sql.SQL("""
SELECT json_build_object(
  'type', 'FeatureCollection',
  'numberMatched', coalesce(sum(cells.n), 0),
  'features', coalesce(json_agg(json_build_object(
     'type', 'Feature',
     'id', CASE WHEN cells.n = 1 THEN cells.one END,
     'geometry', json_build_object('type', 'Point', 'coordinates', json_build_array(cells.lon, cells.lat)),
     'properties', CASE WHEN cells.n = 1 THEN json_build_object(
         'cluster', false, 'count', 1, 'case_id', c.id, 'status', c.status, 'kind', c.kind,
         'facility_id', c.facility_id, 'facility', f.name, 'severity', agg.severity, 'hazards', agg.hazards,
         'reports', agg.reports, 'population', c.population)
       ELSE json_build_object('cluster', true, 'count', cells.n, 'population', cells.population) END)),
     '[]'::json))::text AS body
""")

# A case's population served (0 without a facility or a figure).
CASE_POPULATION = sql.SQL("""CASE WHEN c.facility_id IS NULL THEN 0 ELSE coalesce(
  (SELECT p.population_served FROM facility_population_latest p WHERE p.facility_id = c.facility_id), 0) END""")

# A single case `c`'s report count, worst severity and hazards: its summary's (migration 0014) and its queued
# reports'. Evaluated for every cell; `cells.n = 1` makes it read nothing for the others.
SINGLE_CASE_REPORTS = sql.SQL("""(
  WITH x AS (SELECT s.reports, s.severity, s.hazards FROM map_case_summary s WHERE cells.n = 1 AND s.case_id = c.id
             UNION ALL
             SELECT 1, q.severity, q.hazards FROM map_report_pending q WHERE cells.n = 1 AND q.case_id = c.id)
  SELECT (SELECT sum(reports) FROM x)::bigint AS reports, (SELECT max(severity) FROM x) AS severity,
         (SELECT coalesce(array_agg(DISTINCT h ORDER BY h), '{}') FROM x, unnest(x.hazards) h) AS hazards
)""")

# Without filters a damage case is on the map when it has a report of its own: the cases of map_case_summary
# (migration 0014, its folded reports) and of the queue, instead of a pass over every case's reports; a single
# case's count, worst severity and hazards are its summary's with its queued reports added.
CASES_UNFILTERED = sql.SQL("""
WITH c AS (
  SELECT c.id, c.status, c.kind, c.facility_id, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
         {population} AS population
  FROM damage_case c
  WHERE c.geom && bbox_envelope(%(bbox)s::float8[]) AND c.status = ANY(%(damage)s::case_status[])
    AND c.id IN (SELECT case_id FROM map_case_summary UNION ALL SELECT case_id FROM map_report_pending)
), cells AS (
  SELECT count(*) AS n, avg(lon) AS lon, avg(lat) AS lat, min(id) AS one, sum(population) AS population
  FROM c GROUP BY {cell}
  ORDER BY count(*) DESC LIMIT %(max_cells)s
)
{features}
FROM cells LEFT JOIN c ON cells.n = 1 AND c.id = cells.one
LEFT JOIN LATERAL {single} agg ON cells.n = 1
LEFT JOIN facility f ON f.id = c.facility_id
""").format(cell=GRID_CELL, population=CASE_POPULATION, features=CASE_FEATURES, single=SINGLE_CASE_REPORTS)

# The same for a view at zoom 0-16 from migration 0014's case cells, read like REPORTS_AGGREGATED: inner cells,
# finer rings, the shown cases (map_case_state) in the thin strips one by one, and the cases shown only through
# queued reports (no state row yet) one by one wherever they are in the view.
CASES_AGGREGATED = sql.SQL("""
WITH side AS (
  SELECT s.case_id AS id, s.lon, s.lat, s.population
  FROM damage_case c JOIN map_case_state s ON s.case_id = c.id
  WHERE ({strips}) AND c.geom && bbox_envelope(%(bbox)s::float8[])
), fresh AS (
  SELECT c.id, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, {population} AS population
  FROM damage_case c
  WHERE c.id IN (SELECT case_id FROM map_report_pending)
    AND NOT EXISTS (SELECT 1 FROM map_case_state s WHERE s.case_id = c.id)
    AND c.status = ANY(%(damage)s::case_status[]) AND c.geom && bbox_envelope(%(bbox)s::float8[])
), parts AS (
  SELECT {x} AS cx, {y} AS cy, 1 AS n, lon, lat, population, id AS one FROM side
  WHERE NOT ({fx} BETWEEN %(fi0)s AND %(fi1)s AND {fy} BETWEEN %(fj0)s AND %(fj1)s)
  UNION ALL
  SELECT {x}, {y}, 1, lon, lat, population, id FROM fresh
  UNION ALL
  SELECT cx, cy, n, sum_lon, sum_lat, population, one FROM map_case_cell
  WHERE zoom = %(zoom)s AND cx BETWEEN %(i0)s AND %(i1)s AND cy BETWEEN %(j0)s AND %(j1)s
  UNION ALL
  SELECT floor(cx / %(scale)s), floor(cy / %(scale)s), n, sum_lon, sum_lat, population, one FROM map_case_cell
  WHERE zoom = %(fine_zoom)s AND ({rings})
), cells AS (
  SELECT sum(n) AS n, sum(lon) / sum(n) AS lon, sum(lat) / sum(n) AS lat, min(one) AS one,
         sum(population) AS population
  FROM parts GROUP BY cx, cy
  ORDER BY sum(n) DESC LIMIT %(max_cells)s
)
{features}
FROM cells
LEFT JOIN LATERAL (SELECT d.id, d.status, d.kind, d.facility_id, cells.population AS population
                   FROM damage_case d WHERE cells.n = 1 AND d.id = cells.one) c ON true
LEFT JOIN LATERAL {single} agg ON cells.n = 1
LEFT JOIN facility f ON f.id = c.facility_id
""").format(
    x=CELL_X, y=CELL_Y, features=CASE_FEATURES, population=CASE_POPULATION, single=SINGLE_CASE_REPORTS,
    fx=sql.SQL(CELL_X_OF).format(size=sql.Placeholder("fine_cell_m")),
    fy=sql.SQL(CELL_Y_OF).format(size=sql.Placeholder("fine_cell_m")),
    strips=sql.SQL(" OR ").join(sql.SQL("c.geom && {}").format(_box(f"strip_{side}")) for side in SIDES),
    rings=sql.SQL(" OR ").join(_ring(side) for side in SIDES))

# The same without filters, from migration 0014's summaries and queue (see CASES_UNFILTERED).
CASE_INDEX_UNFILTERED = """
WITH reported AS (
  SELECT case_id, severity FROM map_case_summary
  UNION ALL
  SELECT case_id, severity FROM map_report_pending
), worst AS (SELECT case_id, max(severity) AS severity FROM reported GROUP BY case_id)
SELECT c.id AS case_id, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.status::text AS status,
       worst.severity::text AS severity
FROM damage_case c JOIN worst ON worst.case_id = c.id
WHERE c.geom && bbox_envelope(%(bbox)s::float8[]) AND c.status = ANY(%(damage)s::case_status[])
ORDER BY c.id
"""
