"""Ingestion in one round trip (placeholder: filled by the ingestion work of issue 17).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = """
SELECT 1;
"""

DOWNGRADE = """
SELECT 1;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
