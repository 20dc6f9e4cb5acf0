"""The crew plan in a real headless Chromium: a coordinator picks two named crews on the map, plans them with clock
times, dispatches, and a crew member's phone shows the first case as the next job with a link to the map app."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app import db as app_db
from app.crews import service
from app.crews.input import CrewIn
from app.repo import crews as repo
from geo.taxonomy import SKILL_FOR_KIND
from tests.conftest import create_accounts, login
from tests.test_map_page import damage

pytestmark = pytest.mark.browser

CLOCK = re.compile(r"\d{1,2}:\d{2}")
# What the map says changed between two plans: case 1 moved, 2 slipped by 2 h, 3 by only 30 min, 4 is new.
CHANGES = """async () => {
  const { planChanges } = await import("/static/map/dispatch.js");
  const plan = (cases) => ({ plan: { crews: [], cases } });
  const at = (h) => new Date(Date.UTC(2026, 0, 1) + h * 3.6e6).toISOString();
  const before = plan({ 1: { crew: "A", etr_at: at(8) }, 2: { crew: "A", etr_at: at(8) },
                        3: { crew: "B", etr_at: at(9) } });
  const after = plan({ 1: { crew: "B", etr_at: at(8) }, 2: { crew: "A", etr_at: at(10) },
                       3: { crew: "B", etr_at: at(9.5) }, 4: { crew: "A", etr_at: at(11) } });
  return planChanges(before, after).map((c) => [c.caseId, c.kind]);
}"""


def needed_skills(db) -> tuple[str, ...]:
    """Substation, and every skill the shared database's open cases need (other tests leave cases of other kinds)."""
    kinds = db.execute("""SELECT DISTINCT coalesce(f.kind, c.kind)::text AS kind FROM damage_case c
                          LEFT JOIN facility f ON f.id = c.facility_id
                          WHERE c.status NOT IN ('repaired', 'rejected', 'duplicate')""").fetchall()
    return tuple(sorted({"substation"} | {s for k in kinds if (s := SKILL_FOR_KIND.get(k["kind"]))}))


def new_crew(app, *, name: str, lon: float, lat: float, skills: tuple[str, ...], member: str) -> int:
    # A shift that began an hour ago and lasts 23 h 59 min: whatever the hour the test runs at, the plan never
    # waits for the next shift (a shift from 00:00 to 23:59 made a repair planned in the evening wait for midnight).
    began = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
    crew = CrewIn(name=name, lon=lon, lat=lat, skills=skills, shift_start=began.time(),
                  shift_end=(began - timedelta(minutes=1)).time(), time_zone="UTC", status="available",
                  members=(member,))
    with app.app_context(), app_db.connection() as conn:
        repo.lock(conn)
        return service.save(conn, crew, existing=None, actor_id=None, reason="dispatch browser test").id


def test_pick_two_crews_plan_dispatch_and_the_crew_sees_its_next_job(live_server, page, open_field, client, db,
                                                                     demo_loaded):
    first, second = damage(client, db), damage(client, db)
    tag = uuid.uuid4().hex[:6]
    # Accounts of their own: the session's "crew" may hold a repair under way from another test (its next job).
    members = {f"North {tag}": f"dn-{tag}", f"South {tag}": f"ds-{tag}"}
    create_accounts(demo_loaded, {member: "crew" for member in members.values()})
    skills = needed_skills(db)
    ids = {}
    for (name, member), at in zip(members.items(), (first, second), strict=True):
        ids[name] = new_crew(demo_loaded, name=name, lon=at["facility"]["lon"], lat=at["facility"]["lat"],
                             skills=skills, member=member)

    login(page, live_server, "coordinator")
    page.goto(live_server + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    page.wait_for_selector("#crew-picker[data-count]")
    for box in page.locator("#crew-picker input[name=crew]").all():
        box.set_checked(int(box.get_attribute("value")) in ids.values())
    page.click("#dispatch-plan")
    page.wait_for_selector("#dispatch-routes[data-crews='2']", timeout=15_000)

    routes = {}
    for name, crew_id in ids.items():
        route = page.locator(f"#dispatch-routes .dispatch-route[data-crew-id='{crew_id}']")
        jobs = route.locator("li.job")
        assert jobs.count() >= 1, f"{name} got no work"
        text = jobs.first.inner_text()
        assert "arrive" in text and "finish" in text and "P50–P90" in text and CLOCK.search(text), text
        routes[name] = [int(v) for v in jobs.evaluate_all("els => els.map(e => e.dataset.caseId)")]
    assert {first["case_id"], second["case_id"]} <= {c for jobs in routes.values() for c in jobs}
    assert page.inner_text("#dispatch-quality").startswith(("Proven optimal", "Not proven optimal"))
    assert page.inner_text("#dispatch-computed").startswith("Last computed")
    runs = int(page.get_attribute("#dispatch-computed", "data-runs"))

    page.click("#dispatch-assign")
    page.wait_for_selector("#dispatch-assigned[data-assigned]", timeout=15_000)
    assigned = {int(v): crew for v, crew in page.eval_on_selector_all(
        "#dispatch-assigned li[data-crew]", "els => els.map(e => [e.dataset.caseId, e.dataset.crew])")}
    assert "null" not in page.inner_text("#dispatch-assigned")
    # The crew's next job: the first case of its route the dispatch assigned (work under way stays with its crew).
    name, nxt = next((n, c) for n in members for c in routes[n] if assigned.get(c) == n)
    # The dispatch changed cases: the map's poll sees it and re-plans the same crews.
    page.wait_for_function("n => Number(document.getElementById('dispatch-computed').dataset.runs) > n",
                           arg=runs + 1, timeout=10_000)
    assert page.locator("#dispatch-changes strong", has_text="Since the previous plan").count() == 1
    assert page.evaluate(CHANGES) == [["1", "moved"], ["2", "slipped"], ["4", "new"]]
    assert page.js_errors == []

    _, phone = open_field(user=members[name])
    item = phone.locator(f"#my-work-list li[data-case-id='{nxt}']")
    item.wait_for()
    assert item.get_attribute("data-next-job") == "true"
    assert phone.locator("#my-work-list li[data-next-job='true']").count() == 1
    link = item.get_by_role("link", name="Open in the map app")
    assert link.get_attribute("href").startswith("geo:")
    assert phone.js_errors == []
