"""A phone's queue of reports in one request (POST /api/reports/batch): each report stored exactly once by its own
id, each in its own transaction as if sent alone, and an answer per report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.auth.quota import Quota
from app.auth.tokens import TokenRefused
from app.errors import Conflict, RateLimited, ValidationError, status_of
from app.repo import Conn
from app.reports.input import ReportIn, parse_report
from app.reports.service import ingest

MAX_REPORTS = 100  # a batch's reports; a larger queue goes in several batches
MAX_BYTES = 2 * 1024 * 1024  # the default of REPORT_BATCH_MAX_BYTES: a hundred long reports


@dataclass(frozen=True)
class Outcome:
    """What became of one report of a batch: its HTTP status as if sent alone, and the stored report's JSON (201,
    200) or the refusal's members (`error`, `errors`, `retry_after_s`)."""

    id: str | None
    status: int
    report_json: str | None = None
    refusal: dict[str, Any] | None = None


def parse_batch(body: dict[str, Any], *, now: datetime) -> list[ReportIn | Outcome]:
    """The batch's reports in order: each validated, or its 422 (the others are still stored); a batch that is not
    a list of JSON objects is refused whole (ValidationError)."""
    unknown = sorted(set(body) - {"reports"})
    if unknown:
        raise ValidationError({name: "unknown field" for name in unknown})
    items = body.get("reports")
    if not isinstance(items, list) or not items:
        raise ValidationError({"reports": "must be a non-empty list of reports"})
    if len(items) > MAX_REPORTS:
        raise ValidationError({"reports": f"must hold at most {MAX_REPORTS} reports (got {len(items)}); "
                                          "send the rest in another batch"})
    not_objects = [i for i, item in enumerate(items) if not isinstance(item, dict)]
    if not_objects:
        raise ValidationError({f"reports[{not_objects[0]}]": "must be a JSON object (a report)"})
    parsed: list[ReportIn | Outcome] = []
    for item in items:
        try:
            parsed.append(parse_report(item, now=now))
        except ValidationError as exc:
            given = item.get("id")
            parsed.append(Outcome(given if isinstance(given, str) else None, 422,
                                  refusal={"error": "invalid input", "errors": exc.errors}))
    return parsed


def ingest_batch(conn: Conn, items: list[ReportIn | Outcome], *, user_id: int, token_digest: str | None,
                 quota: Quota | None, match_distance_m: float) -> list[Outcome]:
    """Store each valid report as POST /api/reports would, one committed statement each, in order.

    A revoked token refuses the whole batch (TokenRefused, before anything is stored). Once the rate limit is
    reached the rest are not sent: each is answered 429 like the first refused one."""
    done: list[Outcome] = []
    limited: RateLimited | None = None
    for item in items:
        if isinstance(item, Outcome):
            done.append(item)
            continue
        key = str(item.id)
        if limited is not None:
            done.append(_refused(key, limited))
            continue
        try:
            received = ingest(conn, item, user_id=user_id, token_digest=token_digest, quota=quota,
                              match_distance_m=match_distance_m)
        except TokenRefused:
            raise
        except RateLimited as exc:
            limited = exc
            done.append(_refused(key, exc))
        except (Conflict, ValidationError) as exc:
            done.append(_refused(key, exc))
        else:
            done.append(Outcome(key, 201 if received.created else 200, report_json=received.report_json))
    return done


def _refused(key: str, exc: Exception) -> Outcome:
    """A report's refusal, with the members the API's error answer of a single report has."""
    if isinstance(exc, ValidationError):
        return Outcome(key, status_of(exc), refusal={"error": "invalid input", "errors": exc.errors})
    if isinstance(exc, RateLimited):
        return Outcome(key, 429, refusal={"error": "too many requests; retry later",
                                          "retry_after_s": exc.retry_after_s})
    return Outcome(key, status_of(exc), refusal={"error": str(exc)})


def answer(outcomes: list[Outcome]) -> bytes:
    """`{"results": [...]}`, one member per report in the batch's order; stored reports' JSON is sent as the
    database wrote it."""
    parts = []
    for outcome in outcomes:
        head = orjson.dumps({"id": outcome.id, "status": outcome.status, **(outcome.refusal or {})})
        if outcome.report_json is not None:
            head = head[:-1] + b', "report": ' + outcome.report_json.encode() + b"}"
        parts.append(head)
    return b'{"results": [' + b", ".join(parts) + b"]}"
