"""The case page in a real browser: user text is shown as text, and its forms work (with CSRF)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import api_client, login

XSS = "<script>window.__xss=1</script> and <img src=x onerror=window.__xss=2>"


@pytest.fixture()
def hostile_case(demo_loaded, tokens):
    body = {"id": str(uuid.uuid4()), "lon": -6.05 - uuid.uuid4().int % 1000 / 1e5, "lat": 53.2, "kind": "other",
            "severity": "severe", "status": "out_of_service", "notes": XSS, "materials": "<b>bold</b>",
            "observed_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat()}
    response = api_client(demo_loaded, tokens["crew"]).post("/api/reports", json=body)
    assert response.status_code == 201
    return response.json["report"]["case_id"]


def test_report_text_is_shown_as_text_and_never_run(live_server, page, hostile_case):
    login(page, live_server, "coordinator")
    page.goto(f"{live_server}/cases/{hostile_case}")
    assert XSS in page.inner_text(".notes")
    assert page.evaluate("window.__xss") is None
    assert page.locator(".report img[src=x]").count() == 0
    assert page.js_errors == []


def test_actions_through_the_page_forms(live_server, page, hostile_case, db):
    login(page, live_server, "coordinator")
    page.goto(f"{live_server}/cases/{hostile_case}")
    page.click("#form-confirm button")
    page.wait_for_url(f"{live_server}/cases/{hostile_case}")
    assert page.inner_text("#case-status") == "confirmed"
    page.fill("#form-assign input[name=crew]", "Crew <b>9</b>")
    page.click("#form-assign button")
    assert page.inner_text("#case-crew") == "Crew <b>9</b>"
    page.fill("#form-bump_priority input[name=bump]", "250")
    page.fill("#form-bump_priority input[name=reason]", "nursing home")
    page.click("#form-bump_priority button")
    assert "nursing home" in page.inner_text("table.events")
    actions = [row["action"] for row in db.execute(
        "SELECT action FROM case_event WHERE case_id = %s ORDER BY id", (hostile_case,))]
    assert actions[-3:] == ["confirm", "assign", "bump_priority"]
    assert page.js_errors == []


def test_sitrep_prints_counts_people_without_power_and_plans(live_server, page, hostile_case):
    login(page, live_server, "coordinator")
    page.goto(f"{live_server}/sitrep")
    assert "People without power now" in page.inner_text("main")
    assert page.locator("#by-status tbody tr").count() >= 1
    assert page.js_errors == []
