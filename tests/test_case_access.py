"""A case's access state (derived from hazards until someone says) and the materials it waits for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from geo.access import access, release
from tests.conftest import all_day_shift, api_client, create_accounts, make_app

ACCOUNTS = {"ca_crew": "crew", "ca_coord": "coordinator"}


def test_access_follows_the_hazards_until_it_is_set_and_the_later_wait_releases_the_repair():
    assert access(None, ["fire"]) == ("cleared", "no hazard that limits access reported")
    assert access(None, ["uxo", "fire"]) == ("needs_clearance", "from the reported hazard uxo")
    assert access(None, ["uxo", "access_blocked"]).state == "blocked"
    assert access("cleared", ["uxo"]) == ("cleared", "set on the case")
    noon, evening = datetime(2026, 12, 7, 12, tzinfo=UTC), datetime(2026, 12, 7, 18, tzinfo=UTC)
    assert release("needs_clearance", noon, None) == noon
    assert release("needs_clearance", noon, evening) == evening
    assert release("cleared", noon, None) is None  # a cleared site waits for nothing but its materials
    assert release("cleared", None, evening) == evening


@pytest.fixture(scope="module")
def site(new_database):
    url = new_database()
    app = make_app(url)
    with psycopg.connect(url, autocommit=True) as conn:
        fid = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES ('ca', 'Access Sub', "
                           "'substation', ST_Point(25, 45, 4326)) RETURNING id").fetchone()[0]
    tokens = create_accounts(app, ACCOUNTS)
    body = {"id": str(uuid.uuid4()), "facility_id": fid, "lon": 25, "lat": 45, "kind": "substation",
            "severity": "severe", "status": "out_of_service", "hazards": ["uxo"],
            "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    case_id = api_client(app, tokens["ca_crew"]).post("/api/reports", json=body).json["report"]["case_id"]
    yield app, tokens, case_id
    app.extensions["db_pool"].close()


def row(site):
    app, tokens, case_id = site
    (found,) = [r for r in api_client(app, tokens["ca_coord"]).get("/api/triage").json["queue"]
                if r["case_id"] == case_id]
    return found


def act(site, **body):
    app, tokens, case_id = site
    return api_client(app, tokens["ca_coord"]).post(f"/api/cases/{case_id}/actions", json=body)


def test_a_site_with_uxo_needs_clearance_until_a_coordinator_says_when(site):
    assert (row(site)["access_state"], row(site)["access_source"]) == ("needs_clearance",
                                                                        "from the reported hazard uxo")
    assert row(site)["not_before"] is None
    assert act(site, action="set_access", access_state="needs_clearance",
               expected_at="2026-12-31T14:00").status_code == 200  # a page's time without a zone is UTC
    found = row(site)
    assert found["access_expected_at"] == found["not_before"] == "2026-12-31T14:00:00+00:00"
    assert act(site, action="set_materials", materials_until="2027-01-02T08:00:00+02:00").status_code == 200
    assert row(site)["not_before"] == "2027-01-02T06:00:00+00:00"
    assert act(site, action="set_access", access_state="cleared", reason="EOD team cleared it").status_code == 200
    found = row(site)
    assert (found["access_state"], found["access_source"]) == ("cleared", "set on the case")
    assert found["not_before"] == "2027-01-02T06:00:00+00:00"  # still waiting for the transformer
    app, tokens, case_id = site
    page = app.test_client()
    page.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['ca_coord']}"
    html = page.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-access="cleared"' in html and "waiting for materials until 2027-01-02 06:00 UTC" in html
    assert act(site, action="set_access", access_state="from_hazards").status_code == 200
    assert act(site, action="set_materials", materials_until="").status_code == 200
    assert row(site)["access_state"] == "needs_clearance" and row(site)["not_before"] is None


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "set_access", "access_state": "open"}, "access_state"),
    ({"action": "set_access", "access_state": "cleared", "expected_at": "2026-12-31T14:00Z"}, "expected_at"),
    ({"action": "set_access", "access_state": "blocked", "expected_at": "soon"}, "expected_at"),
    ({"action": "set_materials", "materials_until": "tomorrow\x00"}, "materials_until"),
])
def test_bad_access_or_materials_input_is_422_naming_the_field(site, body, field):
    response = act(site, **body)
    assert response.status_code == 422 and field in response.json["errors"]


@pytest.fixture(scope="module")
def crew_site(new_database, tmp_path_factory):
    """A case on a site with uxo, assigned to crew 'Access Crew' (member ca_member); ca_other is in no crew."""
    url = new_database()
    app = make_app(url)
    with psycopg.connect(url, autocommit=True) as conn:
        fid = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES ('cb', 'Crew Sub', "
                           "'substation', ST_Point(25, 45, 4326)) RETURNING id").fetchone()[0]
    tokens = create_accounts(app, {"ca_member": "crew", "ca_other": "crew", "ca_boss": "coordinator"})
    crews = tmp_path_factory.mktemp("crews") / "access-crews.csv"
    crews.write_text("name,lon,lat,skills,shift_start,shift_end,time_zone,status,members\n"
                     "Access Crew,25,45,substation,{},{},UTC,available,ca_member\n".format(*all_day_shift()))
    assert app.test_cli_runner().invoke(args=["import-crews", str(crews)]).exit_code == 0
    body = {"id": str(uuid.uuid4()), "facility_id": fid, "lon": 25, "lat": 45, "kind": "substation",
            "severity": "severe", "status": "out_of_service", "hazards": ["uxo"],
            "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    case_id = api_client(app, tokens["ca_other"]).post("/api/reports", json=body).json["report"]["case_id"]
    boss = api_client(app, tokens["ca_boss"])
    assert boss.post(f"/api/cases/{case_id}/actions", json={"action": "assign", "crew": "Access Crew",
                                                            "crew_account": ""}).status_code == 200
    yield app, tokens, case_id
    app.extensions["db_pool"].close()


def test_a_member_of_the_assigned_crew_sets_access_from_the_phone_audited_and_no_one_else(crew_site):
    app, tokens, case_id = crew_site
    member, other = api_client(app, tokens["ca_member"]), api_client(app, tokens["ca_other"])
    url = f"/api/my/cases/{case_id}/access"
    assert other.post(url, json={"access_state": "cleared"}).status_code == 404  # not his crew's case
    assert member.post("/api/my/cases/999999/access", json={"access_state": "cleared"}).status_code == 404
    done = member.post(url, json={"access_state": "needs_clearance", "expected_at": "2026-12-31T14:00:00+02:00"})
    assert done.status_code == 200, done.json
    assert done.json["case"] == {"id": case_id, "access_state": "needs_clearance", "access_source": "set on the case",
                                 "access_expected_at": "2026-12-31T12:00:00+00:00"}
    found = [r for r in api_client(app, tokens["ca_boss"]).get("/api/triage").json["queue"]
             if r["case_id"] == case_id][0]
    assert found["not_before"] == "2026-12-31T12:00:00+00:00"
    assert member.post(url, json={"access_state": "cleared", "reason": "EOD team left"}).status_code == 200
    events = api_client(app, tokens["ca_boss"]).get(f"/api/cases/{case_id}").json["events"]
    mine = [e for e in events if e["action"] == "set_access"]
    assert [(e["actor"], e["reason"]) for e in mine][-2:] == [("ca_member", "set by the crew on site"),
                                                             ("ca_member", "EOD team left")]


@pytest.mark.parametrize(("body", "field"), [
    ({"access_state": "from_hazards"}, "access_state"),
    ({}, "access_state"),
    ({"access_state": "cleared", "expected_at": "2026-12-31T14:00Z"}, "expected_at"),
    ({"access_state": "blocked", "expected_at": "soon"}, "expected_at"),
    ({"access_state": "blocked", "reason": "x" * 501}, "reason"),
])
def test_bad_access_from_the_phone_is_422_naming_the_field(crew_site, body, field):
    app, tokens, case_id = crew_site
    response = api_client(app, tokens["ca_member"]).post(f"/api/my/cases/{case_id}/access", json=body)
    assert response.status_code == 422 and field in response.json["errors"]
