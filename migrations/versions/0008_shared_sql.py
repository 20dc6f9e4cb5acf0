"""SQL the repository wrote many times, once in the database: latest population, case members, the bbox envelope.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = """
-- Each facility's population from the most recently computed layer (ties: the newest layer), with that layer's name.
-- A filter on facility_id is pushed into the DISTINCT ON, so one facility's row costs one index lookup.
CREATE VIEW facility_population_latest AS
SELECT DISTINCT ON (fp.facility_id)
       fp.facility_id, fp.layer_id, l.name AS layer, fp.population, fp.population_served, fp.method, fp.computed_at
FROM facility_population fp LEFT JOIN population_layer l ON l.id = fp.layer_id
ORDER BY fp.facility_id, fp.computed_at DESC, fp.layer_id DESC;

-- Each of the root cases with itself and every case merged into it, directly or through others (depth 0 is the
-- root). Set-based: one recursive pass for all roots together, not one per case. The depth guard stops a cycle.
CREATE FUNCTION case_members(roots bigint[])
RETURNS TABLE (case_id bigint, member_id bigint, depth integer) LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH RECURSIVE members AS (
    SELECT d.id AS root_id, d.id AS id, 0 AS level FROM damage_case d WHERE d.id = ANY(roots)
    UNION ALL
    SELECT m.root_id, d.id, m.level + 1 FROM damage_case d JOIN members m ON d.merged_into = m.id
    WHERE m.level < 100)
  SELECT root_id, id, level FROM members
$$;

-- A lon/lat bbox {min_lon, min_lat, max_lon, max_lat} (degrees) as an envelope for `&&`; NULL is the whole world,
-- which every stored geometry lies in (is_lonlat), so a NULL bbox filters nothing and the index stays usable.
CREATE FUNCTION bbox_envelope(bbox float8[]) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN bbox IS NULL THEN ST_MakeEnvelope(-180, -90, 180, 90, 4326)
              ELSE ST_MakeEnvelope(bbox[1], bbox[2], bbox[3], bbox[4], 4326) END
$$;
"""

DOWNGRADE = """
DROP FUNCTION bbox_envelope(float8[]);
DROP FUNCTION case_members(bigint[]);
DROP VIEW facility_population_latest;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
