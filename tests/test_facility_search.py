"""Facility search in the field form (GPS jammed): by name, id or external id, offline from the registry kept on the
phone, which is synced by changes (GET /api/facilities?changed_since=cursor), not downloaded whole on every load."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15000
EPOCH = "1970-01-01T00:00:00Z"


@pytest.fixture()
def field(open_field) -> Callable:
    """The form with no GPS at all (permission not granted), as near a jammer."""
    return lambda **options: open_field(timeout_ms=TIMEOUT_MS, locale="en-GB", viewport={"width": 360, "height": 740},
                                        **options)


def facility(db, name: str) -> dict:
    row = db.execute("SELECT id, external_id, name FROM facility WHERE name = %s ORDER BY id LIMIT 1",
                     (name,)).fetchone()
    assert row is not None
    return row


def results(page) -> list[str]:
    return page.eval_on_selector_all("#facility-list label.facility .facility-name",
                                     "els => els.map(e => e.textContent)")


def search(page, text: str) -> list[str]:
    page.fill("#facility-search", text)
    page.wait_for_function("q => document.getElementById('facility-list').dataset.source === 'search'"
                           " && document.getElementById('facility-search').value === q", arg=text)
    page.wait_for_timeout(200)  # the search runs 150 ms after the last key
    return results(page)


def test_search_by_name_id_and_external_id_works_offline_and_the_report_goes_to_that_facility(field, db):
    airton = facility(db, "Airton")
    context, page = field()
    page.wait_for_selector("html[data-offline-ready]")
    page.wait_for_selector("#registry-status[data-state=current]")
    context.set_offline(True)
    page.reload()  # from the service worker: the registry comes from the phone
    page.wait_for_selector("html[data-field-ready]")
    page.wait_for_selector("#registry-status[data-state=offline]")
    assert "Facilities on this phone: 102" in page.inner_text("#registry-status")

    assert search(page, "airt")[0] == "Airton"
    assert search(page, "AIRTON")[0] == "Airton"
    assert search(page, f"#{airton['id']}")[0] == "Airton"
    assert search(page, str(airton["id"]))[0] == "Airton"
    assert search(page, airton["external_id"])[0] == "Airton"
    detail = page.inner_text("#facility-list label.facility .facility-detail")
    assert airton["external_id"] in detail
    assert search(page, "no such facility anywhere") == []
    assert "No facility matches “no such facility anywhere”." in page.inner_text("#facility-list")

    search(page, "airton")
    page.check(f"#facility-list input[value='{airton['id']}']")
    assert page.inner_text("#loc-summary").startswith("Facility: Airton")
    page.wait_for_selector("#loc-summary[data-ready=true]")  # the facility's position is the report's location
    page.select_option("#kind", "substation")
    page.check("input[name=severity][value=minor]")
    page.check("input[name=status][value=operating]")
    notes = f"found by search {uuid.uuid4()}"
    page.fill("#notes", notes)
    page.click("#submit-report")
    page.wait_for_selector("#form-status[data-state=waiting]")
    assert page.inner_text("#outbox-list li[data-state=waiting] .report-facility") == "Airton"

    context.set_offline(False)
    page.wait_for_selector("#form-status[data-state=sent]")
    row = db.execute("SELECT facility_id FROM report WHERE notes = %s", (notes,)).fetchone()
    assert row["facility_id"] == airton["id"]
    assert page.js_errors == []


def test_emptying_the_search_shows_the_nearest_again(field, db):
    context, page = field(geolocation={"latitude": 53.29423775, "longitude": -6.35804367082056, "accuracy": 12},
                          permissions=["geolocation"])
    page.wait_for_selector("#facility-list[data-source=server][data-count='5']")
    nearest = results(page)
    assert search(page, "kimm")[0].startswith("Kimmage")
    page.fill("#facility-search", "")
    page.wait_for_selector("#facility-list[data-source=server]")
    assert results(page) == nearest
    search(page, "kimm")
    page.click("#find-nearest")  # asked for: the search ends
    page.wait_for_selector("#facility-list[data-source=server]")
    assert page.input_value("#facility-search") == ""
    assert page.js_errors == []


def test_the_registry_is_synced_by_changes_not_downloaded_whole(field, db):
    context, page = field()
    page.wait_for_selector("#registry-status[data-state=current]")  # the first copy is kept on the phone
    asked: list[tuple[str, int]] = []  # (changed_since, facilities in the answer)

    def answered(response) -> None:
        url = urlsplit(response.url)
        if url.path == "/api/facilities":
            asked.append((parse_qs(url.query)["changed_since"][0], len(response.json()["features"])))

    page.on("response", answered)
    page.reload()
    page.wait_for_selector("#registry-status[data-state=current]")
    # This phone's first page (opened by the fixture) fetched the registry whole; this one only what changed since.
    (since, count), = asked
    assert since != EPOCH and count == 0
    assert page.get_attribute("#registry-status", "data-changed") == "0"

    kimmage = facility(db, "Kimmage")
    renamed = f"Kimmage {uuid.uuid4().hex[:6]}"
    db.execute("UPDATE facility SET name = %s, updated_at = now() WHERE id = %s", (renamed, kimmage["id"]))
    try:
        asked.clear()
        page.reload()
        page.wait_for_selector("#registry-status[data-state=current]")
        (since2, count2), = asked
        assert since2 == since and count2 == 1  # nothing changed between the two loads: the same cursor
        assert "Facilities on this phone: 102" in page.inner_text("#registry-status")
        assert search(page, renamed) == [renamed]
    finally:
        db.execute("UPDATE facility SET name = %s, updated_at = now() WHERE id = %s", (kimmage["name"], kimmage["id"]))
    assert page.js_errors == []


def test_search_ignores_case_accents_and_apostrophe_variants(field):
    context, page = field()
    found = page.evaluate("""async () => {
        const { searchFacilities } = await import('/static/field/search.js');
        const registry = { features: [
            { id: 7, properties: { id: 7, name: "Підстанція Об’єднана", external_id: "UA-110-7", kind: "substation" } },
            { id: 8, properties: { id: 8, name: "Київ-Північ", external_id: "UA-330-8", kind: "substation" } },
            { id: 70, properties: { id: 70, name: "Café Line", external_id: "L-70", kind: "line" } } ] };
        const ids = (q) => searchFacilities(registry, q).map((f) => f.id);
        return { apostrophe: ids("об'єднана"), word: ids("північ"), external: ids("ua-330"), accent: ids("cafe"),
                 id: ids("№ 7"), idNotPrefix: ids("#7"), nothing: ids("   ") };
    }""")
    assert found == {"apostrophe": [7], "word": [8], "external": [8], "accent": [70], "id": [7],
                     "idNotPrefix": [7], "nothing": []}
    assert page.js_errors == []
