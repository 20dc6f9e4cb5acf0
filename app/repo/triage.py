"""SQL that gathers what the triage needs: the feed network, open damage cases and critical sites."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import tuple_row

from app.repo import Conn
from geo.taxonomy import OPEN_CASE_STATUSES

# Cases whose facility is without power: temporarily restored ones have power (generator, bypass).
OPEN_FOR_TRIAGE = tuple(s for s in OPEN_CASE_STATUSES if s != "temporarily_restored")


def network(conn: Conn) -> list[dict[str, Any]]:
    """Every facility with its feed parents and its direct population (latest computed layer).

    The parents come from one grouped pass over feed_link joined by hash, not a sub-query per facility."""
    return conn.execute(
        """SELECT f.id::text AS id, f.name, f.kind, coalesce(l.parents, '{}') AS parents,
                  coalesce(p.population, 0) AS population, p.layer AS population_layer,
                  p.method::text AS population_method
           FROM facility f
           LEFT JOIN (SELECT child_id, array_agg(parent_id::text ORDER BY parent_id) AS parents
                      FROM feed_link GROUP BY child_id) l ON l.child_id = f.id
           LEFT JOIN facility_population_latest p ON p.facility_id = f.id
           ORDER BY f.id"""
    ).fetchall()


OPEN_CASES = """WITH RECURSIVE open AS MATERIALIZED (
     SELECT id FROM damage_case WHERE status = ANY(%(open)s::case_status[])),
   -- case_members() of the open cases, walked up from the merged cases (few) rather than down from every
   -- open case (an index probe each): each merged case with every case it was merged into, at any depth.
   up AS (
     SELECT d.id AS member_id, d.merged_into AS at, 1 AS level FROM damage_case d
     WHERE d.merged_into IS NOT NULL
     UNION ALL
     SELECT u.member_id, p.merged_into, u.level + 1 FROM up u JOIN damage_case p ON p.id = u.at
     WHERE p.merged_into IS NOT NULL AND u.level < 100),
   members AS MATERIALIZED (
     SELECT id AS case_id, id AS member_id FROM open
     UNION ALL
     SELECT u.at, u.member_id FROM up u JOIN damage_case r ON r.id = u.at
     WHERE r.status = ANY(%(open)s::case_status[])),
   reports AS MATERIALIZED (
     SELECT m.case_id, r.id, r.severity, r.status, r.share_out, r.hazards, r.repair_hours, r.observed_at,
            r.received_at, r.reporter_id
     FROM members m JOIN report r ON r.case_id = m.member_id),
   -- Severities sorted, and the latest estimate of reports received at the same moment (one batch) the one with the
   -- greater id, as `latest` takes: an unchanged case's row is then equal from one read to the next, whatever order
   -- the reports were joined in (app/coordinator/overlay.py reuses what it worked out of equal rows).
   said AS (
     SELECT case_id, array_agg(severity::text ORDER BY severity::text) AS severities,
            (array_agg(repair_hours ORDER BY received_at DESC, id DESC)
               FILTER (WHERE repair_hours IS NOT NULL))[1] AS reported_repair_hours,
            count(id) AS reports,
            array_agg(DISTINCT status::text ORDER BY status::text) AS reported_statuses
     FROM reports GROUP BY case_id),
   hazards AS (
     SELECT case_id, array_agg(DISTINCT h::text) AS hazards FROM reports, unnest(hazards) h GROUP BY case_id),
   latest AS (
     SELECT DISTINCT ON (case_id) case_id, status, share_out, observed_at, reporter_id
     FROM reports ORDER BY case_id, observed_at DESC, received_at DESC, id DESC),
   events AS (
     SELECT e.case_id,
            max(e.at) FILTER (WHERE e.to_status = 'in_repair'
                                AND e.from_status IS DISTINCT FROM 'in_repair') AS repair_started_at,
            max(e.at) FILTER (WHERE e.action = 'assign') AS assigned_at
     FROM case_event e JOIN open o ON o.id = e.case_id GROUP BY e.case_id),
   last_set AS (
     SELECT DISTINCT ON (e.case_id, e.action) e.case_id, e.action, e.at, e.reason,
            coalesce(u.username, 'system') AS actor
     FROM case_event e JOIN open o ON o.id = e.case_id LEFT JOIN app_user u ON u.id = e.actor_id
     WHERE e.action IN ('bump_priority', 'override_hours', 'set_operational_status')
     ORDER BY e.case_id, e.action, e.at DESC, e.id DESC)
   SELECT c.id AS case_id, c.facility_id::text AS facility_id, c.kind::text AS kind, c.status::text AS status,
          c.repair_hours_override, c.repair_hours_accepted, c.priority_bump,
          ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.assigned_crew, assignee.username AS assigned_user,
          c.access_state::text AS access_state, c.access_expected_at, c.materials_until,
          said.severities, said.reported_repair_hours, coalesce(hazards.hazards, '{}') AS hazards,
          said.reports,
          coalesce(c.operational_status, latest.status)::text AS operational_status,
          CASE WHEN c.operational_status IS NOT NULL THEN c.share_out ELSE latest.share_out END AS share_out,
          CASE WHEN c.operational_status IS NOT NULL THEN 'coordinator' ELSE 'report' END AS status_set_by,
          CASE WHEN c.operational_status IS NOT NULL THEN ov.actor ELSE reporter.username END
            AS status_set_by_user,
          CASE WHEN c.operational_status IS NOT NULL THEN ov.at ELSE latest.observed_at END AS status_set_at,
          CASE WHEN c.operational_status IS NOT NULL THEN ov.reason END AS status_reason,
          said.reported_statuses,
          events.repair_started_at, events.assigned_at,
          bump.actor AS bump_by, bump.reason AS bump_reason,
          override.actor AS override_by, override.reason AS override_reason
   FROM damage_case c JOIN said ON said.case_id = c.id
   LEFT JOIN hazards ON hazards.case_id = c.id
   LEFT JOIN latest ON latest.case_id = c.id
   LEFT JOIN app_user reporter ON reporter.id = latest.reporter_id
   LEFT JOIN events ON events.case_id = c.id
   LEFT JOIN last_set bump ON bump.case_id = c.id AND bump.action = 'bump_priority'
   LEFT JOIN last_set override ON override.case_id = c.id AND override.action = 'override_hours'
   LEFT JOIN last_set ov ON ov.case_id = c.id AND ov.action = 'set_operational_status'
   LEFT JOIN app_user assignee ON assignee.id = c.assigned_user_id
   WHERE c.status = ANY(%(open)s::case_status[])
   ORDER BY c.id"""


def open_cases(conn: Conn) -> list[dict[str, Any]]:
    """Open damage cases with what their reports (and those of cases merged into them) say, their operational
    status and who set it, who holds them and since when, and who set any repair-hours override and priority
    bump, and why.

    Set-based: the members of every open case in one recursive pass up from the merged cases, their reports once,
    and each case's latest events by one sort, so the cost grows with the number of reports and events, not cases x
    cases. The operational
    status is what view case_operational_status gives for one case (app/repo/cases.py reads it there): the
    coordinator's if set, else the latest observation of the case's reports; tests/test_triage_open_cases.py holds
    the two (and the per-case query this replaced) to the same answers."""
    return conn.execute(OPEN_CASES, {"open": list(OPEN_FOR_TRIAGE)}).fetchall()


def open_case_rows(conn: Conn) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """`open_cases` as its column names and plain tuples (the same values in that order): cheaper to fetch than a
    dict per case, and a case's row can be compared with the one an earlier request read. Read in binary (every
    column is of a type psycopg loads the same way from either format, enums cast to text), which the server
    writes and the client reads faster."""
    cursor = conn.cursor(row_factory=tuple_row, binary=True)
    rows = cursor.execute(OPEN_CASES, {"open": list(OPEN_FOR_TRIAGE)}).fetchall()
    assert cursor.description is not None
    return tuple(column.name for column in cursor.description), rows


def open_cases_digest(conn: Conn) -> str:
    """A digest of everything `open_cases` gives now (its rows as text), computed in the database: equal
    digests, equal rows, without sending or building them."""
    row = conn.execute(sql.SQL("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.case_id), '')) AS digest "
                               "FROM ({}) t").format(sql.SQL(OPEN_CASES)),
                       {"open": list(OPEN_FOR_TRIAGE)}).fetchone()
    assert row is not None
    return str(row["digest"])


def registry_revision(conn: Conn) -> dict[str, Any]:
    """The registry's revision (migration 0019): a count and a token that change with every committed change of
    facilities, feed links, population or critical sites, so a network built from them can be kept until then."""
    row = conn.execute("SELECT revision, token::text AS token, changed_at FROM registry_revision").fetchone()
    assert row is not None
    return row


def critical_sites(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(
        """SELECT id::text AS id, name, kind::text AS kind, weight, facility_id::text AS facility_id
           FROM critical_site WHERE facility_id IS NOT NULL ORDER BY id"""
    ).fetchall()
