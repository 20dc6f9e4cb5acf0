"""The case page: user text is shown as text, its forms work (with CSRF), and bad input is refused on the page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import api_client, create_accounts, login, make_app
from tests.test_sessions import csrf_from, sign_in

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
    assert page.inner_text("#case-status") == "Confirmed"
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
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, live_server, "coordinator")
    page.goto(f"{live_server}/sitrep")
    assert "People without power now" in page.inner_text("main")
    assert page.locator("#by-status tbody tr").count() >= 1
    assert page.js_errors == [] and violations == []


# The page's forms without a browser: bad input is answered with the page and the error next to the field.


@pytest.fixture(scope="module")
def desk(new_database):
    """An app on a database of this module's own, a crew token and a coordinator signed in with a session cookie."""
    url = new_database()
    app = make_app(url)
    tokens = create_accounts(app, {"desk_coord": "coordinator", "desk_crew": "crew"})
    browser = app.test_client()
    assert sign_in(browser, "desk_coord").status_code == 302
    yield app, tokens, browser, url
    app.extensions["db_pool"].close()


def new_report(desk, lon: float = 30.0) -> dict:
    """A report at a site of its own (no facility), which opens a case of its own."""
    app, tokens, _, _ = desk
    body = {"id": str(uuid.uuid4()), "lon": lon + uuid.uuid4().int % 10_000 / 1e6, "lat": -20.0, "kind": "other",
            "severity": "severe", "status": "out_of_service", "notes": "desk test",
            "observed_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat()}
    response = api_client(app, tokens["desk_crew"]).post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    return response.json["report"]


def new_case(desk, lon: float = 30.0) -> int:
    return new_report(desk, lon)["case_id"]


def state(url: str, *case_ids: int) -> list:
    """What an action may change: the cases' rows and every event written for them."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM damage_case WHERE id = ANY(%s) ORDER BY id", (list(case_ids),)).fetchall()
        events = conn.execute("SELECT id FROM case_event WHERE case_id = ANY(%s) ORDER BY id",
                              (list(case_ids),)).fetchall()
    return [rows, events]


def post(desk, case_id: int, *, csrf: bool = True, **form):
    _, _, browser, _ = desk
    if csrf:
        form["csrf_token"] = csrf_from(browser.get(f"/cases/{case_id}").get_data(as_text=True))
    return browser.post(f"/cases/{case_id}/actions", data=form)


def shown_error(html: str, form: str, field: str) -> str:
    match = re.search(rf'<span class="error field-error" id="error-{form}-{field}">([^<]*)</span>', html)
    assert match, f"no error next to {form}.{field}"
    return match.group(1)


def answer(desk, case_id, status, *others, **form) -> str:
    """Post the form; check the status, that the page shows the case and that nothing changed; return the page."""
    url = desk[3]
    before = state(url, case_id, *others)
    response = post(desk, case_id, **form)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f"<h1>Case {case_id}:" in html and 'id="action-errors"' in html
    assert state(url, case_id, *others) == before
    return html


@pytest.mark.parametrize(("form", "field", "says"), [
    ({"action": "reject"}, "reason", "is required to reject"),
    ({"action": "reject", "reason": "   "}, "reason", "is required to reject"),
    ({"action": "override_hours", "hours": "-2", "reason": "crew says"}, "hours", "between 0.25 and 10000"),
    ({"action": "override_hours", "hours": "three", "reason": "crew says"}, "hours", "must be a number"),
    ({"action": "override_hours", "hours": "", "reason": "crew says"}, "hours", "is required"),
    ({"action": "override_hours", "hours": "nan", "reason": "crew says"}, "hours", "between 0.25 and 10000"),
    ({"action": "override_hours", "hours": "4"}, "reason", "is required to override hours"),
    ({"action": "bump_priority", "bump": "-1", "reason": "hospital"}, "bump", "between 0 and 1e+07"),
    ({"action": "assign", "crew": "  "}, "crew", "is required"),
    ({"action": "assign", "crew": "Crew 2", "crew_account": "nobody"}, "crew_account", "no account named"),
    ({"action": "confirm", "reason": "x" * 2001}, "reason", "at most 2000 characters"),
])
def test_a_bad_field_is_422_with_the_error_next_to_it(desk, form, field, says):
    case_id = new_case(desk)
    html = answer(desk, case_id, 422, **form)
    assert says in shown_error(html, form["action"], field)
    assert f'aria-describedby="error-{form["action"]}-{field}"' in html


def test_the_sent_values_come_back_escaped(desk):
    case_id = new_case(desk)
    html = answer(desk, case_id, 422, action="override_hours", hours="-1", reason='<b>"why"</b>')
    assert 'value="&lt;b&gt;&#34;why&#34;&lt;/b&gt;"' in html and '<b>"why"</b>' not in html


@pytest.mark.parametrize(("value", "says"), [("abc", "must be a number"), ("1.5", "whole number"),
                                             ("999999999", "does not exist"), ("", "is required")])
def test_merging_a_bad_case_id_is_422(desk, value, says):
    case_id = new_case(desk)
    html = answer(desk, case_id, 422, action="merge", duplicate_id=value)
    assert says in shown_error(html, "merge", "duplicate_id")


def test_merging_into_itself_or_a_closed_case_is_409(desk):
    case_id, other = new_case(desk), new_case(desk)
    html = answer(desk, case_id, 409, action="merge", duplicate_id=str(case_id))
    assert "merged into itself" in shown_error(html, "merge", "duplicate_id")
    # The case to merge is closed.
    assert post(desk, other, action="reject", reason="not ours").status_code == 303
    html = answer(desk, case_id, 409, other, action="merge", duplicate_id=str(other))
    assert "it is rejected" in shown_error(html, "merge", "duplicate_id")
    # The case to merge into is closed.
    closed, open_one = new_case(desk), new_case(desk)
    for form in ({"action": "confirm"}, {"action": "start_repair"}, {"action": "repaired"}):
        assert post(desk, closed, **form).status_code == 303
    html = answer(desk, closed, 409, open_one, action="merge", duplicate_id=str(open_one))
    assert "it is repaired" in html and 'data-field="action"' in html


@pytest.mark.parametrize(("steps", "form", "says"), [
    ([], {"action": "start_repair"}, "it is reported"),
    ([{"action": "confirm"}], {"action": "confirm"}, "it is confirmed"),
    ([{"action": "reject", "reason": "not ours"}], {"action": "bump_priority", "bump": "5", "reason": "x"},
     "it is rejected"),
])
def test_an_action_the_state_does_not_allow_is_409(desk, steps, form, says):
    case_id = new_case(desk)
    for step in steps:
        assert post(desk, case_id, **step).status_code == 303
    html = answer(desk, case_id, 409, **form)
    assert says in html and 'data-field="action"' in html


def test_an_unknown_action_is_422(desk):
    case_id = new_case(desk)
    html = answer(desk, case_id, 422, action="explode")
    assert 'data-field="action"' in html and "must be one of" in html


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_form_without_a_valid_csrf_token_is_400_and_changes_nothing(desk, token):
    case_id = new_case(desk)
    form = {"action": "confirm"} if token is None else {"action": "confirm", "csrf_token": token}
    html = answer(desk, case_id, 400, csrf=False, **form)
    assert 'data-field="csrf_token"' in html and "CSRF" in html


def test_an_unknown_case_is_404_not_500(desk):
    assert post(desk, 999_999_999, csrf=False, action="confirm").status_code in (400, 404)
    case_id = new_case(desk)
    token = csrf_from(desk[2].get(f"/cases/{case_id}").get_data(as_text=True))
    response = desk[2].post("/cases/999999999/actions", data={"action": "confirm", "csrf_token": token})
    assert response.status_code == 404


def test_a_valid_action_redirects_to_the_case_page_and_writes_one_event(desk):
    case_id = new_case(desk)
    url = desk[3]
    before = len(state(url, case_id)[1])
    response = post(desk, case_id, action="override_hours", hours="2.5", reason="spare on site")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/cases/{case_id}")
    assert len(state(url, case_id)[1]) == before + 1
    page = desk[2].get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Done: Override repair hours." in page and "spare on site" in page and 'id="action-errors"' not in page
    other = new_case(desk)
    assert post(desk, case_id, action="merge", duplicate_id=str(other)).status_code == 303
    assert state(url, other)[0][0]["status"] == "duplicate"


def test_the_assign_form_offers_the_active_crew_accounts_and_keeps_the_one_assigned(desk):
    app, _, browser, url = desk
    case_id = new_case(desk)
    create_accounts(app, {"desk_crew_b": "crew", "desk_gone": "crew"})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE app_user SET active = false WHERE username = 'desk_gone'")
    html = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    select = re.search(r'<select name="crew_account"[^>]*>(.*?)</select>', html, re.S)
    assert select
    options = re.findall(r'<option value="([^"]*)"( selected)?>', select.group(1))
    assert options == [("", ""), ("desk_crew", ""), ("desk_crew_b", "")]  # active crews only; none chosen yet

    response = post(desk, case_id, action="assign", crew="Crew B", crew_account="desk_crew_b", reason="closest")
    assert response.status_code == 303
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'crew account <strong id="case-account">desk_crew_b</strong>' in page
    assert '<option value="desk_crew_b" selected>' in page  # a reassignment starts from the current account
    assert "assigned: Crew B (crew account desk_crew_b)" in page
    with psycopg.connect(url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT u.username FROM damage_case c JOIN app_user u ON u.id = c.assigned_user_id "
                           "WHERE c.id = %s", (case_id,)).fetchone()
    assert row == {"username": "desk_crew_b"}

    html = answer(desk, case_id, 422, action="assign", crew="Crew C", crew_account="desk_gone")
    assert "is deactivated" in shown_error(html, "assign", "crew_account")
    assert '<option value="desk_gone" selected>' in html  # the sent value comes back, with the error next to it


class CasePage(HTMLParser):
    """The history table's rows (header -> cell text, and the links in each row) and the reports' images."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[dict] = []
        self.images: list[dict] = []  # the img's attributes, its report's element id and the link around it
        self._in_events = False
        self._cell: list[str] | None = None
        self._report: str | None = None
        self._link: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._in_events = attrs.get("class") == "events"
        elif self._in_events and tag == "tr":
            self.rows.append({"links": []})
        elif self._in_events and tag in ("th", "td"):
            self._cell = []
        elif tag == "li" and "report" in (attrs.get("class") or "").split():
            self._report = attrs.get("id")
        elif tag == "a":
            self._link = attrs.get("href")
            if self._in_events and self.rows:
                self.rows[-1]["links"].append(attrs.get("href"))
        elif tag == "img":
            self.images.append({**attrs, "report": self._report, "link": self._link})

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_events = False
        elif tag == "a":
            self._link = None
        elif tag == "li":
            self._report = None
        elif self._in_events and tag in ("th", "td") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if tag == "th":
                self.headers.append(text)
            else:
                row = self.rows[-1]
                row[self.headers[len(row) - 1]] = text
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def case_page(desk, case_id: int) -> tuple[str, CasePage]:
    response = desk[2].get(f"/cases/{case_id}")
    assert response.status_code == 200
    parsed = CasePage()
    parsed.feed(response.get_data(as_text=True))
    return response.get_data(as_text=True), parsed


def test_the_history_shows_what_each_action_changed_as_text(desk):
    report = new_report(desk)
    case_id, other = report["case_id"], new_case(desk)
    for form in ({"action": "override_hours", "hours": "6", "reason": "crew <b>estimate</b>"},
                 {"action": "override_hours", "hours": "4.5", "reason": "spare on site"},
                 {"action": "bump_priority", "bump": "1500", "reason": "feeds the hospital"},
                 {"action": "assign", "crew": "Crew <i>9</i>", "crew_account": "desk_crew", "reason": "closest"},
                 {"action": "assign", "crew": "Crew 10", "crew_account": "", "reason": "Crew 9 is needed elsewhere"},
                 {"action": "merge", "duplicate_id": str(other)}):
        assert post(desk, case_id, **form).status_code == 303
    html, page = case_page(desk, case_id)
    assert page.headers == ["When (UTC)", "Who", "What", "Status", "Why"]
    rows = [(row["Who"], row["What"], row["Why"]) for row in page.rows[1:]]
    assert rows == [
        ("system", "opened", "report at a site with no registered facility nearby"),
        ("desk_crew", f"report added: report {report['id'][:8]}", ""),
        ("desk_coord", "repair hours overridden: 6 h (no override before)", "crew <b>estimate</b>"),
        ("desk_coord", "repair hours overridden: 4.5 h (was 6 h)", "spare on site"),
        ("desk_coord", "priority raised: +1,500 people-equivalents", "feeds the hospital"),
        ("desk_coord", "assigned: Crew <i>9</i> (crew account desk_crew)", "closest"),
        ("desk_coord", "assigned: Crew 10 (no crew account; was desk_crew)", "Crew 9 is needed elsewhere"),
        ("desk_coord", f"merged: case {other} merged into this one", ""),
    ]
    anchor = f"report-{report['id']}"
    assert page.rows[2]["links"] == [f"#{anchor}"] and f'id="{anchor}"' in html  # the report, on this page
    assert page.rows[-1]["links"] == [f"/cases/{other}"]
    # User text is shown as text: escaped in the HTML, never markup.
    assert "<i>9</i>" not in html and "Crew &lt;i&gt;9&lt;/i&gt;" in html
    assert "<b>estimate</b>" not in html and "crew &lt;b&gt;estimate&lt;/b&gt;" in html
    # The merged case says where it went, with a link back.
    _, merged = case_page(desk, other)
    last = merged.rows[-1]
    assert (last["What"], last["Status"], last["links"]) == (
        f"merged into case {case_id}", "Reported → Duplicate", [f"/cases/{case_id}"])


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200


def test_a_reports_photo_shows_as_a_thumbnail_whose_src_serves_the_photo(desk):
    app, tokens, browser, _ = desk
    report, bare = new_report(desk), new_report(desk)
    photo = str(uuid.uuid4())
    crew = api_client(app, tokens["desk_crew"])
    response = crew.put(f"/api/reports/{report['id']}/photos/{photo}", data=JPEG, content_type="image/jpeg")
    assert response.status_code == 201
    _, page = case_page(desk, report["case_id"])
    assert len(page.images) == 1
    image = page.images[0]
    assert image["class"] == "thumb" and image["report"] == f"report-{report['id']}"
    assert image["src"] == f"/api/reports/{report['id']}/photos/{photo}" == image["link"]  # same origin: CSP allows
    fetched = browser.get(image["src"])  # as the coordinator's browser would
    assert fetched.status_code == 200 and fetched.data == JPEG and fetched.mimetype == "image/jpeg"
    assert case_page(desk, bare["case_id"])[1].images == []  # a report without photos shows none


def open_case_at(app, tokens, *, lon: float, lat: float, **extra) -> int:
    body = {"id": str(uuid.uuid4()), "lon": lon, "lat": lat, "kind": "other", "severity": "severe",
            "status": "out_of_service", "observed_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
            **extra}
    response = api_client(app, tokens["crew"]).post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    return response.json["report"]["case_id"]


def test_merge_asks_first_and_can_be_undone_from_the_page(live_server, page, demo_loaded, tokens, db):
    lon = -6.2 - uuid.uuid4().int % 1000 / 1e5
    survivor = open_case_at(demo_loaded, tokens, lon=lon, lat=53.1)
    duplicate = open_case_at(demo_loaded, tokens, lon=lon + 0.0003, lat=53.1)  # about 20 m away

    def status(cid):
        row = db.execute("SELECT status::text AS status, merged_into FROM damage_case WHERE id = %s", (cid,)).fetchone()
        return row["status"], row["merged_into"]

    login(page, live_server, "coordinator")
    page.goto(f"{live_server}/cases/{survivor}")
    # Suggested duplicates merge only once confirmed: the first click asks, Cancel leaves both cases alone.
    page.click(f"#merge-{duplicate}")
    assert page.locator("#confirm-merge").is_visible()
    assert f"Merge case {duplicate} into case {survivor}?" in page.inner_text("#confirm-merge")
    page.click("#confirm-merge-no")
    assert page.locator("#confirm-merge").count() == 0 and status(duplicate) == ("reported", None)
    page.click(f"#merge-{duplicate}")
    page.fill("#confirm-merge input[name=reason]", "same pole")
    page.click("#confirm-merge-yes")
    page.wait_for_url(f"{live_server}/cases/{survivor}")
    assert status(duplicate) == ("duplicate", survivor)
    assert f"Case {duplicate}" in page.inner_text("#merged-cases")
    # Undo: the duplicate is reported again, with its own report, and the history says so.
    page.click(f"#unmerge-{duplicate}")
    page.wait_for_url(f"{live_server}/cases/{survivor}")
    assert status(duplicate) == ("reported", None)
    assert page.locator("#merged-cases").count() == 0
    assert f"merge undone: case {duplicate} taken out of this one" in page.inner_text("table.events")
    page.goto(f"{live_server}/cases/{duplicate}")
    assert "Reports (1)" in page.inner_text("main") and f"taken out of case {survivor}" in page.inner_text("main")
    assert page.js_errors == []


def test_the_case_page_shows_its_rank_etr_crew_and_a_map_of_the_site(live_server, page, demo_loaded, tokens, db):
    facility = db.execute("SELECT id, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat "
                          "FROM facility f WHERE kind = 'substation' AND NOT EXISTS (SELECT 1 FROM damage_case c "
                          "WHERE c.facility_id = f.id) ORDER BY id LIMIT 1").fetchone()
    case_id = open_case_at(demo_loaded, tokens, lon=facility["lon"], lat=facility["lat"], kind="substation",
                           facility_id=facility["id"], repair_hours=3)
    login(page, live_server, "coordinator")
    page.goto(f"{live_server}/cases/{case_id}")
    standing = page.inner_text("#case-standing")
    assert re.fullmatch(r"Rank \d+ of \d+ in the repair queue · ETR \d{4}-\d\d-\d\d \d\d:\d\d UTC "
                        r"\(in \d+\.\d h, plan for \d+ crews?\) · planned crew .+", standing), standing
    # The map draws the site, its report and the service areas around it from the project's own layers.
    page.wait_for_selector("#case-map[data-drawn=yes]")
    drawn = page.eval_on_selector("#case-map", "e => ({...e.dataset})")
    assert drawn.get("error") is None and int(drawn["reports"]) == 1 and int(drawn["areas"]) >= 1, drawn
    assert page.locator("#case-map canvas, #case-map svg").count() >= 1
    # Its forms name each field with a visible label, not a placeholder.
    assert page.locator(".case form input[placeholder]").count() == 0
    unlabelled = page.eval_on_selector_all(
        "form.action input:not([type=hidden]), form.action select",
        "els => els.filter(e => !e.closest('label')).map(e => e.name)")
    assert unlabelled == []
    assert page.js_errors == []


def test_refusals_on_the_page_are_in_the_pages_language(desk):
    _, _, browser, _ = desk
    case_id = new_report(desk)["case_id"]
    uk = {"Accept-Language": "uk"}
    token = csrf_from(browser.get(f"/cases/{case_id}", headers=uk).get_data(as_text=True))
    html = browser.post(f"/cases/{case_id}/actions", data={"action": "reject", "csrf_token": token},
                        headers=uk).get_data(as_text=True)
    assert "<li data-field=\"reason\">причина: обов&#39;язкова для дії «відхилити»</li>" in html
    html = browser.post(f"/cases/{case_id}/actions", data={"action": "release", "csrf_token": token},
                        headers=uk).get_data(as_text=True)
    assert (f"дія: не можна виконати дію «зняти з бригади» для випадку {case_id}: його стан — повідомлено "
            "(дозволено зі станів: призначено)") in html
    html = browser.post(f"/cases/{case_id}/actions", data={"action": "override_hours", "hours": "0.1",
                                                           "reason": "x", "csrf_token": token},
                        headers=uk).get_data(as_text=True)
    assert "години ремонту: має бути числом від 0,25 до 10" in html
    # The same refusal in English, as before.
    english = browser.post(f"/cases/{case_id}/actions", data={"action": "reject", "csrf_token": token},
                           headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<li data-field=\"reason\">reason: is required to reject</li>" in english
