"""Hardening: sign-in sessions the server can end, and a coordinator's acceptance of a crew's estimate.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
-- One row per sign-in. The session cookie and the crew's remember cookie both name it, so signing out (ended_at)
-- ends both on the server, also for copies of the cookies taken before.
CREATE TABLE login_session (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     bigint NOT NULL REFERENCES app_user ON DELETE CASCADE,
  started_at  timestamptz NOT NULL DEFAULT now(),
  ended_at    timestamptz
);
CREATE INDEX login_session_user_idx ON login_session (user_id) WHERE ended_at IS NULL;

-- The estimate (hours) a coordinator accepted although it is outside the plausible range; a different later
-- estimate is flagged again.
ALTER TABLE damage_case ADD COLUMN repair_hours_accepted double precision CHECK (repair_hours_accepted > 0);
"""

DOWNGRADE = """
ALTER TABLE damage_case DROP COLUMN repair_hours_accepted;
DROP TABLE login_session;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
