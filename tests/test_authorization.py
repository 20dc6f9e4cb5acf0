"""Every route has an explicit role, and each role (and anonymous) gets exactly what it should."""

from __future__ import annotations

import uuid

import pytest

from app.auth.access import is_static
from tests.conftest import api_client

# The expected role of every endpoint; a new route must be added here, or the first test fails.
EXPECTED = {
    "site.healthz": "anyone",
    "site.vendor_asset": "anyone",
    "site.tile": "crew",
    "site.tile_area": "crew",
    "auth.login": "anyone",
    "auth.logout": "crew",
    "auth.change_password": "crew",
    "auth.session_info": "crew",
    "site.home": "crew",
    "facilities.list_facilities": "crew",
    "reports.create_report": "crew",
    "reports.create_reports_batch": "crew",
    "reports.get_report": "crew",
    "reports.list_reports": "crew",
    "reports.put_photo": "crew",
    "reports.get_photo": "crew",
    "facilities.nearest_facilities": "crew",
    "my_work.my_cases": "crew",
    "triage.triage": "coordinator",
    "triage.plan_for_crews": "coordinator",
    "dispatch.dispatch_plan": "coordinator",
    "dispatch.dispatch_assign": "coordinator",
    "coordinator.map_page": "coordinator",
    "coordinator.map_reports": "coordinator",
    "coordinator.map_cases": "coordinator",
    "coordinator.map_case_index": "coordinator",
    "coordinator.map_service_areas": "coordinator",
    "coordinator.map_critical_sites": "coordinator",
    "coordinator.map_boundary": "coordinator",
    "coordinator.map_changes": "coordinator",
    "field.form": "crew",
    "field.service_worker": "anyone",
    "field.manifest": "anyone",
    "field.layers": "crew",
    "site.switch_language": "anyone",
    "openapi.spec": "anyone",
    "cases.case_page": "coordinator",
    "cases.case_form_action": "coordinator",
    "cases.case_api_action": "coordinator",
    "cases.case_json": "coordinator",
    "cases.case_duplicates": "coordinator",
    "exports.export": "coordinator",
    "ogc.landing": "coordinator",
    "ogc.conformance": "coordinator",
    "ogc.collections": "coordinator",
    "ogc.collection": "coordinator",
    "ogc.items": "coordinator",
    "ogc.item": "coordinator",
    "ogc.api": "coordinator",
    "ogc.schema": "coordinator",
    "sitrep.sitrep": "coordinator",
    "admin.users_page": "admin",
    "admin.create_user": "admin",
    "admin.change_user": "admin",
    "crews.crews_page": "coordinator",
    "crews.create_crew": "coordinator",
    "crews.crew_page": "coordinator",
    "crews.update_crew": "coordinator",
    "crews.list_crews": "coordinator",
    "crews.set_my_status": "crew",
    "my_work.set_my_access": "crew",
    "switches.list_switches": "coordinator",
    "switches.close_switch": "coordinator",
    "switches.open_switch": "coordinator",
}
ORDER = ["anonymous", "crew", "coordinator", "admin"]
SAMPLE_ARGS = {"package": "leaflet", "filename": "leaflet.js", "report_id": str(uuid.uuid4()),
               "photo_id": str(uuid.uuid4()), "code": "en",
               "case_id": 999_999_999, "layer": "cases", "fmt": "csv", "collection_id": "facilities", "fid": "1",
               "user_id": 999_999_999, "crew_id": 999_999_999, "switch_id": 999_999_999, "z": 0, "x": 0, "y": 0}


def routes(app):
    for rule in app.url_map.iter_rules():
        if is_static(rule.endpoint):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_declares_the_expected_role(app):
    declared = {rule.endpoint: getattr(app.view_functions[rule.endpoint], "required_role", None)
                for rule, _ in routes(app)}
    assert declared == {endpoint: EXPECTED.get(endpoint) for endpoint in declared}
    assert None not in declared.values()


@pytest.mark.parametrize("who", ORDER)
def test_authorisation_matrix(demo_loaded, tokens, who):
    client = api_client(demo_loaded, tokens.get(who) if who != "anonymous" else None)
    failures = []
    for rule, method in routes(demo_loaded):
        url = rule.build({k: v for k, v in SAMPLE_ARGS.items() if k in rule.arguments})[1]
        response = client.open(url, method=method, json={} if method in ("POST", "PUT") else None)
        response.close()
        needed = EXPECTED[rule.endpoint]
        allowed = needed == "anyone" or (who != "anonymous" and ORDER.index(who) >= ORDER.index(needed))
        if allowed:
            ok = response.status_code not in (401, 403) and response.status_code < 500
        elif who == "anonymous":
            ok = response.status_code == 401 if url.startswith("/api/") else (
                response.status_code == 302 and "/login" in response.headers["Location"])
        else:
            ok = response.status_code == 403
        if not ok:
            failures.append(f"{method} {url}: {response.status_code}")
    assert failures == []


def test_a_view_without_a_role_is_refused(app, tokens):
    app.view_functions["site.healthz"].required_role = None
    try:
        assert api_client(app, tokens["admin"]).get("/healthz").status_code == 403
    finally:
        app.view_functions["site.healthz"].required_role = "anyone"


def test_bad_token_is_401(demo_loaded):
    response = api_client(demo_loaded, "gt_not-a-real-token").get("/api/facilities")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_crew_sees_only_their_own_reports(demo_loaded, tokens):
    from tests.test_reports_api import report

    mine = report(kind="other", components=[])
    assert api_client(demo_loaded, tokens["crew"]).post("/api/reports", json=mine).status_code == 201
    other = api_client(demo_loaded, tokens["crew2"])
    assert other.get(f"/api/reports/{mine['id']}").status_code == 404
    assert mine["id"] not in {f["id"] for f in other.get("/api/reports").json["features"]}
    coordinator = api_client(demo_loaded, tokens["coordinator"])
    assert coordinator.get(f"/api/reports/{mine['id']}").status_code == 200


@pytest.mark.parametrize("who", ["crew", "coordinator"])
def test_a_signed_in_user_without_the_role_gets_403_before_any_csrf_check(demo_loaded, db, who):
    """A form post without a CSRF token from someone who lacks the role is refused as forbidden, and shows nothing
    of the page (a CSRF error page could otherwise render what the role would see)."""
    from tests.test_sessions import sign_in

    client = demo_loaded.test_client()
    assert sign_in(client, who).status_code == 302
    case_id = db.execute("SELECT max(id) AS id FROM damage_case").fetchone()["id"] or 1
    args = {**SAMPLE_ARGS, "case_id": case_id}
    checked = 0
    for rule, method in routes(demo_loaded):
        needed = EXPECTED[rule.endpoint]
        if method not in ("POST", "PUT", "PATCH", "DELETE") or needed == "anyone" or \
                ORDER.index(who) >= ORDER.index(needed):
            continue
        url = rule.build({k: v for k, v in args.items() if k in rule.arguments})[1]
        response = client.open(url, method=method, data={"action": "confirm"})
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"
        assert "<main>" not in response.get_data(as_text=True), f"{method} {url} rendered a page"
        checked += 1
    assert checked >= 2
