"""Who is asking: accounts, roles, login sessions and API tokens; every view declares the role it needs."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, jsonify, redirect, request, url_for
from flask_babel import gettext
from flask_login import LoginManager, current_user
from werkzeug.wrappers import Response as BaseResponse

from app import db
from app.auth.tokens import TokenCache, TokenRefused, token_hash
from app.errors import error_page
from app.repo import users
from app.site.labels import ROLE_LABELS, label
from geo.taxonomy import ROLES

ANYONE = "anyone"
login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])
TOKEN_CACHE_ENTRIES = 10_000


@dataclass(frozen=True)
class User:
    """A signed-in account as Flask-Login sees it."""

    id: int
    username: str
    role: str
    password_tag: str  # changes with the password and the session epoch, ending every other session
    via_token: bool = False
    session_id: str | None = None  # the sign-in (login_session) a cookie user belongs to
    token_digest: str | None = None  # the bearer token's hash, for a statement that checks it again

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.password_tag}:{self.session_id}"

    def has(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def user_from_row(row: dict[str, Any] | None, *, via_token: bool = False, session_id: str | None = None,
                  token_digest: str | None = None) -> User | None:
    if row is None or not row["active"]:
        return None
    # A new password or a new session epoch (deactivation) changes the tag, which ends the account's sessions.
    tag = hashlib.sha256(f"{row['password_hash']}:{row['session_epoch']}".encode()).hexdigest()[:16]
    return User(id=row["id"], username=row["username"], role=row["role"], password_tag=tag, via_token=via_token,
                session_id=session_id, token_digest=token_digest)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user a session or remember cookie names ("id:tag:sign-in"), if that sign-in has not ended."""
    ident, tag, session_id = (user_id.split(":") + ["", ""])[:3]
    try:
        uuid.UUID(session_id)
    except ValueError:  # also the cookies of before sign-ins were recorded: they sign in again
        return None
    if not ident.isdigit():
        return None
    with db.connection() as conn:
        user = user_from_row(users.get_in_session(conn, int(ident), session_id), session_id=session_id)
    return user if user is not None and user.password_tag == tag else None


def bearer_digest(req: Any) -> str | None:
    """The hash of the request's bearer token, if it sends one."""
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token_hash(token.strip())


def token_cache() -> TokenCache[User]:
    found: TokenCache[User] = current_app.extensions["token_cache"]
    return found


@login_manager.request_loader
def load_user_from_token(req: Any) -> User | None:
    """The account of the request's bearer token: from this process's cache when the view checks the token again
    in its own statement (app/auth/tokens.py says why that is safe), else by a query (which refreshes the cache)."""
    digest = bearer_digest(req)
    if digest is None:
        return None
    view = current_app.view_functions.get(req.endpoint or "")
    if getattr(view, "checks_token", False) and (cached := token_cache().get(digest)) is not None:
        return cached
    with db.connection() as conn:
        user = user_from_row(users.user_for_token(conn, digest), via_token=True, token_digest=digest)
    if user is None:
        token_cache().forget(digest)
    else:
        token_cache().put(digest, user)
    return user


def checks_token(view: F) -> F:
    """The view hands `current_user.token_digest` to a statement that checks the token again and raises
    TokenRefused when it no longer holds; so the token's account may come from the cache, without a query."""
    view.checks_token = True  # type: ignore[attr-defined]
    return view


def authenticated_by_token() -> bool:
    """True when a bearer token itself authenticated the request (then no cookie did, so no CSRF check is needed);
    False for a cookie session that merely also carries an Authorization header."""
    return bool(current_user.is_authenticated and getattr(current_user, "via_token", False))


def _wants_json() -> bool:
    """API callers get a JSON 401/403; people in a browser (who accept HTML first) get the login page."""
    if request.path.startswith("/api/") or request.headers.get("Authorization"):
        return True
    best = request.accept_mimetypes.best or ""
    return best == "application/json" or best.endswith("+json")


def _unauthenticated() -> BaseResponse:
    if _wants_json():
        response = jsonify({"error": "authentication required (log in, or send Authorization: Bearer TOKEN)"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="gridtriage"'
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _forbidden(role: str) -> Response:
    if _wants_json():
        response = jsonify({"error": f"this needs the {role} role"})
        response.status_code = 403
        return response
    return error_page(403, gettext("This page needs the %(role)s role.", role=label(role, ROLE_LABELS)))


def requires(role: str) -> Callable[[F], F]:
    """Only users with this role or a higher one (crew < coordinator < admin) may use the view."""
    assert role in ROLES

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _unauthenticated()
            if not current_user.has(role):
                return _forbidden(role)
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Anyone, signed in or not, may use the view (login page, health, static files)."""
    view.required_role = ANYONE  # type: ignore[attr-defined]
    return view


def is_static(endpoint: str) -> bool:
    """The app's and each area's static files: scripts, styles and icons, public like the login page."""
    return endpoint == "static" or endpoint.endswith(".static")


def required_role(endpoint: str) -> str | None:
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "required_role", None)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    # FLASK_TOKEN_CACHE_TTL_S=0 turns the cache off (every request queries its token).
    app.extensions["token_cache"] = TokenCache[User](max_entries=TOKEN_CACHE_ENTRIES,
                                                     ttl_s=float(app.config.get("TOKEN_CACHE_TTL_S", 300)))

    @app.errorhandler(TokenRefused)
    def token_refused(_exc: TokenRefused) -> BaseResponse:
        """The statement found the token revoked (or its account deactivated) since this process cached it."""
        digest = bearer_digest(request)
        if digest is not None:
            token_cache().forget(digest)
        return _unauthenticated()

    @app.before_request
    def every_view_declares_a_role() -> BaseResponse | None:
        """Fail closed: a view that declares no role is refused, whoever asks."""
        if request.endpoint is None or is_static(request.endpoint):
            return None
        if required_role(request.endpoint) is None:
            current_app.logger.error("view %s declares no role; refused", request.endpoint)
            return _forbidden("undeclared")
        return None
