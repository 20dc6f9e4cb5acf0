"""The registry's revision: a counter and a token that change with every committed change of the facilities, feed
links, population or critical sites, so that an app server can keep the network it built and check it per request.

A statement trigger on each of those tables (TRUNCATE included) bumps the one row of registry_revision, once per
transaction: an import of 10^5 rows in as many statements updates the row once, not 10^5 times. The token is a new
random value on each bump, so a database put back to an earlier state (a restore, a test's template) can never
pass for a later one with the same count. A streaming replica gets the row with the data it goes with.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLES = ("facility", "feed_link", "facility_population", "population_layer", "critical_site")

_REVISION = """
CREATE TABLE registry_revision (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  revision bigint NOT NULL DEFAULT 0,
  token uuid NOT NULL DEFAULT gen_random_uuid(),
  changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO registry_revision DEFAULT VALUES;

CREATE FUNCTION bump_registry_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A transaction-local flag: readers only ever see committed states, so one bump per transaction is enough.
  IF current_setting('gridtriage.registry_bumped', true) IS DISTINCT FROM 'on' THEN
    UPDATE registry_revision SET revision = revision + 1, token = gen_random_uuid(), changed_at = now();
    PERFORM set_config('gridtriage.registry_bumped', 'on', true);
  END IF;
  RETURN NULL;
END $$;
"""
# One statement trigger per table of the registry (constant names, no input).
_TRIGGERS = "".join(
    f"CREATE TRIGGER {table}_registry_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}\n"
    "  FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_revision();\n"
    for table in TABLES
)
UPGRADE = _REVISION + _TRIGGERS

DOWNGRADE = "".join(f"DROP TRIGGER {table}_registry_revision ON {table};\n" for table in TABLES) + """
DROP FUNCTION bump_registry_revision();
DROP TABLE registry_revision;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
