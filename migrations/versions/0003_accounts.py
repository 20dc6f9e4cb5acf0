"""Accounts: rate-limit counters shared by every server process.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
-- Fixed-window counters (login attempts, report submissions) shared by every server process.
-- Unlogged: losing them in a crash only forgives a few attempts.
CREATE UNLOGGED TABLE rate_limit (
  key           text NOT NULL,
  window_start  timestamptz NOT NULL,
  hits          integer NOT NULL CHECK (hits > 0),
  PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limit_window_idx ON rate_limit (window_start);

ALTER TABLE api_token ADD COLUMN last_used_at timestamptz;
ALTER TABLE api_token ADD COLUMN label text;
"""

DOWNGRADE = """
ALTER TABLE api_token DROP COLUMN label;
ALTER TABLE api_token DROP COLUMN last_used_at;
DROP TABLE rate_limit;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
