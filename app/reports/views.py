"""The report API: POST /api/reports, photos and GET /api/reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app import db
from app.auth.access import checks_token, requires
from app.auth.security import client_address
from app.auth.security import quota as limit_quota
from app.auth.tokens import TokenRefused
from app.errors import BadParameter, NotFound, UnsupportedMedia, ValidationError
from app.parse import body_bytes, larger_body, parse_bbox, parse_int, parse_time, parse_uuid
from app.repo import reports as repo
from app.repo import users
from app.reports import batch, map_folder
from app.reports.input import ReportIn, json_body, parse_report
from app.reports.service import PHOTO_TYPES, ingest, store_photo

T = TypeVar("T")
bp = Blueprint("reports", __name__, url_prefix="/api")
bp.record_once(lambda state: state.app.config.setdefault("REPORT_BATCH_MAX_BYTES", batch.MAX_BYTES))
bp.record_once(lambda state: map_folder.init_app(state.app))


def _own_only() -> int | None:
    """Crews see only their own reports; coordinators and admins see all (None)."""
    return None if current_user.has("coordinator") else int(current_user.id)


@bp.post("/reports")
@requires("crew")
@checks_token
def create_report() -> tuple[Response, int]:
    """Crew and up: store a report; 201 new, 200 same again, 409 same id with other content.

    One statement does the work, the commit and the answer go with it; it checks the bearer token again (so this
    view may take the token's account from the cache) and counts the rate limits."""
    report = _report_sent()
    user = current_user._get_current_object()  # once, not through the proxy at every use
    quota = limit_quota("reports", f"user:{user.id}", f"addr:{client_address()}")
    with db.connection() as conn:
        received = ingest(conn, report, user_id=int(user.id), token_digest=user.token_digest,
                          quota=quota, match_distance_m=current_app.config["MATCH_DISTANCE_M"])
    if received.created:
        map_folder.reports_stored()
    response = _report_response(received.report_json, status=201 if received.created else 200)
    response.headers["Location"] = url_for("reports.get_report", report_id=str(report.id))
    return response, response.status_code


def _report_response(report_json: str, *, status: int) -> Response:
    """`{"report": …}` around a report's JSON as the database wrote it (app/repo/reports.shown), sent as it is:
    POST and GET answer the same bytes, and nothing is parsed and written again here."""
    return current_app.response_class(b'{"report": ' + report_json.encode() + b"}", status=status,
                                      mimetype="application/json")


@bp.post("/reports/batch")
@requires("crew")
@checks_token
@larger_body("REPORT_BATCH_MAX_BYTES")
def create_reports_batch() -> Response:
    """Crew and up: store a queue of reports (`{"reports": [...]}`, at most batch.MAX_REPORTS), each exactly once
    by its own id and committed as if sent alone; 200 with one result per report, in order (`status` as a single
    POST would answer it: 201, 200, 409, 422 or 429, with the report or the reason). Every report answered 201 or
    200 is committed before the answer; a 401, 503 or lost answer means: send the batch again."""
    sent = _checked_first(lambda: batch.parse_batch(
        json_body(request, max_bytes=current_app.config["REPORT_BATCH_MAX_BYTES"]), now=datetime.now(UTC)))
    if not any(isinstance(item, ReportIn) for item in sent):
        _confirm_token()  # no statement will check it: every report was refused at the edge
    quota = limit_quota("reports", f"user:{current_user.id}", f"addr:{client_address()}")
    with db.connection() as conn:
        outcomes = batch.ingest_batch(conn, sent, user_id=int(current_user.id),
                                      token_digest=current_user.token_digest, quota=quota,
                                      match_distance_m=current_app.config["MATCH_DISTANCE_M"])
    if any(o.status == 201 for o in outcomes):
        map_folder.reports_stored()
    response = current_app.response_class(batch.answer(outcomes), status=200, mimetype="application/json")
    retry = [o.refusal["retry_after_s"] for o in outcomes if o.status == 429 and o.refusal]
    if retry:
        response.headers["Retry-After"] = str(max(retry))
    return response


def _report_sent() -> ReportIn:
    """The request's report, validated; a body refused (413, 400, 422) only once the token is known to hold.

    The account may come from this process's token cache, which only the ingest statement checks again: a refusal
    of the body would then answer a revoked token with a 4xx about its body. So on that path (and only there) the
    token is checked first, and a revoked one gets its 401."""
    return _checked_first(lambda: parse_report(json_body(request, max_bytes=current_app.config["REPORT_MAX_BYTES"]),
                                               now=datetime.now(UTC)))


def _checked_first(read: Callable[[], T]) -> T:
    """`read()` of the body, whose refusal is raised only once the request's bearer token is known to hold."""
    try:
        return read()
    except (ValidationError, RequestEntityTooLarge):
        _confirm_token()
        raise


def _confirm_token() -> None:
    """Raise TokenRefused (401) if the request's bearer token (perhaps taken from the cache) no longer holds."""
    digest = current_user.token_digest
    if digest is None:
        return
    with db.connection() as conn:
        holds = users.user_for_token(conn, digest) is not None
    if not holds:
        raise TokenRefused("the token or its account is no longer valid")


@bp.get("/reports/<report_id>")
@requires("crew")
def get_report(report_id: str) -> Response:
    """Crew and up: one stored report (the outbox's receipt check)."""
    with db.connection() as conn:
        found = repo.shown(conn, parse_uuid(report_id, name="report_id"))
    if found is None or _own_only() not in (None, found[1]):
        raise NotFound(f"report {report_id} has not been received")
    return _report_response(found[0], status=200)


@bp.get("/reports")
@requires("crew")
def list_reports() -> Response:
    """Crew (own) and up: reports as GeoJSON, oldest first; `bbox`, `since` (received after), `limit`."""
    bbox = parse_bbox(request.args.get("bbox"))
    since = parse_time(request.args.get("since"), name="since")
    count = parse_int(request.args.get("limit"), name="limit", low=1, high=10_000, default=1000)
    with db.connection() as conn:
        body = repo.geojson(conn, bbox=bbox, since=since, reporter_id=_own_only(), limit=count)
    return Response(body, mimetype="application/geo+json")


@bp.put("/reports/<report_id>/photos/<photo_id>")
@requires("crew")
@larger_body("PHOTO_MAX_BYTES")
def put_photo(report_id: str, photo_id: str) -> tuple[Response, int]:
    """Crew and up: store a photo of a report; 201 new, 200 same again, 409 other bytes under the same id."""
    report_key, photo_key = parse_uuid(report_id, name="report_id"), parse_uuid(photo_id, name="photo_id")
    content_type = (request.mimetype or "").lower()
    if content_type not in PHOTO_TYPES:
        raise UnsupportedMedia({"Content-Type": f"must be one of {', '.join(PHOTO_TYPES)}"})
    data = body_bytes(request, max_bytes=current_app.config["PHOTO_MAX_BYTES"])
    if not data:
        raise BadParameter({"body": "is empty"})
    with db.connection() as conn:
        stored = store_photo(conn, report_id=report_key, photo_id=photo_key, content_type=content_type, data=data,
                             owner_id=_own_only())
    return jsonify({"photo": stored.row}), 201 if stored.created else 200


@bp.get("/reports/<report_id>/photos/<photo_id>")
@requires("crew")
def get_photo(report_id: str, photo_id: str) -> Response:
    """Crew and up: a stored photo's bytes."""
    with db.connection() as conn:
        row = repo.photo_data(conn, parse_uuid(photo_id, name="photo_id"))
    mine = row is not None and _own_only() in (None, row["reporter_id"])
    if row is None or not mine or row["report_id"] != parse_uuid(report_id, name="report_id"):
        raise NotFound(f"photo {photo_id} not found")
    response = Response(bytes(row["data"]), mimetype=row["content_type"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
