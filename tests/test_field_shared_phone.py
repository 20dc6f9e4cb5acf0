"""One phone, shared between shifts: each account's outbox, "My work" and kept page stay that account's."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import PASSWORD, api_client, maintenance

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15000
WATCH_CSP = """document.addEventListener("securitypolicyviolation",
    (e) => (window.cspViolations = window.cspViolations || []).push(`${e.violatedDirective} ${e.blockedURI}`));"""
PAGE_USER = "JSON.parse(document.getElementById('field-config').textContent).user"
# What the phone keeps: the field form's IndexedDB stores and the service worker's copies of the page.
KEPT = """async () => {
    const outbox = await import("/static/field/outbox.js");
    const db = await outbox.open();
    const keys = await new Promise((ok) => { const r = db.transaction("meta").objectStore("meta").getAllKeys();
                                             r.onsuccess = () => ok(r.result); });
    const pages = [];
    for (const name of await caches.keys()) {
        for (const request of await (await caches.open(name)).keys()) pages.push(new URL(request.url).pathname);
    }
    const records = (await outbox.all()).map((r) => ({ id: r.id, user: r.user, state: r.state,
                                                      attempts: r.attempts }));
    return { meta: keys, pages: pages.filter((p) => p === "/field"), records };
}"""


@pytest.fixture()
def phone(browser, live_server) -> Iterator:
    """One browser context (the phone), its GPS at a spot of its own far out at sea."""
    where = {"longitude": -25 + uuid.uuid4().int % 100_000 / 1e5, "latitude": 44.5, "accuracy": 9}
    context = browser.new_context(geolocation=where, permissions=["geolocation"])
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    yield context, page
    context.close()


@pytest.fixture()
def crew_case(demo_loaded, tokens, database_url) -> Iterator[int]:
    """A case of its own (an unregistered site far out at sea), reported by crew2 and assigned to the account `crew`."""
    body = {"id": str(uuid.uuid4()), "lon": -30 + uuid.uuid4().int % 100_000 / 1e5, "lat": 43.5, "kind": "other",
            "severity": "severe", "status": "out_of_service", "hazards": ["fire"],
            "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    response = api_client(demo_loaded, tokens["crew2"]).post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    case_id = response.json["report"]["case_id"]
    try:
        response = api_client(demo_loaded, tokens["coordinator"]).post(
            f"/api/cases/{case_id}/actions", json={"action": "assign", "crew": "Crew S", "crew_account": "crew"})
        assert response.status_code == 200, response.json
        yield case_id
    finally:
        with psycopg.connect(maintenance(database_url), autocommit=True) as conn:
            conn.execute("DELETE FROM report WHERE case_id = %s", (case_id,))
            conn.execute("DELETE FROM case_event WHERE case_id = %s", (case_id,))
            conn.execute("DELETE FROM damage_case WHERE id = %s", (case_id,))


def sign_in(page, base_url: str, username: str) -> None:
    """The sign-in form (in the page's main part: the top bar may hold a "Sign out" button too)."""
    page.goto(base_url + "/login")
    page.fill("main input[name=username]", username)
    page.fill("main input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def open_field(page, base_url: str) -> None:
    page.goto(base_url + "/field")
    page.wait_for_selector("html[data-field-ready]")


def sign_out(page) -> None:
    """The top bar's "Sign out", then the sign-in page, once it has forgotten what the form kept of the account."""
    page.click("nav.account form button[type=submit]")
    page.wait_for_url(re.compile(r"/login$"))
    page.wait_for_selector("html[data-field-forgotten]")


def submit(page, notes: str) -> str:
    """Fill and submit a report with these notes; the id of the outbox's new entry."""
    page.wait_for_selector("#gps-status[data-state=good]")
    page.select_option("#kind", "other")
    page.check("input[name=severity][value=moderate]")
    page.check("input[name=status][value=degraded]")
    page.fill("#notes", notes)
    before = set(outbox_ids(page))
    page.click("#submit-report")
    page.wait_for_function(
        "n => document.querySelectorAll('#outbox-list li[data-id]').length > n", arg=len(before))
    (new,) = set(outbox_ids(page)) - before
    return new


def outbox_ids(page) -> list[str]:
    return page.eval_on_selector_all("#outbox-list li[data-id]", "els => els.map(e => e.dataset.id)")


def stored(db, tag: str) -> list[tuple[str, str]]:
    """(report id, reporter) of every stored report whose notes carry the tag."""
    rows = db.execute("SELECT r.id::text AS id, u.username FROM report r JOIN app_user u ON u.id = r.reporter_id "
                      "WHERE r.notes LIKE %s ORDER BY r.id", (f"%{tag}%",)).fetchall()
    return [(r["id"], r["username"]) for r in rows]


def test_an_accounts_waiting_reports_are_sent_only_when_it_signs_in_again(phone, live_server, db):
    context, page = phone
    tag = uuid.uuid4().hex
    sign_in(page, live_server, "crew")
    open_field(page, live_server)
    sent = submit(page, f"crew online {tag}")
    page.wait_for_selector(f"#outbox-list li[data-id='{sent}'][data-state=sent] button.follow-up-button")
    context.set_offline(True)
    page.wait_for_selector("#net-status[data-state=offline]")
    waiting = [submit(page, f"crew offline {n} {tag}") for n in (1, 2)]
    # The form is closed before the network is back (nothing sends them); crew signs out on another page.
    page.goto("about:blank")
    context.set_offline(False)
    page.goto(live_server + "/account/password")
    sign_out(page)
    assert stored(db, tag) == [(sent, "crew")]

    sign_in(page, live_server, "crew2")
    open_field(page, live_server)
    others = page.wait_for_selector("#outbox-others[data-count='2']")
    assert others.inner_text() == "Reports of another account wait on this phone until they sign in: 2"
    assert outbox_ids(page) == []  # neither crew's waiting reports nor the sent one (no follow-up on it)
    own = submit(page, f"crew2 {tag}")
    page.wait_for_selector(f"#outbox-list li[data-id='{own}'][data-state=sent]")
    # Every sync goes oldest first: crew's reports were passed over, not sent in crew2's name.
    assert sorted(stored(db, tag)) == sorted([(sent, "crew"), (own, "crew2")])
    kept = {r["id"]: r for r in page.evaluate(KEPT)["records"]}
    assert [(kept[i]["user"], kept[i]["state"]) for i in waiting] == [("crew", "waiting")] * 2
    assert (kept[sent]["user"], kept[own]["user"]) == ("crew", "crew2")
    with page.expect_download() as download:
        page.click("#export-outbox")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [r["id"] for r in exported["reports"]] == [own]

    sign_out(page)
    assert {r["id"] for r in page.evaluate(KEPT)["records"]} == {sent, own, *waiting}  # nothing lost at sign-out
    sign_in(page, live_server, "crew")
    open_field(page, live_server)
    for report_id in waiting:
        page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")
    assert sorted(outbox_ids(page)) == sorted([sent, *waiting])
    assert page.get_attribute("#outbox-others", "data-count") == "0" and page.is_hidden("#outbox-others")
    assert sorted(stored(db, tag)) == sorted([(sent, "crew"), (own, "crew2")] + [(i, "crew") for i in waiting])
    assert page.js_errors == []
    assert page.evaluate("window.cspViolations || []") == []


def test_after_signing_out_the_form_shows_nothing_of_the_last_accounts_work_offline(phone, live_server, crew_case):
    context, page = phone
    work = f"#my-work-list li[data-case-id='{crew_case}']"
    sign_in(page, live_server, "crew")
    open_field(page, live_server)
    page.wait_for_selector(work)
    page.wait_for_selector("html[data-offline-ready]")
    kept = page.evaluate(KEPT)
    assert "myWork:crew" in kept["meta"] and kept["pages"] == ["/field"]

    sign_out(page)
    kept = page.evaluate(KEPT)
    assert [k for k in kept["meta"] if k.startswith("myWork:")] == [] and kept["pages"] == []
    assert "facilities" in kept["meta"]  # the facility register is nobody's: it stays for offline use
    context.set_offline(True)
    with pytest.raises(PlaywrightError):  # nothing kept of crew's page, so it does not open offline
        page.goto(live_server + "/field")

    # The next account's page is kept again once opened online, and offline shows its own work only.
    context.set_offline(False)
    sign_in(page, live_server, "crew2")
    open_field(page, live_server)
    page.wait_for_selector("#my-work[data-refreshed-at]:not([data-refreshed-at=''])")
    page.wait_for_function("() => caches.match('/field').then(Boolean)")
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("html[data-field-ready]")
    assert page.evaluate(PAGE_USER) == "crew2"
    page.wait_for_selector("#my-work[data-refreshed-at]:not([data-refreshed-at=''])")
    assert page.query_selector(work) is None
    assert page.js_errors == []


def switch_account_behind_the_form(page, base_url: str, username: str) -> None:
    """Sign out and in with plain requests (the phone's cookies), never opening the sign-in page's script."""
    token = page.request.get(base_url + "/api/session").json()["csrf_token"]
    assert page.request.post(base_url + "/logout", form={"csrf_token": token}).ok
    # The page goes on making its own requests meanwhile (the outbox asks /api/session): one that started before the
    # sign-in page's answer and ends after it sets another new session cookie, and the form's token no longer
    # matches (400), as it would for a person signing in then; they try again, so does this.
    for _ in range(3):
        html = page.request.get(base_url + "/login").text()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', html)
        assert token
        response = page.request.post(base_url + "/login", form={"csrf_token": token.group(1), "username": username,
                                                                "password": PASSWORD})
        if response.status != 400:
            break
    assert response.ok and page.request.get(base_url + "/api/session").json()["username"] == username


def test_a_page_kept_for_the_last_account_is_reloaded_for_the_one_signed_in(phone, live_server, crew_case):
    context, page = phone
    sign_in(page, live_server, "crew")
    open_field(page, live_server)
    page.wait_for_selector(f"#my-work-list li[data-case-id='{crew_case}']")
    page.wait_for_selector("html[data-offline-ready]")
    switch_account_behind_the_form(page, live_server, "crew2")

    # As on a slow network, the service worker answers with the page it kept: crew's.
    context.set_offline(True)
    open_field(page, live_server)
    assert page.evaluate(PAGE_USER) == "crew"
    context.set_offline(False)
    page.click("#my-work-refresh")  # the server answers for crew2: the page is reloaded from the network
    page.wait_for_function(f"() => document.getElementById('field-config') && {PAGE_USER} === 'crew2'")
    page.wait_for_selector("html[data-field-ready]")
    page.wait_for_selector("#my-work[data-refreshed-at]:not([data-refreshed-at=''])")
    assert page.query_selector(f"#my-work-list li[data-case-id='{crew_case}']") is None
    lists = page.evaluate("""async () => {
        const outbox = await import("/static/field/outbox.js");
        return [await outbox.getMeta("myWork:crew"), await outbox.getMeta("myWork:crew2")];
    }""")
    crews, crew2s = lists
    assert crews["username"] == "crew" and crew_case in [c["id"] for c in crews["cases"]]
    assert crew2s["username"] == "crew2" and crew_case not in [c["id"] for c in crew2s["cases"]]
    assert page.js_errors == []


def test_the_service_worker_keeps_the_account_script_and_the_page_is_never_cached_by_http(client, anonymous):
    assert '"/static/field/account.js"' in anonymous.get("/field/sw.js").get_data(as_text=True)
    assert client.get("/field").headers["Cache-Control"] == "no-store"


def test_signing_out_a_crew_ends_the_remembered_sign_in_too(demo_loaded, tokens):
    phone = demo_loaded.test_client()
    html = phone.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert token
    signed_in = phone.post("/login", data={"csrf_token": token.group(1), "username": "crew", "password": PASSWORD})
    assert signed_in.status_code == 302
    token = phone.get("/api/session").json["csrf_token"]
    assert phone.post("/logout", data={"csrf_token": token}).status_code == 302
    assert phone.get("/api/session", headers={"Accept": "application/json"}).status_code == 401
