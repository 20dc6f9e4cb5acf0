"""SQL for crews: the records, the accounts that belong to them, their status and last reported position."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.repo import Conn

# One crew as every reader sees it (base and position as lon/lat, members by user name), picked by any of id, name
# or member account (NULL: any).
CREWS = """
SELECT c.id, c.name, ST_X(c.base) AS lon, ST_Y(c.base) AS lat, c.skills, c.shift_start, c.shift_end, c.time_zone,
       c.status::text AS status, c.status_at, ST_X(c.position) AS position_lon, ST_Y(c.position) AS position_lat,
       c.position_at, c.updated_at,
       coalesce((SELECT array_agg(u.username ORDER BY u.username) FROM crew_member m JOIN app_user u ON u.id = m.user_id
                 WHERE m.crew_id = c.id), '{}') AS members
FROM crew c
WHERE (%(id)s::bigint IS NULL OR c.id = %(id)s) AND (%(name)s::text IS NULL OR c.name = %(name)s)
  AND (%(user)s::bigint IS NULL OR EXISTS (SELECT 1 FROM crew_member m WHERE m.crew_id = c.id AND m.user_id = %(user)s))
ORDER BY c.name"""


def _crews(conn: Conn, *, crew_id: int | None = None, name: str | None = None,
           user_id: int | None = None) -> list[dict[str, Any]]:
    return conn.execute(CREWS, {"id": crew_id, "name": name, "user": user_id}).fetchall()


def listing(conn: Conn) -> list[dict[str, Any]]:
    """Every crew, by name."""
    return _crews(conn)


def get(conn: Conn, crew_id: int) -> dict[str, Any] | None:
    return next(iter(_crews(conn, crew_id=crew_id)), None)


def get_by_name(conn: Conn, name: str) -> dict[str, Any] | None:
    return next(iter(_crews(conn, name=name)), None)


def of_user(conn: Conn, user_id: int) -> dict[str, Any] | None:
    """The crew the account belongs to, if any."""
    return next(iter(_crews(conn, user_id=user_id)), None)


def lock(conn: Conn) -> None:
    """Serialise changes to crews and their members until the transaction ends (page edits and imports)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('crew'))")


def insert(conn: Conn, values: dict[str, Any]) -> int:
    """A new crew; `values` holds name, lon, lat, skills, shift_start, shift_end, time_zone and status."""
    row = conn.execute(
        """INSERT INTO crew (name, base, skills, shift_start, shift_end, time_zone, status)
           VALUES (%(name)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(skills)s, %(shift_start)s,
                   %(shift_end)s, %(time_zone)s, %(status)s::crew_status)
           RETURNING id""", values).fetchone()
    assert row is not None
    return int(row["id"])


def update(conn: Conn, crew_id: int, values: dict[str, Any]) -> None:
    """Change a crew's record; the status time moves only when the status changes."""
    conn.execute(
        """UPDATE crew SET name = %(name)s, base = ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
                  skills = %(skills)s, shift_start = %(shift_start)s, shift_end = %(shift_end)s,
                  time_zone = %(time_zone)s,
                  status_at = CASE WHEN status = %(status)s::crew_status THEN status_at ELSE now() END,
                  status = %(status)s::crew_status, updated_at = now()
           WHERE id = %(id)s""", {**values, "id": crew_id})


def accounts(conn: Conn, names: Sequence[str]) -> list[dict[str, Any]]:
    """The accounts of these user names, with the crew each belongs to (if any)."""
    return conn.execute(
        """SELECT u.id, u.username, u.role::text AS role, u.active, m.crew_id, c.name AS crew
           FROM app_user u LEFT JOIN crew_member m ON m.user_id = u.id LEFT JOIN crew c ON c.id = m.crew_id
           WHERE u.username = ANY(%(names)s)""", {"names": list(names)}).fetchall()


def crew_accounts(conn: Conn, role: str) -> list[dict[str, Any]]:
    """The active accounts of a role, with the crew each belongs to (for the page's member choices)."""
    return conn.execute(
        """SELECT u.id, u.username, c.name AS crew FROM app_user u
           LEFT JOIN crew_member m ON m.user_id = u.id LEFT JOIN crew c ON c.id = m.crew_id
           WHERE u.active AND u.role = %(role)s::user_role ORDER BY u.username""", {"role": role}).fetchall()


def clear_members(conn: Conn, crew_ids: Sequence[int]) -> None:
    conn.execute("DELETE FROM crew_member WHERE crew_id = ANY(%(ids)s)", {"ids": list(crew_ids)})


def add_members(conn: Conn, crew_id: int, user_ids: Sequence[int]) -> None:
    conn.execute("""INSERT INTO crew_member (crew_id, user_id) SELECT %(crew)s, unnest(%(users)s::bigint[])""",
                 {"crew": crew_id, "users": list(user_ids)})


def report_seen(conn: Conn, *, user_id: int, lon: float, lat: float, observed_at: datetime,
                status: str) -> dict[str, Any] | None:
    """Move the account's crew to a report's point and status, unless the crew has news newer than the report
    (a report sent late from an outbox must not move it back); the crew before the change, or None if nothing
    changed."""
    return conn.execute(
        """WITH target AS (
             SELECT c.id, c.status::text AS status, ST_X(c.position) AS position_lon, ST_Y(c.position) AS position_lat,
                    c.position_at
             FROM crew c JOIN crew_member m ON m.crew_id = c.id
             WHERE m.user_id = %(user)s AND (c.position_at IS NULL OR c.position_at <= %(at)s)
             FOR UPDATE OF c)
           UPDATE crew c SET position = ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), position_at = %(at)s,
                  status = CASE WHEN c.status_at <= %(at)s THEN %(status)s::crew_status ELSE c.status END,
                  status_at = CASE WHEN c.status_at <= %(at)s THEN %(at)s ELSE c.status_at END,
                  updated_at = now()
           FROM target WHERE c.id = target.id
           RETURNING c.id, c.name, target.status AS before_status, c.status::text AS status,
                     target.position_lon, target.position_lat, target.position_at""",
        {"user": user_id, "lon": lon, "lat": lat, "at": observed_at, "status": status}).fetchone()


def set_status(conn: Conn, crew_id: int, status: str) -> None:
    conn.execute("""UPDATE crew SET status = %(status)s::crew_status, status_at = now(), updated_at = now()
                    WHERE id = %(id)s""", {"id": crew_id, "status": status})


def events(conn: Conn, *, limit: int) -> list[dict[str, Any]]:
    """The newest audit events about crews, with the acting user's name and the crew's."""
    return conn.execute(
        """SELECT e.at, e.entity_id, c.name AS crew, a.username AS actor, e.action, e.before, e.after, e.reason
           FROM audit_event e LEFT JOIN app_user a ON a.id = e.actor_id LEFT JOIN crew c ON c.id::text = e.entity_id
           WHERE e.entity = 'crew' ORDER BY e.id DESC LIMIT %(limit)s""", {"limit": limit}).fetchall()
