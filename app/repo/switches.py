"""SQL for tie switches: normally-open switches between two facilities that can feed a dark part of the network
from a healthy one (migration 0017)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from app.repo import Conn


def ties(conn: Conn, switch_id: int | None = None) -> list[dict[str, Any]]:
    """Every tie switch (or the one of this id): id, external_id, name, facility_a, facility_b (facility ids as
    text), remote, switch_hours (None: the default), closed_at and closed_by (None: open) and its position, lon
    and lat (its own, else midway between its two facilities)."""
    return conn.execute(
        """SELECT t.id, t.external_id, t.name, t.facility_a::text AS facility_a, t.facility_b::text AS facility_b,
                  t.remote, t.switch_hours, t.closed_at, u.username AS closed_by, ST_X(p.at) AS lon, ST_Y(p.at) AS lat
           FROM tie_switch t JOIN facility a ON a.id = t.facility_a JOIN facility b ON b.id = t.facility_b
           LEFT JOIN app_user u ON u.id = t.closed_by
           CROSS JOIN LATERAL (SELECT coalesce(t.geom, ST_Centroid(ST_Collect(ST_PointOnSurface(a.geom),
                                                                              ST_PointOnSurface(b.geom)))) AS at) p
           WHERE %(id)s::bigint IS NULL OR t.id = %(id)s
           ORDER BY t.id""", {"id": switch_id}).fetchall()


def set_closed(conn: Conn, switch_id: int, *, closed: bool, actor_id: int, reason: str | None) -> bool | None:
    """Record that a tie switch was closed (now, by the actor) or opened again, with an audit event; None when
    there is no such switch, False when it already was so (nothing changes, nothing is audited), else True."""
    row = conn.execute("SELECT closed_at IS NOT NULL AS closed FROM tie_switch WHERE id = %(id)s FOR UPDATE",
                       {"id": switch_id}).fetchone()
    if row is None:
        return None
    if row["closed"] == closed:
        return False
    conn.execute(
        """UPDATE tie_switch SET closed_at = CASE WHEN %(closed)s THEN now() END,
                                 closed_by = CASE WHEN %(closed)s THEN %(actor)s::bigint END, updated_at = now()
           WHERE id = %(id)s""", {"id": switch_id, "closed": closed, "actor": actor_id})
    before, after = ({"state": "open"}, {"state": "closed"}) if closed else ({"state": "closed"}, {"state": "open"})
    conn.execute(
        """INSERT INTO audit_event (actor_id, entity, entity_id, action, before, after, reason)
           VALUES (%(actor)s, 'tie_switch', %(id)s::text, %(action)s, %(before)s, %(after)s, %(reason)s)""",
        {"actor": actor_id, "id": switch_id, "action": "close_switch" if closed else "open_switch",
         "before": Jsonb(before), "after": Jsonb(after), "reason": reason})
    return True


def state_digest(conn: Conn) -> str:
    """A digest of every tie switch as the triage uses it (ends, remote, hours, closed or open): it changes
    whenever a switch is added, changed, closed or opened."""
    row = conn.execute(
        """SELECT md5(coalesce(string_agg(concat_ws(',', id, facility_a, facility_b, remote, switch_hours,
                                                     closed_at IS NOT NULL), ';' ORDER BY id), '')) AS digest
           FROM tie_switch""").fetchone()
    assert row is not None
    return str(row["digest"])


def pandapower_facilities(conn: Conn) -> list[dict[str, Any]]:
    """The facilities an import of a pandapower network stored with their element's data: id (as text),
    external_id and attributes (`element`, `pandapower`)."""
    return conn.execute(
        """SELECT id::text AS id, external_id, attributes FROM facility
           WHERE attributes ? 'pandapower' AND attributes ? 'element' ORDER BY id""").fetchall()


def pandapower_ties(conn: Conn) -> list[dict[str, Any]]:
    """The tie switches an import of a pandapower network stored with their switch's data (attribute `et`): id (as
    text), external_id and attributes."""
    return conn.execute(
        """SELECT id::text AS id, external_id, attributes FROM tie_switch WHERE attributes ? 'et' ORDER BY id"""
    ).fetchall()
