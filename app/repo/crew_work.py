"""SQL for a crew's own work: the open cases assigned to an account or to its crew, with the reports on them it
may see."""

from __future__ import annotations

from typing import Any

from app.repo import Conn
from geo.taxonomy import CLOSED_CASE_STATUSES


def assigned_cases(conn: Conn, user_id: int, *, reporter_id: int | None) -> list[dict[str, Any]]:
    """The open cases assigned to the account or to the crew it belongs to (by the crew's name, as the dispatched
    plan assigns them), latest change first: facility, worst severity, hazards, latest event and reports.

    Severity and hazards come from every report on the case and on the cases merged into it (a crew must know of a
    fire someone else reported); the reports listed are only `reporter_id`'s, or all of them when it is None."""
    return conn.execute(
        """WITH mine AS (
             SELECT id FROM damage_case
             WHERE (assigned_user_id = %(user)s
                    OR assigned_crew IN (SELECT c.name FROM crew c JOIN crew_member m ON m.crew_id = c.id
                                         WHERE m.user_id = %(user)s))
               AND NOT status = ANY(%(closed)s::case_status[])
           ), members AS MATERIALIZED (
             SELECT case_id, member_id FROM case_members(ARRAY(SELECT id FROM mine)))
           SELECT c.id, c.status::text AS status, c.kind::text AS kind, c.facility_id, f.name AS facility_name,
                  f.kind::text AS facility_kind, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.assigned_crew,
                  c.opened_at, agg.worst_severity, agg.hazards, ev.last_event_at,
                  c.access_state::text AS access_state, c.access_expected_at, c.materials_until,
                  (SELECT max(e.id) FROM case_event e WHERE e.case_id = c.id AND e.action = 'assign') AS assign_seq,
                  coalesce((
                    SELECT json_agg(json_build_object(
                             'id', r.id, 'case_id', r.case_id, 'kind', r.kind, 'severity', r.severity,
                             'status', r.status, 'progress', r.progress, 'hazards', r.hazards, 'notes', r.notes,
                             'observed_at', r.observed_at, 'received_at', r.received_at, 'reporter', u.username)
                           ORDER BY r.observed_at, r.id)
                    FROM members m JOIN report_view r ON r.case_id = m.member_id
                    LEFT JOIN app_user u ON u.id = r.reporter_id
                    WHERE m.case_id = c.id AND (%(reporter)s::bigint IS NULL OR r.reporter_id = %(reporter)s)),
                  '[]') AS reports
           FROM damage_case c JOIN mine ON mine.id = c.id
           LEFT JOIN facility f ON f.id = c.facility_id
           CROSS JOIN LATERAL (
             SELECT max(r.severity)::text AS worst_severity,
                    coalesce(array_agg(DISTINCT h ORDER BY h) FILTER (WHERE h IS NOT NULL), '{}')::text[] AS hazards
             FROM members m JOIN report r ON r.case_id = m.member_id LEFT JOIN LATERAL unnest(r.hazards) h ON true
             WHERE m.case_id = c.id) agg
           CROSS JOIN LATERAL (SELECT max(e.at) AS last_event_at FROM case_event e WHERE e.case_id = c.id) ev
           ORDER BY ev.last_event_at DESC NULLS LAST, c.id""",
        {"user": user_id, "closed": list(CLOSED_CASE_STATUSES), "reporter": reporter_id},
    ).fetchall()
