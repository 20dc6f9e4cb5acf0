"""Where configuration comes from: defaults, then FLASK_* and documented environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


class ConfigError(RuntimeError):
    """Configuration is missing or inconsistent."""


def _stored(name: str) -> str | None:
    path = VAR / name
    return path.read_text().strip() if path.exists() else None


def database_url() -> str:
    """DATABASE_URL if set, else the project-managed cluster's URL written by `make run`."""
    url = os.environ.get("DATABASE_URL") or _stored("database-url")
    if not url:
        raise ConfigError("no database: run `make run` once (it starts the local PostGIS) or set DATABASE_URL")
    return url


def secret_key() -> str:
    """FLASK_SECRET_KEY if set, else a random key kept in var/ so sessions survive restarts."""
    path = VAR / "secret-key"
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()


def defaults() -> dict[str, Any]:
    """The documented defaults (README, "Configuration"); every key can be set as FLASK_<KEY>."""
    return {
        "DB_POOL_MIN": 1,
        "DB_POOL_MAX": 10,
        "DB_TIMEOUT_S": 5.0,
        "DB_RECONNECT_TIMEOUT_S": 5.0,  # how long the pool retries a lost connection before a request starts anew
        "DB_PREPARE_THRESHOLD": 5,  # psycopg's; null (FLASK_DB_PREPARE_THRESHOLD=null) behind pgbouncer's transactions
        # A streaming replica for the reads that may be a little behind (map, exports, OGC API, triage); empty: none.
        "DATABASE_REPLICA_URL": os.environ.get("DATABASE_REPLICA_URL", ""),
        "REPLICA_MAX_LAG_S": 30.0,  # a replica further behind than this is not read; the primary is
        "REPLICA_CHECK_S": 1.0,  # how often the primary's WAL position is read to measure the replica's lag
        "REPLICA_TIMEOUT_S": 0.5,  # wait at most this for a replica connection, then read from the primary
        "REPLICA_RETRY_S": 5.0,  # after the replica failed, read from the primary for this long before trying again
        "TILE_URL": "",
        "TILE_ATTRIBUTION": "",
        "BASEMAP_FILE": "",  # an MBTiles or PMTiles file of raster tiles, served at /tiles (before TILE_URL)
        "DEMO_DIR": str(ROOT / "data" / "demo"),
        "DEMO_LOGINS_FILE": str(VAR / "demo-logins"),  # the demo accounts' passwords, written by demo-accounts
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
        "REPORT_MAX_BYTES": 64 * 1024,
        "PHOTO_MAX_BYTES": 8 * 1024 * 1024,
        "MATCH_DISTANCE_M": 250.0,
        "DUPLICATE_DISTANCE_M": 300.0,  # suggested duplicates: cases within this distance…
        "DUPLICATE_WINDOW_H": 48.0,  # …and opened within this many hours of each other
        "PLAN_MAX_SECONDS": 10.0,  # the longest local search a plan request may ask for
        "PERSONS_PER_CUSTOMER": 2.5,  # for customers interrupted and customer-minutes interrupted
        "DEGRADED_SHARE_OUT": 0.5,  # share of a degraded facility's people without power when no report says
        "SECURE_COOKIES": False,  # set FLASK_SECURE_COOKIES=true when served over HTTPS
        # The address users reach the app at, e.g. https://grid.example; external links (OGC API) are built
        # from it, never from a request's Host header. Empty: from the Host, which TRUSTED_HOSTS then restricts.
        "PUBLIC_URL": "",
        "TRUSTED_HOSTS": None,  # e.g. ["grid.example"]: other Host headers get a 400
        "SESSION_LIFETIME_S": 12 * 3600,
        "CREW_REMEMBER_DAYS": 30,
        "RATE_LIMIT_LOGIN": 10,  # attempts per user name and per address in the window; 0 turns a limit off
        "RATE_LIMIT_LOGIN_WINDOW_S": 300,
        "RATE_LIMIT_REPORTS": 120,  # reports per user and per address in the window
        "RATE_LIMIT_REPORTS_WINDOW_S": 60,
        "JSON_SORT_KEYS": False,
    }
