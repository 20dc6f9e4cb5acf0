"""The sentences the engine and the situation build (explanations, where a status comes from, the method, plan
notes) in Ukrainian for a Ukrainian request, in English as before for any other, numbers the locale's way."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from geo import explain
from geo.message import Code, Moment, Quantity, Text
from tests.conftest import api_client
from tests.test_live_picture import grid  # noqa: F401 (the module's network: operating, degraded, dark cases)

UK = {"Accept-Language": "uk"}
# Latin words a Ukrainian sentence may keep: the facilities' names in the test network, units of the standard.
DATA = {"Live", "Oper", "Degr", "Dark", "Below", "lp_crew", "lp_coord", "UTC", "P50", "P90", "CP", "SAT", "DP",
        "geo", "etr", "NP"}


def english_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z_]{2,}", text) if w not in DATA]


def coordinator(grid):  # noqa: F811
    return api_client(grid[0], grid[1]["lp_coord"])


def test_the_queue_explains_itself_in_ukrainian(grid):  # noqa: F811
    body = coordinator(grid).get("/api/triage", headers=UK).json
    queue = {r["facility_name"]: r for r in body["queue"]}
    degraded = queue["Live Degr"]
    # Observed two hours ago: just after midnight UTC that is the day before, said with its date.
    assert re.fullmatch(r"повідомлено: працює з обмеженнями \(близько 30% без живлення\) "
                        r"о (\d\d\.\d\d\.\d{4} )?\d\d:\d\d UTC, автор: lp_crew", degraded["operational_status_source"])
    assert degraded["explanation"].startswith("Повідомлено: працює з обмеженнями")
    assert "осіб" in degraded["explanation"] and "год" in degraded["explanation"]
    for row in body["queue"]:
        assert english_words(row["explanation"]) == [], row["explanation"]
        assert english_words(row["operational_status_source"]) == []
        assert row["facility"].endswith(f"(об'єкт {row['facility_id']})")
    assert english_words(body["summary"]["method"]) == []


def test_the_queue_stays_english_for_other_requests(grid):  # noqa: F811
    rows = coordinator(grid).get("/api/triage").json["queue"]
    queue = {r["facility_name"]: r for r in rows}
    assert queue["Live Degr"]["explanation"].startswith("Reported degraded (about 30% without supply) at ")
    assert queue["Live Degr"]["facility"].endswith(f"(facility {queue['Live Degr']['facility_id']})")
    english = coordinator(grid).get("/api/triage", headers={"Accept-Language": "en"}).json["queue"]
    assert [r["explanation"] for r in english] == [r["explanation"] for r in rows]


def test_plan_notes_are_ukrainian_for_a_ukrainian_request(grid):  # noqa: F811
    body = coordinator(grid).get("/api/plan?crews=2", headers=UK).json
    assert body["notes"], "a plan for two crews has notes"
    for note in body["notes"]:
        assert english_words(note) == [], note


def test_the_plans_own_crew_names_are_said_in_ukrainian(grid):  # noqa: F811
    english = coordinator(grid).get("/api/plan?crews=3").json["crew_labels"]
    ukrainian = coordinator(grid).get("/api/plan?crews=3", headers=UK).json["crew_labels"]
    named = [i for i, label in enumerate(english) if re.fullmatch(r"Crew \d+", label)]
    assert named, english
    assert [ukrainian[i] for i in named] == [english[i].replace("Crew", "Бригада") for i in named]


def test_numbers_in_sentences_follow_the_locale(app):
    text = Text("{people} people, {hours} h, {share}, at {when}", people=Quantity(29754.0),
                hours=Quantity(2.5, "hours"), share=Quantity(0.3, "percent"),
                when=Moment(datetime(2026, 12, 7, 7, 10, tzinfo=UTC)))
    assert text == "29,754 people, 2.5 h, 30%, at 2026-12-07 07:10 UTC"
    from app.site.sentences import say

    with app.test_request_context(headers=UK):
        # Not in the catalogue: the id is said as it is, its parameters the Ukrainian way.
        assert say(text) == "29\N{NO-BREAK SPACE}754 people, 2,5 h, 30%, at 07.12.2026 07:10 UTC"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert say(text) is text


def test_codes_in_sentences_are_labels_in_ukrainian(app):
    from app.site.sentences import say

    text = explain.reports_disagree(["degraded", "out_of_service"], "degraded")
    assert text == "reports disagree (degraded, out of service); the latest observation counts: degraded"
    with app.test_request_context(headers=UK):
        assert say(text) == ("звіти розходяться (працює з обмеженнями, не працює); враховано останнє спостереження: "
                             "працює з обмеженнями")
    assert str(Code("in_repair", "status")) == "in repair"


@pytest.mark.parametrize("sentence", [
    explain.status_source("degraded", 0.3, set_by="coordinator", who="Олена", when=None, reason="обійшла лінію."),
    explain.work_in_progress("in_repair", None, Moment(datetime(2026, 1, 2, 3, 4, tzinfo=UTC), with_date=False)),
    explain.time_limit_note(2.0), explain.critical_sites_note(objective=1e4, naive_objective=2e4, phu=3e4,
                                                              naive_phu=2e4),
    explain.commitments_note(in_progress=1, assigned=2), explain.committed_crews_note(committed_crews=3, crews=2),
])
def test_every_kind_of_sentence_has_its_ukrainian(app, sentence):
    from app.site.sentences import say

    with app.test_request_context(headers=UK):
        said = say(sentence)
    assert said != str(sentence) and english_words(said) == [], said

