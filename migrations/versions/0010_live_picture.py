"""The live picture: the share of a degraded facility's customers without supply, a coordinator's operational
status for a case, and each case's operational status as its reports (or that coordinator) say.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = """
-- "Roughly what share of customers has no supply", with a degraded status (0-1).
ALTER TABLE report ADD COLUMN share_out double precision CHECK (share_out >= 0 AND share_out <= 1);
CREATE OR REPLACE VIEW report_view AS
SELECT r.id::text AS id, r.case_id, r.facility_id, r.kind, r.severity, r.status, r.progress, r.components,
       r.hazards::text[] AS hazards, r.repair_hours, r.crew_size, r.materials, r.notes, r.accuracy_m,
       r.observed_at, r.received_at,
       r.reporter_id, r.content_hash, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat, r.geom,
       (SELECT coalesce(array_agg(p.id::text ORDER BY p.received_at, p.id), '{}') FROM report_photo p
        WHERE p.report_id = r.id) AS photo_ids,
       r.share_out
FROM report r;

-- A coordinator's operational status of a case (an audited action) wins over its reports until cleared.
ALTER TABLE damage_case ADD COLUMN operational_status operational_status,
                        ADD COLUMN share_out double precision CHECK (share_out >= 0 AND share_out <= 1);

-- Each case's operational status: the coordinator's if set, else the latest observation (observed_at, then
-- received_at) among the reports of the case and the cases merged into it; with who said it, when, and every
-- status its reports gave (they may disagree).
CREATE VIEW case_operational_status AS
SELECT c.id AS case_id,
       coalesce(c.operational_status, latest.status) AS operational_status,
       CASE WHEN c.operational_status IS NOT NULL THEN c.share_out ELSE latest.share_out END AS share_out,
       CASE WHEN c.operational_status IS NOT NULL THEN 'coordinator' ELSE 'report' END AS set_by,
       CASE WHEN c.operational_status IS NOT NULL THEN ov.username ELSE latest.username END AS set_by_user,
       CASE WHEN c.operational_status IS NOT NULL THEN ov.at ELSE latest.observed_at END AS set_at,
       CASE WHEN c.operational_status IS NOT NULL THEN ov.reason END AS reason,
       latest.report_id,
       seen.statuses AS reported_statuses
FROM damage_case c
LEFT JOIN LATERAL (
  SELECT r.status, r.share_out, r.observed_at, r.id::text AS report_id, u.username
  FROM case_members(ARRAY[c.id]) m JOIN report r ON r.case_id = m.member_id
  LEFT JOIN app_user u ON u.id = r.reporter_id
  ORDER BY r.observed_at DESC, r.received_at DESC, r.id DESC LIMIT 1) latest ON true
LEFT JOIN LATERAL (
  SELECT array_agg(DISTINCT r.status::text ORDER BY r.status::text) AS statuses
  FROM case_members(ARRAY[c.id]) m JOIN report r ON r.case_id = m.member_id) seen ON true
LEFT JOIN LATERAL (
  SELECT e.at, e.reason, coalesce(u.username, 'system') AS username FROM case_event e
  LEFT JOIN app_user u ON u.id = e.actor_id
  WHERE e.case_id = c.id AND e.action = 'set_operational_status' ORDER BY e.at DESC, e.id DESC LIMIT 1) ov
  ON true;
"""

DOWNGRADE = """
DROP VIEW case_operational_status;
ALTER TABLE damage_case DROP COLUMN share_out, DROP COLUMN operational_status;
DROP VIEW report_view;
CREATE VIEW report_view AS
SELECT r.id::text AS id, r.case_id, r.facility_id, r.kind, r.severity, r.status, r.progress, r.components,
       r.hazards::text[] AS hazards, r.repair_hours, r.crew_size, r.materials, r.notes, r.accuracy_m,
       r.observed_at, r.received_at,
       r.reporter_id, r.content_hash, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat, r.geom,
       (SELECT coalesce(array_agg(p.id::text ORDER BY p.received_at, p.id), '{}') FROM report_photo p
        WHERE p.report_id = r.id) AS photo_ids
FROM report r;
ALTER TABLE report DROP COLUMN share_out;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
