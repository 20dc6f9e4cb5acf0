"""SQL about the schema itself."""

from __future__ import annotations

from app.repo import Conn


def revision(conn: Conn) -> str | None:
    """The applied Alembic revision, or None on a database that was never migrated."""
    exists = conn.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL AS yes").fetchone()
    if not exists or not exists["yes"]:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row["version_num"] if row else None
