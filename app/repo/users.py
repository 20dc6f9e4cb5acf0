"""SQL for accounts, API tokens, the audit trail and rate-limit counters."""

from __future__ import annotations

import json
from typing import Any

from app.repo import Conn


def get(conn: Conn, user_id: int) -> dict[str, Any] | None:
    return conn.execute("""SELECT id, username, role, active, password_hash, session_epoch FROM app_user
                           WHERE id = %s""", (user_id,)).fetchone()


def get_in_session(conn: Conn, user_id: int, session_id: str) -> dict[str, Any] | None:
    """The account, if `session_id` is one of its sign-ins that has not ended."""
    return conn.execute("""SELECT u.id, u.username, u.role, u.active, u.password_hash, u.session_epoch
                           FROM app_user u JOIN login_session s ON s.user_id = u.id
                           WHERE u.id = %s AND s.id = %s AND s.ended_at IS NULL""",
                        (user_id, session_id)).fetchone()


def start_session(conn: Conn, user_id: int) -> str:
    """A new sign-in of the account; its id goes into the session and remember cookies."""
    row = conn.execute("INSERT INTO login_session (user_id) VALUES (%s) RETURNING id::text AS id",
                       (user_id,)).fetchone()
    assert row is not None
    return str(row["id"])


def end_session(conn: Conn, session_id: str) -> None:
    """End a sign-in: the cookies that name it no longer authenticate, copies included."""
    conn.execute("UPDATE login_session SET ended_at = now() WHERE id = %s AND ended_at IS NULL", (session_id,))


def get_by_name(conn: Conn, username: str) -> dict[str, Any] | None:
    return conn.execute("""SELECT id, username, role, active, password_hash, session_epoch FROM app_user
                           WHERE username = %s""", (username,)).fetchone()


def count(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) AS n FROM app_user").fetchone()
    return int(row["n"]) if row else 0


def insert(conn: Conn, *, username: str, password_hash: str, role: str) -> int:
    row = conn.execute("""INSERT INTO app_user (username, password_hash, role) VALUES (%s, %s, %s)
                          RETURNING id""", (username, password_hash, role)).fetchone()
    assert row is not None
    return int(row["id"])


def set_password(conn: Conn, user_id: int, password_hash: str) -> None:
    conn.execute("UPDATE app_user SET password_hash = %s WHERE id = %s", (password_hash, user_id))


def set_role(conn: Conn, user_id: int, role: str) -> None:
    conn.execute("UPDATE app_user SET role = %s WHERE id = %s", (role, user_id))


def insert_token(conn: Conn, *, user_id: int, token_hash: str, label: str | None) -> None:
    conn.execute("INSERT INTO api_token (user_id, token_hash, label) VALUES (%s, %s, %s)",
                 (user_id, token_hash, label))


def user_for_token(conn: Conn, token_hash: str) -> dict[str, Any] | None:
    """The active user of a live token; marks the token used (at most once a minute)."""
    row = conn.execute(
        """SELECT u.id, u.username, u.role, u.active, u.password_hash, u.session_epoch, t.id AS token_id
           FROM api_token t JOIN app_user u ON u.id = t.user_id
           WHERE t.token_hash = %s AND t.revoked_at IS NULL AND u.active""",
        (token_hash,),
    ).fetchone()
    if row is not None:
        conn.execute("""UPDATE api_token SET last_used_at = now()
                        WHERE id = %s AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')""",
                     (row["token_id"],))
    return row


def audit(conn: Conn, *, actor_id: int | None, entity: str, entity_id: str, action: str,
          before: dict[str, Any] | None = None, after: dict[str, Any] | None = None, reason: str | None = None) -> None:
    """Append an event to the audit trail (append-only in the database)."""
    conn.execute(
        """INSERT INTO audit_event (actor_id, entity, entity_id, action, before, after, reason)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (actor_id, entity, entity_id, action, json.dumps(before) if before is not None else None,
         json.dumps(after) if after is not None else None, reason),
    )


def hits(conn: Conn, *, keys: list[str], window_s: int) -> list[tuple[int, float]]:
    """Count one hit of each key in the current fixed window (this connection's shard of it, migration 0013); per
    key, the hits so far over every shard and the seconds until the window ends."""
    rows = conn.execute("SELECT hits, left_s FROM rate_limit_hits(%(keys)s::text[], %(w)s)",
                        {"keys": keys, "w": window_s}).fetchall()
    return [(int(row["hits"]), float(row["left_s"])) for row in rows]


def listing(conn: Conn) -> list[dict[str, Any]]:
    """Every account with its live tokens and when one was last used, for the admin page."""
    return conn.execute(
        """SELECT u.id, u.username, u.role, u.active, u.created_at,
                  count(t.id) FILTER (WHERE t.revoked_at IS NULL) AS tokens,
                  max(t.last_used_at) FILTER (WHERE t.revoked_at IS NULL) AS token_used_at
           FROM app_user u LEFT JOIN api_token t ON t.user_id = u.id
           GROUP BY u.id ORDER BY u.username""").fetchall()


def lock_for_change(conn: Conn, user_id: int) -> dict[str, Any] | None:
    """The account, locked until the transaction ends, and how many other active admins there are."""
    conn.execute("SELECT id FROM app_user WHERE role = 'admin' AND active FOR UPDATE")  # one change at a time
    return conn.execute(
        """SELECT id, username, role, active,
                  (SELECT count(*) FROM app_user o WHERE o.role = 'admin' AND o.active AND o.id <> %(id)s)
                    AS other_admins
           FROM app_user WHERE id = %(id)s FOR UPDATE""", {"id": user_id}).fetchone()


def set_active(conn: Conn, user_id: int, active: bool) -> None:
    """Activate or deactivate; deactivating also ends every session for good (a new session epoch)."""
    conn.execute("""UPDATE app_user SET active = %(active)s,
                           session_epoch = session_epoch + CASE WHEN %(active)s THEN 0 ELSE 1 END
                    WHERE id = %(id)s""", {"active": active, "id": user_id})


def revoke_tokens(conn: Conn, user_id: int) -> int:
    return conn.execute("UPDATE api_token SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                        (user_id,)).rowcount


def events(conn: Conn, *, limit: int) -> list[dict[str, Any]]:
    """The newest audit events about accounts, with the acting user's name."""
    return conn.execute(
        """SELECT e.at, e.entity_id, u.username AS subject, a.username AS actor, e.action, e.before, e.after, e.reason
           FROM audit_event e LEFT JOIN app_user a ON a.id = e.actor_id
                              LEFT JOIN app_user u ON u.id::text = e.entity_id
           WHERE e.entity = 'user' ORDER BY e.id DESC LIMIT %s""", (limit,)).fetchall()
