"""English and Ukrainian: the browser's language, the `lang` cookie, the safe /lang switch, a complete catalogue."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import api_client

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "app" / "translations" / "uk" / "LC_MESSAGES"


def field_page(client, **headers) -> str:
    response = client.get("/field", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def page_config(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="field-config">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


def test_english_is_the_default(client):
    html = field_page(client)
    assert '<html lang="en">' in html and "<h1>Damage report</h1>" in html
    assert page_config(html)["messages"]["sent"] == "sent"


@pytest.mark.parametrize("accept", ["uk", "uk-UA,uk;q=0.9,en;q=0.5", "de-DE,uk;q=0.8"])
def test_ukrainian_when_the_browser_asks_for_it(client, accept):
    html = field_page(client, **{"Accept-Language": accept})
    assert '<html lang="uk">' in html and "<h1>Звіт про пошкодження</h1>" in html
    config = page_config(html)
    assert config["messages"]["sent"] == "надіслано"
    assert {"code": "substation", "label": "Підстанція"} in config["kinds"]
    assert {"code": "tower", "label": "металева опора"} in config["components"]["line"]


def top_bar(html: str) -> str:
    found = re.search(r'<nav class="account"[^>]*>(.*?)</nav>', html, re.S)
    assert found
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_top_bar_is_ukrainian_when_the_browser_asks_for_it(coordinator):
    html = coordinator.get("/map", headers={"Accept-Language": "uk-UA,uk;q=0.9"}).get_data(as_text=True)
    assert '<nav class="account" lang="uk">' in html
    assert top_bar(html) == "Мапа Оперативне зведення Польовий звіт coordinator (координатор) Пароль Вийти"
    english = top_bar(coordinator.get("/map", headers={"Accept-Language": "en"}).get_data(as_text=True))
    assert english == "Map Situation report Field form coordinator (coordinator) Password Sign out"


def test_english_for_languages_we_do_not_have(client):
    assert "<h1>Damage report</h1>" in field_page(client, **{"Accept-Language": "de-DE,fr;q=0.8"})


def test_lang_switch_sets_the_cookie_and_goes_back(client):
    response = client.get("/lang/uk?next=/field")
    assert response.status_code == 303 and response.headers["Location"] == "/field"
    assert "lang=uk" in response.headers["Set-Cookie"] and "SameSite=Lax" in response.headers["Set-Cookie"]
    # The cookie wins over the browser's language.
    assert "<h1>Звіт про пошкодження</h1>" in field_page(client, **{"Accept-Language": "en"})
    client.get("/lang/en?next=/field")
    assert "<h1>Damage report</h1>" in field_page(client, **{"Accept-Language": "uk"})


def test_lang_switch_goes_back_to_the_referring_page_of_this_site(anonymous):
    response = anonymous.get("/lang/uk", headers={"Referer": "http://localhost/field?x=1"})
    assert response.headers["Location"] == "/field?x=1"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "http://evil.example/field", "evil.example"])
def test_lang_switch_never_redirects_to_another_site(anonymous, target):
    response = anonymous.get("/lang/uk", query_string={"next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    response = anonymous.get("/lang/uk", headers={"Referer": target})
    assert response.headers["Location"] == "/"


def test_unknown_language_is_404(anonymous):
    assert anonymous.get("/lang/xx").status_code == 404


def test_every_ui_string_has_a_ukrainian_translation_and_the_mo_file_is_current(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg",
                    "-k", "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    def plain(value):  # a plural entry's forms are a tuple in the .po and a list in the .mo
        return tuple(value) if isinstance(value, (list, tuple)) else value

    with pot.open("rb") as f:
        wanted = {plain(m.id) for m in read_po(f) if m.id}
    with (CATALOGUE / "messages.po").open("rb") as f:
        po = {plain(m.id): plain(m.string) for m in read_po(f) if m.id}
    with (CATALOGUE / "messages.mo").open("rb") as f:
        mo = {plain(m.id): plain(m.string) for m in read_mo(f) if m.id}
    translated = {k for k, v in po.items() if v and (all(v) if isinstance(v, tuple) else True)}
    assert sorted(map(str, wanted - translated)) == []
    assert mo == po


def test_my_work_and_follow_ups_speak_ukrainian(client):
    from app.reports.input import PROGRESS

    html = field_page(client, **{"Accept-Language": "uk"})
    assert '<h2 id="work-h">Мої завдання</h2>' in html and "Скасувати доповнення" in html
    config = page_config(html)
    assert config["messages"]["reportProgress"] == "Повідомити про хід робіт"
    assert config["labels"]["progress"] == {"repair_started": "Ремонт розпочато",
                                            "temporarily_restored": "Тимчасово відновлено",
                                            "restored": "Відновлено"}
    assert set(config["labels"]["progress"]) == set(PROGRESS)
    assert config["labels"]["caseStatus"]["in_repair"] == "У ремонті"


# --- Every page of the desk in both languages (issue 16) ------------------------------------------------------------

TEMPLATES = ROOT / "app"
CHECKED_TEMPLATES = ["templates/base.html", "templates/error.html", "auth/templates/auth/login.html",
                     "auth/templates/auth/password.html", "cases/templates/cases/case.html",
                     "coordinator/templates/coordinator/sitrep.html", "admin/templates/admin/users.html",
                     "crews/templates/crews/crews.html", "coordinator/templates/coordinator/map.html",
                     "site/templates/site/home.html"]
# Words that are the same in every language: the product, the language switch's own names, units of the standard.
NOT_TRANSLATED = {"GridTriage", "EN", "УКР", "UTC", "P50–P90"}
SHOWN_ATTRIBUTES = {"placeholder", "aria-label", "title", "alt", "label"}
LETTERS = re.compile(r"[^\W\d_]{2,}|\b[^\W\d_]\b")
MARKED = re.compile(r"(?:\b_|\bgettext|\bngettext|\blazy_gettext)\(\s*$")


class ShownText(HTMLParser):
    """The text a template shows outside Jinja's tags: text nodes and the attributes people read."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.shown: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):  # code: command lines, the same in every language
            self._skip += 1
        self.shown += [value for name, value in attrs if name in SHOWN_ATTRIBUTES and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.shown.append(data)


def unmarked_text(source: str) -> list[str]:
    """Text a template shows that is not marked for translation: HTML text and shown attributes outside Jinja,
    and string literals with words (a space or a capital) in Jinja's expressions that are not _()'s argument."""
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", " ", source, flags=re.S)
    found = []
    for tag in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", source, flags=re.S):
        code = tag.group(0)
        for literal in re.finditer(r"\"([^\"]*)\"|'([^']*)'", code):
            text = literal.group(1) if literal.group(1) is not None else literal.group(2)
            before = code[:literal.start()]
            marked = MARKED.search(before) or ("ngettext(" in before and re.search(r"[\"']\s*,\s*$", before))
            human = re.search(r"[^\W\d_]{2,}", text) and (" " in text.strip() or re.match(r"[A-Z][a-z]", text))
            if human and not marked and not re.fullmatch(r"[%\w\-: .]*%[A-Za-z].*", text):
                found.append(text)
    parser = ShownText()
    parser.feed(re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", source, flags=re.S))
    for text in parser.shown:
        text = re.sub(r"[\w-]+=\"[^\"]*\"?", " ", text)  # attributes a macro writes into the tag it is called in
        text = re.sub(r"(?<![\w/])/[\w/.-]+", " ", text)  # a path of the site, such as /crews
        words = [w for w in re.split(r"[\s·,:;()\[\]/–—→+.|]+", text) if LETTERS.search(w)]
        found += [w for w in words if w not in NOT_TRANSLATED]
    return found


@pytest.mark.parametrize("template", CHECKED_TEMPLATES)
def test_the_desk_pages_show_no_text_that_is_not_marked_for_translation(template):
    assert unmarked_text((TEMPLATES / template).read_text(encoding="utf-8")) == []


def test_the_checker_finds_unmarked_text():
    assert unmarked_text('<p>Status <strong>{{ _("Sign in") }}</strong></p>') == ["Status"]
    assert sorted(unmarked_text('<input placeholder="reason">{{ x or "unregistered site" }}')) == ["reason",
                                                                                       "unregistered site"]
    assert unmarked_text('<h1>{{ _("Case %(id)s", id=1) }} GridTriage</h1>{% trans %}Hi there{% endtrans %}') == []


def test_the_catalogue_has_no_untranslated_or_fuzzy_entry():
    with (CATALOGUE / "messages.po").open("rb") as f:
        catalogue = read_po(f)
    assert [m.id for m in catalogue if m.id and m.fuzzy] == []
    assert [m.id for m in catalogue if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)] == []


HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# One phrase of each page that only its Ukrainian version shows.
UKRAINIAN_PAGES = {
    "/login": "<h1>Увійти</h1>",
    "/account/password": "<h1>Змінити пароль</h1>",
    "/sitrep": "<h1>Оперативне зведення</h1>",
    "/admin/users": "<h1>Облікові записи</h1>",
    "/crews": "<h1>Бригади</h1>",
    "/no-such-page": '<h1 id="error-title">Сторінку не знайдено</h1>',
}


def signed_in(app, db, role: str):
    """A browser-like client signed in as the session's account of this role (a cookie session, no token)."""
    from tests.test_sessions import sign_in

    client = app.test_client()
    assert sign_in(client, role).status_code == 302
    return client


def some_case(app, tokens) -> int:
    """A case of its own: a crew's report at a site with no facility (with hazards, to show their labels)."""
    body = {"id": str(uuid.uuid4()), "lon": 31.0 + uuid.uuid4().int % 10_000 / 1e6, "lat": -21.0, "kind": "other",
            "severity": "severe", "status": "out_of_service", "hazards": ["uxo"], "notes": "i18n test",
            "observed_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat()}
    response = api_client(app, tokens["crew"]).post("/api/reports", json=body)
    assert response.status_code == 201, response.json
    return response.json["report"]["case_id"]


def pages(app, tokens) -> dict[str, str]:
    return {**UKRAINIAN_PAGES, f"/cases/{some_case(app, tokens)}": "Вибухонебезпечні предмети"}


def english_words_left(html: str) -> list[str]:
    """Words of the catalogue's English that a Ukrainian page still shows in its main part (none expected)."""
    main = html.split("<main", 1)[1]
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style|code)\b.*?</\1>", " ", main, flags=re.S))
    common = {"Sign in", "Change password", "Situation report", "Accounts", "Crews", "History", "Actions", "Status",
              "Page not found", "Reports"}
    return [w for w in common if re.search(rf"\b{w}\b", text)]


def test_the_desk_pages_speak_ukrainian_when_the_browser_asks(demo_loaded, tokens, db):
    admin = signed_in(demo_loaded, db, "admin")
    for path, phrase in pages(demo_loaded, tokens).items():
        client = demo_loaded.test_client() if path in ("/login", "/no-such-page") else admin
        response = client.get(path, headers={**HTML, "Accept-Language": "uk-UA,uk;q=0.9,en;q=0.5"})
        html = response.get_data(as_text=True)
        assert response.mimetype == "text/html", path
        assert '<html lang="uk">' in html and phrase in html, path
        assert 'class="lang current" lang="uk"' in html, f"{path} has no language switch"
        assert english_words_left(html) == [], path


def test_the_desk_pages_speak_ukrainian_after_the_switch(demo_loaded, tokens, db):
    admin = signed_in(demo_loaded, db, "admin")
    anonymous = demo_loaded.test_client()
    for client in (admin, anonymous):
        assert client.get("/lang/uk?next=/login").status_code == 303
    for path, phrase in pages(demo_loaded, tokens).items():
        client = anonymous if path in ("/login", "/no-such-page") else admin
        html = client.get(path, headers={**HTML, "Accept-Language": "en"}).get_data(as_text=True)
        assert phrase in html and english_words_left(html) == [], path
    admin.get("/lang/en?next=/")
    assert "<h1>Situation report</h1>" in admin.get("/sitrep", headers=HTML).get_data(as_text=True)


def test_a_403_page_is_translated_html_for_browsers_and_json_for_api_clients(demo_loaded, tokens, db):
    crew = signed_in(demo_loaded, db, "crew")
    page = crew.get("/sitrep", headers={**HTML, "Accept-Language": "uk"})
    assert page.status_code == 403 and page.mimetype == "text/html"
    assert "Доступ заборонено" in page.get_data(as_text=True) and "«координатор»" in page.get_data(as_text=True)
    api = api_client(demo_loaded, tokens["crew"]).get("/sitrep", headers={"Accept-Language": "uk"})
    assert api.status_code == 403 and api.json == {"error": "this needs the coordinator role"}
    missing = api_client(demo_loaded, tokens["crew"]).get("/api/no-such-thing")
    assert missing.status_code == 404 and missing.mimetype == "application/json"


def test_numbers_and_times_follow_the_locale(app):
    from app.site.language import number, plain_number, when

    moment = datetime(2027, 1, 2, 6, 5, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert (number(4100), plain_number(3.25), when(moment)) == ("4,100", "3.2", "2027-01-02 06:05")
    with app.test_request_context(headers={"Accept-Language": "uk"}):
        assert (number(4100), plain_number(3.25), when(moment)) == ("4\xa0100", "3,2", "02.01.2027 06:05")


def test_the_password_page_fits_a_phone_in_ukrainian_with_sign_out_on_screen(live_server, page):
    from tests.conftest import login

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server}/lang/uk?next=/login")
    assert page.inner_text("h1") == "Увійти"
    login(page, live_server, "admin")
    page.goto(f"{live_server}/account/password")
    assert page.inner_text("h1") == "Змінити пароль"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for selector in ("button.link", ".lang-switch .lang.current", "form.stack button[type=submit]"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, selector
    assert page.inner_text("button.link") == "Вийти"
    assert page.js_errors == []
