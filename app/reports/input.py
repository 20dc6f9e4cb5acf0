"""Parsing a report's JSON at the edge into a validated value, or a 422 naming every bad field."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from flask import Request

from app import parse
from app.errors import BadParameter
from geo.repair_hours import MIN_REPAIR_HOURS
from geo.taxonomy import FACILITY_KINDS, HAZARDS, OPERATIONAL_STATUSES, PROGRESS, SEVERITIES, allowed_components

NOTES_MAX_CHARS = 4000
MATERIALS_MAX_CHARS = 2000
CLOCK_SKEW = timedelta(minutes=5)  # phones' clocks run a little fast; more than this is an error
FIELDS = {"id", "facility_id", "case_id", "lon", "lat", "accuracy_m", "observed_at", "kind", "severity", "status",
          "components", "hazards", "repair_hours", "crew_size", "materials", "notes", "progress", "share_out"}


@dataclass(frozen=True)
class ReportIn:
    """A report as the crew sent it, validated."""

    id: uuid.UUID
    facility_id: int | None
    case_id: int | None
    lon: float
    lat: float
    accuracy_m: float | None
    observed_at: datetime
    kind: str
    severity: str
    status: str
    components: tuple[str, ...]
    hazards: tuple[str, ...]
    repair_hours: float | None
    crew_size: int | None
    materials: str | None
    notes: str | None
    progress: str | None
    share_out: float | None = None  # with status degraded: roughly what share of customers has no supply (0-1)

    def content_hash(self) -> str:
        """A fingerprint of the content, to tell a retry (same) from a reuse of the id (different)."""
        # The fields by name (not dataclasses.asdict, which deep-copies every value: a tenth of a report's CPU).
        canonical: dict[str, Any] = {f.name: getattr(self, f.name) for f in FIELDS_OF_REPORT}
        canonical["id"] = str(self.id)
        canonical["observed_at"] = self.observed_at.astimezone(UTC).isoformat()
        # Fields added later enter only when given, so reports stored before them keep their fingerprint.
        if self.share_out is None:
            del canonical["share_out"]
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


FIELDS_OF_REPORT = fields(ReportIn)
NOT_AN_OBJECT = {"body": "must be a JSON object (Content-Type: application/json)"}


def json_body(request: Request, *, max_bytes: int) -> dict[str, Any]:
    """The request's JSON body, as app.parse.json_object reads it (the same 413 and 400), parsed by orjson.

    orjson takes strict JSON only; what it refuses goes to the standard parser, so that NaN, Infinity and integers
    past 64 bits still reach the field's own parser, which names the field (a 422)."""
    data = parse.body_bytes(request, max_bytes=max_bytes)
    if not request.is_json:
        raise BadParameter(NOT_AN_OBJECT)
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):  # bad syntax, bad UTF-8, or nested deeper than the parser follows
            body = None
    if not isinstance(body, dict):
        raise BadParameter(NOT_AN_OBJECT)
    return body


def _observed_at(fields: parse.Fields, now: datetime) -> datetime | None:
    moment: datetime | None = fields.get("observed_at", parse.time, example="2026-11-25T08:30:00+02:00",
                                         required=True)
    if moment is not None and moment > now + CLOCK_SKEW:
        fields.fail("observed_at", "is in the future")
        return None
    return moment


def parse_report(body: object, *, now: datetime) -> ReportIn:
    """Validate a report body; raise ValidationError naming each bad field."""
    if not isinstance(body, dict):
        raise BadParameter({"body": "must be a JSON object"})
    fields = parse.Fields(body)
    for name in sorted(set(body) - FIELDS):
        fields.fail(name, "unknown field")
    report_id = fields.get("id", parse.uuid_value, required=True, missing="is required (a UUID made on the device)")
    kind = fields.get("kind", parse.choice, FACILITY_KINDS, required=True)
    parsed = {
        "facility_id": fields.get("facility_id", parse.integer, low=1, high=2**63 - 1),
        "case_id": fields.get("case_id", parse.integer, low=1, high=2**63 - 1),
        "lon": fields.get("lon", parse.number, low=-180, high=180, required=True),
        "lat": fields.get("lat", parse.number, low=-90, high=90, required=True),
        "accuracy_m": fields.get("accuracy_m", parse.number, low=0, high=100_000),
        "observed_at": _observed_at(fields, now),
        "severity": fields.get("severity", parse.choice, SEVERITIES, required=True),
        "status": fields.get("status", parse.choice, OPERATIONAL_STATUSES, required=True),
        # Components depend on the kind; with a bad kind only the kind is reported.
        "components": (fields.get("components", parse.choices, allowed_components(kind)) or ()) if kind else (),
        "hazards": fields.get("hazards", parse.choices, HAZARDS) or (),
        "repair_hours": fields.get("repair_hours", parse.number, low=MIN_REPAIR_HOURS, high=10_000),
        "crew_size": fields.get("crew_size", parse.integer, low=1, high=500),
        "materials": fields.get("materials", parse.text, max_chars=MATERIALS_MAX_CHARS),
        "notes": fields.get("notes", parse.text, max_chars=NOTES_MAX_CHARS),
        "progress": fields.get("progress", parse.choice, PROGRESS),
        "share_out": fields.get("share_out", parse.number, low=0, high=1),
    }
    if parsed.get("progress") and parsed.get("case_id") is None and "progress" not in fields.errors:
        fields.fail("progress", "a progress report is a follow-up: name its case_id")
    if parsed["share_out"] is not None and parsed["status"] not in (None, "degraded"):
        fields.fail("share_out", "only with status degraded")
    fields.check()
    return ReportIn(id=report_id, kind=kind, **parsed)
