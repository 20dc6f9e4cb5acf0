"""The OpenAPI description of the JSON API under /api, built from the same constants the API validates with."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from app.auth.access import public
from app.cases.views import MAX_TEXT
from app.coordinator.exports import FORMATS
from app.coordinator.map import MAX_ZOOM
from app.reports.batch import MAX_REPORTS as BATCH_MAX_REPORTS
from app.reports.input import MATERIALS_MAX_CHARS, NOTES_MAX_CHARS
from app.reports.service import PHOTO_TYPES
from geo.access import FROM_HAZARDS
from geo.repair_hours import MIN_REPAIR_HOURS
from geo.taxonomy import (
    ACCESS_STATES,
    CASE_STATUSES,
    COMPONENTS,
    CREW_SKILLS,
    CREW_STATUSES,
    FACILITY_KINDS,
    HAZARDS,
    OPEN_CASE_STATUSES,
    OPERATIONAL_STATUSES,
    PROGRESS,
    SEVERITIES,
)
from geo.workflow import FROM_REPORTS, TRANSITIONS

bp = Blueprint("openapi", __name__, url_prefix="/api")

Schema = dict[str, Any]
API_VERSION = "1"  # raise it when a change breaks clients; additions keep it
JSON = "application/json"
GEOJSON = "application/geo+json"

ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what went wrong, for people"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "one reason per bad field or parameter"},
        "retry_after_s": {"type": "integer", "description": "with 429: seconds until the next attempt may pass"},
    },
}
REASONS = {
    "400": "malformed request: a bad parameter or a body that is not a JSON object",
    "401": "no valid credentials: send Authorization: Bearer TOKEN",
    "403": "the account's role may not do this",
    "404": "no such thing, or not yours to see",
    "409": "conflicts with what is stored: an id reused with other content, or an action the status forbids",
    "413": "the body is too large",
    "415": "the body's media type is not accepted, or the bytes do not match it",
    "422": "the body is well formed but some fields are invalid (named in `errors`)",
    "429": "too many requests; wait Retry-After seconds",
    "503": "the database is unavailable; nothing was changed; retry after Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"required": True, "description": "seconds to wait before retrying",
                               "schema": {"type": "string"}}}
UUID: Schema = {"type": "string", "format": "uuid"}
NO_NUL = "^[^\\x00]*$"  # PostgreSQL text cannot hold NUL
BBOX_PATTERN = r"^[-+0-9.eE]+,[-+0-9.eE]+,[-+0-9.eE]+,[-+0-9.eE]+$"


def _error(code: str) -> Schema:
    response: Schema = {"description": REASONS[code],
                        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if code in ("429", "503"):
        response["headers"] = RETRY_AFTER
    return response


def _operation(summary: str, ok: dict[str, Schema], errors: str, **extra: Any) -> Schema:
    """One operation: its successful responses, and the error codes (space-separated) it can answer with."""
    codes = ["401", *errors.split(), "503"]
    return {"summary": summary, "responses": {**ok, **{code: _error(code) for code in sorted(set(codes))}}, **extra}


def _json(description: str, schema: Schema, media_type: str = JSON) -> Schema:
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _query(name: str, schema: Schema, description: str, *, required: bool = False, empty_is_absent: bool = True
           ) -> Schema:
    """A query parameter; app.params reads an optional one sent empty (`?limit=`) as absent."""
    parameter = {"name": name, "in": "query", "required": required, "schema": schema, "description": description}
    if empty_is_absent and not required:
        parameter["allowEmptyValue"] = True
    return parameter


def _path(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": UUID, "description": description}


def all_components() -> list[str]:
    """Every component any facility kind may name (which ones a kind allows is checked on receipt)."""
    return list(dict.fromkeys([*(c for names in COMPONENTS.values() for c in names), "other"]))


def report_in() -> Schema:
    """The body of POST /api/reports, the same rules app.report_input applies."""
    number = {"type": "number"}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "lon", "lat", "observed_at", "kind", "severity", "status"],
        "properties": {
            "id": {**UUID, "description": "made on the device; sending the same report again is harmless"},
            "facility_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1, "nullable": True},
            "case_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1, "nullable": True,
                        "description": "a follow-up on this damage case; a crew may name only a case assigned to "
                                       "them or one they reported on (any other is refused like an unknown one)"},
            "lon": {**number, "minimum": -180, "maximum": 180},
            "lat": {**number, "minimum": -90, "maximum": 90},
            "accuracy_m": {**number, "minimum": 0, "maximum": 100_000, "nullable": True},
            "observed_at": {"type": "string", "format": "date-time",
                            "description": "with a time zone; at most a few minutes in the future"},
            "kind": {"type": "string", "enum": list(FACILITY_KINDS)},
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "status": {"type": "string", "enum": list(OPERATIONAL_STATUSES)},
            "components": {"type": "array", "items": {"type": "string", "enum": all_components()}, "nullable": True,
                           "description": "each must be allowed for the kind: " + "; ".join(
                               f"{kind}: {', '.join((*names, 'other'))}" for kind, names in COMPONENTS.items())},
            "hazards": {"type": "array", "items": {"type": "string", "enum": list(HAZARDS)}, "nullable": True},
            "repair_hours": {**number, "minimum": MIN_REPAIR_HOURS, "maximum": 10_000, "nullable": True},
            "crew_size": {"type": "integer", "minimum": 1, "maximum": 500, "nullable": True},
            "materials": {"type": "string", "maxLength": MATERIALS_MAX_CHARS, "pattern": NO_NUL, "nullable": True},
            "notes": {"type": "string", "maxLength": NOTES_MAX_CHARS, "pattern": NO_NUL, "nullable": True},
            "progress": {"type": "string", "enum": list(PROGRESS), "nullable": True,
                         "description": "repair progress of a follow-up (needs case_id); moves the case forward"},
            "share_out": {**number, "minimum": 0, "maximum": 1, "nullable": True,
                          "description": "only with status degraded: roughly what share of the facility's customers "
                                         "has no supply (0 none, 1 all)"},
        },
    }


def report_out() -> Schema:
    return {"type": "object", "required": ["id", "case_id", "kind", "severity", "status", "observed_at"],
            "properties": {"id": UUID, "case_id": {"type": "integer"}, "kind": {"type": "string"},
                           "severity": {"type": "string"}, "status": {"type": "string"},
                           "observed_at": {"type": "string", "format": "date-time"}}}


def my_cases() -> Schema:
    """The body of GET /api/my/cases."""
    moment = {"type": "string", "format": "date-time"}
    text = {"type": "string", "nullable": True}
    report = {"type": "object", "properties": {
        "id": UUID, "case_id": {"type": "integer", "description": "the case it was sent to (maybe one merged in)"},
        "kind": {"type": "string", "enum": list(FACILITY_KINDS)},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "status": {"type": "string", "enum": list(OPERATIONAL_STATUSES)},
        "progress": {"type": "string", "enum": list(PROGRESS), "nullable": True},
        "hazards": {"type": "array", "items": {"type": "string", "enum": list(HAZARDS)}}, "notes": text,
        "observed_at": moment, "received_at": moment, "reporter": text}}
    case = {"type": "object", "required": ["id", "status", "kind", "lon", "lat", "hazards", "reports"], "properties": {
        "id": {"type": "integer", "description": "send it as case_id with a follow-up report"},
        "status": {"type": "string", "enum": list(OPEN_CASE_STATUSES)},
        "kind": {"type": "string", "enum": list(FACILITY_KINDS)},
        "facility_id": {"type": "integer", "nullable": True},
        "facility_name": {**text, "description": "null for a site with no registered facility"},
        "facility_kind": {"type": "string", "enum": list(FACILITY_KINDS), "nullable": True},
        "lon": {"type": "number"}, "lat": {"type": "number"},
        "hazards": {"type": "array", "items": {"type": "string", "enum": list(HAZARDS)},
                    "description": "named by any report on the case, whoever sent it"},
        "worst_severity": {"type": "string", "enum": list(SEVERITIES), "nullable": True},
        "assigned_crew": {**text, "description": "the crew's label given by the coordinator"},
        "opened_at": moment, "last_event_at": {**moment, "nullable": True},
        "reports": {"type": "array", "items": report,
                    "description": "oldest first; a crew's own reports only, every report for coordinators"}}}
    return {"type": "object", "required": ["username", "generated_at", "cases"], "properties": {
        "username": {"type": "string"}, "generated_at": moment,
        "cases": {"type": "array", "items": case, "description": "latest change first"}}}


def feature_collection() -> Schema:
    return {"type": "object", "required": ["type", "features"],
            "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                           "features": {"type": "array", "items": {"type": "object"}}}}


def paths() -> dict[str, Schema]:
    """Every route under /api, by path and method."""
    bbox = _query("bbox", {"type": "string", "pattern": BBOX_PATTERN},
                  "minlon,minlat,maxlon,maxlat in degrees (WGS 84)", empty_is_absent=False)
    report_id, photo_id = _path("report_id", "the report's client UUID"), _path("photo_id", "the photo's client UUID")
    binary = {"type": "string", "format": "binary"}
    photo_bytes = {media_type: {"schema": binary} for media_type in PHOTO_TYPES}
    photo = {"type": "object", "properties": {"id": UUID, "report_id": UUID, "sha256": {"type": "string"},
                                              "content_type": {"type": "string"}, "size_bytes": {"type": "integer"}}}
    dispatch_plan: Schema = {"type": "object", "required": ["as_of", "plan", "quality", "summary"], "properties": {
        "as_of": {"type": "string", "format": "date-time"}, "plan": {"type": "object"},
        "quality": {"type": "object"}, "summary": {"type": "object"}, "notes": {"type": "array"}}}
    dispatch_seconds = _query("time_limit", {"type": "number", "minimum": 0.05, "default": 2.0,
                                             "maximum": current_app.config["PLAN_MAX_SECONDS"]},
                              "seconds the planner and the solver may search")
    return {
        "/api/facilities": {"get": _operation(
            "Crew and up: facilities with direct and served population, as GeoJSON",
            {"200": _json("a FeatureCollection", feature_collection(), GEOJSON)}, "400",
            parameters=[bbox, _query("changed_since", {"type": "string", "format": "date-time"},
                                     "only facilities changed after this time (with a time zone), and a `cursor` "
                                     "member to send as changed_since next time (the previous answer's cursor)")])},
        "/api/facilities/nearest": {"get": _operation(
            "Crew and up: the registered facilities nearest to a point, with their distance in metres",
            {"200": _json("nearest first", {"type": "object", "required": ["facilities"], "properties": {
                "facilities": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string", "nullable": True},
                    "kind": {"type": "string"}, "distance_m": {"type": "number"}}}}}})},
            "400", parameters=[
                _query("lon", {"type": "number", "minimum": -180, "maximum": 180}, "degrees", required=True),
                _query("lat", {"type": "number", "minimum": -90, "maximum": 90}, "degrees", required=True),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}, "how many")])},
        "/api/reports": {
            "post": _operation(
                "Crew and up: store a report exactly once",
                {"201": _json("stored now", {"type": "object", "required": ["report"],
                                             "properties": {"report": report_out()}}),
                 "200": _json("stored before with the same content", {
                     "type": "object", "required": ["report"], "properties": {"report": report_out()}})},
                "400 403 409 413 422 429",
                requestBody={"required": True, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Report"}}}}),
            "get": _operation(
                "Crew (their own) and up (all): reports as GeoJSON, oldest first",
                {"200": _json("a FeatureCollection", feature_collection(), GEOJSON)}, "400",
                parameters=[bbox,
                            _query("since", {"type": "string", "format": "date-time"},
                                   "only reports received after this time (with a time zone)"),
                            _query("limit", {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000},
                                   "at most this many")])},
        "/api/reports/batch": {"post": _operation(
            "Crew and up: store a phone's queue of reports, each exactly once by its own id and committed as if "
            "sent alone; one result per report, in order. Every result 201 or 200 is committed before the answer; "
            "a 401, a 503 or no answer means: send the batch again",
            {"200": _json("one result per report", {"type": "object", "required": ["results"], "properties": {
                "results": {"type": "array", "items": {"type": "object", "required": ["id", "status"], "properties": {
                    "id": {**UUID, "nullable": True},
                    "status": {"type": "integer", "enum": [200, 201, 409, 422, 429],
                               "description": "what POST /api/reports would answer for this report alone"},
                    "report": report_out(), "error": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties": {"type": "string"}},
                    "retry_after_s": {"type": "integer"}}}}}})},
            "400 403 413 422",
            requestBody={"required": True, "content": {JSON: {"schema": {
                "type": "object", "additionalProperties": False, "required": ["reports"], "properties": {
                    "reports": {"type": "array", "minItems": 1, "maxItems": BATCH_MAX_REPORTS,
                                "items": {"type": "object", "description":
                                          "a report as POST /api/reports takes it (#/components/schemas/Report), "
                                          "judged on its own: one that is not valid gets its 422 in its result "
                                          "and the others are stored"}}}}}}})},
        "/api/reports/{report_id}": {"get": _operation(
            "Crew and up: one stored report (the outbox's receipt check)",
            {"200": _json("the stored report", {"type": "object", "required": ["report"],
                                                "properties": {"report": report_out()}})},
            "404", parameters=[report_id])},
        "/api/reports/{report_id}/photos/{photo_id}": {
            "put": _operation(
                "Crew and up: store a photo of a stored report exactly once",
                {"201": _json("stored now", {"type": "object", "properties": {"photo": photo}}),
                 "200": _json("stored before with the same bytes", {"type": "object", "properties": {"photo": photo}})},
                "400 403 404 409 413 415", parameters=[report_id, photo_id],
                requestBody={"required": True, "content": photo_bytes}),
            "get": _operation(
                "Crew and up: a stored photo's bytes",
                {"200": {"description": "the photo", "content": photo_bytes}}, "404",
                parameters=[report_id, photo_id])},
        "/api/triage": {"get": _operation(
            "Coordinator and up: the ranked repair queue of open damage cases, each with its reason",
            {"200": _json("the queue, best first", {"type": "object", "required": ["queue", "unplaced"],
                                                    "properties": {"queue": {"type": "array",
                                                                             "items": {"type": "object"}},
                                                                   "unplaced": {"type": "array",
                                                                                "items": {"type": "object"}},
                                                                   "exact": {"type": "boolean"},
                                                                   "objective": {"type": "string"},
                                                                   "switching": SWITCHING_STEPS}})},
            "403")},
        "/api/plan": {"get": _operation(
            "Coordinator and up: the plan for k crews with ETRs per case and per area, next to the naive plan",
            {"200": _json("the plan", {"type": "object", "required": ["crews", "etr_by_case", "etr_by_area"],
                                       "properties": {"crews": {"type": "array", "items": {"type": "array"}},
                                                      "etr_by_case": {"type": "object"},
                                                      "etr_by_area": {"type": "array"},
                                                      "unplaced": {"type": "array"},
                                                      "switching": SWITCHING_PLAN}})},
            "400 403", parameters=[
                _query("crews", {"type": "integer", "minimum": 1, "maximum": 500, "default": 1}, "crews available"),
                _query("time_limit", {"type": "number", "minimum": 0.05, "default": 2.0,
                                      "maximum": current_app.config["PLAN_MAX_SECONDS"]},
                       "seconds the planner may search, counted from the request's start (reading the situation "
                       "included)")])},
        "/api/dispatch": {
            "get": _operation(
                "Coordinator and up: the dispatchable plan for the chosen crews: routes with travel, skills, shifts, "
                "access and materials waits; clock-time ETRs with P50/P90 per case and per area",
                {"200": _json("the plan", dispatch_plan)}, "400 403 422",
                parameters=[{"name": "crew", "in": "query", "required": True, "style": "form", "explode": True,
                             "schema": {"type": "array", "minItems": 1,
                                        "items": {"type": "integer", "minimum": 1, "maximum": 2**62}},
                             "description": "a crew id (GET /api/crews), repeated for each crew"},
                            dispatch_seconds]),
            "post": _operation(
                "Coordinator and up: plan for the chosen crews and assign each crew its cases in the plan's order "
                "(an audited assign event each); cases in repair keep their crew",
                {"200": _json("what was assigned, and the plan", {
                    "type": "object", "required": ["assigned", "kept", "plan"],
                    "properties": {"assigned": {"type": "array"}, "kept": {"type": "array"}, "plan": dispatch_plan}})},
                "400 403 413 415 422",
                requestBody={"required": True, "content": {JSON: {"schema": {
                    "type": "object", "required": ["crews"], "properties": {
                        "crews": {"type": "array", "minItems": 1,
                                  "items": {"type": "integer", "minimum": 1, "maximum": 2**62}},
                        "time_limit": {"type": "number", "minimum": 0.05,
                                       "maximum": current_app.config["PLAN_MAX_SECONDS"]}}}}}}),
        },
        "/api/my/cases": {"get": _operation(
            "Crew and up: the damage cases assigned to my account that are not closed (repaired, rejected or "
            "merged), with the reports on them I may see",
            {"200": _json("my open cases", my_cases())}, "403")},
        "/api/session": {"get": _operation(
            "Crew and up: who is signed in, and a CSRF token for cookie-authenticated changes",
            {"200": _json("the account", {"type": "object", "required": ["username", "role", "csrf_token"],
                                          "properties": {"username": {"type": "string"},
                                                         "role": {"type": "string"},
                                                         "csrf_token": {"type": "string"}}})}, "")},
        "/api/openapi.json": {"get": {
            "summary": "Anyone: this description", "security": [],
            "responses": {"200": _json("OpenAPI 3.0", {"type": "object"})}}},
    }


def _choices(name: str, allowed: tuple[str, ...]) -> Schema:
    """A filter: a comma-separated list of allowed values."""
    return {"name": name, "in": "query", "required": False, "allowEmptyValue": True, "style": "form",
            "explode": False, "schema": {"type": "array", "minItems": 1, "items": {"type": "string",
                                                                                 "enum": list(allowed)}},
            "description": f"only these {name} values"}


def map_filters() -> list[Schema]:
    """The coordinator map's filters, shared by its layers and the exports."""
    moment = {"type": "string", "format": "date-time"}
    return [_query("bbox", {"type": "string", "pattern": BBOX_PATTERN}, "minlon,minlat,maxlon,maxlat in degrees",
                   empty_is_absent=False),
            _choices("status", CASE_STATUSES), _choices("kind", FACILITY_KINDS), _choices("severity", SEVERITIES),
            _choices("hazard", HAZARDS), _query("since", moment, "reported at or after (with a time zone)"),
            _query("until", moment, "reported before (with a time zone)")]


def coordinator_paths() -> dict[str, Schema]:
    """The routes under /api for coordinators: cases, the map's layers and the exports."""
    case_id = {"name": "case_id", "in": "path", "required": True, "description": "the damage case",
               "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}}
    zoom = _query("zoom", {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}, "the map's zoom level",
                  required=True)
    text = {"type": "string", "maxLength": MAX_TEXT, "pattern": NO_NUL}
    amount = {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "a number (or its text, as forms send)"}
    action = {"type": "object", "required": ["action"], "properties": {
        "action": {"type": "string", "enum": list(TRANSITIONS)},
        "reason": {**text, "description": "required to reject, override hours and bump priority"},
        "crew": {**text, "description": "with assign: the crew's name or id"},
        "crew_account": {**text, "nullable": True,
                         "description": "with assign: the user name of an active account whose crew does the work "
                                        "(they see the case in GET /api/my/cases); absent, empty or null: no account, "
                                        "which also takes the case from the account it was assigned to"},
        "hours": {**amount, "description": "with override_hours: 0.25 (the minimum repair) to 10000"},
        "bump": {**amount, "description": "with bump_priority: 0 to 10000000 people-equivalents"},
        "operational_status": {"type": "string", "enum": [*OPERATIONAL_STATUSES, FROM_REPORTS],
                               "description": "with set_operational_status: the facility's state as the coordinator "
                                              "knows it, or from_reports to go back to the latest report's"},
        "share_out": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "string"}],
                      "nullable": True,
                      "description": "with set_operational_status degraded: the share of customers without supply"},
        "access_state": {"type": "string", "enum": [*ACCESS_STATES, FROM_HAZARDS],
                         "description": "with set_access: may a crew start at the site, or from_hazards to derive it "
                                        "from the reported hazards again (uxo: needs_clearance, access_blocked: "
                                        "blocked)"},
        "expected_at": {"type": "string", "nullable": True,
                        "description": "with set_access needs_clearance or blocked: when access is expected (ISO "
                                       "8601; without a zone: UTC)"},
        "materials_until": {"type": "string", "nullable": True,
                            "description": "with set_materials: when the materials are due (ISO 8601; without a "
                                           "zone: UTC); empty or absent: none awaited"},
        "duplicate_id": {**amount, "description": "with merge: the case that is a duplicate of this one; with "
                                                  "unmerge: the case merged into this one to take out again (it "
                                                  "gets back its status before the merge, and its reports)"}}}
    collection = _json("a FeatureCollection", feature_collection(), GEOJSON)
    layer = {"200": collection}
    map_layer = [zoom, *map_filters()]
    return {
        "/api/cases/{case_id}": {"get": _operation(
            "Coordinator and up: a case with its reports (merged cases included), events and dependants",
            {"200": _json("the case", {"type": "object", "required": ["case", "reports", "events"]})}, "403 404",
            parameters=[case_id])},
        "/api/cases/{case_id}/actions": {"post": _operation(
            "Coordinator and up: apply one workflow action to a case",
            {"200": _json("the case afterwards", {"type": "object", "required": ["case"]})},
            "400 403 404 409 422", parameters=[case_id],
            requestBody={"required": True, "content": {JSON: {"schema": action}}})},
        "/api/cases/{case_id}/duplicates": {"get": _operation(
            "Coordinator and up: open cases on the same facility, or near in space and time, to merge",
            {"200": _json("suggested duplicates", {"type": "object", "required": ["case_id", "duplicates"]})},
            "403 404", parameters=[case_id])},
        "/api/export/{layer}.{fmt}": {"get": _operation(
            "Coordinator and up: cases or reports, filtered like the map, as GeoJSON, CSV (WKT) or GeoPackage",
            {"200": {"description": "the file", "content": {
                media_type: {"schema": feature_collection() if media_type == GEOJSON else {"type": "string"}}
                for _driver, _options, media_type in FORMATS.values()}}},
            "400 403 404", parameters=[
                {"name": "layer", "in": "path", "required": True, "schema": {"type": "string",
                                                                            "enum": ["cases", "reports"]}},
                {"name": "fmt", "in": "path", "required": True, "schema": {"type": "string", "enum": list(FORMATS)}},
                *map_filters()])},
        "/api/map/reports": {"get": _operation(
            "Coordinator and up: reports in bbox at zoom, clustered on a grid, filtered", layer, "400 403",
            parameters=map_layer)},
        "/api/map/cases": {"get": _operation(
            "Coordinator and up: damage cases in bbox at zoom, clustered, filtered", layer, "400 403",
            parameters=map_layer)},
        "/api/map/case-index": {"get": _operation(
            "Coordinator and up: every case matching the filters, for the queue",
            {"200": _json("the cases", {"type": "object", "required": ["cases"],
                                        "properties": {"cases": {"type": "array", "items": {"type": "object"}}}})},
            "400 403", parameters=map_layer)},
        "/api/map/service-areas": {"get": _operation(
            "Coordinator and up: service areas in bbox, simplified for the zoom", layer, "400 403",
            parameters=map_layer)},
        "/api/map/critical-sites": {"get": _operation("Coordinator and up: the critical sites", layer, "403")},
        "/api/map/boundary": {"get": _operation("Coordinator and up: the study boundary", layer, "403")},
        "/api/map/changes": {"get": _operation(
            "Coordinator and up: the change cursor, to poll cheaply",
            {"200": {**_json("the cursor", {"type": "object", "required": ["cursor", "changed"],
                                            "properties": {"cursor": {"type": "string"},
                                                           "changed": {"type": "boolean"}}}),
                     "headers": {"ETag": {"schema": {"type": "string"}, "required": True}}},
             "304": {"description": "nothing changed since `since` or If-None-Match",
                     "headers": {"ETag": {"schema": {"type": "string"}, "required": True}}}},
            "403", parameters=[
                _query("since", {"type": "string"}, "the cursor last seen"),
                {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "the ETag last seen"}])},
    }


# Tie switches (issue 15): the proposed switching steps in /api/triage and /api/plan, and the switches themselves.
SWITCHING_STEPS: Schema = {
    "type": "array", "description": "proposed switching steps, in the order to do them: closing a normally-open "
    "tie switch that back-feeds a dark part of the network from a healthy source (done by the control room or a "
    "switching operator, not by the repair crews); the queue is ranked on the network after them",
    "items": {"type": "object", "required": ["switch_id", "name", "hours", "people_restored", "bridges", "sentence"],
              "properties": {
                  "switch_id": {"type": "integer"}, "external_id": {"type": "string"}, "name": {"type": "string"},
                  "lon": {"type": "number"}, "lat": {"type": "number"}, "remote": {"type": "boolean"},
                  "hours": {"type": "number", "description": "how long closing it takes"},
                  "ready_hours": {"type": "number", "description": "when its people have power (later than "
                                  "`hours` when it waits for the step `after_switch_id`)"},
                  "after_switch_id": {"type": "integer", "nullable": True},
                  "facility_ids": {"type": "array", "items": {"type": "integer"}},
                  "people_restored": {"type": "number"},
                  "restores_facility_ids": {"type": "array", "items": {"type": "integer"}},
                  "bridges": {"type": "object", "description": "the damaged facilities (and their cases) whose "
                              "repair alone would restore the same people: the step stands in for them",
                              "properties": {"case_ids": {"type": "array", "items": {"type": "integer"}},
                                             "case_facility_names": {"type": "array", "items": {"type": "string"}},
                                             "facility_ids": {"type": "array", "items": {"type": "integer"}}}},
                  "people_hours_saved": {"type": "number", "description": "its people x (the shortest of those "
                                         "repairs - ready_hours); 0 when no single repair restores them"},
                  "flow": {"type": "object", "description": "the power-flow check of the network after this step "
                           "(the closed ties and the steps before it closed, the damaged elements out of service), "
                           "run where the switch and its two ends come from a network imported from pandapower; "
                           "elsewhere not possible",
                           "properties": {
                               "status": {"type": "string",
                                          "enum": ["within_limits", "outside_limits", "not_possible"]},
                               "reason": {"type": "string", "description": "the verdict in one sentence, naming "
                                          "each limit broken with its element and figure"},
                               "violations": {"type": "array", "items": {"type": "string"}},
                               "max_line_loading_percent": {"type": "number", "nullable": True},
                               "max_trafo_loading_percent": {"type": "number", "nullable": True},
                               "min_vm_pu": {"type": "number", "nullable": True},
                               "max_vm_pu": {"type": "number", "nullable": True},
                               "converged": {"type": "boolean", "nullable": True,
                                             "description": "false: the power flow does not converge; null: none "
                                             "ran"},
                               "network": {"type": "string", "description": "the imported network (file stem) "
                                           "it ran on"},
                               "not_in_registry": {"type": "array", "items": {"type": "string"}, "description":
                                                   "what the network rebuilt from the registry lacks: columns "
                                                   "('bus.geo'), the frequency taken, tables never imported"}}},
                  "done_by": {"type": "string"}, "sentence": {"type": "string"}}}}
SWITCHING_PLAN: Schema = {
    "type": "object", "nullable": True, "description": "null when no step is proposed; else the steps, and the "
    "plan's objective with them (the plan above: each step's people wait its ready_hours) and with repairs only",
    "properties": {"steps": SWITCHING_STEPS, "objective_with_switching": {"type": "number"},
                   "objective_repairs_only": {"type": "number"}, "phu_with_switching": {"type": "number"},
                   "phu_repairs_only": {"type": "number"}, "waiting_phu": {"type": "number"},
                   "waiting_objective": {"type": "number"}, "repairs_only_etr_by_case": {"type": "object"},
                   "repairs_only_converged": {"type": "boolean"}, "method": {"type": "string"},
                   "done_by": {"type": "string"}, "summary": {"type": "string", "description": "both "
                                                                     "objectives in one sentence"}}}


def switch_paths() -> dict[str, Schema]:
    """The routes under /api for tie switches: the layer, and recording that a switching step was done."""
    switch_id = {"name": "switch_id", "in": "path", "required": True, "description": "the tie switch's id",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 2**62}}
    body = {"required": False, "content": {JSON: {"schema": {"type": "object", "properties": {
        "reason": {"type": "string", "maxLength": 500, "description": "why, for the audit trail"}}}}}}
    done = _json("the switch as stored now; `changed` false when it already was so (nothing recorded)",
                 {"type": "object", "required": ["changed", "switch"],
                  "properties": {"changed": {"type": "boolean"}, "switch": {"type": "object"}}})
    return {
        "/api/switches": {"get": _operation(
            "Coordinator and up: every tie switch as a GeoJSON point: open or closed (who closed it, when), remote "
            "or manual, and whether a switching step proposes closing it now",
            {"200": _json("a FeatureCollection", {"type": "object"}, GEOJSON)}, "403")},
        "/api/switches/{switch_id}/close": {"post": _operation(
            "Coordinator and up: record that the switch was closed (now, by me), audited; the next triage counts "
            "the people it feeds as supplied. Idempotent", {"200": done}, "400 403 404 413 422",
            parameters=[switch_id], requestBody=body)},
        "/api/switches/{switch_id}/open": {"post": _operation(
            "Coordinator and up: record that the switch was opened again, audited. Idempotent", {"200": done},
            "400 403 404 413 422", parameters=[switch_id], requestBody=body)},
    }


def crew_paths() -> dict[str, Schema]:
    """The crews' routes under /api: every crew (coordinators), and a crew's own status."""
    lonlat: Schema = {"lon": {"type": "number"}, "lat": {"type": "number"}}
    point: Schema = {"type": "object", "required": ["lon", "lat"], "properties": lonlat}
    crew = {"type": "object", "required": ["id", "name", "base", "skills", "shift", "status", "position", "members"],
            "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "base": point,
                "skills": {"type": "array", "items": {"type": "string", "enum": list(CREW_SKILLS)}},
                "shift": {"type": "object", "required": ["start", "end", "time_zone"], "properties": {
                    "start": {"type": "string", "description": "HH:MM on the crew's clock"},
                    "end": {"type": "string", "description": "HH:MM; before the start: the shift ends the next day"},
                    "time_zone": {"type": "string", "description": "an IANA time zone name"},
                    "on_shift_now": {"type": "boolean"}}},
                "status": {"type": "string", "enum": list(CREW_STATUSES)},
                "status_at": {"type": "string", "format": "date-time"},
                "position": {**point, "nullable": True, "description": "the point of the latest report of one of "
                                                                      "its members, observed at `at`; null: at base",
                             "properties": {**lonlat, "at": {"type": "string", "format": "date-time"}}},
                "members": {"type": "array", "items": {"type": "string"}, "description": "user names"},
                "updated_at": {"type": "string", "format": "date-time"}}}
    return {
        "/api/crews": {"get": _operation(
            "Coordinator and up: every crew with its base, skills, shift, status, last position and accounts",
            {"200": _json("the crews, by name", {"type": "object", "required": ["crews"], "properties": {
                "generated_at": {"type": "string", "format": "date-time"},
                "crews": {"type": "array", "items": crew}}})}, "403")},
        "/api/my/cases/{case_id}/access": {"post": _operation(
            "Crew and up: set the access state of a case assigned to my account or my crew (audited as the "
            "coordinator's set_access; the next plan starts the repair no earlier than the expected clearance); "
            "404 for any other case",
            {"200": _json("the case's access afterwards", {"type": "object", "required": ["case"], "properties": {
                "case": {"type": "object", "required": ["id", "access_state", "access_source"], "properties": {
                    "id": {"type": "integer"}, "access_state": {"type": "string", "enum": list(ACCESS_STATES)},
                    "access_source": {"type": "string"},
                    "access_expected_at": {"type": "string", "format": "date-time", "nullable": True}}}}})},
            "400 403 404 409 413 422",
            parameters=[{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"},
                         "description": "the case number"}],
            requestBody={"required": True, "content": {JSON: {"schema": {
                "type": "object", "required": ["access_state"], "properties": {
                    "access_state": {"type": "string", "enum": list(ACCESS_STATES)},
                    "expected_at": {"type": "string", "format": "date-time",
                                    "description": "when the site should be cleared (not with cleared)"},
                    "reason": {"type": "string", "maxLength": 500}}}}}})},
        "/api/crews/mine/status": {"post": _operation(
            "Crew and up: set the status of the crew my account belongs to",
            {"200": _json("my crew afterwards", {"type": "object", "required": ["crew"],
                                                 "properties": {"crew": crew}})},
            "400 403 404 413 422",
            requestBody={"required": True, "content": {JSON: {"schema": {
                "type": "object", "required": ["status"],
                "properties": {"status": {"type": "string", "enum": list(CREW_STATUSES)}}}}}})},
    }


# The reads that may come from a streaming replica (app.db.read_connection) say where they were read, how stale.
FRESHNESS = {
    "X-Data-Source": {"required": True, "description": "where the data was read: `replica` or `primary`",
                      "schema": {"type": "string", "enum": ["replica", "primary"]}},
    "X-Data-Staleness-S": {"required": True, "schema": {"type": "string"},
                           "description": "at most this many seconds behind the primary database (0 when read there)"},
}
READ_FROM_REPLICA = ("/api/triage", "/api/plan", "/api/export/", "/api/map/")


def _with_freshness(found: dict[str, Schema]) -> dict[str, Schema]:
    """The paths, with the freshness headers on the successful answers of the reads that may use a replica."""
    marked: dict[str, Schema] = {}
    for path, item in found.items():
        if path.startswith(READ_FROM_REPLICA) and "get" in item:
            get = item["get"]
            responses = {code: {**answer, "headers": {**answer.get("headers", {}), **FRESHNESS}}
                         if code.startswith(("2", "3")) else answer for code, answer in get["responses"].items()}
            item = {**item, "get": {**get, "responses": responses}}
        marked[path] = item
    return marked


def describe() -> Schema:
    """The whole OpenAPI 3.0.3 document."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "GridTriage API", "version": API_VERSION,
                 "description": "Damage reports from crews in the field, and the data coordinators triage with. "
                                "A 2xx means the change is committed; 503 means nothing was stored: retry."},
        "paths": _with_freshness({**paths(), **coordinator_paths(), **crew_paths(), **switch_paths()}),
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from `flask --app app create-token NAME`"}},
            "schemas": {"Error": ERROR, "Report": report_in()},
        },
    }


@bp.get("/openapi.json")
@public
def spec() -> Response:
    """Anyone: the OpenAPI description of /api."""
    return jsonify(describe())
