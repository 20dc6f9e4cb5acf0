"""The whole product's schema: facilities, feeds, service areas, population, critical sites, reports, cases, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TYPE facility_kind AS ENUM
  ('power_plant', 'chp_plant', 'heat_plant', 'substation', 'transformer', 'line', 'gas_facility', 'other');
CREATE TYPE link_origin AS ENUM ('given', 'inferred');
CREATE TYPE population_method AS ENUM ('point_sum', 'areal_weighting', 'raster_exact', 'given');
CREATE TYPE critical_site_kind AS ENUM
  ('hospital', 'water_pumping', 'wastewater_pumping', 'heat_plant', 'shelter', 'telecom', 'other');
CREATE TYPE severity AS ENUM ('minor', 'moderate', 'severe', 'destroyed');
CREATE TYPE operational_status AS ENUM ('operating', 'degraded', 'out_of_service');
CREATE TYPE hazard AS ENUM ('uxo', 'fire', 'structural', 'live_wires', 'access_blocked');
CREATE TYPE case_status AS ENUM
  ('reported', 'confirmed', 'assigned', 'in_repair', 'temporarily_restored', 'repaired', 'rejected', 'duplicate');
CREATE TYPE user_role AS ENUM ('crew', 'coordinator', 'admin');

-- A lon/lat geometry that is valid and inside the world's coordinate ranges.
CREATE FUNCTION is_lonlat(g geometry) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ST_SRID(g) = 4326 AND ST_IsValid(g) AND NOT ST_IsEmpty(g)
     AND ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90
$$;

-- Where data came from: one row per imported file or derived layer.
CREATE TABLE dataset (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  source      text NOT NULL,
  licence     text,
  loaded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE study_area (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  dataset_id  bigint REFERENCES dataset ON DELETE SET NULL,
  geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (is_lonlat(geom))
);
CREATE INDEX study_area_geom_idx ON study_area USING gist (geom);

CREATE TABLE facility (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id   text NOT NULL UNIQUE CHECK (external_id <> ''),
  name          text NOT NULL CHECK (name <> ''),
  kind          facility_kind NOT NULL,
  voltage_kv    double precision CHECK (voltage_kv > 0),
  capacity_mva  double precision CHECK (capacity_mva >= 0),
  capacity_mw   double precision CHECK (capacity_mw >= 0),
  attributes    jsonb NOT NULL DEFAULT '{}',
  dataset_id    bigint REFERENCES dataset ON DELETE SET NULL,
  geom          geometry(Geometry, 4326) NOT NULL
                CHECK (GeometryType(geom) IN ('POINT', 'LINESTRING') AND is_lonlat(geom)),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX facility_geom_idx ON facility USING gist (geom);
CREATE INDEX facility_geog_idx ON facility USING gist ((geom::geography));
CREATE INDEX facility_kind_idx ON facility (kind);

-- Energy flows parent -> child. A facility with no parent is a source; several parents make a meshed network.
CREATE TABLE feed_link (
  parent_id   bigint NOT NULL REFERENCES facility ON DELETE CASCADE,
  child_id    bigint NOT NULL REFERENCES facility ON DELETE CASCADE,
  origin      link_origin NOT NULL,
  distance_m  double precision CHECK (distance_m >= 0),
  dataset_id  bigint REFERENCES dataset ON DELETE SET NULL,
  PRIMARY KEY (parent_id, child_id),
  CHECK (parent_id <> child_id),
  CHECK (origin = 'given' OR distance_m IS NOT NULL)
);
CREATE INDEX feed_link_child_idx ON feed_link (child_id);

CREATE TABLE service_area (
  facility_id  bigint PRIMARY KEY REFERENCES facility ON DELETE CASCADE,
  method       text NOT NULL CHECK (method IN ('given', 'voronoi')),
  provenance   text NOT NULL,
  area_m2      double precision NOT NULL CHECK (area_m2 >= 0),
  geom         geometry(MultiPolygon, 4326) NOT NULL CHECK (is_lonlat(geom)),
  computed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_area_geom_idx ON service_area USING gist (geom);

CREATE TABLE population_layer (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  kind        text NOT NULL CHECK (kind IN ('points', 'polygons', 'raster')),
  dataset_id  bigint REFERENCES dataset ON DELETE SET NULL,
  total       double precision NOT NULL CHECK (total >= 0),
  loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- Point layers are kept so population can be recomputed when service areas change.
CREATE TABLE population_point (
  layer_id    bigint NOT NULL REFERENCES population_layer ON DELETE CASCADE,
  ref         text NOT NULL,
  population  double precision NOT NULL CHECK (population >= 0),
  geom        geometry(Point, 4326) NOT NULL CHECK (is_lonlat(geom)),
  PRIMARY KEY (layer_id, ref)
);
CREATE INDEX population_point_geom_idx ON population_point USING gist (geom);

-- Direct population of a facility's service area from one layer, and population served (with downstream).
CREATE TABLE facility_population (
  facility_id        bigint NOT NULL REFERENCES facility ON DELETE CASCADE,
  layer_id           bigint NOT NULL REFERENCES population_layer ON DELETE CASCADE,
  population         double precision NOT NULL CHECK (population >= 0),
  population_served  double precision NOT NULL CHECK (population_served >= population),
  method             population_method NOT NULL,
  computed_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (facility_id, layer_id)
);

CREATE TABLE critical_site (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id  text NOT NULL UNIQUE,
  name         text NOT NULL,
  kind         critical_site_kind NOT NULL,
  weight       double precision NOT NULL CHECK (weight >= 0),  -- people-equivalents
  facility_id  bigint REFERENCES facility ON DELETE SET NULL,
  dataset_id   bigint REFERENCES dataset ON DELETE SET NULL,
  geom         geometry(Point, 4326) NOT NULL CHECK (is_lonlat(geom))
);
CREATE INDEX critical_site_geom_idx ON critical_site USING gist (geom);
CREATE INDEX critical_site_facility_idx ON critical_site (facility_id);

CREATE TABLE app_user (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username       text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
  password_hash  text NOT NULL,
  role           user_role NOT NULL,
  active         boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_token (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES app_user ON DELETE CASCADE,
  token_hash   text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);

-- The open damage of one facility (or of an unknown site), built from one or more reports.
CREATE TABLE damage_case (
  id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  facility_id            bigint REFERENCES facility ON DELETE RESTRICT,
  kind                   facility_kind NOT NULL,
  status                 case_status NOT NULL DEFAULT 'reported',
  geom                   geometry(Point, 4326) NOT NULL CHECK (is_lonlat(geom)),
  merged_into            bigint REFERENCES damage_case,
  assigned_crew          text,
  repair_hours_override  double precision CHECK (repair_hours_override >= 0),
  priority_bump          double precision NOT NULL DEFAULT 0,
  opened_at              timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'duplicate') = (merged_into IS NOT NULL)),
  CHECK (merged_into IS NULL OR merged_into <> id)
);
CREATE INDEX damage_case_geom_idx ON damage_case USING gist (geom);
-- At most one open case per facility: concurrent first reports cannot open two.
CREATE UNIQUE INDEX damage_case_one_open_per_facility ON damage_case (facility_id)
  WHERE facility_id IS NOT NULL AND status NOT IN ('repaired', 'rejected', 'duplicate');

-- One field observation from one crew, immutable once received; the id is made on the device.
CREATE TABLE report (
  id            uuid PRIMARY KEY,
  case_id       bigint NOT NULL REFERENCES damage_case,
  facility_id   bigint REFERENCES facility ON DELETE RESTRICT,
  reporter_id   bigint REFERENCES app_user ON DELETE SET NULL,
  kind          facility_kind NOT NULL,
  severity      severity NOT NULL,
  status        operational_status NOT NULL,
  components    text[] NOT NULL DEFAULT '{}',
  hazards       hazard[] NOT NULL DEFAULT '{}',
  repair_hours  double precision CHECK (repair_hours >= 0),
  crew_size     integer CHECK (crew_size > 0),
  materials     text CHECK (length(materials) <= 2000),
  notes         text CHECK (length(notes) <= 4000),
  accuracy_m    double precision CHECK (accuracy_m >= 0),
  observed_at   timestamptz NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  content_hash  text NOT NULL,
  geom          geometry(Point, 4326) NOT NULL CHECK (is_lonlat(geom))
);
CREATE INDEX report_geom_idx ON report USING gist (geom);
CREATE INDEX report_case_idx ON report (case_id);
CREATE INDEX report_received_idx ON report (received_at);

CREATE TABLE report_photo (
  id            uuid PRIMARY KEY,
  report_id     uuid NOT NULL REFERENCES report ON DELETE CASCADE,
  content_type  text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
  size_bytes    integer NOT NULL CHECK (size_bytes > 0),
  sha256        text NOT NULL,
  data          bytea NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_photo_report_idx ON report_photo (report_id);

-- Append-only: every change to a case, with who, when, what and why.
CREATE TABLE case_event (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id     bigint NOT NULL REFERENCES damage_case,
  actor_id    bigint REFERENCES app_user,
  at          timestamptz NOT NULL DEFAULT now(),
  action      text NOT NULL,
  from_status case_status,
  to_status   case_status,
  reason      text,
  data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_event_case_idx ON case_event (case_id, at);

-- Append-only: every change to a facility, user or setting.
CREATE TABLE audit_event (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor_id    bigint REFERENCES app_user,
  at          timestamptz NOT NULL DEFAULT now(),
  entity      text NOT NULL,
  entity_id   text NOT NULL,
  action      text NOT NULL,
  before      jsonb,
  after       jsonb,
  reason      text
);
CREATE INDEX audit_event_entity_idx ON audit_event (entity, entity_id, at);

-- Rows of these tables are never changed; only a maintenance command (e.g. removing the demo scenario)
-- may delete them, by setting gridtriage.maintenance for its own transaction.
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('gridtriage.maintenance', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE ON case_event
  FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER report_immutable BEFORE UPDATE OR DELETE ON report
  FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER report_photo_immutable BEFORE UPDATE OR DELETE ON report_photo
  FOR EACH ROW EXECUTE FUNCTION forbid_change();
"""

DOWNGRADE = """
DROP TABLE audit_event, case_event, report_photo, report, damage_case, api_token, app_user, critical_site,
  facility_population, population_point, population_layer, service_area, feed_link, facility, study_area, dataset;
DROP FUNCTION forbid_change();
DROP FUNCTION is_lonlat(geometry);
DROP TYPE user_role, case_status, hazard, operational_status, severity, critical_site_kind, population_method,
  link_origin, facility_kind;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
