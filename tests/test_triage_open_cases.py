"""The set-based open-cases query of the triage returns what the per-case query (view laterals) returned."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from app.repo import triage as repo
from tests.conftest import create_accounts, make_app

# The query before issue 17, row for row: the view case_operational_status (laterals per case) and a lateral per
# case for the hazards and the events. The oracle the new query is held to.
PER_CASE = """WITH members AS MATERIALIZED (
     SELECT case_id, member_id
     FROM case_members(ARRAY(SELECT id FROM damage_case WHERE status = ANY(%(open)s::case_status[]))))
   SELECT c.id AS case_id, c.facility_id::text AS facility_id, c.kind, c.status,
          c.repair_hours_override, c.repair_hours_accepted, c.priority_bump,
          ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.assigned_crew, assignee.username AS assigned_user,
          c.access_state::text AS access_state, c.access_expected_at, c.materials_until,
          array_agg(r.severity::text) AS severities,
          (array_agg(r.repair_hours ORDER BY r.received_at DESC, r.id DESC)
             FILTER (WHERE r.repair_hours IS NOT NULL))[1] AS reported_repair_hours,
          (SELECT coalesce(array_agg(DISTINCT h::text), '{}')
           FROM members m2 JOIN report r2 ON r2.case_id = m2.member_id, unnest(r2.hazards) h
           WHERE m2.case_id = c.id) AS hazards,
          count(r.id) AS reports,
          st.operational_status::text AS operational_status, st.share_out, st.set_by AS status_set_by,
          st.set_by_user AS status_set_by_user, st.set_at AS status_set_at, st.reason AS status_reason,
          st.reported_statuses,
          (SELECT max(e.at) FROM case_event e WHERE e.case_id = c.id AND e.to_status = 'in_repair'
             AND e.from_status IS DISTINCT FROM 'in_repair') AS repair_started_at,
          (SELECT max(e.at) FROM case_event e WHERE e.case_id = c.id AND e.action = 'assign') AS assigned_at,
          bump.actor AS bump_by, bump.reason AS bump_reason,
          override.actor AS override_by, override.reason AS override_reason
   FROM damage_case c JOIN members m ON m.case_id = c.id JOIN report r ON r.case_id = m.member_id
   JOIN case_operational_status st ON st.case_id = c.id
   LEFT JOIN app_user assignee ON assignee.id = c.assigned_user_id
   LEFT JOIN LATERAL (
     SELECT coalesce(u.username, 'system') AS actor, e.reason FROM case_event e
     LEFT JOIN app_user u ON u.id = e.actor_id
     WHERE e.case_id = c.id AND e.action = 'bump_priority' ORDER BY e.at DESC, e.id DESC LIMIT 1) bump ON true
   LEFT JOIN LATERAL (
     SELECT coalesce(u.username, 'system') AS actor, e.reason FROM case_event e
     LEFT JOIN app_user u ON u.id = e.actor_id
     WHERE e.case_id = c.id AND e.action = 'override_hours' ORDER BY e.at DESC, e.id DESC LIMIT 1) override ON true
   WHERE c.status = ANY(%(open)s::case_status[])
   GROUP BY c.id, assignee.username, st.operational_status, st.share_out, st.set_by, st.set_by_user,
            st.set_at, st.reason, st.reported_statuses, bump.actor, bump.reason, override.actor, override.reason
   ORDER BY c.id"""

# View case_operational_status as migration 0010 defined it (two laterals over case_members per case), word for
# word: the oracle the set-based definition of 0016 is held to, for every case (duplicates and closed ones too).
OLD_VIEW = """SELECT c.id AS case_id,
       coalesce(c.operational_status, latest.status) AS operational_status,
       CASE WHEN c.operational_status IS NOT NULL THEN c.share_out ELSE latest.share_out END AS share_out,
       CASE WHEN c.operational_status IS NOT NULL THEN 'coordinator' ELSE 'report' END AS set_by,
       CASE WHEN c.operational_status IS NOT NULL THEN ov.username ELSE latest.username END AS set_by_user,
       CASE WHEN c.operational_status IS NOT NULL THEN ov.at ELSE latest.observed_at END AS set_at,
       CASE WHEN c.operational_status IS NOT NULL THEN ov.reason END AS reason,
       latest.report_id,
       seen.statuses AS reported_statuses
FROM damage_case c
LEFT JOIN LATERAL (
  SELECT r.status, r.share_out, r.observed_at, r.id::text AS report_id, u.username
  FROM case_members(ARRAY[c.id]) m JOIN report r ON r.case_id = m.member_id
  LEFT JOIN app_user u ON u.id = r.reporter_id
  ORDER BY r.observed_at DESC, r.received_at DESC, r.id DESC LIMIT 1) latest ON true
LEFT JOIN LATERAL (
  SELECT array_agg(DISTINCT r.status::text ORDER BY r.status::text) AS statuses
  FROM case_members(ARRAY[c.id]) m JOIN report r ON r.case_id = m.member_id) seen ON true
LEFT JOIN LATERAL (
  SELECT e.at, e.reason, coalesce(u.username, 'system') AS username FROM case_event e
  LEFT JOIN app_user u ON u.id = e.actor_id
  WHERE e.case_id = c.id AND e.action = 'set_operational_status' ORDER BY e.at DESC, e.id DESC LIMIT 1) ov
  ON true"""

# 60 facilities; 40 cases over every open and closed status, 12 duplicates merged into them (two of them through
# another duplicate), reports by two crews and nobody with every operational status, hazards and estimates, and
# events by a coordinator and the system: overrides and bumps (several, the latest counts), statuses set,
# assignments and repairs started (and a repair restarted from in_repair).
SEED = """
SET gridtriage.maintenance = 'on';
INSERT INTO facility (external_id, name, kind, geom)
SELECT 'oc' || i, 'Facility ' || i, 'substation', ST_Point(30 + i * 0.01, 48, 4326) FROM generate_series(1, 60) i;
INSERT INTO damage_case (facility_id, kind, status, geom, repair_hours_override, priority_bump, assigned_crew,
                         assigned_user_id, operational_status, share_out)
SELECT f.id, 'substation',
       (ARRAY['reported', 'confirmed', 'assigned', 'in_repair', 'temporarily_restored', 'repaired',
              'rejected'])[1 + i %% 7]::case_status,
       f.geom, CASE WHEN i %% 5 = 0 THEN 2.5 END, CASE WHEN i %% 6 = 0 THEN 100 ELSE 0 END,
       CASE WHEN i %% 7 IN (2, 3) THEN 'Crew ' || i %% 3 END, CASE WHEN i %% 7 = 2 THEN %(crew)s END,
       (ARRAY[NULL, 'degraded', 'operating', NULL]::operational_status[])[1 + i %% 4],
       CASE WHEN i %% 4 = 1 THEN 0.25 END
FROM generate_series(1, 40) i JOIN facility f ON f.external_id = 'oc' || i;
INSERT INTO damage_case (facility_id, kind, status, merged_into, geom)
SELECT c.facility_id, 'substation', 'duplicate', c.id, c.geom FROM damage_case c WHERE c.id %% 4 = 0;
INSERT INTO damage_case (facility_id, kind, status, merged_into, geom)
SELECT c.facility_id, 'substation', 'duplicate', c.id, c.geom FROM damage_case c
WHERE c.status = 'duplicate' AND c.id %% 5 = 0;
INSERT INTO report (id, case_id, facility_id, kind, severity, status, share_out, hazards, repair_hours, reporter_id,
                    observed_at, received_at, content_hash, geom)
SELECT gen_random_uuid(), c.id, c.facility_id, 'substation',
       (ARRAY['minor', 'moderate', 'severe', 'destroyed'])[1 + (c.id + k) %% 4]::severity,
       (ARRAY['out_of_service', 'degraded', 'operating'])[1 + (c.id * k) %% 3]::operational_status,
       CASE WHEN (c.id * k) %% 3 = 1 THEN 0.1 * k END,
       CASE WHEN c.id %% 9 = 0 THEN '{}'::hazard[]
            ELSE CASE (c.id + k) %% 4 WHEN 0 THEN '{}'::hazard[] WHEN 1 THEN '{fire}' WHEN 2 THEN '{uxo,fire}'
                                      ELSE '{access_blocked}' END END,
       CASE WHEN (c.id + k) %% 2 = 0 THEN 1 + (c.id + k) %% 7 END,
       (ARRAY[%(crew)s, %(other)s, NULL])[1 + (c.id + k) %% 3],
       now() - ((c.id * 7 + k * 13) %% 50) * interval '1 minute', now() - (c.id + k) * interval '1 second',
       md5(c.id || '-' || k), c.geom
FROM damage_case c, generate_series(1, 3) k WHERE k = 1 OR (c.id + k) %% 2 = 0;
INSERT INTO case_event (case_id, actor_id, at, action, from_status, to_status, reason)
SELECT c.id, CASE WHEN (c.id + k) %% 3 = 0 THEN NULL ELSE %(coord)s END, now() - (10 - k) * interval '1 minute',
       (ARRAY['override_hours', 'bump_priority', 'set_operational_status', 'assign', 'start'])[1 + (c.id + k) %% 5],
       CASE WHEN (c.id + k) %% 5 = 4 THEN (ARRAY['assigned', 'in_repair']::case_status[])[1 + k %% 2] END,
       CASE WHEN (c.id + k) %% 5 = 4 THEN 'in_repair'::case_status END, 'reason ' || k
FROM damage_case c, generate_series(1, 6) k WHERE c.status <> 'duplicate';
"""


@pytest.fixture(scope="module")
def seeded(new_database):
    url = new_database()
    app = make_app(url)
    create_accounts(app, {"oc_crew": "crew", "oc_other": "crew", "oc_coord": "coordinator"})
    with psycopg.connect(url, autocommit=True) as conn:
        users = dict(conn.execute("SELECT username, id FROM app_user").fetchall())
        for statement in SEED.split(";\n"):
            if statement.strip():
                conn.execute(statement, {"crew": users["oc_crew"], "other": users["oc_other"],
                                         "coord": users["oc_coord"]})
    yield url
    app.extensions["db_pool"].close()


def comparable(row: dict) -> dict:
    return {**row, "severities": sorted(row["severities"])}  # array_agg without ORDER BY: any order


def test_open_cases_equal_the_per_case_query_row_for_row(seeded):
    with psycopg.connect(seeded, row_factory=dict_row) as conn:
        new = repo.open_cases(conn)
        old = conn.execute(PER_CASE, {"open": list(repo.OPEN_FOR_TRIAGE)}).fetchall()
    assert len(new) == len(old) > 20
    assert [comparable(r) for r in new] == [comparable(r) for r in old]
    # The seed reaches every branch the query has: members through two merges, coordinator and report statuses,
    # people and the system as actors, repairs started, assignments.
    assert {r["status_set_by"] for r in new} == {"coordinator", "report"}
    assert any(r["bump_by"] == "system" for r in new) and any(r["override_by"] == "oc_coord" for r in new)
    assert any(r["status_set_by_user"] is None for r in new) and any(r["status_set_by_user"] == "oc_crew"
                                                                      for r in new)
    assert any(r["repair_started_at"] for r in new) and any(r["assigned_at"] for r in new)
    assert any(len(r["hazards"]) > 1 for r in new) and any(r["hazards"] == [] for r in new)
    assert any(len(r["reported_statuses"]) > 1 for r in new)


def test_operational_status_of_each_open_case_is_the_views(seeded):
    with psycopg.connect(seeded, row_factory=dict_row) as conn:
        view = {r["case_id"]: r for r in conn.execute(
            "SELECT case_id, operational_status::text AS operational_status, share_out, set_by, set_by_user, "
            "set_at, reason, reported_statuses FROM case_operational_status")}
        for row in repo.open_cases(conn):
            st = view[row["case_id"]]
            assert (row["operational_status"], row["share_out"], row["status_set_by"], row["status_set_by_user"],
                    row["status_set_at"], row["status_reason"], row["reported_statuses"]) == (
                st["operational_status"], st["share_out"], st["set_by"], st["set_by_user"], st["set_at"],
                st["reason"], st["reported_statuses"])


def test_the_view_gives_what_its_per_case_definition_gave_for_every_case(seeded):
    columns = ("case_id, operational_status::text AS operational_status, share_out, set_by, set_by_user, set_at, "
               "reason, report_id, reported_statuses")
    with psycopg.connect(seeded, row_factory=dict_row) as conn:
        view = conn.execute(sql.SQL("SELECT {} FROM case_operational_status ORDER BY case_id").format(
            sql.SQL(columns))).fetchall()
        old = conn.execute(sql.SQL("SELECT {} FROM ({}) old ORDER BY case_id").format(
            sql.SQL(columns), sql.SQL(OLD_VIEW))).fetchall()
        cases = conn.execute("SELECT count(*) AS n FROM damage_case").fetchone()
    assert cases is not None and len(view) == len(old) == cases["n"] > 50
    assert view == old
    assert {r["set_by"] for r in view} == {"coordinator", "report"}
    assert any(r["report_id"] for r in view) and any(len(r["reported_statuses"] or []) > 1 for r in view)
    assert any(r["set_by_user"] == "system" for r in view) and any(r["set_by_user"] is None for r in view)


def test_the_network_lists_every_facility_with_its_sorted_parents(seeded):
    with psycopg.connect(seeded, row_factory=dict_row, autocommit=True) as conn:
        ids = [r["id"] for r in conn.execute("SELECT id FROM facility ORDER BY id LIMIT 4")]
        with conn.transaction(force_rollback=True):
            conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given'), "
                         "(%s, %s, 'given'), (%s, %s, 'given')", (ids[2], ids[3], ids[0], ids[3], ids[0], ids[1]))
            rows = {r["id"]: r for r in repo.network(conn)}
            assert rows[str(ids[3])]["parents"] == sorted([str(ids[0]), str(ids[2])], key=int)
            assert rows[str(ids[1])]["parents"] == [str(ids[0])] and rows[str(ids[0])]["parents"] == []
            assert len(rows) == 60
