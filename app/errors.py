"""The app's exceptions and the one table that translates them to HTTP: JSON with the field and the reason.

Exceptions say what went wrong, never which HTTP status it is: `STATUS` below decides that, in one place (as
tipg's errors.py does). Domain exceptions from geo/ are mapped here too. Never a stack trace to a user.
"""

from __future__ import annotations

import logging
import math

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from app.db import DatabaseUnavailable
from geo.workflow import TransitionRefused

log = logging.getLogger(__name__)


class ValidationError(ValueError):
    """Bad input: one reason per field; nothing was changed."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors.items()))
        self.errors = errors


class BadParameter(ValidationError):
    """A malformed request: a query parameter, a path segment or a body that is not what the route reads."""


class TooLarge(ValidationError):
    """A body larger than the route accepts."""


class UnsupportedMedia(ValidationError):
    """A body of a content type the route does not take."""


class NotFound(LookupError):
    """A named thing (report, case, facility) does not exist."""


class Conflict(ValueError):
    """The request contradicts what is stored (e.g. a report id reused with different content)."""


class FieldConflict(Conflict):
    """A state conflict about the value of one field (e.g. the case to merge is already closed)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class RateLimited(Exception):
    """Too many requests of one kind from one user or address in the current window."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many requests")
        self.retry_after_s = max(1, math.ceil(retry_after_s))


# The HTTP status of each exception; the most specific class in an exception's MRO wins.
STATUS: dict[type[Exception], int] = {
    ValidationError: 422,
    BadParameter: 400,
    TooLarge: 413,
    UnsupportedMedia: 415,
    NotFound: 404,
    Conflict: 409,
    TransitionRefused: 409,
    RateLimited: 429,
    DatabaseUnavailable: 503,
}


def status_of(exc: BaseException) -> int:
    """The HTTP status the table gives this exception (500 when it is not in the table)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _json(status: int, error: str, **extra: object) -> Response:
    response = jsonify({"error": error, **extra})
    response.status_code = status
    return response


def wants_html() -> bool:
    """A person in a browser, who asks for HTML first, not an API client (which keeps its JSON)."""
    if request.path.startswith("/api/") or request.headers.get("Authorization"):
        return False
    return request.accept_mimetypes.best == "text/html"


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (gettext("Bad request"), gettext("The request could not be understood. Reload the page and try again.")),
        403: (gettext("Access denied"), gettext("Your account may not open this page.")),
        404: (gettext("Page not found"), gettext("There is nothing at this address. Check the link or go back.")),
        405: (gettext("Not allowed"), gettext("This address does not take this kind of request.")),
        409: (gettext("Conflict"), gettext("The request contradicts what is stored. Reload the page.")),
        413: (gettext("Too large"), gettext("What was sent is larger than this page accepts.")),
        422: (gettext("Not valid"), gettext("Some of what was sent is not valid; nothing was changed.")),
        429: (gettext("Too many requests"), gettext("Too many requests in a short time: wait a minute and retry.")),
        500: (gettext("Something went wrong"), gettext("An internal error occurred; it has been logged.")),
        503: (gettext("Not available"), gettext("The service is not available just now; retry in a moment.")),
    }


def error_page(status: int, message: str | None = None) -> Response:
    """The translated HTML page of an HTTP error, for browsers; the text is escaped by the template."""
    title, generic = _titles().get(status, (gettext("Error %(code)s", code=status),
                                            gettext("The request could not be handled.")))
    try:
        html = render_template("error.html", status=status, title=title, message=message or generic)
    except Exception:  # the page's own parts failed (the account's database row, say): the words alone
        log.exception("the error page for %s failed", status)
        return Response(f"{title}. {message or generic}", status=status, mimetype="text/plain")
    return Response(html, status=status, mimetype="text/html")


def to_response(exc: BaseException) -> Response:
    """The JSON answer for one of the table's exceptions (an HTML page when a browser asked for a page)."""
    status = status_of(exc)
    if wants_html() and not isinstance(exc, (ValidationError, FieldConflict)):
        response = error_page(status)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        elif isinstance(exc, DatabaseUnavailable):
            log.warning("database unavailable: %s", exc)
            response.headers["Retry-After"] = "5"
        return response
    if isinstance(exc, ValidationError):
        return _json(status, "invalid input", errors=exc.errors)
    if isinstance(exc, FieldConflict):
        return _json(status, str(exc), errors={exc.field: str(exc)})
    if isinstance(exc, RateLimited):
        response = _json(status, "too many requests; retry later", retry_after_s=exc.retry_after_s)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    if isinstance(exc, DatabaseUnavailable):
        log.warning("database unavailable: %s", exc)
        response = _json(status, "the database is unavailable; retry later")
        response.headers["Retry-After"] = "5"
        return response
    if isinstance(exc, NotFound):
        return _json(status, str(exc) or "not found")
    return _json(status, str(exc))


def init_app(app: Flask) -> None:
    for exc_class in STATUS:
        app.register_error_handler(exc_class, to_response)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            response = _json(exc.code or 500, exc.description or exc.name)
            for key, value in exc.get_headers():
                if key.lower() not in ("content-type", "content-length"):
                    response.headers[key] = value
            return response
        page = error_page(exc.code or 500)
        for key, value in exc.get_headers():
            if key.lower() not in ("content-type", "content-length"):
                page.headers[key] = value
        return page

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_html():
            return error_page(500)
        return _json(500, "internal error; it has been logged")
