"""A crew's own work: cases assigned to a crew account, GET /api/my/cases, and follow-ups from the field form."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import api_client, create_accounts, maintenance, make_app
from tests.test_field_form import submit

# ---- The API, on a database of this module's own (so that it may hold facilities of its own) -------------------


@pytest.fixture(scope="module")
def depot(new_database):
    """A substation of its own, a coordinator, two crews and a deactivated crew account."""
    url = new_database()
    app = make_app(url)
    tokens = create_accounts(app, {"wc_coord": "coordinator", "wc_crew": "crew", "wc_crew2": "crew",
                                   "wc_gone": "crew"})
    with psycopg.connect(url, autocommit=True) as conn:
        facility = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES "
                                "('wc-1', 'Pumphouse Lane', 'substation', ST_Point(12.0, 48.0, 4326)) "
                                "RETURNING id").fetchone()[0]
        conn.execute("UPDATE app_user SET active = false WHERE username = 'wc_gone'")
    yield app, tokens, url, facility
    app.extensions["db_pool"].close()


def send(depot, who: str = "wc_crew", **overrides) -> dict:
    app, tokens, _, _ = depot
    body = {"id": str(uuid.uuid4()), "lon": 12.0, "lat": 48.0, "kind": "substation", "severity": "moderate",
            "status": "degraded", "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    body.update(overrides)
    response = api_client(app, tokens[who]).post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    return response.json["report"]


def site_case(depot, **overrides) -> int:
    """A case of its own at a site with no registered facility (kind 'other' matches none)."""
    spot = {"kind": "other", "lon": 30 + uuid.uuid4().int % 100_000 / 1e4, "lat": 10.0}
    return send(depot, **{**spot, **overrides})["case_id"]


def act(depot, case_id: int, **body):
    app, tokens, _, _ = depot
    return api_client(app, tokens["wc_coord"]).post(f"/api/cases/{case_id}/actions", json=body)


def my_cases(depot, who: str) -> list[dict]:
    app, tokens, _, _ = depot
    response = api_client(app, tokens[who]).get("/api/my/cases")
    assert response.status_code == 200, response.json
    assert response.json["username"] == who
    return response.json["cases"]


def case_ids(depot, who: str) -> set[int]:
    return {c["id"] for c in my_cases(depot, who)}


def state(depot, case_id: int) -> tuple[dict, list[dict]]:
    with psycopg.connect(depot[2], row_factory=dict_row) as conn:
        row = conn.execute("SELECT * FROM damage_case WHERE id = %s", (case_id,)).fetchone()
        events = conn.execute("SELECT * FROM case_event WHERE case_id = %s ORDER BY id", (case_id,)).fetchall()
    return row, events


def test_a_case_assigned_to_a_crew_account_is_in_that_crews_work_only(depot):
    _, _, _, facility = depot
    mine = send(depot, facility_id=facility, hazards=["fire"], notes="smoke from the transformer")
    theirs = send(depot, "wc_crew2", facility_id=facility, severity="severe", hazards=["uxo"])
    case_id = mine["case_id"]
    assert theirs["case_id"] == case_id

    response = act(depot, case_id, action="assign", crew="Crew 7", crew_account="wc_crew", reason="nearest")
    assert response.status_code == 200, response.json
    case = response.json["case"]
    assert (case["status"], case["assigned_crew"], case["assigned_user"]) == ("assigned", "Crew 7", "wc_crew")
    row, events = state(depot, case_id)
    assert row["assigned_user_id"] == case["assigned_user_id"] is not None
    assert events[-1]["action"] == "assign" and events[-1]["data"] == {
        "before": {"status": "reported", "assigned_crew": None, "assigned_user_id": None, "assigned_user": None},
        "after": {"status": "assigned", "assigned_crew": "Crew 7", "assigned_user_id": row["assigned_user_id"],
                  "assigned_user": "wc_crew"}}

    (work,) = [c for c in my_cases(depot, "wc_crew") if c["id"] == case_id]
    assert {k: work[k] for k in ("status", "kind", "facility_id", "facility_name", "facility_kind", "lon", "lat",
                                 "hazards", "worst_severity", "assigned_crew")} == {
        "status": "assigned", "kind": "substation", "facility_id": facility, "facility_name": "Pumphouse Lane",
        "facility_kind": "substation", "lon": 12.0, "lat": 48.0, "hazards": ["uxo", "fire"],
        "worst_severity": "severe", "assigned_crew": "Crew 7"}
    assert datetime.fromisoformat(work["last_event_at"]) == events[-1]["at"]
    # Hazards and severity come from every report; the reports listed are the crew's own.
    assert [(r["id"], r["notes"], r["reporter"]) for r in work["reports"]] == [
        (mine["id"], "smoke from the transformer", "wc_crew")]

    assert case_id not in case_ids(depot, "wc_crew2")
    assert case_id not in case_ids(depot, "wc_coord")


def test_reassigning_and_taking_the_account_away_are_events_and_move_the_case(depot):
    case_id = site_case(depot)
    assert act(depot, case_id, action="assign", crew="Crew 1", crew_account="wc_crew").status_code == 200
    assert act(depot, case_id, action="assign", crew="Crew 2", crew_account="wc_crew2").status_code == 200
    assert case_id not in case_ids(depot, "wc_crew") and case_id in case_ids(depot, "wc_crew2")
    # An assignment that does not mention the account (the JSON API as it was) only renames the crew ...
    response = act(depot, case_id, action="assign", crew="Crew 2b")
    assert response.status_code == 200 and response.json["case"]["assigned_user"] == "wc_crew2"
    assert case_id in case_ids(depot, "wc_crew2")
    # ... an empty (or null) account takes the case from the account it had.
    response = act(depot, case_id, action="assign", crew="Crew 3", crew_account=None)
    assert response.status_code == 200 and response.json["case"]["assigned_user"] is None
    assert case_id not in case_ids(depot, "wc_crew2")
    row, events = state(depot, case_id)
    assert row["assigned_user_id"] is None and row["assigned_crew"] == "Crew 3"
    assigned = [(e["data"]["before"]["assigned_user"], e["data"]["after"]["assigned_user"])
                for e in events if e["action"] == "assign"]
    assert assigned == [(None, "wc_crew"), ("wc_crew", "wc_crew2"), ("wc_crew2", "wc_crew2"), ("wc_crew2", None)]


def test_a_case_assigned_to_a_crew_record_is_in_the_work_of_its_members(depot):
    """The dispatched plan assigns a case to a crew by name: every account of that crew sees it, others do not."""
    _, _, url, _ = depot
    with psycopg.connect(url, autocommit=True) as conn:
        crew = conn.execute("INSERT INTO crew (name, base, shift_start, shift_end, time_zone) VALUES "
                            "('Crew Nine', ST_Point(12.0, 48.0, 4326), '06:00', '18:00', 'UTC') RETURNING id"
                            ).fetchone()[0]
        conn.execute("INSERT INTO crew_member (crew_id, user_id) SELECT %s, id FROM app_user "
                     "WHERE username = 'wc_crew2'", (crew,))
    case_id = site_case(depot)
    assert act(depot, case_id, action="assign", crew="Crew Nine").status_code == 200
    assert case_id in case_ids(depot, "wc_crew2")
    assert case_id not in case_ids(depot, "wc_crew")
    # A crew name that is no crew record's (free text) reaches nobody's work but the account named.
    other = site_case(depot)
    assert act(depot, other, action="assign", crew="Crew Ninety").status_code == 200
    assert other not in case_ids(depot, "wc_crew2") | case_ids(depot, "wc_crew")


@pytest.mark.parametrize(("account", "says"), [("nobody", "no account named 'nobody'"),
                                                ("wc_gone", "'wc_gone' is deactivated"), (5, "must be text"),
                                                ("wc_coord", "not a crew's")])
def test_a_bad_crew_account_is_422_naming_the_field_and_changes_nothing(depot, account, says):
    case_id = site_case(depot)
    assert act(depot, case_id, action="assign", crew="Crew 1", crew_account="wc_crew").status_code == 200
    before = state(depot, case_id)
    response = act(depot, case_id, action="assign", crew="Crew 9", crew_account=account)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["crew_account"] and says in response.json["errors"]["crew_account"]
    assert state(depot, case_id) == before
    assert case_id in case_ids(depot, "wc_crew")


def test_a_case_stays_in_my_work_until_it_is_closed(depot):
    case_id = site_case(depot)
    assert act(depot, case_id, action="assign", crew="Crew 1", crew_account="wc_crew").status_code == 200
    for action, status in (("start_repair", "in_repair"), ("temporarily_restore", "temporarily_restored")):
        assert act(depot, case_id, action=action).status_code == 200
        assert {c["id"]: c["status"] for c in my_cases(depot, "wc_crew")}[case_id] == status
    assert act(depot, case_id, action="repaired").status_code == 200
    assert case_id not in case_ids(depot, "wc_crew")


def test_a_merged_case_leaves_my_work_and_its_reports_count_for_the_survivor(depot):
    survivor, duplicate = site_case(depot), site_case(depot, hazards=["live_wires"], severity="destroyed")
    for case_id in (survivor, duplicate):
        assert act(depot, case_id, action="assign", crew="Crew 1", crew_account="wc_crew").status_code == 200
    assert act(depot, survivor, action="merge", duplicate_id=duplicate).status_code == 200
    work = {c["id"]: c for c in my_cases(depot, "wc_crew")}
    assert duplicate not in work
    assert work[survivor]["hazards"] == ["live_wires"] and work[survivor]["worst_severity"] == "destroyed"
    assert len(work[survivor]["reports"]) == 2


def test_a_follow_up_with_progress_moves_the_case_on_in_my_work(depot):
    case_id = site_case(depot)
    assert act(depot, case_id, action="assign", crew="Crew 1", crew_account="wc_crew").status_code == 200
    follow_up = send(depot, kind="other", lon=30.0, lat=10.0, case_id=case_id, progress="repair_started")
    assert follow_up["case_id"] == case_id
    (work,) = [c for c in my_cases(depot, "wc_crew") if c["id"] == case_id]
    assert work["status"] == "in_repair"
    assert [r["progress"] for r in work["reports"]] == [None, "repair_started"]


def test_only_the_assigned_crew_or_a_reporter_may_follow_up_a_case(depot):
    case_id = site_case(depot, who="wc_crew2")  # wc_crew2 reported it
    stranger = {"kind": "other", "lon": 31.0, "lat": 10.0, "case_id": case_id, "progress": "restored"}
    app, tokens, _, _ = depot
    refused = api_client(app, tokens["wc_crew"]).post("/api/reports", json={
        "id": str(uuid.uuid4()), "severity": "moderate", "status": "degraded",
        "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(), **stranger})
    assert refused.status_code == 422 and list(refused.json["errors"]) == ["case_id"]
    assert state(depot, case_id)[0]["status"] == "reported"
    # Assigned to wc_crew, the same follow-up goes through and moves the case.
    assert act(depot, case_id, action="assign", crew="Crew 4", crew_account="wc_crew").status_code == 200
    send(depot, **stranger)
    assert state(depot, case_id)[0]["status"] == "repaired"
    # The reporter may still follow up the case it reported, assigned or not.
    send(depot, "wc_crew2", kind="other", lon=31.0, lat=10.0, case_id=case_id)


def test_my_cases_needs_a_signed_in_account(depot):
    app = depot[0]
    assert app.test_client().get("/api/my/cases").status_code == 401


# ---- The field form in a real browser, on the session's server -----------------------------------------------

TIMEOUT_MS = 10000
WATCH_CSP = """document.addEventListener("securitypolicyviolation",
    (e) => (window.cspViolations = window.cspViolations || []).push(`${e.violatedDirective} ${e.blockedURI}`));"""


@pytest.fixture()
def assigned(demo_loaded, tokens, database_url) -> Iterator[dict]:
    """A substation of its own (far from the demo's), its case reported by crew2 and assigned to the account `crew`.

    Everything it made is removed afterwards (the demo's tests count the facilities)."""
    lon, lat = -7.9 + uuid.uuid4().int % 10_000 / 1e6, 52.4
    name = f"Depot {uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        facility = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES "
                                "(%s, %s, 'substation', ST_Point(%s, %s, 4326)) RETURNING id",
                                (f"test-{name}", name, lon, lat)).fetchone()["id"]
    try:
        body = {"id": str(uuid.uuid4()), "facility_id": facility, "lon": lon, "lat": lat, "kind": "substation",
                "severity": "severe", "status": "out_of_service", "hazards": ["live_wires"],
                "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
        response = api_client(demo_loaded, tokens["crew2"]).post("/api/reports", json=body)
        assert response.status_code == 201, response.json
        case_id = response.json["report"]["case_id"]
        crew = f"Crew {uuid.uuid4().hex[:4]}"
        response = api_client(demo_loaded, tokens["coordinator"]).post(
            f"/api/cases/{case_id}/actions", json={"action": "assign", "crew": crew, "crew_account": "crew"})
        assert response.status_code == 200, response.json
        yield {"case_id": case_id, "facility_id": facility, "name": name, "crew": crew}
    finally:
        with psycopg.connect(maintenance(database_url), autocommit=True) as conn:
            cases = [r[0] for r in conn.execute("SELECT id FROM damage_case WHERE facility_id = %s", (facility,))]
            conn.execute("DELETE FROM report_photo WHERE report_id IN (SELECT id FROM report "
                         "WHERE case_id = ANY(%s) OR facility_id = %s)", (cases, facility))
            conn.execute("DELETE FROM report WHERE case_id = ANY(%s) OR facility_id = %s", (cases, facility))
            conn.execute("DELETE FROM case_event WHERE case_id = ANY(%s)", (cases,))
            conn.execute("DELETE FROM damage_case WHERE id = ANY(%s)", (cases,))
            conn.execute("DELETE FROM facility WHERE id = %s", (facility,))


@pytest.fixture()
def crew_phone(open_field) -> Callable:
    """The field form opened by the account `crew`, on a phone with its GPS at `where` (or none)."""

    def open_form(where: dict | None = None):
        options = {"geolocation": where, "permissions": ["geolocation"]} if where else {}
        return open_field(init_script=WATCH_CSP, timeout_ms=TIMEOUT_MS, **options)

    return open_form


def test_report_progress_on_an_assigned_case_arrives_once_and_moves_the_case(crew_phone, assigned, db):
    context, page = crew_phone()  # no GPS: the follow-up is placed at its facility
    case_id, fid = assigned["case_id"], assigned["facility_id"]
    work = f"#my-work-list li[data-case-id='{case_id}']"
    page.wait_for_selector(work)
    text = page.inner_text(work)
    assert f"Case {case_id}: {assigned['name']}" in text and f"Crew: {assigned['crew']}" in text
    assert "Live wires" in text and "Severe" in text
    assert page.get_attribute("#my-work", "data-refreshed-at")
    # A later refresh (the outbox's sync, the page becoming visible) may be under way: "Refreshing…" until it ends.
    page.wait_for_function("document.getElementById('my-work-status').textContent.includes('Last refreshed')")

    page.click(f"{work} button.report-progress")
    page.wait_for_selector("#follow-up:not([hidden])")
    assert f"case {case_id}: {assigned['name']}" in page.inner_text("#follow-up-title")
    assert page.is_checked(f"#facility-list input[value='{fid}']") and page.input_value("#kind") == "substation"
    assert page.is_checked("input[name=severity][value=severe]")
    page.check("input[name=progress][value=repair_started]")
    assert page.is_checked("input[name=status][value=out_of_service]")  # what "repair started" suggests
    page.fill("#notes", "crew on site, repair started")
    report_id = submit(page)
    entry = f"#outbox-list li[data-id='{report_id}']"
    page.wait_for_selector(f"{entry}[data-state=sent][data-case-id='{case_id}']")
    assert f"Follow-up on case {case_id}" in page.inner_text(entry)
    assert page.is_hidden("#follow-up")

    rows = db.execute("SELECT id::text AS id, progress::text AS progress, facility_id, notes FROM report "
                      "WHERE case_id = %s AND reporter_id = (SELECT id FROM app_user WHERE username = 'crew')",
                      (case_id,)).fetchall()
    assert rows == [{"id": report_id, "progress": "repair_started", "facility_id": fid,
                     "notes": "crew on site, repair started"}]
    events = db.execute("SELECT action, to_status::text AS to_status, data FROM case_event WHERE case_id = %s "
                        "ORDER BY id", (case_id,)).fetchall()
    assert {"action": "report_added", "to_status": None,
            "data": {"report_id": report_id, "matched_facility_id": fid}} in events
    assert events[-1] == {"action": "status_changed", "to_status": "in_repair", "data": {"report_id": report_id}}
    page.wait_for_selector(f"{work}[data-status=in_repair]")  # "My work" refreshed after sending
    assert page.js_errors == []
    assert page.evaluate("window.cspViolations || []") == []

    # Offline, the page and the list come from the phone, with when the list was last refreshed.
    page.wait_for_selector("html[data-offline-ready]")
    context.set_offline(True)
    page.reload()
    page.wait_for_selector(f"{work}[data-status=in_repair]")
    status = page.inner_text("#my-work-status")
    assert "Last refreshed" in status and "Offline: showing the copy saved on this phone." in status
    page.click(f"{work} button.report-progress")
    page.wait_for_selector("#follow-up:not([hidden])")
    assert page.is_checked(f"#facility-list input[value='{fid}']")
    assert page.js_errors == []
    assert page.evaluate("window.cspViolations || []") == []


def test_follow_up_from_a_sent_report_made_offline_arrives_exactly_once(crew_phone, db):
    where = {"longitude": -7.7 + uuid.uuid4().int % 10_000 / 1e6, "latitude": 52.3, "accuracy": 9}
    context, page = crew_phone(where)
    page.wait_for_selector("#gps-status[data-state=good]")
    page.select_option("#kind", "other")
    page.check("input[name=severity][value=moderate]")
    page.check("input[name=status][value=degraded]")
    first = submit(page)
    page.wait_for_selector(f"#outbox-list li[data-id='{first}'][data-state=sent]")
    case_id = int(page.get_attribute(f"#outbox-list li[data-id='{first}']", "data-case-id"))
    # Assigned to this crew's account, so its follow-up's progress moves the case on.
    db.execute("UPDATE damage_case SET assigned_user_id = (SELECT id FROM app_user WHERE username = 'crew') "
               "WHERE id = %s", (case_id,))

    context.set_offline(True)
    page.wait_for_selector("#net-status[data-state=offline]")
    page.click(f"#outbox-list li[data-id='{first}'] button.follow-up-button")
    page.wait_for_selector("#follow-up:not([hidden])")
    assert f"case {case_id}" in page.inner_text("#follow-up-title")
    assert page.input_value("#kind") == "other" and page.is_checked("input[name=severity][value=moderate]")
    page.check("input[name=progress][value=temporarily_restored]")
    page.check("input[name=status][value=degraded]")
    follow_up = submit(page)
    entry = f"#outbox-list li[data-id='{follow_up}']"
    page.wait_for_selector(f"{entry}[data-state=waiting]")
    assert db.execute("SELECT count(*) AS n FROM report WHERE id = %s", (follow_up,)).fetchone()["n"] == 0

    context.set_offline(False)
    page.wait_for_selector(f"{entry}[data-state=sent][data-case-id='{case_id}']")
    rows = db.execute("SELECT id::text AS id, progress::text AS progress FROM report WHERE case_id = %s "
                      "ORDER BY received_at", (case_id,)).fetchall()
    assert rows == [{"id": first, "progress": None}, {"id": follow_up, "progress": "temporarily_restored"}]
    status = db.execute("SELECT status::text AS s FROM damage_case WHERE id = %s", (case_id,)).fetchone()["s"]
    assert status == "temporarily_restored"
    assert page.js_errors == []


def test_the_service_worker_keeps_the_my_work_script_for_offline_use(anonymous):
    body = anonymous.get("/field/sw.js").get_data(as_text=True)
    assert '"/static/field/mywork.js"' in body


def test_a_rejected_follow_up_is_corrected_as_a_follow_up_or_sent_as_a_new_report(crew_phone, db):
    where = {"longitude": -7.5 + uuid.uuid4().int % 10_000 / 1e6, "latitude": 52.2, "accuracy": 9}
    context, page = crew_phone(where)
    bad = str(uuid.uuid4())
    payload = {"id": bad, "case_id": 999_999_999, "progress": "restored", "lon": where["longitude"],
               "lat": where["latitude"], "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
               "kind": "other", "severity": "minor", "status": "operating", "notes": "gone case"}
    # A follow-up on a case the server does not know (as an outbox from an older database might hold).
    page.evaluate("""async (payload) => {
        const outbox = await import("/static/field/outbox.js");
        const record = outbox.newRecord(payload, []);
        record.followUp = { caseId: payload.case_id, name: "Old depot", kind: "other", lon: payload.lon,
                            lat: payload.lat };
        await outbox.put(record);
    }""", payload)
    page.click("#send-now")
    entry = f"#outbox-list li[data-id='{bad}']"
    page.wait_for_selector(f"{entry}[data-state=rejected]")
    assert "unknown case" in page.inner_text(f"{entry} li[data-field=case_id]")

    page.click(f"{entry} button.correct")
    page.wait_for_selector("#follow-up:not([hidden])")
    assert "case 999999999: Old depot" in page.inner_text("#follow-up-title")
    assert page.is_checked("input[name=progress][value=restored]")
    assert page.get_attribute("#facility-set", "data-flagged") == "facility_id"
    # The case is gone: the crew sends the observation as a report of its own.
    page.click("#cancel-follow-up")
    assert page.is_hidden("#follow-up") and page.is_visible("#correction")
    assert page.input_value("#notes") == "gone case"
    page.click("#submit-report")
    page.wait_for_selector(f"{entry}[data-state=sent]")
    row = db.execute("SELECT progress, notes FROM report WHERE id = %s", (bad,)).fetchone()
    assert row == {"progress": None, "notes": "gone case"}
    assert page.js_errors == []
