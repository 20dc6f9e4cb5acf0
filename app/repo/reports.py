"""SQL for reports, their photos and the damage cases they build."""

from __future__ import annotations

from typing import Any

from app.repo import BBox, Conn, bbox_param
from geo.taxonomy import OPEN_CASE_STATUSES


def lock_id(conn: Conn, key: str) -> None:
    """Serialise requests about the same client id until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def get(conn: Conn, report_id: str) -> dict[str, Any] | None:
    return conn.execute("SELECT * FROM report_view WHERE id = %s", (report_id,)).fetchone()


def facility_exists(conn: Conn, facility_id: int) -> bool:
    return conn.execute("SELECT 1 FROM facility WHERE id = %s", (facility_id,)).fetchone() is not None


def may_follow_up(conn: Conn, case_id: int, user_id: int) -> bool:
    """Whether the case (or a case merged into it) is assigned to the user or holds one of the user's reports."""
    row = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM damage_case WHERE id = %(case)s AND assigned_user_id = %(user)s)
               OR EXISTS (SELECT 1 FROM report r JOIN case_members(ARRAY[%(case)s]::bigint[]) m
                          ON r.case_id = m.member_id WHERE r.reporter_id = %(user)s)
             AS allowed""",
        {"case": case_id, "user": user_id},
    ).fetchone()
    return bool(row and row["allowed"])


def case_for_followup(conn: Conn, case_id: int) -> dict[str, Any] | None:
    """The case a follow-up names, following merges to the case that absorbed it."""
    return conn.execute(
        """WITH RECURSIVE chain AS (
             SELECT id, merged_into, 0 AS depth FROM damage_case WHERE id = %s
             UNION ALL
             SELECT c.id, c.merged_into, chain.depth + 1 FROM damage_case c JOIN chain ON c.id = chain.merged_into
             WHERE chain.depth < 100)
           SELECT d.id, d.facility_id, d.status, d.assigned_user_id FROM damage_case d
           WHERE d.id = (SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1)
           FOR UPDATE""",
        (case_id,),
    ).fetchone()


def nearest_facility(conn: Conn, *, lon: float, lat: float, kind: str, within_m: float) -> int | None:
    """The nearest facility of this kind within a distance on the ground, or None."""
    row = conn.execute(
        """SELECT id FROM facility
           WHERE kind = %(kind)s
             AND ST_DWithin(geom::geography, ST_Point(%(lon)s, %(lat)s, 4326)::geography, %(m)s)
           ORDER BY geom::geography <-> ST_Point(%(lon)s, %(lat)s, 4326)::geography, id
           LIMIT 1""",
        {"kind": kind, "lon": lon, "lat": lat, "m": within_m},
    ).fetchone()
    return row["id"] if row else None


def open_case_of(conn: Conn, facility_id: int) -> dict[str, Any] | None:
    return conn.execute(
        """SELECT id, facility_id, status FROM damage_case
           WHERE facility_id = %(facility_id)s AND status = ANY(%(open)s::case_status[])
           FOR UPDATE""",
        {"facility_id": facility_id, "open": list(OPEN_CASE_STATUSES)},
    ).fetchone()


def open_case(conn: Conn, *, facility_id: int | None, kind: str, lon: float, lat: float) -> int | None:
    """Open a case; None if another transaction opened one for the same facility first."""
    # ON CONFLICT names the predicate of the unique index damage_case_one_open_per_facility as the index writes it:
    # PostgreSQL infers an arbiter index only from a predicate it can prove, so this one cannot be a parameter
    # (tests/test_vocabulary.py checks that the index's statuses are taxonomy.CLOSED_CASE_STATUSES).
    row = conn.execute(
        """INSERT INTO damage_case (facility_id, kind, geom)
           SELECT %(facility_id)s, %(kind)s,
                  coalesce((SELECT ST_PointOnSurface(geom) FROM facility WHERE id = %(facility_id)s),
                           ST_Point(%(lon)s, %(lat)s, 4326))
           ON CONFLICT (facility_id) WHERE facility_id IS NOT NULL
                                       AND status NOT IN ('repaired', 'rejected', 'duplicate')
           DO NOTHING
           RETURNING id""",
        {"facility_id": facility_id, "kind": kind, "lon": lon, "lat": lat},
    ).fetchone()
    return row["id"] if row else None


def insert(conn: Conn, row: dict[str, Any]) -> None:
    conn.execute(
        """INSERT INTO report (id, case_id, facility_id, reporter_id, kind, severity, status, progress, components,
                               hazards, repair_hours, crew_size, materials, notes, accuracy_m, observed_at,
                               content_hash, geom, share_out)
           VALUES (%(id)s, %(case_id)s, %(facility_id)s, %(reporter_id)s, %(kind)s, %(severity)s, %(status)s,
                   %(progress)s, %(components)s, %(hazards)s::hazard[], %(repair_hours)s, %(crew_size)s,
                   %(materials)s, %(notes)s, %(accuracy_m)s, %(observed_at)s, %(content_hash)s,
                   ST_Point(%(lon)s, %(lat)s, 4326), %(share_out)s)""",
        row,
    )


def set_case_status(conn: Conn, case_id: int, status: str) -> None:
    conn.execute("UPDATE damage_case SET status = %s, updated_at = now() WHERE id = %s", (status, case_id))


def add_case_event(conn: Conn, *, case_id: int, actor_id: int | None, action: str, from_status: str | None = None,
                   to_status: str | None = None, reason: str | None = None, data: str = "{}") -> None:
    conn.execute(
        """INSERT INTO case_event (case_id, actor_id, action, from_status, to_status, reason, data)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (case_id, actor_id, action, from_status, to_status, reason, data),
    )


def geojson(conn: Conn, *, bbox: BBox | None, since: Any, reporter_id: int | None, limit: int) -> str:
    """Reports as a GeoJSON FeatureCollection, oldest first after `since` (received time)."""
    params = {"bbox": bbox_param(bbox), "since": since, "reporter": reporter_id, "limit": limit}
    row = conn.execute(
        """SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
               'type', 'Feature', 'id', q.id, 'geometry', json_build_object('type', 'Point',
                 'coordinates', json_build_array(q.lon, q.lat)),
               'properties', to_jsonb(q) - 'lon' - 'lat' - 'geom' - 'content_hash')
             ORDER BY q.received_at, q.id), '[]'))::text AS body
            FROM (SELECT * FROM report_view r
                  WHERE r.geom && bbox_envelope(%(bbox)s::float8[])
                    AND (%(since)s::timestamptz IS NULL OR r.received_at > %(since)s)
                    AND (%(reporter)s::bigint IS NULL OR r.reporter_id = %(reporter)s)
                  ORDER BY r.received_at, r.id
                  LIMIT %(limit)s) q""",
        params,
    ).fetchone()
    assert row is not None
    return str(row["body"])


def get_photo(conn: Conn, photo_id: str) -> dict[str, Any] | None:
    return conn.execute("SELECT id::text, report_id::text, sha256, content_type, size_bytes FROM report_photo "
                        "WHERE id = %s", (photo_id,)).fetchone()


def insert_photo(conn: Conn, *, photo_id: str, report_id: str, content_type: str, data: bytes, sha256: str) -> None:
    conn.execute(
        """INSERT INTO report_photo (id, report_id, content_type, size_bytes, sha256, data)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (photo_id, report_id, content_type, len(data), sha256, data),
    )


def photo_data(conn: Conn, photo_id: str) -> dict[str, Any] | None:
    return conn.execute("""SELECT p.content_type, p.data, p.report_id::text AS report_id, r.reporter_id
                           FROM report_photo p JOIN report r ON r.id = p.report_id WHERE p.id = %s""",
                        (photo_id,)).fetchone()


def nearest_facilities(conn: Conn, *, lon: float, lat: float, limit: int) -> list[dict[str, Any]]:
    """Facilities nearest to a point, by their distance on the ground (spheroid), which is also returned.

    The index's KNN order (`<->` on geography) is on a sphere, up to ~0.3 % off the spheroid, so it picks a
    generous set of candidates and the exact distance orders them; the list then never shows 1,000 m before 999 m.
    """
    return conn.execute(
        """SELECT id, name, kind, round(distance::numeric, 1)::float8 AS distance_m
           FROM (SELECT id, name, kind,
                        ST_Distance(geom::geography, ST_Point(%(lon)s, %(lat)s, 4326)::geography) AS distance
                 FROM facility
                 ORDER BY geom::geography <-> ST_Point(%(lon)s, %(lat)s, 4326)::geography, id
                 LIMIT %(candidates)s) near
           ORDER BY distance, id
           LIMIT %(limit)s""",
        {"lon": lon, "lat": lat, "limit": limit, "candidates": 3 * limit + 20},
    ).fetchall()
