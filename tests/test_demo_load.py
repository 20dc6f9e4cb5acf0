"""The County Dublin demo: 102 substations, Voronoi service areas, population conserved, loaded once."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from app.imports.demo import load
from tests.conftest import make_app

DUBLIN_POPULATION = 1_456_732


def test_demo_has_102_substations_with_cherrywood_kept_once(demo_loaded, db):
    assert db.execute("SELECT count(*) AS n FROM facility").fetchone()["n"] == 102
    assert db.execute("SELECT count(*) AS n FROM facility WHERE name = 'Cherrywood'").fetchone()["n"] == 1


def test_demo_population_sums_to_the_people_inside_the_boundary(demo_loaded, db):
    assigned = db.execute("SELECT sum(population) AS s FROM facility_population").fetchone()["s"]
    inside = db.execute("""SELECT sum(p.population) AS s FROM population_point p, study_area a
                           WHERE ST_Intersects(a.geom, p.geom)""").fetchone()["s"]
    assert assigned == inside == DUBLIN_POPULATION


def test_every_substation_has_a_voronoi_service_area_that_contains_it(demo_loaded, db):
    rows = db.execute("""SELECT bool_and(ST_Covers(s.geom, f.geom)) AS covers, count(*) AS n,
                                bool_and(s.method = 'voronoi') AS voronoi
                         FROM facility f JOIN service_area s ON s.facility_id = f.id""").fetchone()
    assert rows == {"covers": True, "n": 102, "voronoi": True}
    # The service areas tile the county: no overlaps, and together they cover the boundary.
    overlap = db.execute("""SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0) AS m2
                            FROM service_area a JOIN service_area b
                              ON a.facility_id < b.facility_id AND a.geom && b.geom
                             AND ST_Intersects(a.geom, b.geom)""").fetchone()["m2"]
    county = db.execute("SELECT ST_Area(geom::geography) AS m2 FROM study_area").fetchone()["m2"]
    covered = db.execute("SELECT sum(area_m2) AS m2 FROM service_area").fetchone()["m2"]
    assert overlap < 1e-6 * county
    assert abs(covered - county) < 1e-4 * county


def test_loading_the_demo_again_changes_nothing(demo_loaded, db):
    before = db.execute("SELECT count(*) AS f, (SELECT count(*) FROM population_point) AS p FROM facility").fetchone()
    with demo_loaded.app_context():
        assert load(Path(demo_loaded.config["DEMO_DIR"])) == {"loaded": False}
    after = db.execute("SELECT count(*) AS f, (SELECT count(*) FROM population_point) AS p FROM facility").fetchone()
    assert before == after


STATE = """SELECT (SELECT count(*) FROM facility) AS facilities, (SELECT count(*) FROM service_area) AS areas,
                  (SELECT count(*) FROM population_point) AS points, (SELECT count(*) FROM audit_event) AS events,
                  (SELECT count(*) FROM facility_population) AS populations,
                  (SELECT max(loaded_at) FROM dataset) AS loaded_at"""


@pytest.fixture(scope="module")
def loaded_twice(new_database):
    """`load-demo` run on a fresh database, the stored state, then a second run and the state after it."""
    url = new_database()
    app = make_app(url)
    runner = app.test_cli_runner()
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        first = runner.invoke(args=["load-demo"])
        after_first = conn.execute(STATE).fetchone()
        second = runner.invoke(args=["load-demo"])
        after_second = conn.execute(STATE).fetchone()
    yield {"url": url, "first": first, "second": second, "after_first": after_first, "after_second": after_second}
    app.extensions["db_pool"].close()


def test_first_load_warns_about_the_repeated_cherrywood_row_and_keeps_it_once(loaded_twice):
    first = loaded_twice["first"]
    assert first.exit_code == 0, first.output
    warnings = re.findall(r"^warning: .*$", first.stderr, re.MULTILINE)
    assert len(warnings) == 2
    # Rows are named as every import names them ("FILE, row N": for GeoJSON the feature number from 1).
    assert re.fullmatch(r"warning: substations\.geojson, row \d+: identical to an earlier row \(Cherrywood\); "
                        r"kept once", warnings[0])
    # The demo's census file covers all of Ireland; the people outside County Dublin are said, not hidden.
    assert warnings[1] == ("warning: 3,692,407 of the layer's 5,149,139 people (71.7%) are outside the boundary "
                           "of region 'default': counted for no facility")
    assert "102 substations (1 identical duplicate row dropped)" in first.stdout
    with psycopg.connect(loaded_twice["url"]) as conn:
        assert conn.execute("SELECT count(*), count(*) FILTER (WHERE name = 'Cherrywood') FROM facility"
                            ).fetchone() == (102, 1)


def test_second_load_changes_nothing_and_says_so(loaded_twice):
    second = loaded_twice["second"]
    assert second.exit_code == 0, second.output
    assert second.output == "demo region already loaded; nothing changed\n"
    assert loaded_twice["after_second"] == loaded_twice["after_first"]
    assert loaded_twice["after_first"]["facilities"] == 102


def test_load_demo_audits_each_facility_like_import_facilities(loaded_twice):
    with psycopg.connect(loaded_twice["url"], row_factory=psycopg.rows.dict_row) as conn:
        events = conn.execute("""SELECT e.actor_id, e.action, e.before, e.after, e.reason, f.name
                                 FROM audit_event e LEFT JOIN facility f ON f.id::text = e.entity_id
                                 WHERE e.entity = 'facility' ORDER BY e.id""").fetchall()
        loads = conn.execute("""SELECT e.actor_id, e.after FROM audit_event e JOIN dataset d ON d.id::text = e.entity_id
                                WHERE e.entity = 'dataset' AND e.action = 'load-demo'""").fetchall()
    assert len(events) == 102
    assert {e["name"] for e in events} == {e["after"]["name"] for e in events}  # one event for each stored facility
    assert len({e["name"] for e in events}) == 102
    assert {(e["actor_id"], e["action"], e["before"], e["reason"]) for e in events} == {
        (None, "created", None, "load-demo substations.geojson")}  # no actor: the command line
    # The same record of a new facility as import-facilities keeps.
    cherrywood = next(e["after"] for e in events if e["name"] == "Cherrywood")
    assert set(cherrywood) == {"name", "kind", "voltage_kv", "capacity_mva", "capacity_mw", "geometry"}
    assert cherrywood["kind"] == "substation" and cherrywood["geometry"].startswith("POINT")
    assert len(loads) == 1 and loads[0]["actor_id"] is None
    assert loads[0]["after"]["created"] == 102 and loads[0]["after"]["duplicates"] == 1
