"""Each app server keeps the registry network it built for the triage, and the next triage after any registry change
(facilities, feed links, population, critical sites), made by anyone, reflects it on every server at once: the
kept network is checked against the database's registry revision (migration 0019) on every request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from flask import Flask

from app.coordinator import registry
from app.coordinator.registry import Kept
from tests.conftest import api_client, create_accounts, make_app

# S feeds A (1,000 people) and B (2,000); A feeds C (500). A is out of service.
NETWORK = {"Cache S": (None, 0), "Cache A": ("Cache S", 1000), "Cache B": ("Cache S", 2000),
           "Cache C": ("Cache A", 500)}


@pytest.fixture(scope="module")
def servers(new_database) -> Iterator[dict[str, object]]:
    """Two app servers on one database (each keeps its own registry), the facilities' ids and the case on A."""
    url = new_database()
    apps = [make_app(url), make_app(url)]
    ids = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name in NETWORK:
            ids[name] = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, "
                                     "'substation', ST_Point(24, 49, 4326)) RETURNING id", (name, name)).fetchone()[0]
        for name, (parent, _) in NETWORK.items():
            if parent:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[parent], ids[name]))
        layer = conn.execute("INSERT INTO population_layer (name, kind, total) VALUES ('cache', 'points', 3500) "
                             "RETURNING id").fetchone()[0]
        for name, (_, people) in NETWORK.items():
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))
    tokens = create_accounts(apps[0], {"tc_crew": "crew", "tc_coord": "coordinator"})
    sent = api_client(apps[0], tokens["tc_crew"]).post("/api/reports", json={
        "id": str(uuid.uuid4()), "facility_id": ids["Cache A"], "lon": 24, "lat": 49, "kind": "substation",
        "severity": "severe", "status": "out_of_service", "repair_hours": 4,
        "observed_at": datetime.now(UTC).isoformat()})
    assert sent.status_code == 201, sent.json
    yield {"url": url, "apps": apps, "tokens": tokens, "ids": ids, "case": sent.json["report"]["case_id"]}
    for app in apps:
        app.extensions["db_pool"].close()


def row(servers: dict[str, object], app: Flask) -> dict[str, object]:
    """The triage row of the case on A, as this server answers it."""
    tokens: dict[str, str] = servers["tokens"]  # type: ignore[assignment]
    response = api_client(app, tokens["tc_coord"]).get("/api/triage")
    assert response.status_code == 200, response.json
    (found,) = [r for r in response.json["queue"] if r["case_id"] == servers["case"]]
    return found


def builds(app: Flask) -> int:
    kept: Kept = app.extensions["triage_registry"]
    return kept.builds


def change(servers: dict[str, object], *statements: tuple[str, tuple[object, ...]]) -> None:
    """Change the registry behind the apps' backs, as an import or a data manager's SQL would."""
    with psycopg.connect(str(servers["url"])) as conn:  # one transaction
        for sql, params in statements:
            conn.execute(sql, params)


def revision(servers: dict[str, object]) -> tuple[int, str]:
    with psycopg.connect(str(servers["url"])) as conn:
        found = conn.execute("SELECT revision, token::text FROM registry_revision").fetchone()
        assert found is not None
        return found[0], found[1]


def test_the_registry_is_built_once_per_server_and_kept_while_only_cases_change(servers):
    apps: list[Flask] = servers["apps"]  # type: ignore[assignment]
    for app in apps:
        assert row(servers, app)["without_power_now"] == 1500  # A and C
    before = [builds(app) for app in apps]
    for app in apps:
        row(servers, app)
    assert [builds(app) for app in apps] == before  # kept
    # A new report on B is a new case, seen at once, and does not rebuild the registry.
    tokens: dict[str, str] = servers["tokens"]  # type: ignore[assignment]
    ids: dict[str, int] = servers["ids"]  # type: ignore[assignment]
    sent = api_client(apps[0], tokens["tc_crew"]).post("/api/reports", json={
        "id": str(uuid.uuid4()), "facility_id": ids["Cache B"], "lon": 24, "lat": 49, "kind": "substation",
        "severity": "minor", "status": "degraded", "share_out": 0.5, "observed_at": datetime.now(UTC).isoformat()})
    assert sent.status_code == 201
    queue = api_client(apps[1], tokens["tc_coord"]).get("/api/triage").json["queue"]
    assert sent.json["report"]["case_id"] in [r["case_id"] for r in queue]
    assert [builds(app) for app in apps] == before


def test_a_population_change_shows_in_the_next_triage_of_every_server(servers):
    apps: list[Flask] = servers["apps"]  # type: ignore[assignment]
    ids: dict[str, int] = servers["ids"]  # type: ignore[assignment]
    for app in apps:
        row(servers, app)
    change(servers, ("UPDATE facility_population SET population = 800, population_served = 800 "
                     "WHERE facility_id = %s", (ids["Cache C"],)))
    for app in apps:
        assert row(servers, app)["without_power_now"] == 1800


def test_a_renamed_facility_and_a_moved_feed_link_show_in_the_next_triage(servers):
    apps: list[Flask] = servers["apps"]  # type: ignore[assignment]
    ids: dict[str, int] = servers["ids"]  # type: ignore[assignment]
    before = row(servers, apps[0])
    change(servers, ("UPDATE facility SET name = 'Cache A renamed' WHERE id = %s", (ids["Cache A"],)),
           ("UPDATE feed_link SET parent_id = %s WHERE child_id = %s", (ids["Cache B"], ids["Cache C"])))
    for app in apps:
        after = row(servers, app)
        assert after["facility_name"] == "Cache A renamed"
        assert after["without_power_now"] == 1000  # C is fed through B now
        assert after["without_power_now"] < before["without_power_now"]
    change(servers, ("UPDATE facility SET name = 'Cache A' WHERE id = %s", (ids["Cache A"],)),
           ("UPDATE feed_link SET parent_id = %s WHERE child_id = %s", (ids["Cache A"], ids["Cache C"])))
    for app in apps:
        assert row(servers, app)["facility_name"] == "Cache A"


def test_a_new_critical_site_counts_in_the_next_triage(servers):
    apps: list[Flask] = servers["apps"]  # type: ignore[assignment]
    ids: dict[str, int] = servers["ids"]  # type: ignore[assignment]
    for app in apps:
        found = row(servers, app)
        assert found["critical_sites"] == [] and found["ratio"] == pytest.approx(1800 / 4)
    change(servers, ("INSERT INTO critical_site (external_id, name, kind, weight, facility_id, geom) VALUES "
                     "('tc1', 'Cache hospital', 'hospital', 300, %s, ST_Point(24, 49, 4326))", (ids["Cache C"],)),
           ("INSERT INTO critical_site (external_id, name, kind, weight, facility_id, geom) VALUES "
            "('tc2', 'Cache pump', 'water_pumping', 50, %s, ST_Point(24, 49, 4326))", (ids["Cache A"],)))
    for app in apps:
        found = row(servers, app)
        assert [(s["kind"], s["weight"]) for s in found["critical_sites"]] == [("water_pumping", 50)]
        assert found["ratio"] == pytest.approx((1800 + 50 + 300) / 4)  # people, the pump on A, the hospital on C


def test_the_revision_changes_once_per_committed_transaction_and_never_for_a_rolled_back_one(servers):
    ids: dict[str, int] = servers["ids"]  # type: ignore[assignment]
    count, token = revision(servers)
    change(servers, *[("UPDATE facility SET name = name WHERE id = %s", (ids[name],)) for name in NETWORK])
    after, new_token = revision(servers)
    assert after == count + 1 and new_token != token
    with psycopg.connect(str(servers["url"])) as conn:
        conn.execute("UPDATE facility SET name = 'never' WHERE id = %s", (ids["Cache S"],))
        conn.rollback()
    assert revision(servers) == (after, new_token)
    with psycopg.connect(str(servers["url"]), autocommit=True) as conn:  # TRUNCATE counts too (here, of nothing)
        conn.execute("CREATE TEMP TABLE keep AS SELECT * FROM critical_site")
        with conn.transaction():
            conn.execute("TRUNCATE critical_site")
            conn.execute("INSERT INTO critical_site OVERRIDING SYSTEM VALUE SELECT * FROM keep")
    assert revision(servers)[0] == after + 1


def test_a_server_keeps_the_two_registries_it_read_last(servers):
    # Reads may alternate between the primary and a replica a revision behind it: both stay kept (KEEP = 2).
    apps: list[Flask] = servers["apps"]  # type: ignore[assignment]
    ids: dict[str, int] = servers["ids"]  # type: ignore[assignment]
    kept: Kept = apps[0].extensions["triage_registry"]
    tokens = []
    for _ in range(3):
        change(servers, ("UPDATE facility SET name = name WHERE id = %s", (ids["Cache S"],)))
        tokens.append(revision(servers)[1])
        row(servers, apps[0])
    assert {r.token for r in kept} == set(tokens[1:])


def test_a_registry_no_request_reads_any_more_is_dropped(servers, monkeypatch):
    # After an import the registry before it is kept only while some request still reads it (a replica behind).
    apps: list[Flask] = servers["apps"]  # type: ignore[assignment]
    ids: dict[str, int] = servers["ids"]  # type: ignore[assignment]
    row(servers, apps[0])
    kept: Kept = apps[0].extensions["triage_registry"]
    change(servers, ("UPDATE facility SET name = name WHERE id = %s", (ids["Cache S"],)))
    row(servers, apps[0])
    assert len(list(kept)) == 2
    monkeypatch.setattr(registry, "IDLE_S", 0.0)
    row(servers, apps[0])
    assert [r.token for r in kept] == [revision(servers)[1]]
