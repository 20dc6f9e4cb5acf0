"""Every SQL statement of the application, grouped by noun; functions take a connection and never commit."""

from typing import Any, TypeAlias

import psycopg

# Connections from the pool return rows as dicts (psycopg.rows.dict_row).
Conn: TypeAlias = psycopg.Connection[dict[str, Any]]

# The one bbox shape of the repository: (min_lon, min_lat, max_lon, max_lat) in degrees, None for no bbox. It goes to
# SQL as one float8[] parameter, always written `geom && bbox_envelope(%(bbox)s::float8[])` (migration 0008).
BBox: TypeAlias = tuple[float, float, float, float]


def bbox_param(bbox: BBox | None) -> list[float] | None:
    """The bbox as the float8[] parameter of bbox_envelope(): a list (psycopg adapts lists, not tuples)."""
    if bbox is None:
        return None
    return [float(v) for v in bbox]
