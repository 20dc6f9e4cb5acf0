"""Normally-open tie switches (issue 15): closing one joins two facilities, so a dark part of the network can be
fed from a healthy source while the damage that cut it off is repaired.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UPGRADE = """
-- A switch that is open in normal operation between two facilities (facility_a, facility_b; which is which does
-- not matter: power may flow either way once it is closed). remote: closed from the control room, not on site.
-- switch_hours: how long closing it takes, travel included (NULL: the deployment's default for a remote or a
-- manual switch). geom: where it is (NULL: between its two facilities). closed_at/closed_by: when and by whom it
-- was closed in this response (NULL: open, as in normal operation); a closed tie is part of the live network.
CREATE TABLE tie_switch (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id   text NOT NULL UNIQUE CHECK (external_id <> ''),
  name          text NOT NULL CHECK (name <> '' AND length(name) <= 200),
  facility_a    bigint NOT NULL REFERENCES facility ON DELETE CASCADE,
  facility_b    bigint NOT NULL REFERENCES facility ON DELETE CASCADE,
  remote        boolean NOT NULL DEFAULT false,
  switch_hours  double precision CHECK (switch_hours >= 0 AND switch_hours <= 72),
  attributes    jsonb NOT NULL DEFAULT '{}',
  dataset_id    bigint REFERENCES dataset ON DELETE SET NULL,
  geom          geometry(Point, 4326) CHECK (is_lonlat(geom)),
  closed_at     timestamptz,
  closed_by     bigint REFERENCES app_user ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (facility_a <> facility_b),
  CHECK (closed_by IS NULL OR closed_at IS NOT NULL)
);
CREATE INDEX tie_switch_a_idx ON tie_switch (facility_a);
CREATE INDEX tie_switch_b_idx ON tie_switch (facility_b);
"""

DOWNGRADE = """
DROP TABLE tie_switch;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
