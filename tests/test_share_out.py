"""A degraded facility's share of customers without supply (`share_out`): the API's rules, its place in the content
hash, and the field form that asks for it only with status degraded and shows the server's case on the receipt."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from app.reports.input import parse_report
from tests.conftest import login
from tests.test_field_form import AIRTON, TIMEOUT_MS, WATCH_CSP, fill_report, stored, submit
from tests.test_reports_api import facility_id, report, total_rows

# A report as a phone sent it before share_out existed, and its content hash as the code of that time computed it
# (commit f14159f): a resend of such a report must still be recognised as the same report.
OLD_BODY = {"id": "0b7f6c1e-3d2a-4c5b-9e8f-1a2b3c4d5e6f", "lon": -6.35804367082056, "lat": 53.29423775,
            "accuracy_m": 8.0, "observed_at": "2026-11-25T08:30:00+02:00", "kind": "substation",
            "severity": "severe", "status": "degraded", "components": ["transformer", "busbar"], "hazards": ["fire"],
            "repair_hours": 6, "crew_size": 4, "materials": "110/38 kV transformer", "notes": "Transformer burnt out"}
OLD_HASH = "3eddf7eb05889144336b58160d201f9aa4a8085e9e8474fa7eecd6f33c2b0510"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


# -- the API ---------------------------------------------------------------------------------------------------------

def test_a_degraded_report_stores_its_share_out_and_returns_it(demo_loaded, client, db):
    body = report(status="degraded", share_out=0.3)
    response = client.post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    assert response.json["report"]["share_out"] == 0.3
    assert client.get(response.headers["Location"]).json["report"] == response.json["report"]
    assert db.execute("SELECT share_out FROM report WHERE id = %s", (body["id"],)).fetchone()["share_out"] == 0.3
    assert db.execute("SELECT share_out FROM report_view WHERE id = %s", (body["id"],)).fetchone()["share_out"] == 0.3


@pytest.mark.parametrize("share_out", [0, 1, 0.25, None])
def test_share_out_takes_the_whole_range_or_null(demo_loaded, client, share_out):
    response = client.post("/api/reports", json=report(status="degraded", share_out=share_out))
    assert response.status_code == 201, response.json
    assert response.json["report"]["share_out"] == share_out


def test_a_report_without_share_out_returns_it_as_null(demo_loaded, client):
    response = client.post("/api/reports", json=report(status="degraded"))
    assert response.status_code == 201
    assert response.json["report"]["share_out"] is None


@pytest.mark.parametrize("status", ["operating", "out_of_service"])
def test_share_out_only_with_status_degraded(demo_loaded, client, db, status):
    before = total_rows(db)
    response = client.post("/api/reports", json=report(status=status, share_out=0.5))
    assert response.status_code == 422
    assert response.json["errors"] == {"share_out": "only with status degraded"}
    assert total_rows(db) == before
    # null is no share: allowed with any status
    assert client.post("/api/reports", json=report(status=status, share_out=None)).status_code == 201


@pytest.mark.parametrize("share_out", [1.5, -0.1, 50, "half", "0.5", True, [0.5], {"share": 0.5}])
def test_a_bad_share_out_is_named_and_nothing_is_stored(demo_loaded, client, db, share_out):
    before = total_rows(db)
    response = client.post("/api/reports", json=report(status="degraded", share_out=share_out))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"share_out"}, response.json
    assert total_rows(db) == before


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_share_out_is_refused_not_a_server_error(demo_loaded, client, db, raw):
    body = json.dumps(report(status="degraded", share_out=0.5)).replace('"share_out": 0.5', f'"share_out": {raw}')
    before = total_rows(db)
    response = client.post("/api/reports", data=body, content_type="application/json")
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert total_rows(db) == before


def test_with_a_bad_status_only_the_status_is_named(demo_loaded, client):
    response = client.post("/api/reports", json=report(status="broken", share_out=0.5))
    assert set(response.json["errors"]) == {"status"}


def test_an_old_style_reports_content_hash_is_unchanged():
    assert parse_report(OLD_BODY, now=NOW).content_hash() == OLD_HASH
    assert parse_report({**OLD_BODY, "share_out": None}, now=NOW).content_hash() == OLD_HASH
    assert parse_report({**OLD_BODY, "share_out": 0.5}, now=NOW).content_hash() != OLD_HASH


def test_share_out_is_part_of_what_makes_a_resend_the_same_report(demo_loaded, client, db):
    body = report(status="degraded", share_out=0.5)
    assert client.post("/api/reports", json=body).status_code == 201
    assert client.post("/api/reports", json=body).status_code == 200
    assert client.post("/api/reports", json={**body, "share_out": 0.25}).status_code == 409
    assert client.post("/api/reports", json={k: v for k, v in body.items() if k != "share_out"}).status_code == 409
    assert db.execute("SELECT share_out FROM report WHERE id = %s", (body["id"],)).fetchone()["share_out"] == 0.5
    # A report stored without a share is the same report when resent with "share_out": null.
    plain = report(status="degraded")
    assert client.post("/api/reports", json=plain).status_code == 201
    assert client.post("/api/reports", json={**plain, "share_out": None}).status_code == 200
    stored_hash = db.execute("SELECT content_hash FROM report WHERE id = %s", (plain["id"],)).fetchone()
    assert stored_hash["content_hash"] == parse_report(plain, now=datetime.now(UTC)).content_hash()


def test_the_openapi_body_describes_share_out(client):
    prop = client.get("/api/openapi.json").json["components"]["schemas"]["Report"]["properties"]["share_out"]
    assert (prop["type"], prop["minimum"], prop["maximum"], prop["nullable"]) == ("number", 0, 1, True)
    assert "degraded" in prop["description"]


def test_the_share_choices_speak_ukrainian(client):
    html = client.get("/field", headers={"Accept-Language": "uk"}).get_data(as_text=True)
    assert "Споживачі без живлення, приблизно" in html
    assert "близько 50 %" in html and "Невідомо" in html
    config = json.loads(re.search(r'id="field-config">(.*?)</script>', html, re.S).group(1))
    assert config["messages"]["caseReceiptNamed"] == "справа %(case)s (%(name)s), отримано %(time)s"


# -- the field form, in headless Chromium -----------------------------------------------------------------------------

@pytest.fixture()
def field(open_field) -> Callable:
    """The form as a signed-in crew member with the phone's GPS next to Airton substation."""
    return lambda **options: open_field(init_script=WATCH_CSP, timeout_ms=TIMEOUT_MS, geolocation=AIRTON,
                                        permissions=["geolocation"], **options)


def base_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def payload_of(page, report_id: str) -> dict:
    """What the outbox keeps (and sends) for a report."""
    return page.evaluate("""async (id) => (await (await import("/static/field/outbox.js")).get(id)).payload""",
                         report_id)


@pytest.mark.browser
def test_degraded_asks_for_the_share_which_is_sent_and_the_receipt_names_the_case(field, db):
    context, page = field()
    airton = facility_id(db, "Airton")
    page.wait_for_selector(f"#facility-list input[value='{airton}']")
    page.check(f"#facility-list input[value='{airton}']")
    fill_report(page, f"degraded {uuid.uuid4()}")
    assert page.is_hidden("#share_out-set")
    page.check("input[name=status][value=degraded]")
    assert page.is_visible("#share_out-set")
    assert page.is_checked("input[name=share_out][value='']")  # "not known" until the crew says
    page.check("input[name=share_out][value='0.5']")
    report_id = submit(page)

    item = page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")
    row = stored(db, report_id)
    assert (row["status"], row["share_out"], row["facility_id"]) == ("degraded", 0.5, airton)
    assert payload_of(page, report_id)["share_out"] == 0.5
    # One case number everywhere: the server's case id, the facility by its name beside it.
    assert item.get_attribute("data-case-id") == str(row["case_id"])
    receipt = page.inner_text(f"#outbox-list li[data-id='{report_id}'] .receipt")
    assert receipt.startswith(f"case {row['case_id']} (Airton), received "), receipt
    assert page.is_hidden("#share_out-set")  # the emptied form asks again only for a degraded facility

    # The coordinator sees the same case number on the queue and on the case page, the facility named beside it.
    desk = context.browser.new_context()
    try:
        coordinator = desk.new_page()
        login(coordinator, base_of(page.url), "coordinator")
        coordinator.goto(base_of(page.url) + "/map")
        queued = coordinator.wait_for_selector(f"#queue li[data-case-id='{row['case_id']}'] a", timeout=10_000)
        assert queued.inner_text() == f"Case {row['case_id']}: Airton"
        coordinator.goto(base_of(page.url) + f"/cases/{row['case_id']}")
        assert coordinator.inner_text("h1") == f"Case {row['case_id']}: Airton"
        assert "degraded" in coordinator.inner_text("#operational-status")
    finally:
        desk.close()

    # A follow-up from the receipt is about that case, named by its facility.
    page.click(f"#outbox-list li[data-id='{report_id}'] button.follow-up-button")
    assert page.inner_text("#follow-up-title") == f"Follow-up on case {row['case_id']}: Airton"
    # "Temporarily restored" suggests degraded: the share is asked for then too.
    page.check("input[name=progress][value=temporarily_restored]")
    assert page.is_checked("input[name=status][value=degraded]") and page.is_visible("#share_out-set")
    assert page.js_errors == []
    assert page.evaluate("window.cspViolations || []") == []


@pytest.mark.browser
def test_other_statuses_have_no_share_input_and_send_none(field, db):
    context, page = field()
    fill_report(page, f"operating {uuid.uuid4()}")
    page.check("input[name=status][value=operating]")
    assert page.is_hidden("#share_out-set")
    # Chosen while degraded, then the crew changed their mind: the share goes with the status.
    page.check("input[name=status][value=degraded]")
    page.check("input[name=share_out][value='0.75']")
    page.check("input[name=status][value=operating]")
    assert page.is_hidden("#share_out-set")
    report_id = submit(page)

    page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")
    row = stored(db, report_id)
    assert (row["status"], row["share_out"]) == ("operating", None)
    assert "share_out" not in payload_of(page, report_id)
    receipt = page.inner_text(f"#outbox-list li[data-id='{report_id}'] .receipt")
    assert receipt.startswith(f"case {row['case_id']}, received "), receipt  # no facility chosen: no name known
    assert page.js_errors == []


@pytest.mark.browser
def test_a_rejected_degraded_report_keeps_its_share_through_the_correction(field, db):
    context, page = field()
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    notes = f"share corrected {uuid.uuid4()}"
    report_id = str(uuid.uuid4())
    payload = {"id": report_id, "facility_id": 999_999_999, "lon": AIRTON["longitude"], "lat": AIRTON["latitude"],
               "accuracy_m": 12, "observed_at": observed, "kind": "substation", "severity": "moderate",
               "status": "degraded", "components": [], "hazards": [], "repair_hours": None, "crew_size": None,
               "materials": None, "notes": notes, "share_out": 0.75}
    page.evaluate("""async (payload) => {
        const outbox = await import("/static/field/outbox.js");
        await outbox.put(outbox.newRecord(payload, []));
    }""", payload)
    page.click("#send-now")
    entry = f"#outbox-list li[data-id='{report_id}']"
    page.wait_for_selector(f"{entry}[data-state=rejected]")
    assert "unknown facility" in page.inner_text(f"{entry} li[data-field=facility_id]")

    page.click(f"{entry} button.correct")
    page.wait_for_selector("#correction:not([hidden])")
    assert page.is_visible("#share_out-set") and page.is_checked("input[name=share_out][value='0.75']")
    # An unknown facility is shown as a facility's number, never as "#999999999" that reads as a case.
    assert "#999999999" not in page.inner_text("#facility-list")
    assert "facility no. 999999999" in page.inner_text("#facility-list")
    page.check("#facility-list input[value='']")
    page.click("#submit-report")
    page.wait_for_selector(f"{entry}[data-state=sent]")
    row = stored(db, report_id)
    assert (row["notes"], row["status"], row["share_out"]) == (notes, "degraded", 0.75)
    assert page.js_errors == []
