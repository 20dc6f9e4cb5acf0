"""Ingestion in one statement, answer included: `ingest_report()` also returns the stored report as the API shows it,
and counts the rate limit in its own statement instead of calling a table function.

Measured under bench/bench_ingest.py (pg_stat_statements, track = all): the rate-limit call cost 0.33 ms of the
1.8 ms a report took inside PostgreSQL, of which the counting statement itself was 0.08 ms (the rest: a PL/pgSQL
table function's loop and tuplestore); and the app read the stored row back with a second statement of its own
(a pipeline, whose client side cost as much as the function call). Now the count is one statement inside the
function, and the function's last statement reads the stored report (as `report_view` shows it, less what the API
hides) into the new OUT column `report`, as JSON text the app sends on unchanged. Rows are read after the advisory
lock, in a snapshot of their own, so a copy stored by a concurrent request is seen (as it was by the app's read).

Rate-limit rows of keys that are never counted again (an address seen once) are dropped too: on a connection's
first count of a key in a new window (rare: once per key, connection and window), with that key's finished windows,
every window that started more than a day ago (by the index on window_start; no limit's window may be longer).
That replaces `forget_old_hits`, which nothing ever called.

The report table's row trigger `report_notify` (migration 0002) goes: it sent a NOTIFY `report_inserted` for every
report, which nothing in the project LISTENs to, and a transaction that notifies takes the database's notify queue
lock at commit and holds it through the WAL flush, so every reporting transaction committed one after another
(no group commit). The downgrade puts it back.

Everything else is 0013's text: the token check, exactly-once storage, the case match, the events and the crew's
move are unchanged. The downgrade restores 0013's two functions from 0013's own file.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

import importlib.util
import re
from pathlib import Path

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

DROP_INGEST = """
DROP FUNCTION ingest_report(bigint, text, boolean, text[], integer, integer, text[], double precision, case_status[],
                            crew_status, uuid, bigint, bigint, facility_kind, severity, operational_status,
                            report_progress, text[], hazard[], double precision, integer, text, text,
                            double precision, timestamptz, text, text, double precision, double precision,
                            double precision);
"""

NOTIFY_GOES = """
DROP TRIGGER report_notify ON report;
DROP FUNCTION notify_report();
"""

NOTIFY_BACK = """
CREATE FUNCTION notify_report() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('report_inserted', json_build_object('id', NEW.id, 'case_id', NEW.case_id)::text);
  RETURN NEW;
END $$;
CREATE TRIGGER report_notify AFTER INSERT ON report FOR EACH ROW EXECUTE FUNCTION notify_report();
"""

RATE_LIMITS = """
-- A connection's first count of `p_keys` in the window starting `p_start`: their finished windows go, and so does
-- every window that started more than a day ago (keys never counted again). Rows another transaction holds are
-- left for the next time.
CREATE FUNCTION rate_limit_forget(p_keys text[], p_start timestamptz) RETURNS void
LANGUAGE sql AS $$
  DELETE FROM rate_limit d WHERE (d.key, d.window_start, d.shard) IN (
    SELECT o.key, o.window_start, o.shard FROM rate_limit o
    WHERE (o.key = ANY (p_keys) AND o.window_start < p_start) OR o.window_start < p_start - interval '1 day'
    FOR UPDATE SKIP LOCKED)
$$;

CREATE OR REPLACE FUNCTION rate_limit_hits(p_keys text[], p_window_s integer)
RETURNS TABLE (key text, hits integer, left_s double precision)
LANGUAGE plpgsql AS $$  -- plpgsql, not sql: it keeps its statements' plans from one call to the next
#variable_conflict use_column
DECLARE
  v_start timestamptz := to_timestamp(floor(extract(epoch FROM now()) / p_window_s) * p_window_s);
  v_left double precision := extract(epoch FROM v_start + make_interval(secs => p_window_s) - now());
  v_first text[];
  v_hit record;
BEGIN
  FOR v_hit IN
    WITH mine AS (
      INSERT INTO rate_limit AS r (key, window_start, shard, hits)
      SELECT DISTINCT k, v_start, pg_backend_pid(), 1 FROM unnest(p_keys) k
      ON CONFLICT (key, window_start, shard) DO UPDATE SET hits = r.hits + 1
      RETURNING r.key, r.hits, (r.xmax = 0) AS first)
    SELECT mine.key, mine.first,
           mine.hits + coalesce((SELECT sum(o.hits) FROM rate_limit o
                                 WHERE o.key = mine.key AND o.window_start = v_start
                                   AND o.shard <> pg_backend_pid()), 0)::integer AS hits
    FROM mine
  LOOP
    key := v_hit.key;
    hits := v_hit.hits;
    left_s := v_left;
    RETURN NEXT;
    IF v_hit.first THEN
      v_first := v_first || v_hit.key;
    END IF;
  END LOOP;
  IF v_first IS NOT NULL THEN
    PERFORM rate_limit_forget(v_first, v_start);
  END IF;
END $$;
"""

INGEST = """
-- One report as the API shows it: report_view's columns in its order, less content_hash and geom (the geometry's
-- JSON would also look up its CRS). tests/test_ingest_path.py holds it equal to GET /api/reports/<id>.
CREATE FUNCTION report_json(p_id uuid) RETURNS text
LANGUAGE plpgsql AS $$  -- plpgsql, not sql: it keeps its plan from one call to the next
BEGIN
  RETURN (SELECT row_to_json(r)::text
          FROM (SELECT v.id, v.case_id, v.facility_id, v.kind, v.severity, v.status, v.progress, v.components,
                       v.hazards, v.repair_hours, v.crew_size, v.materials, v.notes, v.accuracy_m, v.observed_at,
                       v.received_at, v.reporter_id, v.lon, v.lat, v.photo_ids, v.share_out
                FROM report_view v WHERE v.id = p_id::text) r);
END $$;

-- (DROP_INGEST runs before: a new OUT column is a new return type, which CREATE OR REPLACE cannot give.)
-- 0013's function, with the count in one statement and the stored report returned (`report`, JSON text, for
-- outcomes created and existing).
CREATE FUNCTION ingest_report(
  p_user_id bigint, p_token_hash text, p_any_case boolean, p_any_case_roles text[],
  p_limit integer, p_window_s integer, p_limit_keys text[],
  p_match_m double precision, p_open_statuses case_status[], p_crew_status crew_status,
  p_id uuid, p_case_id bigint, p_facility_id bigint, p_kind facility_kind, p_severity severity,
  p_status operational_status, p_progress report_progress, p_components text[], p_hazards hazard[],
  p_repair_hours double precision, p_crew_size integer, p_materials text, p_notes text,
  p_accuracy_m double precision, p_observed_at timestamptz, p_observed_at_text text, p_content_hash text,
  p_lon double precision, p_lat double precision, p_share_out double precision,
  OUT outcome text, OUT retry_after_s double precision, OUT case_id bigint, OUT case_status text,
  OUT assigned_user_id bigint, OUT any_case boolean, OUT report text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_role text;
  v_found record;
  v_case bigint;
  v_facility bigint;
  v_opened text;  -- why this report opened its case, if it did
  v_point geometry := ST_Point(p_lon, p_lat, 4326);
  v_start timestamptz;
  v_first text[];
BEGIN
  -- Who: the token's account, checked here so that a token revoked after a server cached it is refused.
  IF p_token_hash IS NOT NULL THEN
    SELECT u.role::text AS role, t.id, t.last_used_at INTO v_found
    FROM api_token t JOIN app_user u ON u.id = t.user_id
    WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL AND u.active AND u.id = p_user_id;
    IF NOT FOUND THEN
      outcome := 'unauthenticated';
      RETURN;
    END IF;
    v_role := v_found.role;
    IF v_found.last_used_at IS NULL OR v_found.last_used_at < now() - interval '1 minute' THEN
      UPDATE api_token SET last_used_at = now()
      WHERE id = v_found.id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
    END IF;
  ELSIF p_user_id IS NOT NULL AND p_any_case IS NULL THEN
    SELECT u.role::text INTO v_role FROM app_user u WHERE u.id = p_user_id AND u.active;
    IF NOT FOUND THEN
      outcome := 'unauthenticated';
      RETURN;
    END IF;
  END IF;
  any_case := coalesce(p_any_case, v_role = ANY (p_any_case_roles), false);

  IF p_limit > 0 THEN
    -- rate_limit_hits' count as one statement: this connection's rows go up, the shards are summed.
    v_start := to_timestamp(floor(extract(epoch FROM now()) / p_window_s) * p_window_s);
    WITH mine AS (
      INSERT INTO rate_limit AS r (key, window_start, shard, hits)
      SELECT DISTINCT k, v_start, pg_backend_pid(), 1 FROM unnest(p_limit_keys) k
      ON CONFLICT (key, window_start, shard) DO UPDATE SET hits = r.hits + 1
      RETURNING r.key, r.hits, (r.xmax = 0) AS first)
    SELECT max(extract(epoch FROM v_start + make_interval(secs => p_window_s) - now()))
             FILTER (WHERE mine.hits + coalesce((SELECT sum(o.hits) FROM rate_limit o
                                                 WHERE o.key = mine.key AND o.window_start = v_start
                                                   AND o.shard <> pg_backend_pid()), 0) > p_limit),
           array_agg(mine.key) FILTER (WHERE mine.first)
    INTO retry_after_s, v_first
    FROM mine;
    IF v_first IS NOT NULL THEN
      PERFORM rate_limit_forget(v_first, v_start);
    END IF;
    IF retry_after_s IS NOT NULL THEN
      outcome := 'rate_limited';
      RETURN;
    END IF;
  END IF;

  -- Concurrent copies of one report wait here, then find it stored (the next statement's snapshot is newer).
  PERFORM pg_advisory_xact_lock(hashtextextended(p_id::text, 0));
  SELECT r.reporter_id, r.content_hash INTO v_found FROM report r WHERE r.id = p_id;
  IF FOUND THEN
    outcome := CASE WHEN v_found.reporter_id IS DISTINCT FROM p_user_id THEN 'id_taken'
                    WHEN v_found.content_hash <> p_content_hash THEN 'content_differs'
                    ELSE 'existing' END;
    IF outcome = 'existing' THEN
      report := report_json(p_id);
    END IF;
    RETURN;
  END IF;

  IF p_case_id IS NOT NULL THEN
    -- A follow-up: the named case, or the case that absorbed it by merges.
    WITH RECURSIVE chain AS (
      SELECT c.id, c.merged_into, 0 AS depth FROM damage_case c WHERE c.id = p_case_id
      UNION ALL
      SELECT c.id, c.merged_into, chain.depth + 1 FROM damage_case c JOIN chain ON c.id = chain.merged_into
      WHERE chain.depth < 100)
    SELECT d.id, d.facility_id, d.status::text AS status, d.assigned_user_id INTO v_found FROM damage_case d
    WHERE d.id = (SELECT chain.id FROM chain WHERE chain.merged_into IS NULL LIMIT 1)
    FOR UPDATE;
    IF NOT FOUND OR NOT (any_case OR v_found.assigned_user_id IS NOT DISTINCT FROM p_user_id
        OR EXISTS (SELECT 1 FROM report r JOIN case_members(ARRAY[v_found.id]) m ON r.case_id = m.member_id
                   WHERE r.reporter_id = p_user_id)) THEN
      outcome := 'unknown_case';
      RETURN;
    END IF;
    IF p_facility_id IS NOT NULL AND v_found.facility_id IS NOT NULL AND v_found.facility_id <> p_facility_id THEN
      outcome := 'facility_mismatch';
      RETURN;
    END IF;
    v_case := v_found.id;
    v_facility := v_found.facility_id;
    case_status := v_found.status;
    assigned_user_id := v_found.assigned_user_id;
  ELSE
    -- The named facility, or the nearest of this kind within the distance on the ground; with its open case.
    -- FOR SHARE: reports on one case go on side by side; a status change waits for them (and they for it).
    SELECT f.id, open.id INTO v_facility, v_case
    FROM (SELECT f.id FROM facility f WHERE f.id = p_facility_id
          UNION ALL
          (SELECT f.id FROM facility f
           WHERE p_facility_id IS NULL AND f.kind = p_kind
             AND ST_DWithin(f.geom::geography, v_point::geography, p_match_m)
           ORDER BY f.geom::geography <-> v_point::geography, f.id
           LIMIT 1)) f
    LEFT JOIN LATERAL (SELECT c.id FROM damage_case c
                       WHERE c.facility_id = f.id AND c.status = ANY (p_open_statuses) FOR SHARE) open ON true;
    IF NOT FOUND AND p_facility_id IS NOT NULL THEN
      outcome := 'unknown_facility';
      RETURN;
    END IF;
    IF v_facility IS NULL THEN  -- an unknown site: a case of its own for the coordinator to resolve
      INSERT INTO damage_case (facility_id, kind, geom) VALUES (NULL, p_kind, v_point) RETURNING id INTO v_case;
      v_opened := 'report at a site with no registered facility nearby';
    END IF;
    WHILE v_case IS NULL LOOP
      -- The predicate is the unique index's, as it writes it: PostgreSQL infers an arbiter index only from a
      -- predicate it can prove (tests/test_ingest_path.py checks it against taxonomy.CLOSED_CASE_STATUSES).
      INSERT INTO damage_case (facility_id, kind, geom)
      SELECT v_facility, p_kind, coalesce((SELECT ST_PointOnSurface(f.geom) FROM facility f WHERE f.id = v_facility),
                                          v_point)
      ON CONFLICT (facility_id) WHERE facility_id IS NOT NULL AND status NOT IN ('repaired', 'rejected', 'duplicate')
      DO NOTHING
      RETURNING id INTO v_case;
      IF v_case IS NOT NULL THEN
        v_opened := 'first report on this facility';
      ELSE  -- another transaction opened the case between our look and our insert: look again
        SELECT c.id INTO v_case FROM damage_case c
        WHERE c.facility_id = v_facility AND c.status = ANY (p_open_statuses) FOR SHARE;
      END IF;
    END LOOP;
  END IF;

  -- The report, its case's events ("opened" first when it opened the case), and for a crew member's report the
  -- crew's move to its point as of its observed time, audited, unless the crew has newer news (a report sent late
  -- from an outbox never moves it back).
  WITH added AS (
    INSERT INTO report (id, case_id, facility_id, reporter_id, kind, severity, status, progress, components, hazards,
                        repair_hours, crew_size, materials, notes, accuracy_m, observed_at, content_hash, geom,
                        share_out)
    VALUES (p_id, v_case, p_facility_id, p_user_id, p_kind, p_severity, p_status, p_progress, p_components,
            p_hazards, p_repair_hours, p_crew_size, p_materials, p_notes, p_accuracy_m, p_observed_at,
            p_content_hash, v_point, p_share_out)),
  events AS (
    INSERT INTO case_event (case_id, actor_id, action, to_status, reason, data)
    SELECT v_case, e.actor_id, e.action, e.to_status, e.reason, e.data
    FROM (VALUES (1, NULL::bigint, 'opened', (SELECT c.status FROM damage_case c WHERE c.id = v_case), v_opened,
                  '{}'::jsonb),
                 (2, p_user_id, 'report_added', NULL, NULL,
                  jsonb_build_object('report_id', p_id::text, 'matched_facility_id', v_facility)))
         AS e (n, actor_id, action, to_status, reason, data)
    WHERE e.n = 2 OR v_opened IS NOT NULL
    ORDER BY e.n),
  target AS (
    SELECT c.id, c.status::text AS status, ST_X(c.position) AS position_lon, ST_Y(c.position) AS position_lat,
           c.position_at
    FROM crew c JOIN crew_member m ON m.crew_id = c.id
    WHERE p_crew_status IS NOT NULL AND m.user_id = p_user_id
      AND (c.position_at IS NULL OR c.position_at <= p_observed_at)
    FOR UPDATE OF c),
  moved AS (
    UPDATE crew c SET position = v_point, position_at = p_observed_at,
           status = CASE WHEN c.status_at <= p_observed_at THEN p_crew_status ELSE c.status END,
           status_at = CASE WHEN c.status_at <= p_observed_at THEN p_observed_at ELSE c.status_at END,
           updated_at = now()
    FROM target WHERE c.id = target.id
    RETURNING c.id, target.status AS before_status, c.status::text AS status, target.position_lon,
              target.position_lat, target.position_at)
  INSERT INTO audit_event (actor_id, entity, entity_id, action, before, after, reason)
  SELECT p_user_id, 'crew', moved.id::text, 'position_reported',
         jsonb_build_object('status', moved.before_status,
                            'position', CASE WHEN moved.position_at IS NOT NULL
                                             THEN jsonb_build_array(moved.position_lon, moved.position_lat) END,
                            'position_at', to_jsonb(moved.position_at)),
         jsonb_build_object('status', moved.status, 'position', jsonb_build_array(p_lon, p_lat),
                            'position_at', p_observed_at_text),
         'field report ' || p_id::text
  FROM moved;
  report := report_json(p_id);
  case_id := v_case;
  outcome := 'created';
END $$;
"""


def _0013_functions() -> str:
    """0013's own CREATE FUNCTION statements (rate_limit_hits and ingest_report), as that file has them."""
    path = Path(__file__).with_name("0013_ingest.py")
    spec = importlib.util.spec_from_file_location("migration_0013", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = re.findall(r"^CREATE FUNCTION .*?^END \$\$;$", module.UPGRADE, flags=re.S | re.M)
    assert len(found) == 2, "0013 defines rate_limit_hits and ingest_report"
    return "\n".join(found).replace("CREATE FUNCTION rate_limit_hits", "CREATE OR REPLACE FUNCTION rate_limit_hits")


def upgrade() -> None:
    op.execute(RATE_LIMITS)
    op.execute(DROP_INGEST)
    op.execute(INGEST)
    op.execute(NOTIFY_GOES)


def downgrade() -> None:
    op.execute(NOTIFY_BACK)
    op.execute(DROP_INGEST)
    op.execute(_0013_functions())
    op.execute("DROP FUNCTION rate_limit_forget(text[], timestamptz)")
    op.execute("DROP FUNCTION report_json(uuid)")
