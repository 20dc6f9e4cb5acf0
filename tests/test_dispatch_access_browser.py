"""A crew on site sets a case's access from My work in a real headless Chromium: blocked until a time, then cleared.
Each change is an audited set_access event by the crew's account, and the next plan starts the repair no earlier
than the site allows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import api_client, create_accounts
from tests.test_dispatch_browser import needed_skills, new_crew
from tests.test_map_page import damage

pytestmark = pytest.mark.browser

LOCAL_VALUE = """hours => {  // a datetime-local value, on the phone's own clock, `hours` from now
  const at = new Date(Date.now() + hours * 3.6e6);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}"""


def planned_job(coordinator, crew_id: int, case_id: int) -> dict:
    plan = coordinator.get(f"/api/dispatch?crew={crew_id}&time_limit=1")
    assert plan.status_code == 200, plan.json
    return next(j for route in plan.json["plan"]["crews"] for j in route["jobs"] if j["case_id"] == case_id)


def test_a_crew_blocks_its_site_until_a_time_then_clears_it_and_the_next_plan_follows(
        live_server, open_field, client, db, demo_loaded, tokens):
    case = damage(client, db)
    tag = uuid.uuid4().hex[:6]
    member, name = f"acc-{tag}", f"Access {tag}"
    create_accounts(demo_loaded, {member: "crew"})
    crew_id = new_crew(demo_loaded, name=name, lon=case["facility"]["lon"], lat=case["facility"]["lat"],
                       skills=needed_skills(db), member=member)
    coordinator = api_client(demo_loaded, tokens["coordinator"])
    assigned = coordinator.post(f"/api/cases/{case['case_id']}/actions",
                                json={"action": "assign", "crew": name, "crew_account": member})
    assert assigned.status_code == 200, assigned.json

    _, phone = open_field(user=member)
    item = phone.locator(f"#my-work-list li[data-case-id='{case['case_id']}']")
    item.wait_for()
    form = item.locator("fieldset.work-access")
    form.locator("select[name=access_state]").select_option("blocked")
    assert form.locator(".work-access-when").is_visible()  # a blocked site may say when it should be clear
    when = phone.evaluate(LOCAL_VALUE, 6)
    form.locator("input[name=expected_at]").fill(when)
    # The list redrawn before the crew saves (a refresh when the page is shown again, or after a report is sent)
    # keeps what they chose, not the server's state.
    before = phone.get_attribute("#my-work", "data-refreshed-at")
    phone.click("#my-work-refresh")
    phone.wait_for_function("b => document.getElementById('my-work').dataset.refreshedAt !== b", arg=before)
    form = phone.locator(f"#my-work-list li[data-case-id='{case['case_id']}'] fieldset.work-access")
    assert form.locator("select[name=access_state]").input_value() == "blocked"
    assert form.locator("input[name=expected_at]").input_value() == when
    form.locator(".work-access-save").click()
    phone.wait_for_selector(f"#my-work-list li[data-case-id='{case['case_id']}'] "
                            ".work-access-result[data-state='blocked']", timeout=10_000)
    item = phone.locator(f"#my-work-list li[data-case-id='{case['case_id']}']")
    assert "Access: blocked" in item.inner_text()  # the list, refreshed from the server, says so
    assert "the next plan uses it" in item.locator(".work-access-result").inner_text()

    stored = db.execute("SELECT access_state::text AS state, access_expected_at FROM damage_case WHERE id = %s",
                        (case["case_id"],)).fetchone()
    expected = stored["access_expected_at"]
    assert stored["state"] == "blocked"
    assert abs(expected - (datetime.now(UTC) + timedelta(hours=6))) < timedelta(minutes=5)
    event = db.execute("""SELECT u.username, e.reason FROM case_event e JOIN app_user u ON u.id = e.actor_id
                          WHERE e.case_id = %s AND e.action = 'set_access' ORDER BY e.id DESC LIMIT 1""",
                       (case["case_id"],)).fetchone()
    assert (event["username"], event["reason"]) == (member, "set by the crew on site")

    job = planned_job(coordinator, crew_id, case["case_id"])
    assert job["access_state"] == "blocked"
    assert datetime.fromisoformat(job["not_before"]) == expected.replace(microsecond=0) or \
        abs(datetime.fromisoformat(job["not_before"]) - expected) < timedelta(seconds=1)
    assert datetime.fromisoformat(job["start_at"].replace("Z", "+00:00")) >= expected - timedelta(seconds=1)

    form = item.locator("fieldset.work-access")
    form.locator("select[name=access_state]").select_option("cleared")
    assert not form.locator(".work-access-when").is_visible()  # a cleared site waits for nothing
    form.locator(".work-access-save").click()
    phone.wait_for_selector(f"#my-work-list li[data-case-id='{case['case_id']}'] "
                            ".work-access-result[data-state='cleared']", timeout=10_000)
    job = planned_job(coordinator, crew_id, case["case_id"])
    assert (job["access_state"], job["not_before"]) == ("cleared", None)
    assert datetime.fromisoformat(job["start_at"].replace("Z", "+00:00")) < expected - timedelta(hours=3)
    assert phone.js_errors == []
