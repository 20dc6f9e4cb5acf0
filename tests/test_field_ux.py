"""The field form as a crew trusts it: a green receipt after a send, the facility in each outbox row, location and
facility first, a send button always in reach at 360×740 that covers no field, validation that says what is wrong
(English and Ukrainian), and a pin map that without a base map shows the registry's facilities with their names."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15000
PHONE = {"width": 360, "height": 740}
# Next to Airton substation in the demo region (County Dublin).
AIRTON = {"latitude": 53.29423775, "longitude": -6.35804367082056, "accuracy": 12}
GREEN = "rgb(11, 93, 30)"


@pytest.fixture()
def field(open_field) -> Callable:
    def open_form(*, gps: dict | None = AIRTON, **options):
        where = {"geolocation": gps, "permissions": ["geolocation"]} if gps else {}
        options.setdefault("locale", "en-GB")
        return open_field(timeout_ms=TIMEOUT_MS, viewport=PHONE, has_touch=True, **where, **options)
    return open_form


def airton(db) -> int:
    return db.execute("SELECT id FROM facility WHERE name = 'Airton' ORDER BY id LIMIT 1").fetchone()["id"]


def fill(page, notes: str) -> None:
    page.select_option("#kind", "substation")
    page.check("input[name=severity][value=moderate]")
    page.check("input[name=status][value=degraded]")
    page.fill("#notes", notes)


def submit(page) -> str:
    before = set(page.eval_on_selector_all("#outbox-list li[data-id]", "els => els.map(e => e.dataset.id)"))
    page.click("#submit-report")
    page.wait_for_function("n => document.querySelectorAll('#outbox-list li[data-id]').length > n", arg=len(before))
    (new,) = set(page.eval_on_selector_all("#outbox-list li[data-id]", "els => els.map(e => e.dataset.id)")) - before
    return new


def test_a_sent_report_says_so_in_green_with_its_case_facility_and_time(field, db):
    context, page = field()
    fid = airton(db)
    page.wait_for_selector(f"#facility-list input[value='{fid}']")
    page.check(f"#facility-list input[value='{fid}']")
    fill(page, f"green receipt {uuid.uuid4()}")
    report_id = submit(page)
    page.wait_for_selector("#form-status[data-state=sent]")
    row = db.execute("SELECT case_id, received_at FROM report WHERE id = %s", (report_id,)).fetchone()
    text = page.inner_text("#form-status")
    received = row["received_at"].astimezone().strftime("%H:%M")  # the browser runs in this machine's time zone
    assert text == f"Sent: case {row['case_id']}, Airton, received {received}"
    assert page.eval_on_selector("#form-status", "e => getComputedStyle(e).backgroundColor") == GREEN
    assert "network" not in text
    # Each outbox row names its facility.
    assert page.inner_text(f"#outbox-list li[data-id='{report_id}'] .report-facility") == "Airton"
    assert page.js_errors == []


def test_a_report_that_waits_says_so_and_turns_green_once_sent(field, db):
    context, page = field()
    page.wait_for_selector("#facility-list[data-source=server]")
    context.set_offline(True)
    fill(page, f"waits first {uuid.uuid4()}")
    report_id = submit(page)
    page.wait_for_selector("#form-status[data-state=waiting]")
    assert page.inner_text("#form-status") == "Saved in the outbox; it will be sent as soon as there is a network."
    assert page.eval_on_selector("#form-status", "e => getComputedStyle(e).color") != "rgb(139, 0, 0)"  # not red
    # No facility chosen: the row says the report is of a place only.
    assert page.inner_text(f"#outbox-list li[data-id='{report_id}'] .report-facility") == "No facility (location only)"
    context.set_offline(False)
    page.wait_for_selector("#form-status[data-state=sent]")
    row = db.execute("SELECT case_id FROM report WHERE id = %s", (report_id,)).fetchone()
    assert re.fullmatch(rf"Sent: case {row['case_id']}, received \d\d:\d\d", page.inner_text("#form-status"))
    assert page.js_errors == []


def test_location_and_facility_come_first_and_my_work_after_the_form(field):
    context, page = field()
    ids = ["loc-h", "facility-set", "dmg-h", "det-h", "ph-h", "send-bar", "work-h", "out-h"]
    in_document_order = page.evaluate("""ids => ids.slice(1).every((id, i) =>
        document.getElementById(ids[i]).compareDocumentPosition(document.getElementById(id))
        & Node.DOCUMENT_POSITION_FOLLOWING)""", ids)
    assert in_document_order
    # Nothing but the title and the outbox's and my work's short summaries comes before the location, which starts
    # in the upper half of the first screen (how far exactly depends on how those summaries wrap).
    assert page.evaluate("document.getElementById('loc-h').getBoundingClientRect().top") < PHONE["height"] / 2
    before = page.evaluate("""() => [...document.querySelectorAll(
        'main input:not([type=hidden]), main select, main textarea')].filter(e =>
        e.offsetParent !== null && e.compareDocumentPosition(document.getElementById('loc-h'))
        & Node.DOCUMENT_POSITION_FOLLOWING)
        .map(e => e.id || e.name)""")
    assert before == []  # no visible field of the form before the location (a follow-up's progress is hidden)
    assert page.evaluate("document.getElementById('facility-search').getBoundingClientRect().top") < 2 * PHONE["height"]


FIELDS = ["#facility-search", "#find-nearest", "#pin-map", "#kind", "#severity-set", "#status-set", "#components-set",
          "#hazards-set", "#repair_hours", "#crew_size", "#materials", "#notes", "#observed_at",
          "label[for=photo-input]"]


@pytest.mark.parametrize("block", ["start", "center", "end", "nearest"])
def test_the_send_button_is_in_reach_beside_every_field_and_covers_none(field, block):
    context, page = field()
    page.wait_for_selector("#facility-list[data-source=server]")
    for selector in FIELDS:
        page.evaluate("([s, block]) => { scrollTo(0, block === 'nearest' ? 0 : scrollY);"
                      " document.querySelector(s).scrollIntoView({ block }); }", [selector, block])
        boxes = page.evaluate("""s => {
            const f = document.querySelector(s).getBoundingClientRect();
            const b = document.getElementById('submit-report').getBoundingClientRect();
            const bar = document.getElementById('send-bar').getBoundingClientRect();
            const hit = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
            return { top: f.top, bottom: f.bottom, buttonTop: b.top, buttonBottom: b.bottom, barTop: bar.top,
                     onTop: hit && hit.closest('#submit-report') !== null };
        }""", selector)
        assert boxes["buttonTop"] >= 0 and boxes["buttonBottom"] <= PHONE["height"], (selector, boxes)
        assert boxes["onTop"], selector  # nothing (the map's panes included) is drawn over the button
        if boxes["bottom"] - boxes["top"] < PHONE["height"] / 2:
            assert boxes["bottom"] <= boxes["barTop"] + 1, (selector, block, boxes)  # the field shows above the bar
    # Tapping a field focuses it above the bar too (focus scrolls with the same padding).
    page.evaluate("scrollTo(0, 0)")
    page.focus("#notes")
    notes = page.eval_on_selector("#notes", "e => e.getBoundingClientRect().bottom")
    assert notes <= page.eval_on_selector("#send-bar", "e => e.getBoundingClientRect().top") + 1
    assert page.js_errors == []


def test_validation_says_what_is_wrong_in_english(field):
    context, page = field()
    page.wait_for_selector("#gps-status[data-state=good]")
    page.fill("#repair_hours", "0.1")
    page.fill("#crew_size", "0")
    page.click("#submit-report")
    errors = lambda name: page.inner_text(f"[data-error-for={name}]")  # noqa: E731
    page.wait_for_selector("[data-error-for=severity]:not(:empty)")
    assert errors("kind") == "Choose the facility kind."
    assert errors("severity") == "Choose a severity."
    assert errors("status") == "Choose a status."
    assert errors("repair_hours") == "Give a repair estimate of at least 0.25 h."
    assert errors("crew_size") == "Give a crew size of at least 1."
    assert page.inner_text("#form-status") == "Choose the facility kind. Other fields to fix are marked."
    assert page.get_attribute("#form-status", "data-state") == "error"
    assert "Missing or not valid" not in page.inner_text("#field-form")
    # A fixed field's message goes; the others stay until the next send.
    page.check("input[name=severity][value=minor]")
    assert errors("severity") == "" and errors("status") == "Choose a status."
    assert page.js_errors == []


def test_validation_says_what_is_wrong_in_ukrainian(field):
    context, page = field(locale="uk-UA")
    page.wait_for_selector("#gps-status[data-state=good]")
    page.select_option("#kind", "substation")
    page.fill("#repair_hours", "0.1")
    page.click("#submit-report")
    errors = lambda name: page.inner_text(f"[data-error-for={name}]")  # noqa: E731
    page.wait_for_selector("[data-error-for=severity]:not(:empty)")
    assert errors("severity") == "Оберіть ступінь пошкодження."
    assert errors("status") == "Оберіть робочий стан."
    assert errors("repair_hours") == "Вкажіть оцінку ремонту щонайменше 0,25 год."
    assert page.inner_text("#form-status") == "Оберіть ступінь пошкодження. Інші поля, які треба виправити, позначено."
    assert page.js_errors == []


def test_without_a_base_map_the_pin_map_shows_the_facilities_with_their_names(field, db):
    context, page = field()
    page.wait_for_selector("#facility-list[data-source=server]")
    page.wait_for_selector("#pin-map.no-base-map.show-labels")
    labels = page.eval_on_selector_all("#pin-map .facility-label", """els => els
        .filter((e) => { const r = e.getBoundingClientRect(), m = e.closest('#pin-map').getBoundingClientRect();
                         return r.right > m.left && r.left < m.right && r.bottom > m.top && r.top < m.bottom; })
        .map((e) => [e.textContent, getComputedStyle(e).display])""")
    assert ["Airton", "block"] in labels
    assert "No base map" in page.inner_text("#pin-map")
    assert page.query_selector("#pin-map .leaflet-control-scale") is not None
    # Zoomed out over the whole region, the names would be unreadable: they hide until zoomed in again.
    for _ in range(6):
        page.click("#pin-map .leaflet-control-zoom-out")
        page.wait_for_timeout(300)  # Leaflet's zoom animation
    page.wait_for_selector("#pin-map:not(.show-labels)")
    assert int(page.get_attribute("#pin-map", "data-facilities-in-view")) > 40
    assert page.js_errors == []


def test_the_nearest_facility_is_in_view_when_the_fix_is_away_from_it(field, db):
    # About 900 m north of Airton, with no other facility nearer: a plain GPS frame (zoom 16) would not show it.
    far = {"latitude": AIRTON["latitude"] + 0.008, "longitude": AIRTON["longitude"], "accuracy": 12}
    row = db.execute("""SELECT name, ST_Distance(geom::geography, ST_Point(%(lon)s, %(lat)s, 4326)::geography) AS d
                        FROM facility ORDER BY d LIMIT 1""",
                     {"lon": far["longitude"], "lat": far["latitude"]}).fetchone()
    nearest = row["name"]
    assert 400 < row["d"] < 3000  # out of a 360 px map at zoom 16 (about 500 m across), but near enough to show
    context, page = field(gps=far)
    page.wait_for_selector("#facility-list[data-source=server]")
    page.wait_for_function("""name => [...document.querySelectorAll('#pin-map .facility-label')].some((e) => {
        const r = e.getBoundingClientRect(), m = document.getElementById('pin-map').getBoundingClientRect();
        return e.textContent === name && getComputedStyle(e).display !== 'none'
            && r.left < m.right && r.right > m.left && r.top < m.bottom && r.bottom > m.top; })""", arg=nearest)
    assert page.js_errors == []
