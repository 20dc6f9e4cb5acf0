"""The map's fold without a pass over every case cell: a refresh deletes and repairs only the cells it touched.

Migration 0014 keeps per-zoom clusters of reports and cases as reports arrive; every 64th insert folds the queue
into the cells, and a fold whose reports are the first of their cases refreshes those cases' cells
(`map_cases_refresh`). That refresh ended with `DELETE FROM map_case_cell WHERE n = 0`, a sequential scan of the
whole table (about 17 rows per case shown: 0.6 ms at 3,000 cases, 3 ms at 50,000, and growing with every case) in
the transaction of the report that triggered the fold, and its last statement looked for a cell's one remaining case
with a float comparison that no index serves (a scan of map_case_state per such cell).

Now the upsert of the refresh returns the cells it wrote, and only those are looked at again: the ones left with no
case are deleted by key, and the ones left with one case whose id was forgotten find it through the index on
(cx16, cy16) with integer bounds. This is exact because only a refresh changes a case cell, and a refresh leaves no
cell with n = 0 and no cell of one case with a forgotten id among those it wrote; cells it did not write keep what
the last refresh left them (the invariant holds from 0014's fold of the stored reports on).

The downgrade restores 0014's function from 0014's own file.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import importlib.util
import re
from pathlib import Path

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

REFRESH = """
CREATE OR REPLACE FUNCTION map_cases_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  -- Cells (zoom, cx, cy) to look at again: e_ left with no case, l_ left with one case and no id for it.
  e_zoom smallint[];
  e_cx integer[];
  e_cy integer[];
  l_zoom smallint[];
  l_cx integer[];
  l_cy integer[];
  was_shown bigint[];  -- of `ids`, the cases that were shown: only their ids can be named by a cell
BEGIN
  IF coalesce(cardinality(ids), 0) = 0 THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(map_fold_lock_key());
  WITH new AS (
    SELECT c.id AS case_id,
           floor(ST_X(c.geom) * 20037508.342789244 / 180 / (40075016.686::float8 / 262144))::integer AS cx16,
           floor(ln(tan(radians(90 + greatest(ST_Y(c.geom), -89.999999)) / 2)) * 6378137
                 / (40075016.686::float8 / 262144))::integer AS cy16,
           ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
           CASE WHEN c.facility_id IS NULL THEN 0 ELSE coalesce(
             (SELECT p.population_served FROM facility_population_latest p WHERE p.facility_id = c.facility_id), 0)
           END AS population
    FROM damage_case c
    WHERE c.id = ANY(ids) AND map_case_is_damage(c.status)
      AND EXISTS (SELECT 1 FROM map_case_summary m WHERE m.case_id = c.id)
  ), old AS (
    SELECT * FROM map_case_state s WHERE s.case_id = ANY(ids)
  ), gone AS (
    DELETE FROM map_case_state s WHERE s.case_id = ANY(ids) AND s.case_id NOT IN (SELECT case_id FROM new)
  ), kept AS (
    INSERT INTO map_case_state AS s SELECT * FROM new
    ON CONFLICT (case_id) DO UPDATE SET cx16 = excluded.cx16, cy16 = excluded.cy16, lon = excluded.lon,
                                        lat = excluded.lat, population = excluded.population
  ), delta AS (
    SELECT z AS zoom, floor(d.cx16 / 2::float8 ^ (16 - z)) AS cx, floor(d.cy16 / 2::float8 ^ (16 - z)) AS cy,
           sum(d.n) AS n, sum(d.n * d.lon) AS sum_lon, sum(d.n * d.lat) AS sum_lat,
           sum(d.n * d.population) AS population, min(d.case_id) FILTER (WHERE d.n > 0) AS added
    FROM (SELECT case_id, cx16, cy16, lon, lat, population, 1 AS n FROM new
          UNION ALL
          SELECT case_id, cx16, cy16, lon, lat, population, -1 FROM old) d
    CROSS JOIN generate_series(0, 16) z
    GROUP BY 1, 2, 3
  ), written AS (
    INSERT INTO map_case_cell AS c (zoom, cx, cy, n, sum_lon, sum_lat, population, one)
    SELECT zoom, cx, cy, n, sum_lon, sum_lat, population, added FROM delta
    ON CONFLICT (zoom, cx, cy) DO UPDATE
      SET n = c.n + excluded.n, sum_lon = c.sum_lon + excluded.sum_lon, sum_lat = c.sum_lat + excluded.sum_lat,
          population = c.population + excluded.population, one = least(c.one, excluded.one)
    RETURNING c.zoom, c.cx, c.cy, c.n, c.one
  )  -- (a fold's first reports only add cases, with their ids: then all three lists are empty)
  SELECT (SELECT array_agg(case_id) FROM old),
         array_agg(zoom) FILTER (WHERE n = 0), array_agg(cx) FILTER (WHERE n = 0),
         array_agg(cy) FILTER (WHERE n = 0), array_agg(zoom) FILTER (WHERE n = 1 AND one IS NULL),
         array_agg(cx) FILTER (WHERE n = 1 AND one IS NULL), array_agg(cy) FILTER (WHERE n = 1 AND one IS NULL)
  INTO was_shown, e_zoom, e_cx, e_cy, l_zoom, l_cx, l_cy
  FROM written;
  IF e_zoom IS NOT NULL THEN
    DELETE FROM map_case_cell c USING unnest(e_zoom, e_cx, e_cy) e(zoom, cx, cy)
    WHERE c.zoom = e.zoom AND c.cx = e.cx AND c.cy = e.cy AND c.n = 0;
  END IF;
  IF was_shown IS NOT NULL THEN
    -- A cell that names one of these cases forgets it unless the case is still in it.
    WITH forgot AS (
      UPDATE map_case_cell c SET one = NULL
      WHERE c.one = ANY(was_shown)
        AND NOT EXISTS (SELECT 1 FROM map_case_state s WHERE s.case_id = c.one
                          AND floor(s.cx16 / 2::float8 ^ (16 - c.zoom)) = c.cx
                          AND floor(s.cy16 / 2::float8 ^ (16 - c.zoom)) = c.cy)
      RETURNING c.zoom, c.cx, c.cy, c.n)
    SELECT l_zoom || array_agg(zoom), l_cx || array_agg(cx), l_cy || array_agg(cy) INTO l_zoom, l_cx, l_cy
    FROM forgot WHERE n = 1;
  END IF;
  IF l_zoom IS NOT NULL THEN
    -- A cell left with one case whose id it forgot: that case is the only state row inside the cell (found
    -- through the index on cx16, cy16: integer bounds).
    UPDATE map_case_cell c
    SET one = (SELECT min(s.case_id) FROM map_case_state s
               WHERE s.cx16 BETWEEN c.cx * (1 << (16 - c.zoom)) AND (c.cx + 1) * (1 << (16 - c.zoom)) - 1
                 AND s.cy16 BETWEEN c.cy * (1 << (16 - c.zoom)) AND (c.cy + 1) * (1 << (16 - c.zoom)) - 1)
    FROM unnest(l_zoom, l_cx, l_cy) l(zoom, cx, cy)
    WHERE c.zoom = l.zoom AND c.cx = l.cx AND c.cy = l.cy AND c.one IS NULL AND c.n = 1;
  END IF;
END
$$;
"""


def _0014_function(name: str) -> str:
    """0014's own CREATE FUNCTION statement of `name`, as that file has it, made a CREATE OR REPLACE."""
    path = Path(__file__).with_name("0014_map_aggregates.py")
    spec = importlib.util.spec_from_file_location("migration_0014", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: list[str] = re.findall(rf"^CREATE FUNCTION {name}\(.*?^\$\$;$", module.UPGRADE, flags=re.S | re.M)
    assert len(found) == 1, f"0014 defines {name} once"
    return found[0].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.execute(REFRESH)


def downgrade() -> None:
    op.execute(_0014_function("map_cases_refresh"))
