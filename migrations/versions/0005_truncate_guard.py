"""Append-only tables refuse TRUNCATE as well as UPDATE and DELETE, unless a maintenance transaction asks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_ONLY = ("case_event", "audit_event", "report", "report_photo")

UPGRADE = """
-- Row triggers do not see TRUNCATE; a statement trigger does (also when a TRUNCATE ... CASCADE reaches the table).
CREATE FUNCTION forbid_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('gridtriage.maintenance', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
""" + "".join(
    f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}\n"
    "  FOR EACH STATEMENT EXECUTE FUNCTION forbid_truncate();\n"
    for table in APPEND_ONLY
)

DOWNGRADE = "".join(f"DROP TRIGGER {table}_no_truncate ON {table};\n" for table in APPEND_ONLY) + """
DROP FUNCTION forbid_truncate();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
