"""SQL for datasets (provenance), study areas, service areas and population layers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.repo import Conn


def find(conn: Conn, name: str) -> int | None:
    row = conn.execute("SELECT id FROM dataset WHERE name = %s", (name,)).fetchone()
    return row["id"] if row else None


def insert(conn: Conn, *, name: str, source: str, licence: str | None) -> int:
    row = conn.execute("INSERT INTO dataset (name, source, licence) VALUES (%s, %s, %s) RETURNING id",
                       (name, source, licence)).fetchone()
    assert row is not None
    return int(row["id"])


def lock(conn: Conn, name: str) -> None:
    """Serialise loaders of the same dataset until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))


def insert_study_area(conn: Conn, *, name: str, dataset_id: int, wkb: bytes) -> None:
    conn.execute("""INSERT INTO study_area (name, dataset_id, geom)
                    VALUES (%s, %s, ST_Multi(ST_GeomFromWKB(%s, 4326)))""", (name, dataset_id, wkb))


def insert_service_areas(conn: Conn, rows: Iterable[dict[str, Any]]) -> None:
    """Service areas with their area in m² measured on the spheroid."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO service_area (facility_id, method, provenance, area_m2, geom)
               SELECT %(facility_id)s, %(method)s, %(provenance)s, ST_Area(g::geography), g
               FROM ST_Multi(ST_GeomFromWKB(%(wkb)s, 4326)) AS g""",
            list(rows),
        )


def insert_population_layer(conn: Conn, *, name: str, kind: str, dataset_id: int,
                            total: float) -> int:
    row = conn.execute("""INSERT INTO population_layer (name, kind, dataset_id, total)
                          VALUES (%s, %s, %s, %s) RETURNING id""", (name, kind, dataset_id, total)).fetchone()
    assert row is not None
    return int(row["id"])


def copy_population_points(conn: Conn, layer_id: int,
                           points: Iterable[tuple[str, float, float, float]]) -> None:
    """Bulk-load (ref, population, lon, lat) points with COPY."""
    with conn.cursor() as cur, cur.copy(
        "COPY population_point (layer_id, ref, population, geom) FROM STDIN"
    ) as copy:
        for ref, people, lon, lat in points:
            copy.write_row((layer_id, ref, people, f"SRID=4326;POINT({lon!r} {lat!r})"))


def insert_facility_population(conn: Conn, rows: Iterable[dict[str, Any]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO facility_population (facility_id, layer_id, population, population_served, method)
               VALUES (%(facility_id)s, %(layer_id)s, %(population)s, %(population_served)s, %(method)s)""",
            list(rows),
        )


def population_totals(conn: Conn, layer_id: int) -> dict[str, float]:
    """People assigned to facilities, and people of the layer inside the study areas, from the stored rows."""
    row = conn.execute(
        """SELECT (SELECT coalesce(sum(population), 0) FROM facility_population WHERE layer_id = %(l)s) AS assigned,
                  (SELECT coalesce(sum(p.population), 0) FROM population_point p
                   WHERE p.layer_id = %(l)s
                     AND EXISTS (SELECT 1 FROM study_area s WHERE ST_Intersects(s.geom, p.geom))) AS inside""",
        {"l": layer_id},
    ).fetchone()
    assert row is not None
    return {"assigned": float(row["assigned"]), "inside": float(row["inside"])}
