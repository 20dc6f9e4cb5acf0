"""A case's access (may a crew start at the site yet?) and the materials it waits for.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = """
-- needs_clearance: the military or the emergency service must clear the site first (unexploded ordnance), expected
-- by access_expected_at; blocked: no way in for now; cleared: a crew may start. NULL: derived from the reports'
-- hazards (uxo -> needs_clearance, access_blocked -> blocked, else cleared) until a coordinator or crew says.
CREATE TYPE access_state AS ENUM ('needs_clearance', 'cleared', 'blocked');
ALTER TABLE damage_case ADD COLUMN access_state access_state,
                        ADD COLUMN access_expected_at timestamptz,
                        ADD COLUMN materials_until timestamptz;
"""

DOWNGRADE = """
ALTER TABLE damage_case DROP COLUMN materials_until, DROP COLUMN access_expected_at, DROP COLUMN access_state;
DROP TYPE access_state;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
