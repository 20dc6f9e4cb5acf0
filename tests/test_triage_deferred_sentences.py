"""The queue's sentences for overridden and bumped cases (issue 17): in English they no longer make the ranking's
Texts (geo/triage.py defers them), and in Ukrainian they are still said whole, the ranking's part included."""

from __future__ import annotations

from tests.conftest import api_client
from tests.test_live_picture import grid  # noqa: F401 (operating, degraded and dark cases)
from tests.test_ukrainian_sentences import UK, english_words

REASON_WORDS = {"spare", "on", "site", "shelter"}


def test_an_overridden_and_bumped_case_is_said_whole_in_both_languages(grid):  # noqa: F811
    coordinator = api_client(grid[0], grid[1]["lp_coord"])
    queue = coordinator.get("/api/triage").json["queue"]
    row = next(r for r in queue if r["operational_status"] == "out_of_service")
    plain = row["explanation"]
    for body in ({"action": "override_hours", "hours": 2.5, "reason": "spare on site"},
                 {"action": "bump_priority", "bump": 300, "reason": "shelter"}):
        response = coordinator.post(f"/api/cases/{row['case_id']}/actions", json=body)
        assert response.status_code == 200, response.json
    english = next(r for r in coordinator.get("/api/triage").json["queue"] if r["case_id"] == row["case_id"])
    said = english["explanation"]
    assert said.endswith("; 2.5 h repair (override by lp_coord: spare on site); priority raised by lp_coord "
                         "(+300 people-equivalents): shelter."), said
    assert ".;" not in said and plain.split(": ", 1)[0] == said.split(": ", 1)[0]
    ukrainian = next(r for r in coordinator.get("/api/triage", headers=UK).json["queue"]
                     if r["case_id"] == row["case_id"])
    words = [w for w in english_words(ukrainian["explanation"]) if w not in REASON_WORDS]
    assert words == [], ukrainian["explanation"]
    assert "год" in ukrainian["explanation"] and ukrainian["explanation"].rstrip().endswith(".")
