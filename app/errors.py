"""Errors the app translates to HTTP in one place: JSON with the field and the reason, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from app.db import DatabaseUnavailable

log = logging.getLogger(__name__)


class ValidationError(ValueError):
    """Bad input: one reason per field; nothing was changed."""

    def __init__(self, errors: dict[str, str], *, status: int = 422) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors.items()))
        self.errors, self.status = errors, status


class NotFound(LookupError):
    """A named thing (report, case, facility) does not exist."""


class Conflict(ValueError):
    """The request contradicts what is stored (e.g. a report id reused with different content)."""


def _json(status: int, error: str, **extra: object) -> Response:
    response = jsonify({"error": error, **extra})
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def validation(exc: ValidationError) -> Response:
        return _json(exc.status, "invalid input", errors=exc.errors)

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Response:
        return _json(404, str(exc) or "not found")

    @app.errorhandler(Conflict)
    def conflict(exc: Conflict) -> Response:
        return _json(409, str(exc))

    @app.errorhandler(DatabaseUnavailable)
    def unavailable(exc: DatabaseUnavailable) -> Response:
        log.warning("database unavailable: %s", exc)
        response = _json(503, "the database is unavailable; retry later")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            response = _json(exc.code or 500, exc.description or exc.name)
            for key, value in exc.get_headers():
                if key.lower() not in ("content-type", "content-length"):
                    response.headers[key] = value
            return response
        return exc.get_response()  # type: ignore[return-value]

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _json(500, "internal error; it has been logged")
