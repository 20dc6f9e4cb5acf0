"""Crews as records: the coordinators' page, GET /api/crews, a crew's own status, and members' reports moving it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient

from app.db import alembic_config
from geo.taxonomy import CREW_SKILLS
from tests.conftest import api_client, create_accounts, make_app
from tests.test_reports_api import report
from tests.test_sessions import csrf_from, sign_in

ACCOUNTS = {"lead": "coordinator", "ann": "crew", "bob": "crew", "cid": "crew", "dee": "crew"}


@pytest.fixture(scope="module")
def own(new_database) -> Iterator[tuple[Flask, dict[str, str], str]]:
    """An app on a database of its own (crews and their audit trail are this module's alone)."""
    url = new_database()
    app = make_app(url)
    tokens = create_accounts(app, ACCOUNTS)
    yield app, tokens, url
    app.extensions["db_pool"].close()


@pytest.fixture()
def lead(own) -> FlaskClient:
    client = own[0].test_client()
    assert sign_in(client, "lead").status_code == 302
    return client


@pytest.fixture()
def rows(own) -> Iterator[psycopg.Connection]:
    with psycopg.connect(own[2], autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn


def crew_form(**overrides) -> dict:
    form = {"name": f"Crew {uuid.uuid4().hex[:6]}", "lon": "-6.26", "lat": "53.35", "skills": ["line", "hv"],
            "shift_start": "07:00", "shift_end": "19:00", "time_zone": "Europe/Dublin", "status": "available",
            "members": []}
    form.update(overrides)
    return form


def post(client: FlaskClient, url: str, form: dict):
    token = csrf_from(client.get("/crews").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **form})


def listed(own, name: str) -> dict | None:
    crews = api_client(own[0], own[1]["lead"]).get("/api/crews").json["crews"]
    return next((c for c in crews if c["name"] == name), None)


def crew_audit(rows, crew_id: int) -> list[dict]:
    return rows.execute("""SELECT e.action, e.before, e.after, e.reason, a.username AS actor FROM audit_event e
                           LEFT JOIN app_user a ON a.id = e.actor_id
                           WHERE e.entity = 'crew' AND e.entity_id = %s ORDER BY e.id""", (str(crew_id),)).fetchall()


def make_crew(own, lead, **overrides) -> dict:
    form = crew_form(**overrides)
    assert post(lead, "/crews", form).status_code == 303
    crew = listed(own, form["name"])
    assert crew is not None
    return crew


def test_a_coordinator_creates_a_crew_and_the_api_lists_it(own, lead, rows):
    form = crew_form(members=["ann"])
    created = post(lead, "/crews", form)
    assert created.status_code == 303 and created.headers["Location"].endswith("/crews")
    crew = listed(own, form["name"])
    assert crew is not None
    assert crew["base"] == {"lon": -6.26, "lat": 53.35}
    assert crew["skills"] == ["hv", "line"] and crew["members"] == ["ann"]
    assert (crew["shift"]["start"], crew["shift"]["end"], crew["shift"]["time_zone"]) == ("07:00", "19:00",
                                                                                          "Europe/Dublin")
    assert isinstance(crew["shift"]["on_shift_now"], bool)
    assert crew["status"] == "available" and crew["position"] is None
    [event] = crew_audit(rows, crew["id"])
    assert (event["action"], event["actor"], event["before"]) == ("created", "lead", None)
    assert event["after"]["members"] == ["ann"] and event["after"]["base"] == [-6.26, 53.35]
    page = lead.get("/crews").get_data(as_text=True)
    assert f'data-crew="{form["name"]}"' in page
    rows.execute("DELETE FROM crew_member WHERE user_id = (SELECT id FROM app_user WHERE username = 'ann')")


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("name", "", "is required"),
    ("lon", "200", "between -180 and 180"),
    ("lat", "north", "must be a number"),
    ("skills", ["line", "welding"], "unknown value 'welding'"),
    ("shift_start", "25:00", "HH:MM"),
    ("shift_end", "07:00", "must differ from shift_start"),
    ("time_zone", "Mars/Olympus_Mons", "IANA time zone"),
    ("status", "asleep", "must be one of available, en_route, on_site, off_shift"),
    ("members", ["nobody-here"], "there is no account 'nobody-here'"),
    ("members", ["lead"], "is not an active crew account"),
])
def test_a_bad_field_is_a_422_with_the_error_next_to_it_and_nothing_is_saved(own, lead, rows, field, value, reason):
    before = rows.execute("SELECT count(*) AS n FROM crew").fetchone()["n"]
    events = rows.execute("SELECT count(*) AS n FROM audit_event").fetchone()["n"]
    refused = post(lead, "/crews", crew_form(**{field: value}))
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    error = re.search(rf'<span class="error field-error" data-error-for="{field}"[^>]*>([^<]*)</span>', html)
    assert error and reason in error.group(1).replace("&#39;", "'")
    assert 'id="crew-error"' in html
    assert rows.execute("SELECT count(*) AS n FROM crew").fetchone()["n"] == before
    assert rows.execute("SELECT count(*) AS n FROM audit_event").fetchone()["n"] == events


def test_editing_a_crew_changes_it_and_audits_what_changed(own, lead, rows):
    crew = make_crew(own, lead)
    form = crew_form(name=crew["name"], skills=["substation"], status="off_shift", shift_start="22:00",
                     shift_end="06:00", members=["bob"])
    assert post(lead, f"/crews/{crew['id']}", form).status_code == 303
    after = listed(own, crew["name"])
    assert after["skills"] == ["substation"] and after["status"] == "off_shift" and after["members"] == ["bob"]
    assert (after["shift"]["start"], after["shift"]["end"]) == ("22:00", "06:00")
    changed = crew_audit(rows, crew["id"])[-1]
    assert changed["action"] == "changed" and changed["actor"] == "lead"
    assert changed["before"] == {"skills": ["hv", "line"], "status": "available", "shift_start": "07:00",
                                 "shift_end": "19:00", "members": []}
    assert changed["after"] == {"skills": ["substation"], "status": "off_shift", "shift_start": "22:00",
                                "shift_end": "06:00", "members": ["bob"]}
    # the same again changes nothing and audits nothing
    assert post(lead, f"/crews/{crew['id']}", form).status_code == 303
    assert len(crew_audit(rows, crew["id"])) == 2
    rows.execute("DELETE FROM crew_member WHERE crew_id = %s", (crew["id"],))


def test_an_edit_with_a_bad_field_is_a_422_and_changes_nothing(own, lead, rows):
    crew = make_crew(own, lead)
    refused = post(lead, f"/crews/{crew['id']}", crew_form(name=crew["name"], time_zone="Europe/Atlantis"))
    assert refused.status_code == 422
    assert 'data-error-for="time_zone"' in refused.get_data(as_text=True)
    assert listed(own, crew["name"]) == crew
    assert post(lead, "/crews/999999999", crew_form()).status_code == 404
    assert lead.get(f"/crews/{crew['id']}").status_code == 200


def test_two_crews_cannot_share_a_name_or_an_account(own, lead, rows):
    first = make_crew(own, lead, members=["cid"])
    taken = post(lead, "/crews", crew_form(name=first["name"]))
    assert taken.status_code == 409 and 'data-error-for="name"' in taken.get_data(as_text=True)
    shared = post(lead, "/crews", crew_form(members=["cid"]))
    assert shared.status_code == 409
    assert f"already belongs to crew {first['name']}" in shared.get_data(as_text=True).replace("&#39;", "")
    with pytest.raises(psycopg.errors.UniqueViolation):  # and the database says so too
        rows.execute("""INSERT INTO crew_member (crew_id, user_id)
                        SELECT c.id, u.id FROM crew c, app_user u WHERE c.name <> %s AND u.username = 'cid'
                        LIMIT 1""", (first["name"],))
    rows.execute("DELETE FROM crew_member WHERE crew_id = %s", (first["id"],))


def test_user_text_on_the_page_is_escaped(own, lead):
    name = "<img src=x onerror=alert(1)>"
    make_crew(own, lead, name=name)
    html = lead.get("/crews").get_data(as_text=True)
    assert name not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_members_report_puts_the_crew_on_site_at_its_point(own, lead, rows):
    app, tokens, _ = own
    crew = make_crew(own, lead, members=["dee"])
    dee = api_client(app, tokens["dee"])
    observed = datetime.now(UTC)
    sent = dee.post("/api/reports", json=report(lon=-6.3, lat=53.4, observed_at=observed.isoformat(), kind="other",
                                                components=[]))
    assert sent.status_code == 201
    moved = listed(own, crew["name"])
    assert moved["status"] == "on_site"
    assert (moved["position"]["lon"], moved["position"]["lat"]) == (-6.3, 53.4)
    assert datetime.fromisoformat(moved["position"]["at"]) == observed
    event = crew_audit(rows, crew["id"])[-1]
    assert event["action"] == "position_reported" and event["actor"] == "dee"
    assert event["after"]["position"] == [-6.3, 53.4] and event["before"]["position"] is None

    # A report sent late from an outbox (observed before the crew's last position) does not move it back.
    late = dee.post("/api/reports", json=report(lon=-6.1, lat=53.2, observed_at=(observed - timedelta(hours=2)
                                                                                  ).isoformat(),
                                                kind="other", components=[]))
    assert late.status_code == 201
    assert listed(own, crew["name"])["position"] == moved["position"]

    # En route since t; a report observed before t (but after the last position) moves the crew, not its status.
    en_route = dee.post("/api/crews/mine/status", json={"status": "en_route"})
    assert en_route.status_code == 200
    since = datetime.fromisoformat(en_route.json["crew"]["status_at"])
    between = observed + (since - observed) / 2
    body = report(lon=-6.2, lat=53.3, observed_at=between.isoformat(), kind="other", components=[])
    assert dee.post("/api/reports", json=body).status_code == 201
    now = listed(own, crew["name"])
    assert now["status"] == "en_route" and (now["position"]["lon"], now["position"]["lat"]) == (-6.2, 53.3)
    events = len(crew_audit(rows, crew["id"]))
    assert dee.post("/api/reports", json=body).status_code == 200  # the same report again changes nothing
    assert listed(own, crew["name"]) == now and len(crew_audit(rows, crew["id"])) == events
    rows.execute("DELETE FROM crew_member WHERE crew_id = %s", (crew["id"],))


def test_a_report_from_an_account_in_no_crew_moves_no_crew(own, rows):
    app, tokens, _ = own
    before = rows.execute("SELECT id, position_at, status FROM crew ORDER BY id").fetchall()
    sent = api_client(app, tokens["cid"]).post("/api/reports", json=report(lon=-6.0, lat=53.0, kind="other",
                                                                           components=[]))
    assert sent.status_code == 201
    assert rows.execute("SELECT id, position_at, status FROM crew ORDER BY id").fetchall() == before


def test_a_crew_sets_its_own_status(own, lead, rows):
    app, tokens, _ = own
    crew = make_crew(own, lead, members=["bob"])
    bob = api_client(app, tokens["bob"])
    answer = bob.post("/api/crews/mine/status", json={"status": "en_route"})
    assert answer.status_code == 200 and answer.json["crew"]["name"] == crew["name"]
    assert listed(own, crew["name"])["status"] == "en_route"
    assert crew_audit(rows, crew["id"])[-1]["after"] == {"status": "en_route"}
    refused = bob.post("/api/crews/mine/status", json={"status": "napping"})
    assert refused.status_code == 422 and "status" in refused.json["errors"]
    assert bob.post("/api/crews/mine/status", json={}).status_code == 422
    assert bob.post("/api/crews/mine/status", data="status=off_shift").status_code == 400
    assert listed(own, crew["name"])["status"] == "en_route"
    nobody = api_client(app, tokens["cid"]).post("/api/crews/mine/status", json={"status": "available"})
    assert nobody.status_code == 404 and "no crew" in nobody.json["error"]
    rows.execute("DELETE FROM crew_member WHERE crew_id = %s", (crew["id"],))


def test_a_cookie_session_needs_the_csrf_token_to_set_the_status(own, lead, rows):
    app, _, _ = own
    crew = make_crew(own, lead, members=["bob"])
    phone = app.test_client()
    assert sign_in(phone, "bob").status_code == 302
    assert phone.post("/api/crews/mine/status", json={"status": "off_shift"}).status_code == 400
    token = phone.get("/api/session").json["csrf_token"]
    sent = phone.post("/api/crews/mine/status", json={"status": "off_shift"}, headers={"X-CSRFToken": token})
    assert sent.status_code == 200 and listed(own, crew["name"])["status"] == "off_shift"
    rows.execute("DELETE FROM crew_member WHERE crew_id = %s", (crew["id"],))


def test_only_coordinators_see_and_edit_crews(own):
    app, tokens, _ = own
    crew = api_client(app, tokens["ann"])
    assert crew.get("/api/crews").status_code == 403
    assert crew.get("/crews").status_code == 403
    assert crew.post("/crews", data=crew_form()).status_code == 403
    assert app.test_client().get("/api/crews").status_code == 401
    assert app.test_client().get("/crews").status_code == 302


def test_the_skills_check_holds_exactly_the_taxonomys_skills(rows):
    definition = rows.execute("""SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint
                                 WHERE conrelid = 'crew'::regclass AND pg_get_constraintdef(oid) LIKE '%%skills%%'""",
                              ).fetchone()["d"]
    assert set(re.findall(r"'(\w+)'", definition)) == set(CREW_SKILLS)


def test_migration_0012_adds_the_crew_tables_and_takes_them_away(pg_server):
    url = pg_server.create_database("gt_crews_migration")
    config = alembic_config(url)
    tables = "SELECT to_regclass('crew') IS NOT NULL AS crew, to_regclass('crew_member') IS NOT NULL AS member"
    try:
        command.upgrade(config, "0011")
        with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
            assert conn.execute(tables).fetchone() == {"crew": False, "member": False}
        command.upgrade(config, "0012")
        with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
            assert conn.execute(tables).fetchone() == {"crew": True, "member": True}
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute("""INSERT INTO crew (name, base, skills, shift_start, shift_end, time_zone)
                                VALUES ('x', ST_Point(0, 0, 4326), '{welding}', '07:00', '19:00', 'UTC')""")
        command.downgrade(config, "0011")
        with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
            assert conn.execute(tables).fetchone() == {"crew": False, "member": False}
            assert conn.execute("SELECT to_regtype('crew_status') IS NULL AS gone").fetchone()["gone"]
    finally:
        pg_server.drop_database(url)
