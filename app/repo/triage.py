"""SQL that gathers what the triage needs: the feed network, open damage cases and critical sites."""

from __future__ import annotations

from typing import Any

from app.repo import Conn
from geo.taxonomy import OPEN_CASE_STATUSES

# Cases whose facility is without power: temporarily restored ones have power (generator, bypass).
OPEN_FOR_TRIAGE = tuple(s for s in OPEN_CASE_STATUSES if s != "temporarily_restored")


def network(conn: Conn) -> list[dict[str, Any]]:
    """Every facility with its feed parents and its direct population (latest computed layer)."""
    return conn.execute(
        """SELECT f.id::text AS id, f.name, f.kind,
                  coalesce((SELECT array_agg(l.parent_id::text ORDER BY l.parent_id) FROM feed_link l
                            WHERE l.child_id = f.id), '{}') AS parents,
                  coalesce(p.population, 0) AS population, p.layer AS population_layer,
                  p.method::text AS population_method
           FROM facility f LEFT JOIN facility_population_latest p ON p.facility_id = f.id
           ORDER BY f.id"""
    ).fetchall()


def open_cases(conn: Conn) -> list[dict[str, Any]]:
    """Open damage cases with what their reports (and those of cases merged into them) say, their operational
    status and who set it (view case_operational_status), who holds them and since when, and who set any
    repair-hours override and priority bump, and why."""
    return conn.execute(
        """WITH members AS MATERIALIZED (
             SELECT case_id, member_id
             FROM case_members(ARRAY(SELECT id FROM damage_case WHERE status = ANY(%(open)s::case_status[]))))
           SELECT c.id AS case_id, c.facility_id::text AS facility_id, c.kind, c.status,
                  c.repair_hours_override, c.repair_hours_accepted, c.priority_bump,
                  ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.assigned_crew, assignee.username AS assigned_user,
                  c.access_state::text AS access_state, c.access_expected_at, c.materials_until,
                  array_agg(r.severity::text) AS severities,
                  (array_agg(r.repair_hours ORDER BY r.received_at DESC)
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
             WHERE e.case_id = c.id AND e.action = 'bump_priority' ORDER BY e.at DESC, e.id DESC LIMIT 1) bump
             ON true
           LEFT JOIN LATERAL (
             SELECT coalesce(u.username, 'system') AS actor, e.reason FROM case_event e
             LEFT JOIN app_user u ON u.id = e.actor_id
             WHERE e.case_id = c.id AND e.action = 'override_hours' ORDER BY e.at DESC, e.id DESC LIMIT 1) override
             ON true
           WHERE c.status = ANY(%(open)s::case_status[])
           GROUP BY c.id, assignee.username, st.operational_status, st.share_out, st.set_by, st.set_by_user,
                    st.set_at, st.reason, st.reported_statuses, bump.actor, bump.reason, override.actor,
                    override.reason
           ORDER BY c.id""",
        {"open": list(OPEN_FOR_TRIAGE)},
    ).fetchall()


def critical_sites(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(
        """SELECT id::text AS id, name, kind::text AS kind, weight, facility_id::text AS facility_id
           FROM critical_site WHERE facility_id IS NOT NULL ORDER BY id"""
    ).fetchall()
