"""The County Dublin demo: 102 substations, Voronoi service areas, population conserved, loaded once."""

from __future__ import annotations

from pathlib import Path

from app.demo import load

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


def test_load_demo_command_reports_the_duplicate_and_is_idempotent(demo_loaded):
    result = demo_loaded.test_cli_runner().invoke(args=["load-demo"])
    assert result.exit_code == 0
    assert "already loaded" in result.output
