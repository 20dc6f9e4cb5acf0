"""The crew's field form in a real headless Chromium: send online, queue offline, retry, reject, small screens."""

from __future__ import annotations

import base64
import json
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

# Next to Airton substation in the demo region (County Dublin).
AIRTON = {"latitude": 53.29423775, "longitude": -6.35804367082056, "accuracy": 12}
TIMEOUT_MS = 15000
# Records what the Content-Security-Policy blocked (inline scripts, inline styles, other hosts).
WATCH_CSP = """document.addEventListener("securitypolicyviolation",
    (e) => (window.cspViolations = window.cspViolations || []).push(`${e.violatedDirective} ${e.blockedURI}`));"""


def png(width: int, height: int) -> bytes:
    """A plain grey PNG of the given size, made without any imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame marker."""
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise AssertionError("no start-of-frame marker")


@pytest.fixture()
def field(open_field) -> Callable:
    """Open the form as a signed-in crew member with the phone's GPS next to Airton substation."""
    return lambda **options: open_field(init_script=WATCH_CSP, timeout_ms=TIMEOUT_MS, geolocation=AIRTON,
                                        permissions=["geolocation"], **options)


def fill_report(page, notes: str, *, with_gps: bool = True) -> None:
    if with_gps:
        page.wait_for_selector("#gps-status[data-state=good]")
    page.select_option("#kind", "substation")
    page.check("input[name=severity][value=severe]")
    page.check("input[name=status][value=out_of_service]")
    page.check("#components input[value=transformer]")
    page.check("input[name=hazards][value=fire]")
    page.fill("#repair_hours", "6")
    page.fill("#crew_size", "4")
    page.fill("#notes", notes)


def submit(page) -> str:
    """Submit the form; the id of the outbox's new report."""
    before = set(page.eval_on_selector_all("#outbox-list li[data-id]", "els => els.map(e => e.dataset.id)"))
    page.click("#submit-report")
    page.wait_for_function(
        "n => document.querySelectorAll('#outbox-list li[data-id]').length > n", arg=len(before))
    after = page.eval_on_selector_all("#outbox-list li[data-id]", "els => els.map(e => e.dataset.id)")
    (new,) = set(after) - before
    return new


def stored(db, report_id: str):
    return db.execute("SELECT *, hazards::text[] AS hazard_list FROM report WHERE id = %s", (report_id,)).fetchone()


def test_report_sent_online_shows_the_receipt_and_is_stored_with_its_downscaled_photo(field, db):
    context, page = field()
    fill_report(page, "Transformer burnt out, online")
    assert page.inner_text("#gps-status").startswith("GPS: ± 12 m")
    page.set_input_files("#photo-input", files=[{"name": "site.png", "mimeType": "image/png",
                                                 "buffer": png(2400, 1200)}])
    page.wait_for_selector("#photo-list[data-count='1']")
    report_id = submit(page)

    item = page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")
    row = stored(db, report_id)
    assert row is not None
    assert (row["kind"], row["severity"], row["status"]) == ("substation", "severe", "out_of_service")
    assert row["components"] == ["transformer"] and row["hazard_list"] == ["fire"]
    assert row["repair_hours"] == 6 and row["crew_size"] == 4 and row["accuracy_m"] == 12
    assert item.get_attribute("data-case-id") == str(row["case_id"])
    assert f"case {row['case_id']}" in item.inner_text()

    page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'] >> text=photos: 1 of 1 sent")
    photo = db.execute("SELECT content_type, data FROM report_photo WHERE report_id = %s", (report_id,)).fetchone()
    assert photo["content_type"] == "image/jpeg"
    assert jpeg_size(bytes(photo["data"])) == (1600, 800)
    assert page.js_errors == []
    assert "script-src 'self'" in page.evaluate("fetch('/field').then(r => r.headers.get('content-security-policy'))")
    assert page.evaluate("window.cspViolations || []") == []


def test_reports_made_offline_survive_a_reload_and_arrive_exactly_once(field, db):
    context, page = field()
    page.wait_for_selector("html[data-offline-ready]")
    page.wait_for_selector("#facility-list[data-source=server]")
    context.set_offline(True)
    page.wait_for_selector("#net-status[data-state=offline]")
    ids = []
    for n in (1, 2):
        fill_report(page, f"offline report {n}")
        ids.append(submit(page))
    for report_id in ids:
        page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=waiting]")

    page.reload()  # no network: the service worker serves the page from its cache
    page.wait_for_selector("html[data-field-ready]")
    assert page.inner_text("h1") == "Damage report"
    page.click("#find-nearest")  # nearest facilities from the registry kept on the phone
    page.wait_for_selector("#facility-list[data-source=local]")
    assert "Airton" in page.inner_text("#facility-list")
    for report_id in ids:
        page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=waiting]")
        assert stored(db, report_id) is None

    context.set_offline(False)
    for report_id in ids:
        page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")
    counts = db.execute("SELECT id::text AS id, count(*) AS n FROM report WHERE id = ANY(%s::uuid[]) GROUP BY id",
                        (ids,)).fetchall()
    assert sorted((r["id"], r["n"]) for r in counts) == sorted((i, 1) for i in ids)
    assert page.js_errors == []
    assert page.evaluate("window.cspViolations || []") == []


def test_server_trouble_keeps_the_report_waiting_until_it_is_accepted(field, db):
    context, page = field(service_workers="block")  # so that page.route sees every request
    answers = []

    def flaky(route):
        if not answers:
            answers.append(503)
            route.fulfill(status=503, headers={"Retry-After": "1"}, json={"error": "the database is unavailable"})
        else:
            answers.append("passed")
            route.continue_()

    page.route("**/api/reports", flaky)
    fill_report(page, "sent after a 503")
    report_id = submit(page)
    page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")
    assert answers == [503, "passed"]
    assert stored(db, report_id) is not None


def test_rejected_report_shows_the_servers_reasons_and_a_rejected_photo_its_own(field, db):
    context, page = field()
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    payload = {"facility_id": None, "lon": AIRTON["longitude"], "accuracy_m": None, "observed_at": observed,
               "kind": "substation", "severity": "minor", "status": "degraded", "components": [], "hazards": [],
               "repair_hours": None, "crew_size": None, "materials": None, "notes": None}
    bad, good = str(uuid.uuid4()), str(uuid.uuid4())
    # Crafted outbox entries, as an older or a broken version of the page might have left them.
    page.evaluate("""async ([bad, good, payload]) => {
        const outbox = await import("/static/field/outbox.js");
        await outbox.put(outbox.newRecord({ ...payload, id: bad, lat: 95 }, []));
        const junk = new Blob([new TextEncoder().encode("not a picture")], { type: "image/jpeg" });
        const photo = { id: crypto.randomUUID(), blob: junk };
        await outbox.put(outbox.newRecord({ ...payload, id: good, lat: 53.3 }, [photo]));
    }""", [bad, good, payload])
    page.click("#send-now")

    item = page.wait_for_selector(f"#outbox-list li[data-id='{bad}'][data-state=rejected]")
    assert "must be between -90 and 90" in page.inner_text(f"#outbox-list li[data-id='{bad}'] li[data-field=lat]")
    assert "rejected" in item.inner_text()
    assert stored(db, bad) is None

    page.wait_for_selector(f"#outbox-list li[data-id='{good}'][data-state=sent]")
    page.wait_for_selector(f"#outbox-list li[data-id='{good}'] .photo-rejected")
    assert "is not a image/jpeg image" in page.inner_text(f"#outbox-list li[data-id='{good}'] .photo-rejected")
    assert stored(db, good) is not None

    # Nothing rejected is retried: pressing "Send now" again changes nothing.
    page.click("#send-now")
    page.wait_for_selector(f"#outbox-list li[data-id='{bad}'][data-state=rejected]")


def test_outbox_exports_as_json_with_photos_in_base64(field):
    context, page = field()
    context.set_offline(True)
    fill_report(page, "to export")
    page.set_input_files("#photo-input", files=[{"name": "a.png", "mimeType": "image/png", "buffer": png(40, 30)}])
    page.wait_for_selector("#photo-list[data-count='1']")
    report_id = submit(page)
    with page.expect_download() as download:
        page.click("#export-outbox")
    body = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    (report,) = [r for r in body["reports"] if r["id"] == report_id]
    assert report["state"] == "waiting" and report["payload"]["notes"] == "to export"
    assert base64.b64decode(report["photos"][0]["data_base64"]).startswith(b"\xff\xd8\xff")
    context.set_offline(False)
    page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")


@pytest.mark.parametrize("locale", ["en-GB", "uk-UA"])
def test_form_fits_a_360_px_phone_with_48_px_touch_targets(field, locale):
    context, page = field(viewport={"width": 360, "height": 740}, locale=locale, has_touch=True, is_mobile=True)
    page.select_option("#kind", "chp_plant")  # the longest list of components
    page.wait_for_selector("#components[data-kind=chp_plant]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    small = page.evaluate("""() => [...document.querySelectorAll(
            '#field-app button, #field-app .choice, #field-app select, #field-app input[type=number], .field-nav a')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.id || e.textContent.trim().slice(0, 30), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 48)""")
    assert small == []


def test_language_follows_the_browser_then_the_switch(field, live_server):
    context, page = field(locale="uk-UA")
    assert page.inner_text("h1") == "Звіт про пошкодження"
    assert page.get_attribute("html", "lang") == "uk"
    page.wait_for_selector("#gps-status[data-state=good]")
    assert page.inner_text("#gps-status").startswith("GPS: ± 12 м")

    context, page = field(locale="en-GB")
    assert page.inner_text("h1") == "Damage report"
    page.click("a.lang[lang=uk]")
    page.wait_for_selector("html[lang=uk][data-field-ready]")
    assert page.url == live_server + "/field"
    assert page.inner_text("#submit-report") == "Зберегти й надіслати"
    page.select_option("#kind", "line")
    assert "грозозахисний трос" in page.inner_text("#components")


def outbox_ids(page) -> list[str]:
    return page.eval_on_selector_all("#outbox-list li[data-id]", "els => els.map(e => e.dataset.id)")


def reports_with_notes(db, notes: str) -> list[str]:
    return [r["id"] for r in db.execute("SELECT id::text AS id FROM report WHERE notes = %s", (notes,)).fetchall()]


@pytest.fixture()
def doomed_facility(db) -> Iterator[dict]:
    """A substation registered right where the crew stands, which the test deletes while the crew reports it."""
    name = f"Kiosk {uuid.uuid4().hex[:8]}"
    row = db.execute("""INSERT INTO facility (external_id, name, kind, geom)
                        VALUES (%s, %s, 'substation', ST_Point(%s, %s, 4326)) RETURNING id""",
                     (f"test-{name}", name, AIRTON["longitude"], AIRTON["latitude"])).fetchone()
    yield {"id": row["id"], "name": name}
    db.execute("DELETE FROM facility WHERE id = %s", (row["id"],))


def test_rejected_report_is_corrected_in_the_form_and_arrives_exactly_once_with_its_photo(field, db,
                                                                                          doomed_facility):
    context, page = field()
    fid = doomed_facility["id"]
    page.wait_for_selector(f"#facility-list input[value='{fid}']")
    page.check(f"#facility-list input[value='{fid}']")
    notes = f"corrected {uuid.uuid4()}"
    fill_report(page, notes)
    page.set_input_files("#photo-input", files=[{"name": "site.png", "mimeType": "image/png", "buffer": png(40, 30)}])
    page.wait_for_selector("#photo-list[data-count='1']")
    # Taken off the register after the phone loaded it: the server refuses the report (422, facility_id).
    db.execute("DELETE FROM facility WHERE id = %s", (fid,))
    report_id = submit(page)
    entry = f"#outbox-list li[data-id='{report_id}']"
    page.wait_for_selector(f"{entry}[data-state=rejected]")
    assert "unknown facility" in page.inner_text(f"{entry} li[data-field=facility_id]")
    assert reports_with_notes(db, notes) == []

    page.click(f"{entry} button.correct")
    page.wait_for_selector("#correction:not([hidden])")
    assert page.input_value("#notes") == notes and page.input_value("#kind") == "substation"
    assert page.is_checked("input[name=severity][value=severe]")
    assert page.is_checked("#components input[value=transformer]")
    assert page.is_checked(f"#facility-list input[value='{fid}']")
    assert page.get_attribute("#facility-set", "data-flagged") == "facility_id"
    assert page.inner_text("[data-error-for=facility_id]") == "unknown facility"
    assert page.get_attribute("#observed_at", "data-flagged") is None
    assert page.eval_on_selector("#photo-list", "e => e.dataset.count") == "1"
    assert page.is_disabled(f"{entry} button.correct")

    page.check("#facility-list input[value='']")  # the fix: report the site by its location only
    assert page.get_attribute("#facility-set", "data-flagged") is None
    page.click("#submit-report")
    page.wait_for_selector(f"{entry}[data-state=sent]")
    page.wait_for_selector(f"{entry} >> text=photos: 1 of 1 sent")
    assert page.is_hidden("#correction")

    # The correction took the rejected entry's place, under the same id (nothing was stored under it).
    assert outbox_ids(page).count(report_id) == 1 and len(page.query_selector_all(f"{entry}")) == 1
    assert reports_with_notes(db, notes) == [report_id]
    row = stored(db, report_id)
    assert row["facility_id"] is None and row["accuracy_m"] == 12 and row["components"] == ["transformer"]
    assert db.execute("SELECT count(*) AS n FROM report_photo WHERE report_id = %s", (report_id,)).fetchone()["n"] == 1
    assert page.js_errors == []
    assert page.evaluate("window.cspViolations || []") == []


def test_report_refused_as_a_conflict_is_corrected_under_a_new_id(field, db, client):
    context, page = field()
    taken = str(uuid.uuid4())
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    payload = {"id": taken, "facility_id": None, "lon": AIRTON["longitude"], "lat": AIRTON["latitude"],
               "accuracy_m": None, "observed_at": observed, "kind": "substation", "severity": "minor",
               "status": "degraded", "components": [], "hazards": [], "repair_hours": None, "crew_size": None,
               "materials": None, "notes": "already on the server"}
    assert client.post("/api/reports", json=payload).status_code == 201
    notes = f"conflict {uuid.uuid4()}"
    # An outbox entry whose id the server already holds with other content: 409, final.
    page.evaluate("""async (payload) => {
        const outbox = await import("/static/field/outbox.js");
        const jpeg = await new Promise((ok) => {
            const canvas = document.createElement("canvas");
            canvas.width = 20; canvas.height = 10;
            canvas.getContext("2d").fillRect(0, 0, 20, 10);
            canvas.toBlob(ok, "image/jpeg");
        });
        await outbox.put(outbox.newRecord(payload, [{ id: crypto.randomUUID(), blob: jpeg }]));
    }""", {**payload, "notes": notes, "severity": "severe"})
    page.click("#send-now")
    entry = f"#outbox-list li[data-id='{taken}']"
    page.wait_for_selector(f"{entry}[data-state=rejected]")
    assert "already received with different content" in page.inner_text(entry)

    page.click(f"{entry} button.correct")
    page.wait_for_selector("#correction:not([hidden])")
    assert "already received" in page.inner_text("#form-status")
    assert page.is_checked("input[name=severity][value=severe]")
    page.click("#submit-report")
    page.wait_for_selector(entry, state="detached")
    (new_id,) = outbox_ids(page)  # the correction took the refused entry's place, under an id of its own
    assert new_id != taken
    page.wait_for_selector(f"#outbox-list li[data-id='{new_id}'] >> text=photos: 1 of 1 sent")
    assert reports_with_notes(db, notes) == [new_id]
    assert db.execute("SELECT count(*) AS n FROM report_photo WHERE report_id = %s", (new_id,)).fetchone()["n"] == 1
    assert stored(db, taken)["notes"] == "already on the server"


def test_rejected_report_is_discarded_only_after_confirmation(field):
    context, page = field()
    bad = str(uuid.uuid4())
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    page.evaluate("""async ([id, observed]) => {
        const outbox = await import("/static/field/outbox.js");
        await outbox.put(outbox.newRecord({ id, lon: 0, lat: 95, observed_at: observed, kind: "line",
                                            severity: "minor", status: "degraded" }, []));
    }""", [bad, observed])
    page.click("#send-now")
    entry = f"#outbox-list li[data-id='{bad}']"
    page.wait_for_selector(f"{entry}[data-state=rejected]")

    page.click(f"{entry} button.discard")
    assert "Discard this report for good?" in page.inner_text(f"{entry} .confirm")
    page.click(f"{entry} button.discard-no")
    page.wait_for_selector(f"{entry} button.discard")
    assert page.query_selector(f"{entry} .confirm") is None

    page.click(f"{entry} button.discard")
    page.click(f"{entry} button.discard-yes")
    page.wait_for_selector(entry, state="detached")
    assert bad not in outbox_ids(page)
    assert page.js_errors == []
