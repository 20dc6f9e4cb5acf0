"""The open cases' overlays kept between requests (app/coordinator/overlay.py, issue 17): on random situations
changed at random between requests, the situation and /api/triage's answer in English and Ukrainian are the ones
worked out afresh, and the per-case reading that the overlays replaced gives the same cases and fields. The
network laid on a kept base looks its ids up as a network built afresh does."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from flask import Flask
from psycopg.rows import dict_row

from app.coordinator import overlay, registry, situation
from app.coordinator.triage import queue_body
from app.repo import triage as repo
from app.site import fast_json
from app.site.sentences import localise
from geo import live
from geo.message import N_, Text
from geo.network import Facility, build_network, with_damage
from geo.taxonomy import ACCESS_STATES, HAZARDS, OPEN_CASE_STATUSES, OPERATIONAL_STATUSES, SEVERITIES
from tests.conftest import create_accounts, make_app

NOW = datetime(2026, 12, 7, 21, 30, 15, tzinfo=UTC)  # a fixed moment: repairs under way follow the clock
STATUSES = (*OPERATIONAL_STATUSES, "out_of_service")  # out of service most often


@pytest.fixture(scope="module")
def world(new_database) -> Iterator[dict[str, Any]]:
    """A random radial network of 80 facilities with people and two critical sites, and the accounts."""
    url = new_database()
    app = make_app(url)
    create_accounts(app, {"ov_crew": "crew", "ov_coord": "coordinator"})
    rng = random.Random(17)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        ids = [conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, 'substation', "
                            "ST_Point(24, 49, 4326)) RETURNING id", (f"ov{i}", f"Overlay {i}")).fetchone()["id"]
               for i in range(80)]
        for i in range(1, 80):
            conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                         (ids[rng.randrange(i)], ids[i]))
        layer = conn.execute("INSERT INTO population_layer (name, kind, total) VALUES ('ov', 'points', 0) "
                             "RETURNING id").fetchone()["id"]
        for f in ids:
            people = rng.choice([0, 0, rng.randint(1, 900)])
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'point_sum')", (f, layer, people, people))
        for k, f in enumerate(rng.sample(ids, 2)):
            conn.execute("INSERT INTO critical_site (external_id, name, kind, weight, facility_id, geom) VALUES "
                         "(%s, %s, 'hospital', 300, %s, ST_Point(24, 49, 4326))", (f"ovh{k}", f"Hospital {k}", f))
        users = {r["username"]: r["id"] for r in conn.execute("SELECT id, username FROM app_user").fetchall()}
    yield {"url": url, "app": app, "ids": ids, "users": users}
    app.extensions["db_pool"].close()


def add_report(conn: psycopg.Connection, rng: random.Random, case: dict[str, Any], user: int) -> None:
    """A report on the case, observed at a random time of the last two days (some yesterday, some to the minute
    of another)."""
    seen = NOW - timedelta(minutes=rng.choice([5, 5, 30, 90, 60 * 26, rng.randint(1, 2800)]))
    conn.execute(
        "INSERT INTO report (id, case_id, facility_id, kind, severity, status, share_out, hazards, repair_hours, "
        "observed_at, received_at, content_hash, geom, reporter_id) VALUES (gen_random_uuid(), %(case)s, "
        "%(facility)s, 'substation', %(severity)s, %(status)s, %(share)s, %(hazards)s::hazard[], %(hours)s, "
        "%(seen)s, %(seen)s, md5(random()::text), ST_Point(24, 49, 4326), %(user)s)",
        {"case": case["id"], "facility": case["facility_id"], "user": user,
         "severity": rng.choice(SEVERITIES), "status": rng.choice(STATUSES),
         "share": rng.choice([None, 0.3, 0.75]), "hazards": rng.sample(HAZARDS, rng.choice([0, 0, 1, 2])),
         "hours": rng.choice([None, 2, 5.5]), "seen": seen})


def new_case(conn: psycopg.Connection, rng: random.Random, facility: int | None, user: int, *,
             merged_into: int | None = None) -> dict[str, Any]:
    """A case with one to three reports (a duplicate merged into another if `merged_into`)."""
    status = "duplicate" if merged_into else rng.choice(["reported", "confirmed"])
    case = conn.execute("INSERT INTO damage_case (facility_id, kind, status, merged_into, geom) VALUES (%s, "
                        "'substation', %s, %s, ST_Point(24.1, 49.1, 4326)) RETURNING id, facility_id",
                        (facility, status, merged_into)).fetchone()
    for _ in range(rng.randint(1, 3)):
        add_report(conn, rng, case, user)
    return case


def change(conn: psycopg.Connection, rng: random.Random, world: dict[str, Any], cases: list[dict[str, Any]]) -> None:
    """One random change a coordinator or crew makes to the open cases."""
    case = rng.choice(cases)
    coord, crew = world["users"]["ov_coord"], world["users"]["ov_crew"]
    what = rng.choice(["report", "report", "override", "bump", "status", "access", "repair", "repaired", "new",
                       "merge"])
    if what == "report":
        add_report(conn, rng, case, crew)
    elif what == "override":
        conn.execute("UPDATE damage_case SET repair_hours_override = %s WHERE id = %s", (rng.choice([1.5, 3]),
                                                                                        case["id"]))
        conn.execute("INSERT INTO case_event (case_id, actor_id, action, reason, at) VALUES (%s, %s, "
                     "'override_hours', %s, %s)", (case["id"], coord, rng.choice([None, "spare on site."]), NOW))
    elif what == "bump":
        conn.execute("UPDATE damage_case SET priority_bump = 400 WHERE id = %s", (case["id"],))
        conn.execute("INSERT INTO case_event (case_id, actor_id, action, reason, at) VALUES (%s, %s, "
                     "'bump_priority', 'shelter', %s)", (case["id"], coord, NOW - timedelta(hours=30)))
    elif what == "status":
        conn.execute("UPDATE damage_case SET operational_status = %s, share_out = %s WHERE id = %s",
                     (rng.choice(STATUSES), rng.choice([None, 0.5]), case["id"]))
        conn.execute("INSERT INTO case_event (case_id, actor_id, action, reason, at) VALUES (%s, %s, "
                     "'set_operational_status', 'generator', %s)", (case["id"], coord, NOW - timedelta(minutes=7)))
    elif what == "access":
        conn.execute("UPDATE damage_case SET access_state = %s, access_expected_at = %s, materials_until = %s "
                     "WHERE id = %s", (rng.choice([None, *ACCESS_STATES]),
                                       NOW + timedelta(hours=3), rng.choice([None, NOW + timedelta(hours=5)]),
                                       case["id"]))
    elif what == "repair":  # a repair under way (its hours left follow the clock: never kept)
        conn.execute("UPDATE damage_case SET status = 'in_repair', assigned_crew = 'Crew North' WHERE id = %s",
                     (case["id"],))
        conn.execute("INSERT INTO case_event (case_id, actor_id, action, from_status, to_status, at) VALUES "
                     "(%s, %s, 'status', 'assigned', 'in_repair', %s)", (case["id"], coord,
                                                                        NOW - timedelta(hours=rng.choice([1, 9]))))
    elif what == "repaired":
        conn.execute("UPDATE damage_case SET status = 'repaired' WHERE id = %s", (case["id"],))
        cases.remove(case)
    elif what == "merge":  # a duplicate merged into the case: its report counts for it
        new_case(conn, rng, case["facility_id"], crew, merged_into=case["id"])
    else:
        taken = {c["facility_id"] for c in cases}
        free = [f for f in world["ids"] if f not in taken]
        cases.append(new_case(conn, rng, rng.choice(free) if free and rng.random() < 0.9 else None, crew))


def answer(app: Flask, found: situation.Situation, language: str) -> bytes:
    """/api/triage's bytes for the situation in the language."""
    with app.test_request_context("/api/triage", headers={"Accept-Language": language}):
        return fast_json.response(queue_body(found)).get_data()


def per_case(conn: psycopg.Connection, kept: registry.Registry) -> dict[str, dict[str, Any]]:
    """The open cases as load_situation read them before the overlays: a dict row each, worked out in turn."""
    out = {}
    for case in repo.open_cases(conn):
        i = kept.position.get(case["facility_id"]) if case["facility_id"] is not None else None
        if i is None:
            continue
        node = Text(N_("{name} (facility {id})"), name=kept.names[i], id=case["facility_id"])
        base = kept.facilities[i]
        hours = overlay.planned(case, NOW)
        case["repair_hours_source"], case["repair_hours_flag"] = hours.source, hours.flag
        case["population"] = {"direct": base.population, "layer": kept.layers[i], "method": kept.methods[i]}
        state = live.state(case["operational_status"] or live.OUT_OF_SERVICE, case["share_out"], default_share=0.5)
        overlay.describe(case, state, NOW.date())
        out[node] = case
    return out


def test_kept_overlays_give_the_situation_and_answer_worked_out_afresh(world, monkeypatch):
    rng = random.Random(1707)
    app = world["app"]
    with psycopg.connect(world["url"], autocommit=True, row_factory=dict_row) as conn, app.app_context():
        cases = [new_case(conn, rng, f, world["users"]["ov_crew"]) for f in rng.sample(world["ids"], 25)]
        cases.append(new_case(conn, rng, None, world["users"]["ov_crew"]))  # at a site with no facility
        kept = situation.Overlays()
        monkeypatch.setattr(situation, "OVERLAYS", kept)
        situation.load_situation(conn, default_share=0.5, now=NOW)
        for round_ in range(12):
            changes = rng.randint(1, 3)
            for _ in range(changes):
                change(conn, rng, world, cases)  # each changes one case's row (or adds one)
            made = kept.made
            warm = situation.load_situation(conn, default_share=0.5, now=NOW)
            under_way = sum(1 for o in warm.overlays.values() if not o.kept)  # worked out every time
            assert kept.made - made <= changes + under_way, (round_, kept.made - made)  # the others were kept
            reused = len(cases) - (kept.made - made)
            monkeypatch.setattr(situation, "OVERLAYS", situation.Overlays())
            cold = situation.load_situation(conn, default_share=0.5, now=NOW)
            assert situation.OVERLAYS.made == len(cases)  # afresh: every row worked out
            monkeypatch.setattr(situation, "OVERLAYS", kept)
            assert reused > len(cases) // 2, (round_, reused)  # most rows did not change, and were not worked out
            assert warm.cases == cold.cases and warm.unplaced == cold.unplaced
            assert warm.commitments == cold.commitments and warm.picture == cold.picture
            for language in ("en", "uk"):
                assert answer(app, warm, language) == answer(app, cold, language), (round_, language)
            with app.test_request_context("/api/triage"):  # English written plainly: the Texts' characters
                assert fast_json.response(queue_body(warm, english=True)).get_data() == fast_json.response(
                    queue_body(warm, english=False)).get_data()
            names, rows = repo.open_case_rows(conn)  # binary tuples: the same values, of the same types
            dicts = repo.open_cases(conn)
            assert [dict(zip(names, row, strict=True)) for row in rows] == dicts
            assert [[type(v) for v in row] for row in rows] == [[type(v) for v in d.values()] for d in dicts]
            reference = per_case(conn, registry.current(conn))
            assert warm.cases == reference
            with app.test_request_context("/api/triage", headers={"Accept-Language": "uk"}):
                for node, case in reference.items():  # the words, said in Ukrainian, from the same Texts
                    mine = warm.cases[node]
                    said = {k: v for k, v in case.items() if isinstance(v, Text)}
                    assert orjson.dumps(localise(said)) == orjson.dumps(
                        localise({k: mine[k] for k in said})), node


def test_a_repair_under_way_is_worked_out_again_at_each_moment(world, monkeypatch):
    rng = random.Random(5)
    app = world["app"]
    with psycopg.connect(world["url"], autocommit=True, row_factory=dict_row) as conn, app.app_context():
        conn.execute("UPDATE damage_case SET status = 'repaired' WHERE status = ANY(%s::case_status[])",
                     (list(OPEN_CASE_STATUSES),))
        case = new_case(conn, rng, world["ids"][3], world["users"]["ov_crew"])
        conn.execute("UPDATE damage_case SET status = 'in_repair', assigned_crew = 'Crew North' WHERE id = %s",
                     (case["id"],))
        conn.execute("INSERT INTO case_event (case_id, action, from_status, to_status, at) VALUES (%s, 'status', "
                     "'assigned', 'in_repair', %s)", (case["id"], NOW - timedelta(hours=1)))
        monkeypatch.setattr(situation, "OVERLAYS", situation.Overlays())
        sources = []
        for later in (0, 1):
            found = situation.load_situation(conn, default_share=0.5, now=NOW + timedelta(minutes=30 * later))
            (row,) = found.cases.values()
            sources.append(row["repair_hours_source"])
        assert situation.OVERLAYS.made == 2 and sources[0] != sources[1], sources
        assert "after 1.0 h of repair" in sources[0] and "after 1.5 h of repair" in sources[1], sources


def test_a_network_laid_on_its_base_looks_ids_up_as_one_built_afresh():
    rng = random.Random(3)
    for _ in range(20):
        n = rng.randint(2, 60)
        base = build_network([Facility(id=f"F{i}", parents=(f"F{rng.randrange(i)}",) if i else (),
                                       population=float(rng.randint(0, 50))) for i in range(n)])
        damaged = sorted(rng.sample(range(n), rng.randint(1, n)))
        ids = [Text(N_("{name}"), name=f"F{i}") for i in damaged]
        supply = {i: (f"F{i} (supplying)", 0.5) for i in damaged if rng.random() < 0.5}
        laid = with_damage(base, damaged, [1.0] * len(damaged), ids=ids, supply=supply)
        fresh = {node: k for k, node in enumerate(laid.arrays.ids)}
        assert {node: laid.index[node] for node in fresh} == fresh
        assert all(node in laid.index for node in fresh) and "F-1" not in laid.index and len(laid.index) == len(fresh)
        assert laid.index.get("F-1") is None and dict(laid.index) == fresh
        built = build_network(list(laid.facilities))
        assert [(f.id, f.parents, f.population, f.damaged) for f in built.facilities] == [
            (f.id, f.parents, f.population, f.damaged) for f in laid.facilities]
