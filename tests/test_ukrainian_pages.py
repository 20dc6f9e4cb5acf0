"""Every page in Ukrainian, as a Ukrainian browser sees it (headless Chromium): no English left in what the user
sees. The visible text nodes, the attributes people read (placeholder, title, aria-label, alt, button values) and
the title are walked after the page's scripts have run; Latin words are allowed only where they are data (the
names of facilities, crews, accounts and areas), ids, numbers or the few words that are the same in every language.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PASSWORD, api_client

# The same in every language: the product, the language switch, units and statistics of the standard.
SAME_IN_EVERY_LANGUAGE = {"GridTriage", "EN", "UTC", "P50", "P90", "Leaflet", "OpenStreetMap", "CP", "SAT", "SVG",
                          "GeoJSON", "GeoPackage", "CSV", "API", "JSON", "OGC", "QGIS", "GPS", "ID", "UUID", "kV",
                          "IANA", "Europe", "Kyiv"}  # (an IANA time zone's name is an identifier)
VISIBLE_TEXT = """() => {
  const shown = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === "none" || s.visibility === "hidden") return false;
    }
    return el.getClientRects().length > 0;
  };
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, parent = node.parentElement;
    if (!parent || ["SCRIPT", "STYLE", "NOSCRIPT", "CODE", "TEMPLATE"].includes(parent.tagName)) continue;
    if (node.textContent.trim() && shown(parent)) out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label], img[alt], input[type=submit], "
                                             + "input[type=button], option")) {
    if (el.tagName !== "OPTION" && !shown(el)) continue;
    for (const name of ["placeholder", "title", "aria-label", "alt"]) {
      if (el.getAttribute(name)) out.push(el.getAttribute(name));
    }
    if (el.tagName === "INPUT") out.push(el.value);
    const select = el.tagName === "OPTION" ? el.closest("select") : null;
    if (select && shown(select)) out.push(el.textContent.trim());
  }
  return out;
}"""


def data_words(db) -> set[str]:
    """Latin words that are data: names of facilities, crews, accounts, critical sites, areas, layers."""
    rows = db.execute(
        """SELECT name AS text FROM facility UNION SELECT coalesce(external_id, '') FROM facility
           UNION SELECT username FROM app_user UNION SELECT name FROM crew UNION SELECT name FROM critical_site
           UNION SELECT name FROM study_area UNION SELECT name FROM population_layer
           """).fetchall()
    return {w.strip("._-'’") for row in rows for w in re.findall(r"[\w'’.]+", row["text"] or "")}


# Reasons that other tests' fixtures give the crews service in place of a caller of the product (which says "crews
# page" or "crews imported from ..."): test data, each written exactly once (tests/test_crews_browser.py,
# tests/test_dispatch_browser.py).
FIXTURE_REASONS = {"browser test", "dispatch browser test"}


def user_texts(db) -> set[str]:
    """What people typed, shown as they wrote it, also inside the product's translated sentences: a crew's notes,
    a coordinator's reason for raising a priority, overriding the repair hours or setting the operational status
    (the queue's explanation quotes them without their final stop). Whole strings, never single words: the
    product's own words around them are still checked."""
    rows = db.execute(
        """SELECT notes AS text FROM report WHERE notes IS NOT NULL
           UNION SELECT reason FROM case_event
           WHERE action IN ('bump_priority', 'override_hours', 'set_operational_status') AND reason IS NOT NULL
           """).fetchall()
    typed = {row["text"].strip() for row in rows} | FIXTURE_REASONS
    return {t for text in typed for t in (text, text.rstrip(".")) if t}


def without_user_texts(text: str, typed: set[str]) -> str:
    """The text with what people typed taken out (the longest first, so that a quote inside another goes with it)."""
    for said in sorted(typed, key=len, reverse=True):
        text = text.replace(said, " ")
    return text


def english_left(texts: list[str], allowed: set[str]) -> list[str]:
    """Latin words of the visible texts that are not data, ids or the same in every language."""
    found = []
    for text in texts:
        text = re.sub(r"(?<![\w/])/[\w/.-]+", " ", text)  # a path of the site, such as /crews
        for word in re.findall(r"[\w'’.]+", text):
            word = word.strip("._-'’")
            if not re.search(r"[A-Za-z]", word) or word in allowed or word in SAME_IN_EVERY_LANGUAGE:
                continue
            if len(re.sub(r"[^A-Za-z]", "", word)) < 2 or re.search(r"\d", word):  # an id, a code with digits
                continue
            found.append(word)
    return found


@pytest.fixture()
def ukrainian(browser):
    """A browser context that asks for Ukrainian, as a Ukrainian phone or desktop does (no lang cookie)."""
    context = browser.new_context(locale="uk-UA", extra_http_headers={"Accept-Language": "uk-UA,uk;q=0.9"})
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    yield page
    context.close()


def sign_in(page, live_server: str, username: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture()
def a_case(demo_loaded, tokens, db) -> int:
    """A case on a populated demo facility (so that it has a rank, an ETR and a map), with a hazard."""
    facility = db.execute(
        "SELECT f.id, ST_X(ST_PointOnSurface(f.geom)) AS lon, ST_Y(ST_PointOnSurface(f.geom)) AS lat "
        "FROM facility f JOIN facility_population_latest p ON p.facility_id = f.id WHERE p.population > 0 "
        "ORDER BY f.id LIMIT 1 OFFSET 3").fetchone()
    body = {"id": str(uuid.uuid4()), "facility_id": facility["id"], "lon": facility["lon"], "lat": facility["lat"],
            "kind": "substation", "severity": "severe", "status": "degraded", "share_out": 0.4, "hazards": ["uxo"],
            "notes": "обрив на вводі", "repair_hours": 5,
            "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    response = api_client(demo_loaded, tokens["crew"]).post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    return response.json["report"]["case_id"]


def check(page, db, ready: str | None = None) -> list[str]:
    """The visible texts of the page that still have English in them, none expected: the data's names and what
    people typed are allowed (tests/test_ukrainian_pages.py's data_words and user_texts)."""
    assert page.locator("html").get_attribute("lang") == "uk"
    if ready:
        page.wait_for_selector(ready, state="attached")
    page.wait_for_load_state("networkidle")
    allowed, typed = data_words(db), user_texts(db)
    return [text for text in dict.fromkeys(page.evaluate(VISIBLE_TEXT))
            if english_left([without_user_texts(text, typed)], allowed)]


def assert_ukrainian(path: str, found: list[str]) -> None:
    assert found == [], (path, found)


DESK_PAGES = [
    ("/", "#map[data-count]"), ("/account/password", None), ("/map", "#queue li"), ("/sitrep", None), ("/crews", None),
    ("/no-such-page", None),
]


@pytest.mark.parametrize(("path", "ready"), DESK_PAGES)
def test_desk_pages_show_no_english_in_ukrainian(live_server, ukrainian, db, a_case, path, ready):
    sign_in(ukrainian, live_server, "coordinator")
    ukrainian.goto(f"{live_server}{path}")
    assert_ukrainian(path, check(ukrainian, db, ready))
    assert ukrainian.js_errors == []


def test_the_case_page_shows_no_english_in_ukrainian(live_server, ukrainian, db, a_case):
    sign_in(ukrainian, live_server, "coordinator")
    ukrainian.goto(f"{live_server}/cases/{a_case}")
    assert check(ukrainian, db, "#case-map[data-drawn=yes]") == []
    assert "Вибухонебезпечні предмети" in ukrainian.inner_text("main")
    assert ukrainian.js_errors == []


def test_the_login_page_and_the_refusal_pages_show_no_english_in_ukrainian(live_server, ukrainian, db):
    ukrainian.goto(f"{live_server}/login")
    assert check(ukrainian, db) == []
    sign_in(ukrainian, live_server, "crew")
    ukrainian.goto(f"{live_server}/map")  # a crew may not: the 403 page
    assert check(ukrainian, db) == []
    ukrainian.goto(f"{live_server}/cases/999999999")  # no such case: the 404 page
    assert check(ukrainian, db) == []


def test_the_admin_page_shows_no_english_in_ukrainian(live_server, ukrainian, db):
    sign_in(ukrainian, live_server, "admin")
    ukrainian.goto(f"{live_server}/admin/users")
    assert check(ukrainian, db) == []


def test_the_field_form_and_my_work_show_no_english_in_ukrainian(live_server, ukrainian, db, a_case, demo_loaded,
                                                                  tokens):
    assigned = api_client(demo_loaded, tokens["coordinator"]).post(
        f"/api/cases/{a_case}/actions", json={"action": "assign", "crew": "Бригада А", "crew_account": "crew"})
    assert assigned.status_code == 200, assigned.json
    sign_in(ukrainian, live_server, "crew")
    ukrainian.goto(f"{live_server}/field")
    # The form with My work below it (the crew's case assigned to it shows there).
    assert_ukrainian("/field", check(ukrainian, db, f"#my-work-list [data-case-id='{a_case}']"))


def test_the_checker_finds_english_and_lets_data_through():
    assert english_left(["Мапа", "Sign out", "Підстанція Bedford Row 12", "ОЧВ 07:10 UTC", "case 1a2b3c4d"],
                        {"Bedford", "Row"}) == ["Sign", "out", "case"]


def test_what_people_typed_is_let_through_but_not_the_words_around_it():
    typed = {"school used as a shelter", "crew revised it"}
    said = "пріоритет підвищив (+300): school used as a shelter; 3 h repair (override: crew revised it)."
    # The typed phrases go, whole; the product's untranslated "h repair" and "override" stay and are found.
    assert english_left([without_user_texts(said, typed)], set()) == ["repair", "override"]
    assert english_left([without_user_texts("пріоритет підвищив: school used as a shelter.", typed)], set()) == []
    # A single typed word does not excuse the same word elsewhere: only the whole phrase is taken out.
    assert english_left([without_user_texts("school shelter", typed)], set()) == ["school", "shelter"]


def test_the_histories_say_every_key_and_the_systems_reasons_in_ukrainian(app):
    from app.site.labels import changes, reason

    with app.test_request_context(headers={"Accept-Language": "uk-UA,uk;q=0.9"}):
        # Every key the crew and account histories write (app/crews/service.py, app/admin/views.py).
        crew = changes({"name": "North", "base": [-6.27, 53.34], "skills": ["line"], "shift_start": "07:00",
                        "shift_end": "19:00", "time_zone": "UTC", "status": "available", "members": ["ds"],
                        "position": [-6.2, 53.3], "position_at": "2026-12-07T10:00:00+00:00"})
        account = changes({"username": "ds", "role": "crew", "active": True, "label": "phone", "password": "reset",
                           "tokens_revoked": 2})
        assert english_left([crew, account], {"North", "ds", "phone"}) == [], (crew, account)
        assert crew.startswith("назва: North; база (довгота, широта): -6.27, 53.34;")
        system = ["changed by the user", "set by the crew on site", "field report 5b0f8a1e-2c55-4c1e-9d1b-3f1e2a6b7c8d",
                  "field report: repair_started", "field report: restored, from a crew the case is not assigned to",
                  "dispatched: job 2 of 3 for North", "import-crews crews.csv"]
        said = [reason(text) for text in system]
        assert english_left(said, {"North", "crews.csv", "csv"}) == [], said
        assert said[3] == "польовий звіт: ремонт розпочато"
        # A person's words stay as written.
        assert reason("school used as a shelter") == "school used as a shelter"
