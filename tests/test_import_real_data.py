"""The onboarding commands on the real shared data: Dublin, Ukraine, the German HV grid and MV Oberrhein."""

from __future__ import annotations

from typing import Any

import psycopg

from geo import feeds
from tests.conftest import DEMO_DATA, REFERENCE_DATA, run

DUBLIN, GRIDS = DEMO_DATA, REFERENCE_DATA / "grids"
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
    # The six lines behind the network's six open switches are imported too (fed from their other end), and the
    # switches are tie switches between each line and the switch's bus.
    assert "511 new" in out and "tie switches: 6 new" in out
    assert one(conn, "SELECT count(*) FROM facility WHERE kind = 'line'") == 181
    assert one(conn, "SELECT count(*) FROM tie_switch") == 6
    # Radial: every facility but the two external grids has exactly one parent.
    assert one(conn, "SELECT count(*) FROM feed_link") == 509
    assert one(conn, "SELECT max(n) FROM (SELECT count(*) AS n FROM feed_link GROUP BY child_id) c") == 1
