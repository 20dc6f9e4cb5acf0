"""`flask demo-scenario`: a labelled scenario loaded through the normal matching, once, and removable."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from app.imports.demo import load
from tests.conftest import api_client, create_accounts, make_app


@pytest.fixture(scope="module")
def dublin(new_database):
    url = new_database()
    app = make_app(url)
    with app.app_context():
        load(Path(app.config["DEMO_DIR"]))
    tokens = create_accounts(app, {"demo-crew": "crew", "coord": "coordinator"})
    yield app, url, tokens
    app.extensions["db_pool"].close()


def counts(url):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM report), (SELECT count(*) FROM report_photo), "
            "(SELECT count(*) FROM damage_case), (SELECT count(*) FROM case_event), "
            "(SELECT count(*) FROM report WHERE notes NOT LIKE '[DEMO]%%'), "
            "(SELECT count(*) FROM report r JOIN app_user u ON u.id = r.reporter_id WHERE u.username = 'demo-crew')"
        ).fetchone()


def test_scenario_loads_once_is_labelled_and_clears(dublin):
    app, url, tokens = dublin
    runner = app.test_cli_runner()
    empty = counts(url)
    first = runner.invoke(args=["demo-scenario"])
    assert first.exit_code == 0, first.output
    loaded = counts(url)
    reports, photos, cases, _, unlabelled, by_demo_crew = loaded
    assert reports >= 20 and photos >= 1 and 8 <= cases < reports and unlabelled == 0 and by_demo_crew == reports
    again = runner.invoke(args=["demo-scenario"])
    assert again.exit_code == 0 and "already there" in again.output
    assert counts(url) == loaded

    coord = api_client(app, tokens["coord"])
    queue = coord.get("/api/triage").json
    assert len(queue["queue"]) >= 8 and len(queue["unplaced"]) == 2
    # A newcomer sees the live picture at once: every operational status, a repair under way, an assigned case.
    rows = queue["queue"]
    assert {r["operational_status"] for r in rows} == {"operating", "degraded", "out_of_service"}
    assert rows[-1]["operational_status"] == "operating" and rows[-1]["without_power_now"] == 0
    assert any(r["share_out"] == 0.3 and "about 30% without supply" in r["operational_status_source"] for r in rows)
    assert any(r["reports_disagree"] for r in rows)
    assert {(r["crew"], r["status"]) for r in rows if r["crew"]} == {("Crew A", "in_repair"), ("Crew B", "assigned")}
    summary = queue["summary"]
    assert summary["people_without_power"] > 0 and summary["people_partially_supplied"] > 0
    plan = coord.get("/api/plan?crews=3").json
    assert plan["crew_labels"][:2] == ["Crew A", "Crew B"]
    assert [plan["crews"][0][0]["commitment"], plan["crews"][1][0]["commitment"]] == ["in_progress", "assigned"]
    mine = api_client(app, tokens["demo-crew"]).get("/api/my/cases").json["cases"]
    assert [c["status"] for c in mine] == ["in_repair"]  # Crew A is the demo crew's account
    some_unplaced = queue["unplaced"][0]["case_id"]
    suggested = coord.get(f"/api/cases/{some_unplaced}/duplicates").json["duplicates"]
    assert [d["id"] for d in suggested] == [queue["unplaced"][1]["case_id"]]
    # A coordinator's merge on demo cases is cleared with them.
    assert coord.post(f"/api/cases/{some_unplaced}/actions",
                      json={"action": "merge", "duplicate_id": suggested[0]["id"]}).status_code == 200

    cleared = runner.invoke(args=["demo-scenario", "--clear"])
    assert cleared.exit_code == 0, cleared.output
    assert counts(url) == empty
