"""Hardening: CSRF on cookie-authenticated changes, rate limits, security headers and cookie flags."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from app import db
from app.auth.access import ANYONE, authenticated_by_token, required_role
from app.auth.quota import Quota
from app.config import ConfigError
from app.errors import RateLimited
from app.repo import users

csrf = CSRFProtect()
log = logging.getLogger(__name__)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Windows that started more than a day ago are dropped (migration 0018's rate_limit_forget): none may be longer.
MAX_WINDOW_S = 86_400


def quota(kind: str, *keys: str) -> Quota | None:
    """The configured limit of `kind` for these keys, for a statement that counts it itself (None: no limit)."""
    per_window = int(current_app.config[f"RATE_LIMIT_{kind.upper()}"])
    if not per_window:
        return None
    window_s = int(current_app.config[f"RATE_LIMIT_{kind.upper()}_WINDOW_S"])
    if not 0 < window_s <= MAX_WINDOW_S:
        raise ConfigError(f"RATE_LIMIT_{kind.upper()}_WINDOW_S must be 1 to {MAX_WINDOW_S} s (got {window_s})")
    return Quota(per_window=per_window, window_s=window_s, keys=tuple(f"{kind}:{key}" for key in keys))


def limit(kind: str, *keys: str) -> None:
    """Count this request against each key's window for `kind` in a transaction of its own (sign-ins); raise
    RateLimited past the configured limit. Reports count theirs inside their own statement (`quota`)."""
    counted = quota(kind, *keys)
    if counted is None:
        return
    with db.connection() as conn:
        counts = users.hits(conn, keys=list(counted.keys), window_s=counted.window_s)
    over = [left_s for hits, left_s in counts if hits > counted.per_window]
    if over:
        raise RateLimited(max(over))


def client_address() -> str:
    return request.remote_addr or "unknown"


def content_security_policy() -> str:
    """A strict policy the pages pass: scripts and styles from this site only, images also from the tile host."""
    return _policy(current_app.config["TILE_URL"])


@lru_cache(maxsize=8)
def _policy(tile_url: str) -> str:
    """The policy for one tile URL: the same string for every response, so it is built once."""
    images = ["'self'", "data:", "blob:"]
    if tile_url:
        parts = urlsplit(tile_url)
        images.append(f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}")  # {s}: Leaflet's subdomains
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src " + " ".join(images) + "; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
            "form-action 'self'; worker-src 'self'; manifest-src 'self'")


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but a request that sends no session cookie (API clients with a bearer
    token) gets its empty session without building the cookie signer first: a tenth of such a request's CPU."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked below, except for bearer-token requests
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session: crews sync hours later
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["SECURE_COOKIES"], REMEMBER_COOKIE_SECURE=app.config["SECURE_COOKIES"],
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=app.config["SESSION_LIFETIME_S"]),
        REMEMBER_COOKIE_DURATION=timedelta(days=app.config["CREW_REMEMBER_DAYS"]),
    )
    csrf.init_app(app)

    @app.before_request
    def check_csrf() -> None:
        if request.method not in UNSAFE or request.endpoint is None or authenticated_by_token():
            return
        role = required_role(request.endpoint)
        if role not in (None, ANYONE) and (not current_user.is_authenticated or not current_user.has(role)):
            return  # the view refuses them (401 or 403) before reading anything; say that rather than "CSRF"
        csrf.protect()

    @app.after_request
    def security_headers(response: Response) -> Response:
        """The same headers on every response, unless the view set its own: added in one pass over the few
        headers a response has (Headers.setdefault scans them once per header)."""
        headers = response.headers
        given = {key.lower() for key, _ in headers.items()}
        wanted = _security_headers(content_security_policy(), bool(app.config["SECURE_COOKIES"]),
                                   request.path.startswith("/api/"))
        headers.extend([(key, value) for key, value in wanted if key.lower() not in given])
        return response


@lru_cache(maxsize=32)
def _security_headers(policy: str, secure: bool, api: bool) -> tuple[tuple[str, str], ...]:
    """The security headers of a response, by what they depend on."""
    return (("Content-Security-Policy", policy), ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
            ("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            *((("Strict-Transport-Security", "max-age=31536000"),) if secure else ()),
            *((("Cache-Control", "no-store"),) if api else ()))
