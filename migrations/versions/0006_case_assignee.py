"""Case assignment to a crew account: the account a case is assigned to, besides the crew's free-text label.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
-- The account whose crew works on the case (they see it under "My work"); assigned_crew stays the label people read.
-- Accounts are deactivated, never deleted, so the reference needs no ON DELETE rule.
ALTER TABLE damage_case ADD COLUMN assigned_user_id bigint REFERENCES app_user;
CREATE INDEX damage_case_assigned_user_idx ON damage_case (assigned_user_id) WHERE assigned_user_id IS NOT NULL;
"""

DOWNGRADE = """
DROP INDEX damage_case_assigned_user_idx;
ALTER TABLE damage_case DROP COLUMN assigned_user_id;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
