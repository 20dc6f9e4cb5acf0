"""Map aggregates maintained as reports arrive: report clusters per zoom, per-case report summaries, a cheap count.

The coordinator map clusters reports on a Web-Mercator grid (app/repo/map.py). Without filters, a view's cells that
lie wholly inside it are read from `map_report_cell` (one row per zoom 0-16 and grid cell: count, sums of lon and
lat, one member id) instead of grouping every raw point again.

Inserting a report does not touch those rows (they are hot: every report in a region updates the same low-zoom
cells, and holding their locks until commit would serialise ingestion). It appends the report to
`map_report_pending`, an unindexed queue. Every 64th insert statement (or any statement of 64 reports or more)
folds the queue into the cells in the same transaction, under an advisory lock that only one folder holds; when
another folder holds it, the queue simply waits for the next fold. A fold deletes queued rows and adds them to the
cells in one transaction, so every snapshot (on the primary or on a streaming replica) sees each report either in
a cell or in the queue, never both and never neither: readers add the queued reports to the cells themselves.

Cell numbers are those of the map's query: floor(x / cell_m), floor(y / cell_m) in spherical-Mercator metres, with
cell_m(z) = 40075016.686 / 4 / 2^z. The fold computes the zoom-16 cell and halves it (floor(cx / 2^(16 - z))),
which gives the same integers exactly: cell sizes differ by powers of two, and dividing by a power of two is exact.

Damage cases are kept the same way in `map_case_cell`, from `map_case_state` (the cases shown: damage status and a
folded report), but synchronously: the transaction that changes what a case contributes (its first folded report,
its status, place or facility, a new population figure, a deletion) updates its cells under the same lock.

Deleting or updating reports (maintenance only: reports are append-only) takes the lock, so it waits for a fold
in progress, then takes the removed reports out of the queue or out of their cells. TRUNCATE empties everything.
tests/test_map_aggregates.py checks that the clusters read this way equal those of the raw rows.
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UPGRADE = """
-- Reports already folded, per zoom and grid cell. `one` is a member's id (the least id added, NULL after that one
-- was deleted); when n = 1 it is always the one report in the cell. The second index serves ranges of cell rows
-- (cy) as the primary key serves ranges of columns (cx).
CREATE TABLE map_report_cell (
  zoom     smallint NOT NULL CHECK (zoom BETWEEN 0 AND 16),
  cx       integer NOT NULL,
  cy       integer NOT NULL,
  n        bigint NOT NULL CHECK (n >= 0),  -- 0 only inside a removal, which deletes such rows
  sum_lon  double precision NOT NULL,
  sum_lat  double precision NOT NULL,
  one      uuid,
  PRIMARY KEY (zoom, cx, cy)
);
CREATE INDEX map_report_cell_rows_idx ON map_report_cell (zoom, cy, cx);

-- Reports inserted since the last fold. It stays short, but every fold leaves its rows dead until a vacuum, and
-- readers scan it: autovacuum comes after 200 dead rows whatever the table's size. The index serves a single case's
-- queued reports.
CREATE TABLE map_report_pending (
  id        uuid NOT NULL,
  case_id   bigint NOT NULL,
  severity  severity NOT NULL,
  hazards   hazard[] NOT NULL,
  lon       double precision NOT NULL,
  lat       double precision NOT NULL
) WITH (autovacuum_vacuum_threshold = 200, autovacuum_vacuum_scale_factor = 0);
CREATE INDEX map_report_pending_case_idx ON map_report_pending (case_id);

-- Per case, its folded reports (the map shows a case only when it has reports of its own): how many, the worst
-- severity and every hazard named (in the enum's order, as array_agg(DISTINCT) gives them).
CREATE TABLE map_case_summary (
  case_id   bigint PRIMARY KEY,
  reports   bigint NOT NULL,
  severity  severity NOT NULL,
  hazards   hazard[] NOT NULL
);

-- How many reports the cells hold, so that the map's change cursor need not count the report table.
CREATE TABLE map_fold_state (
  only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  folded    bigint NOT NULL
);
INSERT INTO map_fold_state VALUES (true, 0);

CREATE SEQUENCE map_fold_tick;

-- The change cursor reads max(updated_at) of the cases; without an index that is a scan of every case.
CREATE INDEX damage_case_updated_idx ON damage_case (updated_at);

-- The lock that folders and removers share (any constant; this one spells "map fold").
CREATE FUNCTION map_fold_lock_key() RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 7233639770896123904::bigint
$$;

-- Damage cases on the map, the same way: a case is shown when its status is damage (not rejected or duplicate:
-- taxonomy.DAMAGE_CASE_STATUSES) and it has a report of its own. map_case_state holds the cases shown whose
-- reports are folded, with their place and population served; map_case_cell sums them per zoom and cell (`one`:
-- a member's id, the one case when n = 1). Cases whose only reports are still queued are added by the readers.
-- A case's row is refreshed in the transaction that changes what it contributes: a fold that gives it its first
-- report, a change of its status, place or facility, a new population figure, a deletion.
CREATE FUNCTION map_case_is_damage(status case_status) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT status NOT IN ('rejected', 'duplicate')
$$;

CREATE TABLE map_case_state (
  case_id     bigint PRIMARY KEY,
  cx16        integer NOT NULL,
  cy16        integer NOT NULL,
  lon         double precision NOT NULL,
  lat         double precision NOT NULL,
  population  double precision NOT NULL
);
CREATE INDEX map_case_state_cell_idx ON map_case_state (cx16, cy16);

CREATE TABLE map_case_cell (
  zoom        smallint NOT NULL CHECK (zoom BETWEEN 0 AND 16),
  cx          integer NOT NULL,
  cy          integer NOT NULL,
  n           bigint NOT NULL,  -- no CHECK: a refresh's upsert proposes negative deltas; it deletes rows of 0
  sum_lon     double precision NOT NULL,
  sum_lat     double precision NOT NULL,
  population  double precision NOT NULL,
  one         bigint,
  PRIMARY KEY (zoom, cx, cy)
);
CREATE INDEX map_case_cell_rows_idx ON map_case_cell (zoom, cy, cx);
CREATE INDEX map_case_cell_one_idx ON map_case_cell (one);

-- Recompute what the cases `ids` contribute (each is gone, hidden or shown with its current place and figures).
CREATE FUNCTION map_cases_refresh(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
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
  )
  INSERT INTO map_case_cell AS c (zoom, cx, cy, n, sum_lon, sum_lat, population, one)
  SELECT zoom, cx, cy, n, sum_lon, sum_lat, population, added FROM delta
  ON CONFLICT (zoom, cx, cy) DO UPDATE
    SET n = c.n + excluded.n, sum_lon = c.sum_lon + excluded.sum_lon, sum_lat = c.sum_lat + excluded.sum_lat,
        population = c.population + excluded.population, one = least(c.one, excluded.one);
  DELETE FROM map_case_cell c WHERE c.n = 0;
  -- A cell that names one of these cases forgets it unless the case is still in it.
  UPDATE map_case_cell c SET one = NULL
  WHERE c.one = ANY(ids)
    AND NOT EXISTS (SELECT 1 FROM map_case_state s WHERE s.case_id = c.one
                      AND floor(s.cx16 / 2::float8 ^ (16 - c.zoom)) = c.cx
                      AND floor(s.cy16 / 2::float8 ^ (16 - c.zoom)) = c.cy);
  -- A cell left with one case whose id it forgot: that case is the only state row inside the cell.
  UPDATE map_case_cell c
  SET one = (SELECT min(s.case_id) FROM map_case_state s
             WHERE s.cx16 BETWEEN c.cx * 2 ^ (16 - c.zoom) AND (c.cx + 1) * 2 ^ (16 - c.zoom) - 1
               AND s.cy16 BETWEEN c.cy * 2 ^ (16 - c.zoom) AND (c.cy + 1) * 2 ^ (16 - c.zoom) - 1)
  WHERE c.one IS NULL AND c.n = 1;
END
$$;

CREATE FUNCTION map_case_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM map_cases_refresh(ARRAY(SELECT id FROM old_cases));
  ELSE  -- only what changes a case's place, visibility or population (most updates change none of them)
    PERFORM map_cases_refresh(ARRAY(
      SELECT n.id FROM new_cases n JOIN old_cases o ON o.id = n.id
      WHERE map_case_is_damage(n.status) IS DISTINCT FROM map_case_is_damage(o.status)
         OR NOT ST_Equals(n.geom, o.geom) OR n.facility_id IS DISTINCT FROM o.facility_id));
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION map_population_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM map_cases_refresh(ARRAY(SELECT case_id FROM map_case_state));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM map_cases_refresh(ARRAY(SELECT c.id FROM damage_case c WHERE c.facility_id IN
                                      (SELECT facility_id FROM old_figures)));
  ELSE
    PERFORM map_cases_refresh(ARRAY(SELECT c.id FROM damage_case c WHERE c.facility_id IN
                                      (SELECT facility_id FROM new_figures)));
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER damage_case_map_updated AFTER UPDATE ON damage_case REFERENCING OLD TABLE AS old_cases
  NEW TABLE AS new_cases FOR EACH STATEMENT EXECUTE FUNCTION map_case_changed();
CREATE TRIGGER damage_case_map_deleted AFTER DELETE ON damage_case REFERENCING OLD TABLE AS old_cases
  FOR EACH STATEMENT EXECUTE FUNCTION map_case_changed();
CREATE TRIGGER facility_population_map_inserted AFTER INSERT ON facility_population
  REFERENCING NEW TABLE AS new_figures FOR EACH STATEMENT EXECUTE FUNCTION map_population_changed();
CREATE TRIGGER facility_population_map_updated AFTER UPDATE ON facility_population
  REFERENCING NEW TABLE AS new_figures FOR EACH STATEMENT EXECUTE FUNCTION map_population_changed();
CREATE TRIGGER facility_population_map_deleted AFTER DELETE ON facility_population
  REFERENCING OLD TABLE AS old_figures FOR EACH STATEMENT EXECUTE FUNCTION map_population_changed();
CREATE TRIGGER facility_population_map_truncated AFTER TRUNCATE ON facility_population
  FOR EACH STATEMENT EXECUTE FUNCTION map_population_changed();

-- Move the queue into the cells; does nothing when another transaction is folding.
CREATE FUNCTION map_report_fold() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  first_reported bigint[];
BEGIN
  IF NOT pg_try_advisory_xact_lock(map_fold_lock_key()) THEN
    RETURN;
  END IF;
  WITH moved AS (
    DELETE FROM map_report_pending RETURNING id, case_id, severity, hazards, lon, lat
  ), base AS (  -- zoom 16 first: the other zooms group these few rows, not every point again
    SELECT floor(lon * 20037508.342789244 / 180 / (40075016.686::float8 / 262144)) AS cx,
           floor(ln(tan(radians(90 + greatest(lat, -89.999999)) / 2)) * 6378137
                 / (40075016.686::float8 / 262144)) AS cy,
           count(*) AS n, sum(lon) AS sum_lon, sum(lat) AS sum_lat, min(id::text) AS one
    FROM moved GROUP BY 1, 2
  ), cells AS (
    INSERT INTO map_report_cell AS c (zoom, cx, cy, n, sum_lon, sum_lat, one)
    SELECT z, floor(base.cx / 2::float8 ^ (16 - z)), floor(base.cy / 2::float8 ^ (16 - z)),
           sum(base.n), sum(base.sum_lon), sum(base.sum_lat), min(base.one)::uuid
    FROM base CROSS JOIN generate_series(0, 16) z
    GROUP BY 1, 2, 3
    ON CONFLICT (zoom, cx, cy) DO UPDATE
      SET n = c.n + excluded.n, sum_lon = c.sum_lon + excluded.sum_lon, sum_lat = c.sum_lat + excluded.sum_lat,
          one = least(c.one, excluded.one)
  ), cases AS (
    INSERT INTO map_case_summary AS s (case_id, reports, severity, hazards)
    SELECT m.case_id, count(DISTINCT m.id), max(m.severity),
           coalesce(array_agg(DISTINCT h) FILTER (WHERE h IS NOT NULL), '{}')
    FROM moved m LEFT JOIN LATERAL unnest(m.hazards) h ON true GROUP BY m.case_id
    ON CONFLICT (case_id) DO UPDATE
      SET reports = s.reports + excluded.reports, severity = greatest(s.severity, excluded.severity),
          hazards = ARRAY(SELECT DISTINCT h FROM unnest(s.hazards || excluded.hazards) h ORDER BY h)
  ), fresh AS (  -- cases whose first reports these are
    SELECT DISTINCT m.case_id FROM moved m WHERE NOT EXISTS (SELECT 1 FROM map_case_state s WHERE s.case_id = m.case_id)
  ), counted AS (
    UPDATE map_fold_state SET folded = folded + (SELECT count(*) FROM moved)
  )
  SELECT array_agg(case_id) INTO first_reported FROM fresh;
  PERFORM map_cases_refresh(first_reported);  -- after the statement above: it reads the new summaries
END
$$;

-- Take reports out of the aggregates (they are already gone from the report table).
CREATE FUNCTION map_reports_removed(ids uuid[], case_ids bigint[], lons float8[], lats float8[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(map_fold_lock_key());
  CREATE TEMP TABLE map_removed ON COMMIT DROP AS
    SELECT g.id, g.case_id, g.lon, g.lat,
           floor(g.lon * 20037508.342789244 / 180 / (40075016.686::float8 / 262144)) AS cx,
           floor(ln(tan(radians(90 + greatest(g.lat, -89.999999)) / 2)) * 6378137
                 / (40075016.686::float8 / 262144)) AS cy
    FROM unnest(ids, case_ids, lons, lats) AS g(id, case_id, lon, lat);
  -- Those still queued leave the queue and were never in a cell.
  DELETE FROM map_removed m USING map_report_pending p WHERE p.id = m.id;
  DELETE FROM map_report_pending p WHERE p.id = ANY(ids);
  UPDATE map_report_cell c
  SET n = c.n - d.n, sum_lon = c.sum_lon - d.sum_lon, sum_lat = c.sum_lat - d.sum_lat
  FROM (SELECT z AS zoom, floor(m.cx / 2::float8 ^ (16 - z)) AS cx, floor(m.cy / 2::float8 ^ (16 - z)) AS cy,
               count(*) AS n, sum(m.lon) AS sum_lon, sum(m.lat) AS sum_lat
        FROM map_removed m CROSS JOIN generate_series(0, 16) z GROUP BY 1, 2, 3) d
  WHERE c.zoom = d.zoom AND c.cx = d.cx AND c.cy = d.cy;
  DELETE FROM map_report_cell c WHERE c.n = 0;
  -- A cell whose named member was removed forgets it; if one report is left, find it (the cell holds just it).
  UPDATE map_report_cell c SET one = NULL WHERE c.one IN (SELECT id FROM map_removed);
  UPDATE map_report_cell c
  SET one = (SELECT r.id FROM report r
             WHERE r.geom && ST_MakeEnvelope(
                     (c.cx * (40075016.686::float8 / 4 / 2::float8 ^ c.zoom)) * 180 / 20037508.342789244 - 1e-7,
                     degrees(2 * atan(exp(c.cy * (40075016.686::float8 / 4 / 2::float8 ^ c.zoom) / 6378137))
                             - pi() / 2) - 1e-7,
                     ((c.cx + 1) * (40075016.686::float8 / 4 / 2::float8 ^ c.zoom)) * 180 / 20037508.342789244
                       + 1e-7,
                     degrees(2 * atan(exp((c.cy + 1) * (40075016.686::float8 / 4 / 2::float8 ^ c.zoom)
                                          / 6378137)) - pi() / 2) + 1e-7, 4326)
               AND floor(ST_X(r.geom) * 20037508.342789244 / 180 / (40075016.686::float8 / 4 / 2::float8 ^ c.zoom))
                   = c.cx
               AND floor(ln(tan(radians(90 + greatest(ST_Y(r.geom), -89.999999)) / 2)) * 6378137
                         / (40075016.686::float8 / 4 / 2::float8 ^ c.zoom)) = c.cy
               AND NOT EXISTS (SELECT 1 FROM map_report_pending p WHERE p.id = r.id)
             ORDER BY r.id::text LIMIT 1)
  WHERE c.one IS NULL AND c.n = 1;
  UPDATE map_fold_state SET folded = folded - (SELECT count(*) FROM map_removed);
  -- The summaries of the cases that lost reports, again from their folded reports.
  DELETE FROM map_case_summary s WHERE s.case_id = ANY(case_ids);
  INSERT INTO map_case_summary (case_id, reports, severity, hazards)
  SELECT r.case_id, count(DISTINCT r.id), max(r.severity),
         coalesce(array_agg(DISTINCT h) FILTER (WHERE h IS NOT NULL), '{}')
  FROM report r LEFT JOIN LATERAL unnest(r.hazards) h ON true
  WHERE r.case_id = ANY(case_ids) AND NOT EXISTS (SELECT 1 FROM map_report_pending p WHERE p.id = r.id)
  GROUP BY r.case_id;
  PERFORM map_cases_refresh(case_ids);
  DROP TABLE map_removed;
END
$$;

CREATE FUNCTION map_report_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  added bigint;
BEGIN
  INSERT INTO map_report_pending (id, case_id, severity, hazards, lon, lat)
  SELECT id, case_id, severity, hazards, ST_X(geom), ST_Y(geom) FROM new_reports;
  GET DIAGNOSTICS added = ROW_COUNT;
  IF added >= 64 OR (added > 0 AND nextval('map_fold_tick') % 64 = 0) THEN
    PERFORM map_report_fold();
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION map_report_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM map_reports_removed(ARRAY(SELECT id FROM old_reports), ARRAY(SELECT case_id FROM old_reports),
                              ARRAY(SELECT ST_X(geom) FROM old_reports), ARRAY(SELECT ST_Y(geom) FROM old_reports));
  RETURN NULL;
END
$$;

-- An update (maintenance only) is the old rows removed and the new ones queued.
CREATE FUNCTION map_report_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM map_reports_removed(ARRAY(SELECT id FROM old_reports), ARRAY(SELECT case_id FROM old_reports),
                              ARRAY(SELECT ST_X(geom) FROM old_reports), ARRAY(SELECT ST_Y(geom) FROM old_reports));
  INSERT INTO map_report_pending (id, case_id, severity, hazards, lon, lat)
  SELECT id, case_id, severity, hazards, ST_X(geom), ST_Y(geom) FROM new_reports;
  RETURN NULL;
END
$$;

CREATE FUNCTION map_report_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE map_report_cell, map_report_pending, map_case_summary, map_case_state, map_case_cell;
  UPDATE map_fold_state SET folded = 0;
  RETURN NULL;
END
$$;

CREATE TRIGGER report_map_inserted AFTER INSERT ON report REFERENCING NEW TABLE AS new_reports
  FOR EACH STATEMENT EXECUTE FUNCTION map_report_inserted();
CREATE TRIGGER report_map_deleted AFTER DELETE ON report REFERENCING OLD TABLE AS old_reports
  FOR EACH STATEMENT EXECUTE FUNCTION map_report_deleted();
CREATE TRIGGER report_map_updated AFTER UPDATE ON report REFERENCING OLD TABLE AS old_reports
  NEW TABLE AS new_reports FOR EACH STATEMENT EXECUTE FUNCTION map_report_updated();
CREATE TRIGGER report_map_truncated AFTER TRUNCATE ON report
  FOR EACH STATEMENT EXECUTE FUNCTION map_report_truncated();
CREATE TRIGGER damage_case_map_truncated AFTER TRUNCATE ON damage_case
  FOR EACH STATEMENT EXECUTE FUNCTION map_report_truncated();

-- The reports already stored.
INSERT INTO map_report_pending (id, case_id, severity, hazards, lon, lat)
SELECT id, case_id, severity, hazards, ST_X(geom), ST_Y(geom) FROM report;
SELECT map_report_fold();
"""

DOWNGRADE = """
DROP TRIGGER facility_population_map_truncated ON facility_population;
DROP TRIGGER facility_population_map_deleted ON facility_population;
DROP TRIGGER facility_population_map_updated ON facility_population;
DROP TRIGGER facility_population_map_inserted ON facility_population;
DROP TRIGGER damage_case_map_truncated ON damage_case;
DROP TRIGGER damage_case_map_deleted ON damage_case;
DROP TRIGGER damage_case_map_updated ON damage_case;
DROP TRIGGER report_map_truncated ON report;
DROP TRIGGER report_map_updated ON report;
DROP TRIGGER report_map_deleted ON report;
DROP TRIGGER report_map_inserted ON report;
DROP FUNCTION map_report_truncated();
DROP FUNCTION map_report_updated();
DROP FUNCTION map_report_deleted();
DROP FUNCTION map_report_inserted();
DROP FUNCTION map_reports_removed(uuid[], bigint[], float8[], float8[]);
DROP FUNCTION map_report_fold();
DROP FUNCTION map_population_changed();
DROP FUNCTION map_case_changed();
DROP FUNCTION map_cases_refresh(bigint[]);
DROP TABLE map_case_cell, map_case_state;
DROP FUNCTION map_case_is_damage(case_status);
DROP FUNCTION map_fold_lock_key();
DROP INDEX damage_case_updated_idx;
DROP SEQUENCE map_fold_tick;
DROP TABLE map_fold_state, map_case_summary, map_report_pending, map_report_cell;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
