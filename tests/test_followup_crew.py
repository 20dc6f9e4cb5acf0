"""Follow-ups on a case assigned to a crew by name (as the dispatched plan assigns): its members may send them and
their progress moves the case; a member of another crew is refused exactly like a case that does not exist
(migration 0021)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from flask import Flask
from psycopg.rows import dict_row

from tests.conftest import api_client, create_accounts, make_app

ACCOUNTS = {"fu_coord": "coordinator", "fu_north": "crew", "fu_north2": "crew", "fu_south": "crew",
            "fu_loner": "crew"}


@pytest.fixture(scope="module")
def site(new_database) -> Iterator[tuple[Flask, dict[str, str], str]]:
    """Crews "North 1" (fu_north, fu_north2) and "South 2" (fu_south); fu_loner is in no crew."""
    url = new_database()
    app = make_app(url)
    tokens = create_accounts(app, ACCOUNTS)
    with psycopg.connect(url, autocommit=True) as conn:
        for name, members in (("North 1", ["fu_north", "fu_north2"]), ("South 2", ["fu_south"])):
            crew = conn.execute("INSERT INTO crew (name, base, shift_start, shift_end, time_zone) VALUES "
                                "(%s, ST_Point(24.0, 49.8, 4326), '06:00', '18:00', 'UTC') RETURNING id",
                                (name,)).fetchone()[0]
            conn.execute("INSERT INTO crew_member (crew_id, user_id) SELECT %s, id FROM app_user "
                         "WHERE username = ANY(%s)", (crew, members))
    yield app, tokens, url
    app.extensions["db_pool"].close()


def body(**overrides: object) -> dict:
    sent = {"id": str(uuid.uuid4()), "lon": 24.0 + uuid.uuid4().int % 10_000 / 1e5, "lat": 49.8, "kind": "other",
            "severity": "moderate", "status": "degraded",
            "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    sent.update(overrides)
    return sent


def case_for_north(site) -> int:
    """A case a coordinator reported and assigned to crew "North 1" by name only (no account)."""
    app, tokens, _ = site
    desk = api_client(app, tokens["fu_coord"])
    sent = desk.post("/api/reports", json=body())
    assert sent.status_code == 201, sent.json
    case_id = sent.json["report"]["case_id"]
    assigned = desk.post(f"/api/cases/{case_id}/actions", json={"action": "assign", "crew": "North 1"})
    assert assigned.status_code == 200, assigned.json
    return int(case_id)


def case_row(site, case_id: int) -> dict:
    with psycopg.connect(site[2], row_factory=dict_row) as conn:
        row = conn.execute("SELECT status::text AS status, assigned_crew, assigned_user_id FROM damage_case "
                           "WHERE id = %s", (case_id,)).fetchone()
        assert row is not None
        return row


def test_a_member_of_the_assigned_crew_follows_up_and_the_progress_moves_the_case(site):
    app, tokens, _ = site
    case_id = case_for_north(site)
    assert case_row(site, case_id) == {"status": "assigned", "assigned_crew": "North 1", "assigned_user_id": None}
    north = api_client(app, tokens["fu_north"])
    follow_up = north.post("/api/reports", json=body(case_id=case_id, notes="on site"))
    assert follow_up.status_code == 201, follow_up.json
    assert follow_up.json["report"]["case_id"] == case_id
    started = north.post("/api/reports", json=body(case_id=case_id, progress="repair_started"))
    assert started.status_code == 201, started.json
    assert case_row(site, case_id)["status"] == "in_repair"
    # The crew's other member too, through the batch route.
    other = api_client(app, tokens["fu_north2"]).post("/api/reports/batch",
                                                      json={"reports": [body(case_id=case_id)]})
    assert other.status_code == 200 and other.json["results"][0]["status"] == 201, other.json


@pytest.mark.parametrize("who", ["fu_south", "fu_loner"])
def test_a_member_of_another_crew_or_of_none_is_refused_like_an_unknown_case(site, who):
    app, tokens, _ = site
    case_id = case_for_north(site)
    crew = api_client(app, tokens[who])
    refused = crew.post("/api/reports", json=body(case_id=case_id, progress="restored"))
    unknown = crew.post("/api/reports", json=body(case_id=999_999_999))
    assert refused.status_code == unknown.status_code == 422
    assert refused.json["errors"] == unknown.json["errors"] and "case_id" in refused.json["errors"]
    assert case_row(site, case_id)["status"] == "assigned"


def test_a_crew_renamed_away_from_the_case_loses_it(site):
    """The rule reads the crew's name now, as My work does: a case assigned to "North 1" is not the work of a crew
    renamed "North 1b"."""
    app, tokens, url = site
    case_id = case_for_north(site)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE crew SET name = 'North 1b' WHERE name = 'North 1'")
    try:
        refused = api_client(app, tokens["fu_north"]).post("/api/reports", json=body(case_id=case_id))
        assert refused.status_code == 422 and "case_id" in refused.json["errors"]
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE crew SET name = 'North 1' WHERE name = 'North 1b'")
