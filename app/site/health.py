"""What /healthz says of the streaming replica: whether one is configured, whether it answers, how far behind the
primary it is, and whether reads go to it now; never an error, whatever state the replica is in. It stays cheap
(the field form asks /healthz every few seconds): a replica that failed is not asked again until REPLICA_RETRY_S."""

from __future__ import annotations

import math
from typing import Any

import psycopg
from flask import current_app
from psycopg_pool import PoolTimeout

from app.db import Replica


def replica() -> dict[str, Any]:
    """The replica's health: `configured`; then `reachable`, `lag_s` (an upper bound, None when unknown or when the
    server is not a replica), `max_lag_s` and `reads` ("replica" when reads go there now, else "primary")."""
    found: Replica | None = current_app.extensions.get("db_replica")
    if found is None:
        return {"configured": False}
    max_lag_s = float(current_app.config["REPLICA_MAX_LAG_S"])
    if not found.usable():  # it failed a moment ago: reads are on the primary until REPLICA_RETRY_S have passed
        return {"configured": True, "reachable": False, "lag_s": None, "max_lag_s": max_lag_s, "reads": "primary",
                "error": "failed within the last REPLICA_RETRY_S seconds"}
    try:
        with found.pool.connection(timeout=float(current_app.config["REPLICA_TIMEOUT_S"])) as conn:
            lag_s = found.staleness_s(conn)
    except (PoolTimeout, psycopg.Error) as exc:
        found.failed(exc)  # the read path then goes to the primary too, without waiting for the replica again
        return {"configured": True, "reachable": False, "lag_s": None, "max_lag_s": max_lag_s, "reads": "primary",
                "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    known = math.isfinite(lag_s)
    return {"configured": True, "reachable": True, "lag_s": round(lag_s, 3) if known else None,
            "max_lag_s": max_lag_s,
            "reads": "replica" if known and lag_s <= max_lag_s and found.usable() else "primary"}
