"""Crews in a real headless Chromium: the coordinator's map draws each crew with its name and status; a crew member
sets the crew's status from My work."""

from __future__ import annotations

import uuid
from datetime import time

import pytest

from app import db
from app.crews import service
from app.crews.input import CrewIn
from app.repo import crews as repo
from tests.conftest import create_accounts, login

pytestmark = pytest.mark.browser


def new_crew(app, *, name: str, lon: float, lat: float, members: tuple[str, ...] = ()) -> int:
    crew = CrewIn(name=name, lon=lon, lat=lat, skills=("line",), shift_start=time(7), shift_end=time(19),
                  time_zone="Europe/Dublin", status="en_route", members=members)
    with app.app_context(), db.connection() as conn:
        repo.lock(conn)
        return service.save(conn, crew, existing=None, actor_id=None, reason="browser test").id


def test_the_map_shows_each_crew_with_its_name_and_status(live_server, page, demo_loaded):
    name = f"<b>Crew</b> {uuid.uuid4().hex[:6]}"  # user text: shown as text, never as HTML
    crew_id = new_crew(demo_loaded, name=name, lon=-6.27, lat=53.34)
    login(page, live_server, "coordinator")
    page.goto(live_server + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    marker = page.locator(f"path.crew-marker.crew-{crew_id}")
    marker.wait_for()
    assert page.locator(".leaflet-control-layers-overlays label", has_text="Crews").count() == 1
    marker.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content .crew-popup")
    popup.wait_for()
    text = popup.inner_text()
    assert name in text and "status: En route" in text and "at base" in text
    assert page.locator(".crew-popup b").count() == 0
    assert page.js_errors == []


def test_a_crew_member_sets_the_crews_status_from_my_work(open_field, demo_loaded, db):
    member = f"crewmate-{uuid.uuid4().hex[:6]}"
    create_accounts(demo_loaded, {member: "crew"})
    name = f"Crew {uuid.uuid4().hex[:6]}"
    crew_id = new_crew(demo_loaded, name=name, lon=-6.2, lat=53.3, members=(member,))
    _, page = open_field(user=member)
    page.select_option("#crew-status", "off_shift")
    page.wait_for_selector("#crew-status-result[data-status=off_shift]")
    assert name in page.inner_text("#crew-status-result")
    assert db.execute("SELECT status::text AS s FROM crew WHERE id = %s", (crew_id,)).fetchone()["s"] == "off_shift"
    assert page.js_errors == []
