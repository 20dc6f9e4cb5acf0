"""Every SQL statement of the application, grouped by noun; functions take a connection and never commit."""

from typing import Any, TypeAlias

import psycopg

# Connections from the pool return rows as dicts (psycopg.rows.dict_row).
Conn: TypeAlias = psycopg.Connection[dict[str, Any]]
