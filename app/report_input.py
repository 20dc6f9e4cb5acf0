"""Parsing a report's JSON at the edge into a validated value, or a 422 naming every bad field."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.errors import ValidationError
from geo.taxonomy import FACILITY_KINDS, HAZARDS, OPERATIONAL_STATUSES, SEVERITIES, allowed_components

PROGRESS = ("repair_started", "temporarily_restored", "restored")
NOTES_MAX_CHARS = 4000
MATERIALS_MAX_CHARS = 2000
CLOCK_SKEW = timedelta(minutes=5)  # phones' clocks run a little fast; more than this is an error
FIELDS = {"id", "facility_id", "case_id", "lon", "lat", "accuracy_m", "observed_at", "kind", "severity", "status",
          "components", "hazards", "repair_hours", "crew_size", "materials", "notes", "progress"}


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

    def content_hash(self) -> str:
        """A fingerprint of the content, to tell a retry (same) from a reuse of the id (different)."""
        canonical = {k: (str(v) if isinstance(v, uuid.UUID | datetime) else v) for k, v in asdict(self).items()}
        canonical["observed_at"] = self.observed_at.astimezone(UTC).isoformat()
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


class _Fields:
    """Collects one reason per bad field so the crew sees every problem at once."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body, self.errors = body, {}  # type: dict[str, Any], dict[str, str]

    def fail(self, name: str, reason: str) -> None:
        self.errors.setdefault(name, reason)

    def number(self, name: str, *, low: float, high: float, required: bool = False) -> float | None:
        value = self.body.get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(name, "must be a number")
            return None
        if not low <= value <= high:
            self.fail(name, f"must be between {low:g} and {high:g}")
            return None
        return float(value)

    def integer(self, name: str, *, low: int, high: int) -> int | None:
        value = self.body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "must be an integer")
            return None
        if not low <= value <= high:
            self.fail(name, f"must be between {low} and {high}")
            return None
        return value

    def choice(self, name: str, allowed: tuple[str, ...], *, required: bool = True) -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        if value not in allowed:
            self.fail(name, f"must be one of {', '.join(allowed)}")
            return None
        return str(value)

    def choices(self, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        value = self.body.get(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(name, "must be a list of strings")
            return ()
        unknown = [v for v in value if v not in allowed]
        if unknown:
            self.fail(name, f"unknown value {unknown[0]!r}; allowed: {', '.join(allowed)}")
            return ()
        return tuple(sorted(set(value)))

    def text(self, name: str, *, max_chars: int) -> str | None:
        value = self.body.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return None
        if len(value) > max_chars:
            self.fail(name, f"must be at most {max_chars} characters (got {len(value)})")
            return None
        if "\x00" in value:  # PostgreSQL text cannot hold it
            self.fail(name, "must not contain NUL characters")
            return None
        return value.strip() or None


def _uuid(fields: _Fields) -> uuid.UUID | None:
    value = fields.body.get("id")
    if value is None:
        fields.fail("id", "is required (a UUID made on the device)")
        return None
    try:
        if isinstance(value, str):  # anything else (a number, a list) is not a UUID either
            return uuid.UUID(value)
    except ValueError:
        pass
    fields.fail("id", "must be a UUID")
    return None


def _observed_at(fields: _Fields, now: datetime) -> datetime | None:
    value = fields.body.get("observed_at")
    if value is None:
        fields.fail("observed_at", "is required")
        return None
    try:
        moment = datetime.fromisoformat(str(value)) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        fields.fail("observed_at", "must be an ISO 8601 date and time, e.g. 2026-11-25T08:30:00+02:00")
        return None
    if moment.tzinfo is None:
        fields.fail("observed_at", "must include a time zone (e.g. Z or +02:00)")
        return None
    try:
        moment.astimezone(UTC)  # e.g. year 1 at +14:00 lies before the first representable UTC time
    except OverflowError:
        fields.fail("observed_at", "is out of range")
        return None
    if moment > now + CLOCK_SKEW:
        fields.fail("observed_at", "is in the future")
        return None
    return moment


def parse_report(body: object, *, now: datetime) -> ReportIn:
    """Validate a report body; raise ValidationError naming each bad field."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object"}, status=400)
    fields = _Fields(body)
    for name in sorted(set(body) - FIELDS):
        fields.fail(name, "unknown field")
    report_id = _uuid(fields)
    kind = fields.choice("kind", FACILITY_KINDS)
    parsed = {
        "facility_id": fields.integer("facility_id", low=1, high=2**63 - 1),
        "case_id": fields.integer("case_id", low=1, high=2**63 - 1),
        "lon": fields.number("lon", low=-180, high=180, required=True),
        "lat": fields.number("lat", low=-90, high=90, required=True),
        "accuracy_m": fields.number("accuracy_m", low=0, high=100_000),
        "observed_at": _observed_at(fields, now),
        "severity": fields.choice("severity", SEVERITIES),
        "status": fields.choice("status", OPERATIONAL_STATUSES),
        # Components depend on the kind; with a bad kind only the kind is reported.
        "components": fields.choices("components", allowed_components(kind)) if kind else (),
        "hazards": fields.choices("hazards", HAZARDS),
        "repair_hours": fields.number("repair_hours", low=0, high=10_000),
        "crew_size": fields.integer("crew_size", low=1, high=500),
        "materials": fields.text("materials", max_chars=MATERIALS_MAX_CHARS),
        "notes": fields.text("notes", max_chars=NOTES_MAX_CHARS),
        "progress": fields.choice("progress", PROGRESS, required=False),
    }
    if parsed.get("progress") and parsed.get("case_id") is None and "progress" not in fields.errors:
        fields.errors["progress"] = "a progress report is a follow-up: name its case_id"
    if fields.errors:
        raise ValidationError(fields.errors)
    return ReportIn(id=report_id, kind=kind, **parsed)  # type: ignore[arg-type]
