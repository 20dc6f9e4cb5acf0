"""English and Ukrainian: the browser's language, the `lang` cookie, the safe /lang switch, a complete catalogue."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

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
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with (CATALOGUE / "messages.po").open("rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id}
    with (CATALOGUE / "messages.mo").open("rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    assert sorted(wanted - {k for k, v in po.items() if v}) == []
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
