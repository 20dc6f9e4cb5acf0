"""SQL that gathers what the triage needs: the feed network, open damage cases and critical sites."""

from __future__ import annotations

from typing import Any

from app.repo import Conn

# Cases whose facility is without power: temporarily restored ones have power (generator, bypass).
OPEN_FOR_TRIAGE = ("reported", "confirmed", "assigned", "in_repair")


def network(conn: Conn) -> list[dict[str, Any]]:
    """Every facility with its feed parents and its direct population (latest computed layer)."""
    return conn.execute(
        """SELECT f.id::text AS id, f.name, f.kind,
                  coalesce((SELECT array_agg(l.parent_id::text ORDER BY l.parent_id) FROM feed_link l
                            WHERE l.child_id = f.id), '{}') AS parents,
                  coalesce((SELECT fp.population FROM facility_population fp WHERE fp.facility_id = f.id
                            ORDER BY fp.computed_at DESC, fp.layer_id DESC LIMIT 1), 0) AS population
           FROM facility f ORDER BY f.id"""
    ).fetchall()


def open_cases(conn: Conn) -> list[dict[str, Any]]:
    """Open damage cases with what their reports say: severities, latest repair estimate, hazards."""
    return conn.execute(
        """SELECT c.id AS case_id, c.facility_id::text AS facility_id, c.kind, c.status,
                  c.repair_hours_override, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
                  array_agg(r.severity::text) AS severities,
                  (array_agg(r.repair_hours ORDER BY r.received_at DESC)
                     FILTER (WHERE r.repair_hours IS NOT NULL))[1] AS reported_repair_hours,
                  (SELECT coalesce(array_agg(DISTINCT h::text), '{}') FROM report r2, unnest(r2.hazards) h
                   WHERE r2.case_id = c.id) AS hazards,
                  count(r.id) AS reports
           FROM damage_case c JOIN report r ON r.case_id = c.id
           WHERE c.status = ANY(%s::case_status[])
           GROUP BY c.id ORDER BY c.id""",
        (list(OPEN_FOR_TRIAGE),),
    ).fetchall()


def critical_sites(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(
        """SELECT id::text AS id, name, kind::text AS kind, weight, facility_id::text AS facility_id
           FROM critical_site WHERE facility_id IS NOT NULL ORDER BY id"""
    ).fetchall()
