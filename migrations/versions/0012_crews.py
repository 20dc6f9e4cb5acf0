"""Crews as records: name, base, skills, shift with its time zone, status and last position, and their accounts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UPGRADE = """
-- available: free for work; en_route: travelling to a site; on_site: at a site (a field report says so);
-- off_shift: outside its shift.
CREATE TYPE crew_status AS ENUM ('available', 'en_route', 'on_site', 'off_shift');

-- A crew: where it starts from (base), what work it may take (skills, geo.taxonomy.CREW_SKILLS), when it works
-- (shift_start to shift_end on the clock of time_zone, an IANA name the app checks; an overnight shift ends before
-- it starts), where it stands (status, since status_at) and where it was last seen (position, at position_at: the
-- observed time of its members' latest report).
CREATE TABLE crew (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text NOT NULL UNIQUE CHECK (btrim(name) <> '' AND length(name) <= 100),
  base         geometry(Point, 4326) NOT NULL CHECK (is_lonlat(base)),
  skills       text[] NOT NULL DEFAULT '{}' CHECK (skills <@ ARRAY['line', 'substation', 'generation', 'hv']),
  shift_start  time NOT NULL,
  shift_end    time NOT NULL CHECK (shift_end <> shift_start),
  time_zone    text NOT NULL CHECK (time_zone <> ''),
  status       crew_status NOT NULL DEFAULT 'available',
  status_at    timestamptz NOT NULL DEFAULT now(),
  position     geometry(Point, 4326) CHECK (is_lonlat(position)),
  position_at  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((position IS NULL) = (position_at IS NULL))
);

-- The accounts that belong to a crew; an account belongs to at most one crew.
CREATE TABLE crew_member (
  crew_id  bigint NOT NULL REFERENCES crew ON DELETE CASCADE,
  user_id  bigint NOT NULL UNIQUE REFERENCES app_user ON DELETE CASCADE,
  PRIMARY KEY (crew_id, user_id)
);
"""

DOWNGRADE = """
DROP TABLE crew_member, crew;
DROP TYPE crew_status;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
