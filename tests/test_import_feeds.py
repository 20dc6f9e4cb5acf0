"""Feed links: given in a file or in the registry, inferred by voltage level; cycles and unknown ids refused."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
from flask import Flask

from geo import feeds
from tests.conftest import IMPORT_TABLES, run

Row = psycopg.Connection[dict[str, Any]]  # connections that return rows as dicts
LINKS = """SELECT p.external_id || '>' || c.external_id AS link, l.origin::text AS origin, l.distance_m
           FROM feed_link l JOIN facility p ON p.id = l.parent_id JOIN facility c ON c.id = l.child_id ORDER BY 1"""
# 380 kV at the origin, two 110 kV stations, three 20 kV stations; ~0.01° apart (about 1.1 km north-south).
REGISTRY = """external_id,kind,voltage_kv,lon,lat
T,substation,380,10.00,50.00
A,substation,110,10.00,50.05
B,substation,115,10.00,49.95
a1,substation,20,10.00,50.06
a2,substation,20,10.01,50.04
b1,substation,20,10.00,49.94
"""


@pytest.fixture()
def registry(onboarding, tmp_path) -> Iterator[tuple[Flask, Row]]:
    """Six facilities on three voltage levels, no links."""
    app, url = onboarding
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute(f"TRUNCATE {IMPORT_TABLES} CASCADE")
        path = tmp_path / "registry.csv"
        path.write_text(REGISTRY)
        assert "6 new" in run(app, "import-facilities", path)
        yield app, conn


def refused(app: Flask, conn: Row, *args: object) -> str:
    before = conn.execute(LINKS).fetchall()
    result = app.test_cli_runner().invoke(args=[str(a) for a in args])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert conn.execute(LINKS).fetchall() == before
    return result.output.strip().splitlines()[-1]


def links_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "links.csv"
    path.write_text(text)
    return path


def test_infer_feeds_links_each_level_to_the_nearest_of_the_next_higher_level(registry):
    app, conn = registry
    out = run(app, "infer-feeds")
    assert "5 inferred" in out and "voltage levels (kV): 20, 110, 380" in out  # 110 and 115 kV are one level
    assert "inferring feed links" in out  # the progress bar: only its label when the output is not a terminal
    rows = conn.execute(LINKS).fetchall()
    assert [r["link"] for r in rows] == ["A>a1", "A>a2", "B>b1", "T>A", "T>B"]
    assert {r["origin"] for r in rows} == {"inferred"}
    t_to_a = next(r for r in rows if r["link"] == "T>A")
    assert t_to_a["distance_m"] == pytest.approx(5_559, rel=0.01)  # 0.05° of latitude, geodesic


def test_given_links_replace_inferred_ones_and_infer_keeps_them(registry, tmp_path):
    app, conn = registry
    run(app, "infer-feeds")
    run(app, "import-feeds", links_file(tmp_path, "parent,child\nB,a2\n"))
    rows = {r["link"]: r["origin"] for r in conn.execute(LINKS).fetchall()}
    assert rows["B>a2"] == "given" and "A>a2" not in rows
    run(app, "infer-feeds")
    rows = {r["link"]: r["origin"] for r in conn.execute(LINKS).fetchall()}
    assert rows["B>a2"] == "given" and "A>a2" not in rows and len(rows) == 5


def test_unknown_ids_and_cycles_are_refused_naming_the_row(registry, tmp_path):
    app, conn = registry
    run(app, "import-feeds", links_file(tmp_path, "parent_external_id,external_id\nT,A\nA,a1\n"))
    path = links_file(tmp_path, "parent_external_id,external_id\nT,B\nB,X9\n")
    assert refused(app, conn, "import-feeds", path) == (
        f"error: {path}, row 3, column 'external_id': unknown external id 'X9'")
    path = links_file(tmp_path, "parent_external_id,external_id\nB,b1\na1,T\n")
    line = refused(app, conn, "import-feeds", path)
    assert line.startswith(f"error: {path}, row 3, column 'parent_external_id': feed links form a cycle (")
    assert "a1 -> T" in line
    path = links_file(tmp_path, "parent_external_id,external_id\nB,B\n")
    assert "row 2, column 'external_id': a facility cannot feed itself ('B')" in refused(app, conn, "import-feeds",
                                                                                          path)


def test_parents_in_the_registry_become_given_links(onboarding, tmp_path):
    app, url = onboarding
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute(f"TRUNCATE {IMPORT_TABLES} CASCADE")
        path = tmp_path / "tree.csv"
        path.write_text("external_id,kind,parent_external_id,lon,lat\nS,substation,,1,1\nC,transformer,S,1.1,1\n")
        assert "1 feed links given" in run(app, "import-facilities", path)
        assert [r["link"] for r in conn.execute(LINKS).fetchall()] == ["S>C"]
        path.write_text("external_id,kind,parent_external_id,lon,lat\nS,substation,C,1,1\nC,transformer,S,1.1,1\n")
        result = app.test_cli_runner().invoke(args=["import-facilities", str(path)])
        assert result.exit_code == 1 and "feed links form a cycle" in result.output
        assert [r["link"] for r in conn.execute(LINKS).fetchall()] == ["S>C"]


def test_undirected_lines_are_oriented_down_the_voltage_levels_without_cycles():
    lines = [feeds.Link("a", "b"), feeds.Link("b", "c"), feeds.Link("c", "a"), feeds.Link("b", "a")]
    oriented = feeds.orient(lines, voltage_kv={"a": 110.0, "b": 380.0, "c": 110.0}, kind={"c": "power_plant"})
    assert sorted((link.parent, link.child) for link in oriented) == [("b", "a"), ("b", "c"), ("c", "a")]
    assert feeds.find_cycle((link.parent, link.child) for link in oriented) is None


def test_population_served_counts_everything_downstream_once():
    people = {"s": 0.0, "m1": 10.0, "m2": 20.0, "leaf": 5.0}
    radial = feeds.population_served(people, [("s", "m1"), ("s", "m2"), ("m2", "leaf")])
    assert radial == {"s": 35.0, "m1": 10.0, "m2": 25.0, "leaf": 5.0}
    meshed = feeds.population_served(people, [("s", "m1"), ("s", "m2"), ("m1", "leaf"), ("m2", "leaf")])
    assert meshed == {"s": 35.0, "m1": 15.0, "m2": 25.0, "leaf": 5.0}
    assert feeds.find_cycle([("a", "b"), ("b", "c"), ("c", "a")]) == ["a", "b", "c", "a"]


def test_inference_reports_progress_in_chunks_adding_up_to_every_facility(monkeypatch):
    table = pd.read_csv(io.StringIO(REGISTRY))
    frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs="EPSG:4326")
    crs = "EPSG:3035"
    whole = feeds.infer(frame, metric_crs=crs)
    monkeypatch.setattr(feeds, "PROGRESS_CHUNK", 2)
    done: list[int] = []
    assert feeds.infer(frame, metric_crs=crs, progress=done.append) == whole
    # T first (the top level has nothing above it), then the 20 kV level in two chunks, then the 110 kV level.
    assert done == [1, 2, 1, 2]
