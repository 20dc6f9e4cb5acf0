"""SQL for the damage-case workflow: a case with its merged cases, reports, events, dependants and duplicates."""

from __future__ import annotations

from typing import Any

from app.repo import Conn
from geo.taxonomy import OPEN_CASE_STATUSES
from geo.workflow import MERGED_ACTION


def lock(conn: Conn, case_id: int) -> None:
    """Hold the case's row until the transaction ends, so two coordinators' actions apply one after the other."""
    conn.execute("SELECT id FROM damage_case WHERE id = %s FOR UPDATE", (case_id,))


def get(conn: Conn, case_id: int) -> dict[str, Any] | None:
    """One case row with its facility's name and the user name of the account it is assigned to."""
    return conn.execute(
        """SELECT c.id, c.facility_id, c.kind::text AS kind, c.status::text AS status, c.merged_into,
                  c.assigned_crew, c.assigned_user_id, u.username AS assigned_user, c.repair_hours_override,
                  c.repair_hours_accepted, c.priority_bump, c.opened_at, c.updated_at,
                  c.operational_status::text AS operational_status, c.share_out,
                  c.access_state::text AS access_state, c.access_expected_at, c.materials_until,
                  ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, f.name AS facility_name
           FROM damage_case c LEFT JOIN facility f ON f.id = c.facility_id
                LEFT JOIN app_user u ON u.id = c.assigned_user_id
           WHERE c.id = %(id)s""",
        {"id": case_id},
    ).fetchone()


def reports(conn: Conn, case_id: int) -> list[dict[str, Any]]:
    """Reports of the case and of every case merged into it, oldest first."""
    return conn.execute(
        """SELECT r.id, r.case_id, r.kind::text AS kind, r.severity::text AS severity, r.status::text AS status,
                  r.progress::text AS progress, r.components, r.hazards, r.repair_hours, r.crew_size,
                  r.materials, r.notes, r.observed_at, r.received_at, r.lon, r.lat, r.photo_ids,
                  u.username AS reporter
           FROM report_view r LEFT JOIN app_user u ON u.id = r.reporter_id
           WHERE r.case_id IN (SELECT member_id FROM case_members(ARRAY[%(id)s]::bigint[]))
           ORDER BY r.observed_at, r.id""",
        {"id": case_id},
    ).fetchall()


def events(conn: Conn, case_id: int) -> list[dict[str, Any]]:
    """The case's events with the actor's name, oldest first."""
    return conn.execute(
        """SELECT e.id, e.at, e.action, e.from_status::text AS from_status, e.to_status::text AS to_status,
                  e.reason, e.data, u.username AS actor
           FROM case_event e LEFT JOIN app_user u ON u.id = e.actor_id
           WHERE e.case_id = %s ORDER BY e.at, e.id""",
        (case_id,),
    ).fetchall()


def merge_event(conn: Conn, case_id: int) -> dict[str, Any] | None:
    """The latest event that merged the case into another: its status before and the case it went into."""
    return conn.execute(
        """SELECT e.from_status::text AS from_status, (e.data->>'merged_into')::bigint AS merged_into
           FROM case_event e WHERE e.case_id = %(id)s AND e.action = %(action)s
           ORDER BY e.at DESC, e.id DESC LIMIT 1""",
        {"id": case_id, "action": MERGED_ACTION},
    ).fetchone()


def merged(conn: Conn, case_id: int) -> list[dict[str, Any]]:
    """The cases merged into this one (directly), with their facility's name and how many reports they hold."""
    return conn.execute(
        """SELECT c.id, f.name AS facility_name, c.kind::text AS kind,
                  (SELECT count(*) FROM report r WHERE r.case_id = c.id) AS reports
           FROM damage_case c LEFT JOIN facility f ON f.id = c.facility_id
           WHERE c.merged_into = %(id)s ORDER BY c.id""",
        {"id": case_id},
    ).fetchall()


def dependants(conn: Conn, facility_id: int) -> list[dict[str, Any]]:
    """Everything fed through the facility (feed_link children, recursively) with its direct population."""
    return conn.execute(
        """WITH RECURSIVE down AS (
             SELECT child_id AS id, 1 AS depth FROM feed_link WHERE parent_id = %(id)s
             UNION
             SELECT l.child_id, d.depth + 1 FROM feed_link l JOIN down d ON l.parent_id = d.id WHERE d.depth < 50)
           SELECT f.id, f.name, f.kind::text AS kind, min(d.depth) AS depth,
                  coalesce((SELECT p.population FROM facility_population_latest p WHERE p.facility_id = f.id), 0)
                    AS population
           FROM down d JOIN facility f ON f.id = d.id
           WHERE f.id <> %(id)s
           GROUP BY f.id ORDER BY min(d.depth), f.name""",
        {"id": facility_id},
    ).fetchall()


def facility(conn: Conn, facility_id: int) -> dict[str, Any] | None:
    """A facility with its direct population and population served (latest layer)."""
    return conn.execute(
        """SELECT f.id, f.name, f.kind::text AS kind, f.external_id, f.voltage_kv,
                  fp.population, fp.population_served
           FROM facility f LEFT JOIN facility_population_latest fp ON fp.facility_id = f.id
           WHERE f.id = %s""",
        (facility_id,),
    ).fetchone()


def duplicates(conn: Conn, case_id: int, *, distance_m: float, window_h: float) -> list[dict[str, Any]]:
    """Other open cases on the same facility, or near this one on the ground and opened close in time."""
    return conn.execute(
        """SELECT o.id, o.facility_id, f.name AS facility_name, o.kind::text AS kind, o.status::text AS status,
                  o.opened_at, round(ST_Distance(o.geom::geography, c.geom::geography)::numeric, 1)::float8
                    AS distance_m,
                  (o.facility_id IS NOT NULL AND o.facility_id = c.facility_id) AS same_facility
           FROM damage_case c
           JOIN damage_case o ON o.id <> c.id
                AND o.status = ANY(%(open)s::case_status[])
                AND ((o.facility_id IS NOT NULL AND o.facility_id = c.facility_id)
                     OR (ST_DWithin(o.geom::geography, c.geom::geography, %(m)s)
                         AND abs(extract(epoch FROM o.opened_at - c.opened_at)) <= %(h)s * 3600))
           LEFT JOIN facility f ON f.id = o.facility_id
           WHERE c.id = %(id)s
           ORDER BY distance_m, o.id""",
        {"id": case_id, "m": distance_m, "h": window_h, "open": list(OPEN_CASE_STATUSES)},
    ).fetchall()


def update(conn: Conn, case_id: int, changes: dict[str, Any]) -> None:
    """Set the case's current state (status and workflow columns); the event keeps the history."""
    current = get(conn, case_id)
    assert current is not None
    row = {key: current[key] for key in ("status", "merged_into", "assigned_crew", "assigned_user_id",
                                         "repair_hours_override", "repair_hours_accepted", "priority_bump",
                                         "operational_status", "share_out", "access_state", "access_expected_at",
                                         "materials_until")}
    row.update(changes)
    conn.execute(
        """UPDATE damage_case SET status = %(status)s, merged_into = %(merged_into)s,
                  assigned_crew = %(assigned_crew)s, assigned_user_id = %(assigned_user_id)s,
                  repair_hours_override = %(repair_hours_override)s,
                  repair_hours_accepted = %(repair_hours_accepted)s,
                  operational_status = %(operational_status)s, share_out = %(share_out)s,
                  access_state = %(access_state)s, access_expected_at = %(access_expected_at)s,
                  materials_until = %(materials_until)s,
                  priority_bump = %(priority_bump)s, updated_at = now()
           WHERE id = %(id)s""",
        {**row, "id": case_id},
    )


def operational_status(conn: Conn, case_id: int) -> dict[str, Any] | None:
    """The case's operational status as view case_operational_status gives it (reports, or a coordinator)."""
    return conn.execute(
        """SELECT operational_status::text AS operational_status, share_out, set_by, set_by_user, set_at, reason,
                  report_id, reported_statuses
           FROM case_operational_status WHERE case_id = %s""", (case_id,)).fetchone()


def latest_estimate(conn: Conn, case_id: int) -> float | None:
    """The latest crew estimate of repair hours among the reports of the case and the cases merged into it."""
    row = conn.execute(
        """SELECT (array_agg(r.repair_hours ORDER BY r.received_at DESC)
                     FILTER (WHERE r.repair_hours IS NOT NULL))[1] AS hours
           FROM case_members(ARRAY[%(id)s]::bigint[]) m JOIN report r ON r.case_id = m.member_id""",
        {"id": case_id},
    ).fetchone()
    return None if row is None or row["hours"] is None else float(row["hours"])


def account(conn: Conn, username: str) -> dict[str, Any] | None:
    """The account a case may be assigned to, by user name; held until the transaction ends (no deactivation
    slips in between the check and the assignment)."""
    return conn.execute("SELECT id, username, role::text AS role, active FROM app_user WHERE username = %s FOR SHARE",
                        (username,)).fetchone()


def crew_accounts(conn: Conn) -> list[dict[str, Any]]:
    """The active crew accounts, by name: whom the case page offers to assign a case to."""
    return conn.execute(
        "SELECT id, username FROM app_user WHERE active AND role = 'crew' ORDER BY username").fetchall()


def counts(conn: Conn) -> list[dict[str, Any]]:
    """How many cases there are of each status and facility kind (merged duplicates included as such)."""
    return conn.execute(
        """SELECT status::text AS status, kind::text AS kind, count(*) AS cases FROM damage_case
           GROUP BY status, kind ORDER BY status, kind"""
    ).fetchall()


def demo_facilities(conn: Conn, *, prefix: str, limit: int) -> list[dict[str, Any]]:
    """The most populous facilities whose external id starts with `prefix`, as lon/lat points."""
    return conn.execute(
        """SELECT f.id, f.name, f.kind::text AS kind, ST_X(ST_PointOnSurface(f.geom)) AS lon,
                  ST_Y(ST_PointOnSurface(f.geom)) AS lat
           FROM facility f LEFT JOIN facility_population_latest fp ON fp.facility_id = f.id
           WHERE f.external_id LIKE %(prefix)s || '%%'
           ORDER BY fp.population DESC NULLS LAST, f.id LIMIT %(limit)s""",
        {"prefix": prefix, "limit": limit},
    ).fetchall()


def existing_reports(conn: Conn, report_ids: list[str]) -> set[str]:
    rows = conn.execute("SELECT id::text AS id FROM report WHERE id = ANY(%s::uuid[])", (report_ids,)).fetchall()
    return {row["id"] for row in rows}


def delete_reports_and_their_cases(conn: Conn, report_ids: list[str]) -> dict[str, int]:
    """Delete reports, their photos and events, and the cases left without reports (a maintenance action)."""
    conn.execute("SET LOCAL gridtriage.maintenance = 'on'")  # lets the append-only triggers allow DELETE
    cases = [row["case_id"] for row in conn.execute(
        "SELECT DISTINCT case_id FROM report WHERE id = ANY(%s::uuid[])", (report_ids,)).fetchall()]
    photos = conn.execute("DELETE FROM report_photo WHERE report_id = ANY(%s::uuid[])", (report_ids,)).rowcount
    reports = conn.execute("DELETE FROM report WHERE id = ANY(%s::uuid[])", (report_ids,)).rowcount
    empty = [row["id"] for row in conn.execute(
        """SELECT c.id FROM damage_case c WHERE c.id = ANY(%(cases)s)
             AND NOT EXISTS (SELECT 1 FROM report r WHERE r.case_id = c.id)
             AND NOT EXISTS (SELECT 1 FROM damage_case o WHERE o.merged_into = c.id AND NOT o.id = ANY(%(cases)s))""",
        {"cases": cases}).fetchall()]
    events = conn.execute("DELETE FROM case_event WHERE case_id = ANY(%s) OR data->>'report_id' = ANY(%s)",
                          (empty, report_ids)).rowcount
    deleted = conn.execute("DELETE FROM damage_case WHERE id = ANY(%s)", (empty,)).rowcount
    return {"reports": reports, "photos": photos, "events": events, "cases": deleted}
