"""SQL about streaming replication: where the primary's WAL is, and how far a replica has replayed it."""

from __future__ import annotations

from typing import Any

from app.repo import Conn


def primary_position(conn: Conn) -> str:
    """The primary's WAL position flushed to disk (every committed transaction is at or before it)."""
    row = conn.execute("SELECT pg_current_wal_flush_lsn()::text AS lsn").fetchone()
    assert row is not None
    return str(row["lsn"])


def replica_state(conn: Conn, *, primary_lsn: str | None) -> dict[str, Any]:
    """On a replica: whether it is one, whether it has replayed up to `primary_lsn`, and the seconds since the
    primary committed the last transaction it has replayed (None before it replayed any)."""
    row = conn.execute(
        """SELECT pg_is_in_recovery() AS in_recovery,
                  coalesce(pg_last_wal_replay_lsn() >= %(lsn)s::pg_lsn, false) AS caught_up,
                  extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
                    AS since_last_replayed_s""",
        {"lsn": primary_lsn}).fetchone()
    assert row is not None
    return row
