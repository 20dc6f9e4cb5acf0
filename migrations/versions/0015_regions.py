"""Named regions: one per utility or area; every facility, study boundary, population layer and critical site
belongs to one. Data from before is the default region's (the demo's), which rows get when they name none.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE region (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  is_default  boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);
-- At most one default region: the one imports use when they name none.
CREATE UNIQUE INDEX region_one_default ON region (is_default) WHERE is_default;
INSERT INTO region (name, is_default) VALUES ('default', true);

-- The default region's id: the column default below, so rows written without a region (older code, tests, the
-- demo) belong to it.
CREATE FUNCTION default_region() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT id FROM region WHERE is_default
$$;

ALTER TABLE facility ADD COLUMN region_id bigint NOT NULL DEFAULT default_region() REFERENCES region;
CREATE INDEX facility_region_idx ON facility (region_id);
ALTER TABLE study_area ADD COLUMN region_id bigint NOT NULL DEFAULT default_region() REFERENCES region
  ON DELETE CASCADE;
ALTER TABLE study_area DROP CONSTRAINT study_area_name_key;
ALTER TABLE study_area ADD CONSTRAINT study_area_region_name_key UNIQUE (region_id, name);
ALTER TABLE population_layer ADD COLUMN region_id bigint NOT NULL DEFAULT default_region() REFERENCES region;
ALTER TABLE population_layer DROP CONSTRAINT population_layer_name_key;
ALTER TABLE population_layer ADD CONSTRAINT population_layer_region_name_key UNIQUE (region_id, name);
ALTER TABLE critical_site ADD COLUMN region_id bigint NOT NULL DEFAULT default_region() REFERENCES region;
CREATE INDEX critical_site_region_idx ON critical_site (region_id);
"""

DOWNGRADE = """
ALTER TABLE critical_site DROP COLUMN region_id;
ALTER TABLE population_layer DROP CONSTRAINT population_layer_region_name_key;
ALTER TABLE population_layer DROP COLUMN region_id;
ALTER TABLE population_layer ADD CONSTRAINT population_layer_name_key UNIQUE (name);
ALTER TABLE study_area DROP CONSTRAINT study_area_region_name_key;
ALTER TABLE study_area DROP COLUMN region_id;
ALTER TABLE study_area ADD CONSTRAINT study_area_name_key UNIQUE (name);
ALTER TABLE facility DROP COLUMN region_id;
DROP FUNCTION default_region();
DROP TABLE region;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
