"""Data onboarding: population polygons (census units) kept so population can be recomputed by areal weighting.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
-- Census units with their counts; population per service area comes from them by areal weighting.
CREATE TABLE population_polygon (
  layer_id    bigint NOT NULL REFERENCES population_layer ON DELETE CASCADE,
  ref         text NOT NULL,
  population  double precision NOT NULL CHECK (population >= 0),
  geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (is_lonlat(geom)),
  PRIMARY KEY (layer_id, ref)
);
CREATE INDEX population_polygon_geom_idx ON population_polygon USING gist (geom);
"""

DOWNGRADE = """
DROP TABLE population_polygon;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
