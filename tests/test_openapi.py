"""GET /api/openapi.json: a valid OpenAPI document, public, describing every route under /api and the report rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import schemathesis

from app.errors import ValidationError
from app.reports.input import FIELDS, MATERIALS_MAX_CHARS, NOTES_MAX_CHARS, parse_report
from geo.repair_hours import MIN_REPAIR_HOURS
from geo.taxonomy import COMPONENTS, FACILITY_KINDS, HAZARDS, OPERATIONAL_STATUSES, SEVERITIES
from tests.conftest import free_port, make_app

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def spec(app):
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.json


def api_routes(app) -> set[tuple[str, str]]:
    """(path in OpenAPI form, method) for every rule the app serves under /api."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            found |= {(path, method.lower()) for method in (rule.methods or set()) - IGNORED_METHODS}
    return found


def test_the_description_is_valid_openapi(spec):
    schema = schemathesis.openapi.from_dict(spec)
    schema.validate()
    operations = [result.ok() for result in schema.get_all_operations()]  # each one resolves and parses
    assert len(operations) == sum(len(methods) for methods in spec["paths"].values())


def test_every_api_route_is_described_and_nothing_else(app, spec):
    described = {(path, method) for path, methods in spec["paths"].items() for method in methods}
    assert described == api_routes(app)


def test_the_description_is_public_and_needs_no_database():
    # An app whose database does not exist still describes itself: no login, no database round trip.
    app = make_app(f"postgresql://nobody:x@127.0.0.1:{free_port()}/none", DB_TIMEOUT_S=0.5)
    try:
        response = app.test_client().get("/api/openapi.json")
        assert response.status_code == 200
        assert response.json["openapi"].startswith("3.")
        assert response.json["paths"]["/api/openapi.json"]["get"]["security"] == []
    finally:
        app.extensions["db_pool"].close()


def test_every_other_operation_needs_a_bearer_token_and_documents_its_errors(spec):
    bearer = spec["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearer": []}]
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if path == "/api/openapi.json":
                continue
            assert "security" not in operation, (method, path)
            assert {"401", "503"} <= set(operation["responses"]), (method, path)
            assert operation["responses"]["503"]["headers"]["Retry-After"]["required"] is True


def test_the_report_body_follows_the_rules_the_api_applies(spec):
    body = spec["components"]["schemas"]["Report"]
    props = body["properties"]
    assert body["additionalProperties"] is False
    assert set(props) == FIELDS
    assert props["kind"]["enum"] == list(FACILITY_KINDS)
    assert props["severity"]["enum"] == list(SEVERITIES)
    assert props["status"]["enum"] == list(OPERATIONAL_STATUSES)
    assert props["hazards"]["items"]["enum"] == list(HAZARDS)
    assert set(props["components"]["items"]["enum"]) == {c for names in COMPONENTS.values() for c in names} | {"other"}
    assert (props["notes"]["maxLength"], props["materials"]["maxLength"]) == (NOTES_MAX_CHARS, MATERIALS_MAX_CHARS)
    assert (props["lon"]["minimum"], props["lon"]["maximum"], props["lat"]["minimum"], props["lat"]["maximum"]) == (
        -180, 180, -90, 90)
    assert (props["repair_hours"]["minimum"], props["repair_hours"]["maximum"]) == (MIN_REPAIR_HOURS, 10_000)
    assert (props["crew_size"]["minimum"], props["crew_size"]["maximum"]) == (1, 500)
    assert (props["accuracy_m"]["minimum"], props["accuracy_m"]["maximum"]) == (0, 100_000)
    with pytest.raises(ValidationError) as refused:
        parse_report({}, now=datetime.now(UTC))
    required = {name for name, reason in refused.value.errors.items() if reason.startswith("is required")}
    assert set(body["required"]) == required
