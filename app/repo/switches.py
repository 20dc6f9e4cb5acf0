"""SQL for tie switches: normally-open switches between two facilities that can feed a dark part of the network
from a healthy one (migration 0017)."""

from __future__ import annotations

from typing import Any

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
