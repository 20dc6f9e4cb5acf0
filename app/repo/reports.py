"""SQL for reports, their photos and the damage cases they build."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import Cursor

from app.repo import BBox, Conn, bbox_param


def lock_id(conn: Conn, key: str) -> None:
    """Serialise requests about the same client id until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def get(conn: Conn, report_id: str) -> dict[str, Any] | None:
    return conn.execute("SELECT * FROM report_view WHERE id = %s", (report_id,)).fetchone()


def shown(conn: Conn, report_id: str) -> tuple[str, int | None] | None:
    """One report as the API shows it, as JSON text (migration 0018's report_json), and who reported it."""
    row = conn.execute("SELECT report_json(r.id) AS body, r.reporter_id FROM report r WHERE r.id::text = %s",
                       (report_id,)).fetchone()
    return (str(row["body"]), row["reporter_id"]) if row else None


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


def text_array(values: Iterable[str]) -> str:
    """`values` as a PostgreSQL array literal (each element quoted, backslash and double quote escaped), for a
    parameter the statement casts to an array type. psycopg adapts a Python list by inspecting its elements on
    every call: for ingest_report's five lists that was about 0.2 ms of the app's CPU per report (bench/README.md),
    a string is a few microseconds."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


INGEST = """SELECT * FROM ingest_report(
    p_user_id => %(user_id)s::bigint, p_token_hash => %(token_hash)s::text, p_any_case => %(any_case)s::boolean,
    p_any_case_roles => %(any_case_roles)s::text[], p_limit => %(limit)s::integer, p_window_s => %(window_s)s::integer,
    p_limit_keys => %(limit_keys)s::text[], p_match_m => %(match_m)s::float8,
    p_open_statuses => %(open_statuses)s::case_status[], p_crew_status => %(crew_status)s::crew_status,
    p_id => %(id)s::uuid, p_case_id => %(case_id)s::bigint, p_facility_id => %(facility_id)s::bigint,
    p_kind => %(kind)s::facility_kind, p_severity => %(severity)s::severity,
    p_status => %(status)s::operational_status, p_progress => %(progress)s::report_progress,
    p_components => %(components)s::text[], p_hazards => %(hazards)s::hazard[],
    p_repair_hours => %(repair_hours)s::float8, p_crew_size => %(crew_size)s::integer,
    p_materials => %(materials)s::text, p_notes => %(notes)s::text, p_accuracy_m => %(accuracy_m)s::float8,
    p_observed_at => %(observed_at)s::timestamptz, p_observed_at_text => %(observed_at_text)s::text,
    p_content_hash => %(content_hash)s::text, p_lon => %(lon)s::float8, p_lat => %(lat)s::float8,
    p_share_out => %(share_out)s::float8)"""


def ingest(conn: Conn, params: dict[str, Any]) -> Cursor[dict[str, Any]]:
    """Run a report's whole transaction but the commit as one statement (migrations 0013 and 0018's ingest_report):
    who, rate limits, exactly-once storage, the case, its events and the crew's move. The answer: outcome,
    retry_after_s, case_id, case_status, assigned_user_id, any_case, the stored report as the API shows it
    (`report`, JSON text, when the outcome is created or existing), and for a follow-up whether the case is assigned
    to the reporter's crew by name (`crew_assigned`, migration 0021)."""
    return conn.execute(INGEST, params)


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
