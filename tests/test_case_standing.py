"""The case page's rank, ETR and crew come from one ranking and one plan of every open case, which a server keeps for
the next case page while the registry, the open cases and the crews are the same, and makes again after any change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from flask import Flask

from app import db
from app.cases import service
from tests.conftest import all_day_shift, api_client, create_accounts, make_app

NETWORK = {"Stand S": (None, 0), "Stand A": ("Stand S", 1000), "Stand B": ("Stand S", 2000)}


@pytest.fixture(scope="module")
def grid(new_database) -> Iterator[dict[str, object]]:
    url = new_database()
    app = make_app(url)
    ids = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name in NETWORK:
            ids[name] = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, "
                                     "'substation', ST_Point(24, 49, 4326)) RETURNING id", (name, name)).fetchone()[0]
        for name, (parent, _) in NETWORK.items():
            if parent:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[parent], ids[name]))
        layer = conn.execute("INSERT INTO population_layer (name, kind, total) VALUES ('stand', 'points', 3000) "
                             "RETURNING id").fetchone()[0]
        for name, (_, people) in NETWORK.items():
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))
    tokens = create_accounts(app, {"cs_crew": "crew", "cs_coord": "coordinator"})
    yield {"url": url, "app": app, "tokens": tokens, "ids": ids}
    db.close(app)


def report(grid: dict[str, object], name: str) -> int:
    app: Flask = grid["app"]  # type: ignore[assignment]
    tokens: dict[str, str] = grid["tokens"]  # type: ignore[assignment]
    ids: dict[str, int] = grid["ids"]  # type: ignore[assignment]
    sent = api_client(app, tokens["cs_crew"]).post("/api/reports", json={
        "id": str(uuid.uuid4()), "facility_id": ids[name], "lon": 24, "lat": 49, "kind": "substation",
        "severity": "severe", "status": "out_of_service", "repair_hours": 4,
        "observed_at": datetime.now(UTC).isoformat()})
    assert sent.status_code == 201, sent.json
    return int(sent.json["report"]["case_id"])


def standing(grid: dict[str, object], case_id: int) -> dict[str, object] | None:
    app: Flask = grid["app"]  # type: ignore[assignment]
    with app.app_context(), db.connection() as conn:
        return service.standing(conn, case_id, default_share=0.5, persons_per_customer=2.5, deadline=lambda: True)


def kept(grid: dict[str, object]) -> service.Standings:
    app: Flask = grid["app"]  # type: ignore[assignment]
    found: service.Standings = app.extensions["case_standings"]["last"]
    return found


def test_the_standings_are_kept_while_nothing_changes_and_follow_every_change(grid):
    on_a = report(grid, "Stand A")
    first = standing(grid, on_a)
    assert first is not None and (first["rank"], first["of"], first["crews"]) == (1, 1, 1)
    made = kept(grid)
    assert standing(grid, on_a) == first and kept(grid) is made  # nothing changed: the same plan
    # A new case: B restores more people in the same time, so it goes first.
    on_b = report(grid, "Stand B")
    second = standing(grid, on_a)
    assert second is not None and (second["rank"], second["of"]) == (2, 2) and kept(grid) is not made
    assert second["etr_hours"] == pytest.approx(8)
    b = standing(grid, on_b)
    assert b is not None and (b["rank"], b["etr_hours"]) == (1, pytest.approx(4))
    # A registry change (A's population) reorders them.
    ids: dict[str, int] = grid["ids"]  # type: ignore[assignment]
    with psycopg.connect(str(grid["url"]), autocommit=True) as conn:
        conn.execute("UPDATE facility_population SET population = 5000, population_served = 5000 "
                     "WHERE facility_id = %s", (ids["Stand A"],))
    third = standing(grid, on_a)
    assert third is not None and third["rank"] == 1 and third["etr_hours"] == pytest.approx(4)
    assert standing(grid, on_b)["etr_hours"] == pytest.approx(8)  # type: ignore[index]
    # A crew coming on shift is a plan for two crews.
    with psycopg.connect(str(grid["url"]), autocommit=True) as conn:
        conn.execute("INSERT INTO crew (name, base, shift_start, shift_end, time_zone) VALUES "
                     "('Stand crew 1', ST_Point(24, 49, 4326), %(start)s, %(end)s, 'UTC'), "
                     "('Stand crew 2', ST_Point(24, 49, 4326), %(start)s, %(end)s, 'UTC')",
                     dict(zip(("start", "end"), all_day_shift(), strict=True)))
    fourth = standing(grid, on_b)
    assert fourth is not None and fourth["crews"] == 2 and fourth["etr_hours"] == pytest.approx(4)


def test_a_case_not_in_the_plan_has_no_standing(grid):
    assert standing(grid, 10**9) is None
