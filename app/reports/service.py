"""Storing reports exactly once and matching them to damage cases, in one statement (migration 0013); storing their
photos idempotently."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.auth.quota import Quota
from app.auth.tokens import TokenRefused
from app.crews.service import ON_SITE
from app.errors import Conflict, NotFound, RateLimited, UnsupportedMedia, ValidationError
from app.repo import Conn
from app.repo import reports as repo
from app.reports.input import ReportIn
from geo import workflow
from geo.taxonomy import OPEN_CASE_STATUSES, ROLES

PHOTO_TYPES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "image/webp": (b"RIFF",)}


@dataclass(frozen=True)
class Stored:
    """A stored row, and whether this request created it (201) or found it (200)."""

    row: dict[str, Any]
    created: bool


# Who may follow up (and move) any case, not only one assigned to them or one they reported on.
ANY_CASE_ROLES = ROLES[ROLES.index("coordinator"):]
# The statement's constant arrays, as the literals psycopg sends (repo.text_array: lists cost it ~0.2 ms a call).
_ANY_CASE_ROLES = repo.text_array(ANY_CASE_ROLES)
_OPEN_STATUSES = repo.text_array(OPEN_CASE_STATUSES)


@dataclass(frozen=True)
class Received:
    """A report as POST /api/reports answers it: the stored report as JSON text (as the statement wrote it, sent on
    unchanged), and whether this request stored it (201) or found it (200)."""

    report_json: str
    created: bool


def ingest(conn: Conn, report: ReportIn, *, user_id: int, token_digest: str | None, quota: Quota | None,
           match_distance_m: float) -> Received:
    """Store a report sent by an account and commit it: one statement, which is its own transaction and also
    returns the stored report (a follow-up with progress takes a second round trip, to apply it by geo.workflow's
    rules, and then commits).

    The statement checks the bearer token again (`token_digest`; None for a signed-in session, whose account it
    checks), counts the request against `quota`, and moves the reporter's crew to the report's point. Refusals are
    raised after the commit, which then keeps only the rate-limit count: TokenRefused (401), RateLimited (429),
    Conflict (409, an id used by another account or for other content) and ValidationError (422).
    """
    params = _params(report, user_id=user_id, token_digest=token_digest, any_case=None, quota=quota,
                     match_distance_m=match_distance_m, crew_status=ON_SITE)
    if report.progress is None:
        # In autocommit the statement is its own transaction: the server commits it before it answers.
        conn.autocommit = True
        try:
            answer = repo.ingest(conn, params).fetchone()
        finally:
            if not conn.closed:
                conn.autocommit = False
        assert answer is not None
        _refuse(answer, report)
        return Received(answer["report"], created=answer["outcome"] == "created")
    answer = repo.ingest(conn, params).fetchone()
    assert answer is not None
    if answer["outcome"] == "created":
        _apply_progress(conn, answer, report.progress, reporter_id=user_id, report_id=str(report.id))
    conn.commit()
    _refuse(answer, report)
    return Received(answer["report"], created=answer["outcome"] == "created")


def store_report(conn: Conn, report: ReportIn, *, reporter_id: int | None, match_distance_m: float,
                 any_case: bool = True) -> Stored:
    """Store a report once, in the caller's transaction, with no rate limit and no crew move (loaders, the demo);
    the same id again returns what is stored.

    A follow-up names its case; unless `any_case` (coordinators), the reporter may only follow up a case assigned to
    them or to their crew (by the crew's name) or one they reported on, and any other case id is refused exactly
    like one that does not exist. Its progress changes the case's status only when the reporter is the case's
    assigned crew account or a member of its assigned crew (or `any_case`).
    An id already used by another account is a conflict that says nothing about that report.
    """
    key = str(report.id)
    params = _params(report, user_id=reporter_id, token_digest=None, any_case=any_case, quota=None,
                     match_distance_m=match_distance_m, crew_status=None)
    answer = repo.ingest(conn, params).fetchone()
    assert answer is not None
    if answer["outcome"] == "created" and report.progress:
        _apply_progress(conn, answer, report.progress, reporter_id=reporter_id, report_id=key)
    return _stored(answer, repo.get(conn, key), report)


def _params(report: ReportIn, *, user_id: int | None, token_digest: str | None, any_case: bool | None,
            quota: Quota | None, match_distance_m: float, crew_status: str | None) -> dict[str, Any]:
    return {
        "user_id": user_id, "token_hash": token_digest, "any_case": any_case, "any_case_roles": _ANY_CASE_ROLES,
        "limit": quota.per_window if quota else 0, "window_s": quota.window_s if quota else 0,
        "limit_keys": repo.text_array(quota.keys if quota else ()), "match_m": match_distance_m,
        "open_statuses": _OPEN_STATUSES, "crew_status": crew_status,
        "id": str(report.id), "case_id": report.case_id, "facility_id": report.facility_id, "kind": report.kind,
        "severity": report.severity, "status": report.status, "progress": report.progress,
        "components": repo.text_array(report.components), "hazards": repo.text_array(report.hazards),
        "repair_hours": report.repair_hours, "crew_size": report.crew_size, "materials": report.materials,
        "notes": report.notes, "accuracy_m": report.accuracy_m, "observed_at": report.observed_at,
        "observed_at_text": report.observed_at.isoformat(), "content_hash": report.content_hash(),
        "lon": report.lon, "lat": report.lat, "share_out": report.share_out,
    }


def _stored(answer: dict[str, Any], row: dict[str, Any] | None, report: ReportIn) -> Stored:
    """What the statement's outcome means for the caller: the stored report, or the refusal."""
    _refuse(answer, report)
    assert row is not None
    return Stored(row, created=answer["outcome"] == "created")


def _refuse(answer: dict[str, Any], report: ReportIn) -> None:
    """Raise the refusal the statement's outcome means, if it is one."""
    outcome, key = answer["outcome"], str(report.id)
    if outcome == "unauthenticated":
        raise TokenRefused("the token or its account is no longer valid")
    if outcome == "rate_limited":
        raise RateLimited(float(answer["retry_after_s"]))
    if outcome == "id_taken":
        raise Conflict(f"report id {key} is already in use; send the report with a new id")
    if outcome == "content_differs":
        raise Conflict(f"report {key} was already received with different content")
    if outcome == "unknown_case":
        raise ValidationError({"case_id": "unknown case, or not one assigned to you or reported by you"})
    if outcome == "facility_mismatch":
        raise ValidationError({"facility_id": f"does not match the facility of case {report.case_id}"})
    if outcome == "unknown_facility":
        raise ValidationError({"facility_id": "unknown facility"})
    assert outcome in ("created", "existing"), outcome


def _apply_progress(conn: Conn, answer: dict[str, Any], progress: str, *, reporter_id: int | None,
                    report_id: str) -> None:
    """A follow-up's progress, on its case as the statement found and locked it."""
    case_id, current = int(answer["case_id"]), answer["case_status"]
    target = workflow.status_after_progress(progress, current)
    # A member of the crew the case is assigned to by name (migration 0021) works it as its assigned account would.
    assignee = reporter_id if answer["crew_assigned"] else answer["assigned_user_id"]
    if target is not None and not workflow.applies_progress(reporter=reporter_id, assignee=assignee,
                                                            coordinator=bool(answer["any_case"])):
        # Kept for the coordinator: the case page's history shows the report's progress and why it was not applied.
        repo.add_case_event(conn, case_id=case_id, actor_id=reporter_id, action="progress_not_applied",
                            from_status=current, to_status=current,
                            reason=f"field report: {progress}, from a crew the case is not assigned to",
                            data=json.dumps({"report_id": report_id, "would_be": target}))
    elif target is not None:
        repo.set_case_status(conn, case_id, target)
        repo.add_case_event(conn, case_id=case_id, actor_id=reporter_id, action="status_changed",
                            from_status=current, to_status=target, reason=f"field report: {progress}",
                            data=json.dumps({"report_id": report_id}))


def store_photo(conn: Conn, *, report_id: str, photo_id: str, content_type: str, data: bytes,
                owner_id: int | None) -> Stored:
    """Store a photo of a stored report once (of one's own report unless owner_id is None)."""
    signatures = PHOTO_TYPES[content_type]
    if not data.startswith(signatures) or (content_type == "image/webp" and data[8:12] != b"WEBP"):
        raise UnsupportedMedia({"body": f"is not a {content_type} image"})
    repo.lock_id(conn, photo_id)
    report = repo.get(conn, report_id)
    if report is None or owner_id not in (None, report["reporter_id"]):
        raise NotFound(f"report {report_id} has not been received; send the report first")
    digest = hashlib.sha256(data).hexdigest()
    existing = repo.get_photo(conn, photo_id)
    if existing is not None:
        if existing["sha256"] != digest or existing["report_id"] != report_id:
            raise Conflict(f"photo {photo_id} was already received with different content")
        return Stored(existing, created=False)
    repo.insert_photo(conn, photo_id=photo_id, report_id=report_id, content_type=content_type, data=data,
                      sha256=digest)
    stored = repo.get_photo(conn, photo_id)
    assert stored is not None
    return Stored(stored, created=True)
