"""Storing reports exactly once and matching them to damage cases; storing their photos idempotently."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from app.errors import Conflict, NotFound, UnsupportedMedia, ValidationError
from app.repo import Conn
from app.repo import reports as repo
from app.reports.input import ReportIn
from geo import workflow

PHOTO_TYPES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "image/webp": (b"RIFF",)}


@dataclass(frozen=True)
class Stored:
    """A stored row, and whether this request created it (201) or found it (200)."""

    row: dict[str, Any]
    created: bool


def store_report(conn: Conn, report: ReportIn, *, reporter_id: int | None, match_distance_m: float,
                 any_case: bool = True) -> Stored:
    """Store a report once, in the caller's transaction; the same id again returns what is stored.

    A follow-up names its case; unless `any_case` (coordinators), the reporter may only follow up a case assigned to
    them or one they reported on, and any other case id is refused exactly like one that does not exist. Its
    progress changes the case's status only when the reporter is the case's assigned crew account (or `any_case`).
    An id already used by another account is a conflict that says nothing about that report.
    """
    key = str(report.id)
    repo.lock_id(conn, key)  # concurrent copies of one report wait here, then find it stored
    content_hash = report.content_hash()
    existing = repo.get(conn, key)
    if existing is not None:
        if existing["reporter_id"] != reporter_id:
            raise Conflict(f"report id {key} is already in use; send the report with a new id")
        if existing["content_hash"] != content_hash:
            raise Conflict(f"report {key} was already received with different content")
        return Stored(existing, created=False)
    follower = None if any_case else reporter_id
    case_id, facility_id = _match_case(conn, report, match_distance_m=match_distance_m, follower=follower)
    row = {
        "id": key, "case_id": case_id, "facility_id": report.facility_id, "reporter_id": reporter_id,
        "kind": report.kind, "severity": report.severity, "status": report.status, "progress": report.progress,
        "components": list(report.components), "hazards": list(report.hazards),
        "repair_hours": report.repair_hours, "crew_size": report.crew_size, "materials": report.materials,
        "notes": report.notes, "accuracy_m": report.accuracy_m, "observed_at": report.observed_at,
        "content_hash": content_hash, "lon": report.lon, "lat": report.lat, "share_out": report.share_out,
    }
    repo.insert(conn, row)
    repo.add_case_event(conn, case_id=case_id, actor_id=reporter_id, action="report_added",
                        data=json.dumps({"report_id": key, "matched_facility_id": facility_id}))
    if report.progress:
        _apply_progress(conn, case_id, report.progress, reporter_id=reporter_id, report_id=key,
                        coordinator=any_case)
    stored = repo.get(conn, key)
    assert stored is not None
    return Stored(stored, created=True)


def _match_case(conn: Conn, report: ReportIn, *, match_distance_m: float,
                follower: int | None) -> tuple[int, int | None]:
    """The case this report belongs to: the named case, the facility's open case, or a new one."""
    if report.case_id is not None:
        case = repo.case_for_followup(conn, report.case_id)
        if case is None or (follower is not None and not repo.may_follow_up(conn, case["id"], follower)):
            raise ValidationError({"case_id": "unknown case, or not one assigned to you or reported by you"})
        if report.facility_id is not None and case["facility_id"] not in (None, report.facility_id):
            raise ValidationError({"facility_id": f"does not match the facility of case {report.case_id}"})
        return case["id"], case["facility_id"]
    facility_id = report.facility_id
    if facility_id is not None and not repo.facility_exists(conn, facility_id):
        raise ValidationError({"facility_id": "unknown facility"})
    if facility_id is None:
        facility_id = repo.nearest_facility(conn, lon=report.lon, lat=report.lat, kind=report.kind,
                                            within_m=match_distance_m)
    if facility_id is None:  # an unknown site: a case of its own for the coordinator to resolve
        case_id = repo.open_case(conn, facility_id=None, kind=report.kind, lon=report.lon, lat=report.lat)
        assert case_id is not None
        repo.add_case_event(conn, case_id=case_id, actor_id=None, action="opened", to_status="reported",
                            reason="report at a site with no registered facility nearby")
        return case_id, None
    while True:
        case = repo.open_case_of(conn, facility_id)
        if case is not None:
            return case["id"], facility_id
        new_id = repo.open_case(conn, facility_id=facility_id, kind=report.kind, lon=report.lon, lat=report.lat)
        if new_id is not None:
            repo.add_case_event(conn, case_id=new_id, actor_id=None, action="opened", to_status="reported",
                                reason="first report on this facility")
            return new_id, facility_id
        # Another transaction opened the case between our look and our insert: look again.


def _apply_progress(conn: Conn, case_id: int, progress: str, *, reporter_id: int | None, report_id: str,
                    coordinator: bool) -> None:
    case = repo.case_for_followup(conn, case_id)
    assert case is not None
    current = case["status"]
    target = workflow.status_after_progress(progress, current)
    if target is not None and not workflow.applies_progress(reporter=reporter_id, assignee=case["assigned_user_id"],
                                                            coordinator=coordinator):
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
