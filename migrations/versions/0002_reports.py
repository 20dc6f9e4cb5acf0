"""Reports: follow-up progress on a case, and a notification when a report arrives.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- What a follow-up report says about the repair of its case.
CREATE TYPE report_progress AS ENUM ('repair_started', 'temporarily_restored', 'restored');
ALTER TABLE report ADD COLUMN progress report_progress;

-- A report as the API shows it: coordinates and photo ids alongside the stored columns.
CREATE VIEW report_view AS
SELECT r.id::text AS id, r.case_id, r.facility_id, r.kind, r.severity, r.status, r.progress, r.components,
       r.hazards::text[] AS hazards, r.repair_hours, r.crew_size, r.materials, r.notes, r.accuracy_m,
       r.observed_at, r.received_at,
       r.reporter_id, r.content_hash, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat, r.geom,
       (SELECT coalesce(array_agg(p.id::text ORDER BY p.received_at, p.id), '{}') FROM report_photo p
        WHERE p.report_id = r.id) AS photo_ids
FROM report r;

-- Listeners (the coordinator map) learn of new reports without polling the table.
CREATE FUNCTION notify_report() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('report_inserted', json_build_object('id', NEW.id, 'case_id', NEW.case_id)::text);
  RETURN NEW;
END $$;
CREATE TRIGGER report_notify AFTER INSERT ON report FOR EACH ROW EXECUTE FUNCTION notify_report();
"""

DOWNGRADE = """
DROP VIEW report_view;
DROP TRIGGER report_notify ON report;
DROP FUNCTION notify_report();
ALTER TABLE report DROP COLUMN progress;
DROP TYPE report_progress;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
