"""The onboarding commands on the real shared data: Dublin, Ukraine, the German HV grid and MV Oberrhein."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from geo import feeds
from tests.conftest import DEMO_DATA, REFERENCE_DATA, run

DUBLIN, UKRAINE, GRIDS = DEMO_DATA, REFERENCE_DATA / "ukraine", REFERENCE_DATA / "grids"
Row = psycopg.Connection[dict[str, Any]]  # connections that return rows as dicts


def one(conn: Row, query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return next(iter(row.values()))


def test_dublin_substations_and_small_areas_conserve_the_county_population(fresh):
    app, conn = fresh
    out = run(app, "import-facilities", str(DUBLIN / "substations.geojson"), "--kind", "substation",
              "--map", "external_id=station,name=station,capacity_mva=installed_capacity")
    assert "102 new" in out and "1 identical duplicate rows kept once" in out
    assert "identical to an earlier row (Cherrywood)" in out
    out = run(app, "derive-service-areas", "--boundary", str(DUBLIN / "boundary.geojson"))
    assert "102 derived" in out
    out = run(app, "import-population", str(DUBLIN / "small_area_population.csv"), "--map", "population=pop,ref=guid",
              "--name", "Census 2022 small areas", "--yes")
    assert "inside the boundary 1,456,732 people, assigned 1,456,732: conserved" in out
    assert one(conn, "SELECT sum(population) FROM facility_population") == 1_456_732
    assert one(conn, "SELECT count(DISTINCT method) FROM facility_population WHERE method = 'point_sum'") == 1


def lines(out: str) -> list[str]:
    return out.splitlines()


def test_ukraine_power_plants_with_hromada_population_as_in_the_readme(fresh, monkeypatch):
    """The README's worked example, run from data/reference/ukraine: each line it quotes is printed exactly."""
    app, conn = fresh
    monkeypatch.chdir(UKRAINE)
    plants = ["import-facilities", "power_plants.gpkg", "--kind", "power_plant", "--map", "external_id=name"]
    summary = "facilities: 37 new, 0 updated, 0 unchanged, 0 identical duplicate rows kept once; 0 feed links given"
    out = lines(run(app, *plants, "--dry-run"))
    assert {"read 37 rows from power_plants.gpkg", summary, "dry run: nothing was changed"} <= set(out)
    assert one(conn, "SELECT count(*) FROM facility") == 0
    assert summary in lines(run(app, *plants))
    assert "facilities: 0 new, 0 updated, 37 unchanged" in run(app, *plants)
    assert one(conn, "SELECT count(*) FROM facility") == 37
    out = lines(run(app, "derive-service-areas", "--max-distance-m", "150000"))
    # The Dniester pumped-storage plant stands at the same place as another plant: listed, not dropped silently.
    assert {"warning: 1 facilities get no service area (at the same place as another, or outside the boundary): "
            "Dniester (pumped storage)",
            "service areas: 36 derived (Voronoi of the lowest-level facilities), 0 replaced"} <= set(out)
    out = lines(run(app, "import-population", "hromada_population_2022.gpkg", "--map",
                    "population=total_popultaion_2022,ref=hromada_code", "--name", "Hromadas 2022 (KSE)"))
    assert {"population layer 'Hromadas 2022 (KSE)': 1,469 points, 38,215,034 people, method point_sum",
            "population 'Hromadas 2022 (KSE)' (point_sum): inside the boundary 36,610,222 people, assigned "
            "36,610,222: conserved (1,604,812 outside the boundary)"} <= set(out)
    assigned = one(conn, "SELECT sum(population) FROM facility_population")
    inside = one(conn, """SELECT sum(p.population) FROM population_point p
                          WHERE EXISTS (SELECT 1 FROM study_area s WHERE ST_Intersects(s.geom, p.geom))""")
    assert assigned == pytest.approx(inside) == pytest.approx(36_610_222, abs=0.5)
    assert one(conn, "SELECT count(*) FROM audit_event WHERE entity = 'facility'") == 37
    # The source file misspells the column; the correct spelling is refused naming the column.
    result = app.test_cli_runner().invoke(args=["import-population", "hromada_population_2022.gpkg",
                                                "--map", "population=total_population_2022"])
    assert result.exit_code == 1 and lines(result.output) == [
        "error: hromada_population_2022.gpkg, column 'total_population_2022': missing column "
        "(mapped to field 'population')"]


def test_german_grid_with_feeds_inferred_and_taken_from_the_lines(fresh, tmp_path):
    app, conn = fresh
    grid = str(GRIDS / "germany_highvoltage.gpkg")
    columns = tmp_path / "germany.yaml"
    columns.write_text("""columns: {external_id: v_id, name: name, kind: typ, voltage_kv: voltage}
kinds: {plant: power_plant, sub_station: substation, station: substation, joint: other, merge: other}
voltage_unit: V
""")
    out = run(app, "import-facilities", grid, "--layer", "vertices", "--map", str(columns))
    assert "1903 new" in out
    out = run(app, "infer-feeds")
    inferred = one(conn, "SELECT count(*) FROM feed_link WHERE origin = 'inferred'")
    assert inferred > 500 and f"{inferred} inferred" in out
    assert one(conn, "SELECT min(distance_m) >= 0 AND bool_and(distance_m IS NOT NULL) FROM feed_link") is True
    out = run(app, "import-feeds", grid, "--layer", "lines", "--map", "parent_external_id=v_id_1,external_id=v_id_2",
              "--undirected")
    # 2,546 lines join 2,383 distinct pairs of stations: `orient` keeps one link per pair, so the 163 parallel
    # lines (circuits between the same two stations, either way round) are dropped. Nothing else is: the file
    # has no line from a station to itself and no unknown end, which would each fail the import, not be skipped.
    assert "feed links: 2383 given links stored from 2546 rows" in out
    assert one(conn, "SELECT count(*) FROM feed_link WHERE origin = 'given'") == 2383
    links = conn.execute("""SELECT p.external_id AS parent, c.external_id AS child FROM feed_link l
                            JOIN facility p ON p.id = l.parent_id JOIN facility c ON c.id = l.child_id""").fetchall()
    assert feeds.find_cycle((r["parent"], r["child"]) for r in links) is None
    # Given links win: no facility keeps an inferred parent once the lines give it one.
    assert one(conn, """SELECT count(*) FROM feed_link i JOIN feed_link g ON g.child_id = i.child_id
                        WHERE i.origin = 'inferred' AND g.origin = 'given'""") == 0


def test_mv_oberrhein_becomes_facilities_with_a_radial_feed_tree(fresh):
    app, conn = fresh
    out = run(app, "import-facilities", str(REFERENCE_DATA / "oberrhein" / "mv_oberrhein.json"))
    assert "505 new" in out
    assert one(conn, "SELECT count(*) FROM facility WHERE kind = 'line'") == 175
    # Radial: every facility but the two external grids has exactly one parent.
    assert one(conn, "SELECT count(*) FROM feed_link") == 503
    assert one(conn, "SELECT max(n) FROM (SELECT count(*) AS n FROM feed_link GROUP BY child_id) c") == 1
