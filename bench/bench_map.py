"""Benchmark the coordinator map's clustered layers at 10^4 and 10^5 reports, next to bare SQL and bare ST_AsMVT.

Run: .venv/bin/python bench/bench_map.py [--quick] [--no-browser]
A throw-away PostGIS cluster (tools.pgcluster) gets N random reports in N/20 cases over County Dublin; each request
goes through the Flask app (test client, bearer token) and is timed next to the same statement run bare with psycopg,
and next to the vector-tile alternative: bare ST_AsMVT of the raw reports in every XYZ tile covering the same view
at the same zoom (what a tile server such as pg_tileserv or Martin would run; the sum over the view's tiles).
With the browser on, it also times /map in headless Chromium: navigation until the queue is rendered.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from app.coordinator.map import MAX_CELLS, cell_m  # noqa: E402
from app.db import upgrade  # noqa: E402
from app.repo import map as repo  # noqa: E402
from tools import pgcluster  # noqa: E402

AREA = (-6.45, 53.2, -6.05, 53.6)  # lon/lat box of the random points
VIEWS = {  # name: (bbox, zoom) as a coordinator's screen of about 1,400 x 900 pixels would ask
    "whole area z10": ("-6.9,53.1,-5.6,53.7", 10),
    "city z13": ("-6.33,53.32,-6.2,53.38", 13),
    "street z17": ("-6.262,53.345,-6.254,53.35", 17),
}
PASSWORD = "bench-password-123"

SEED = """
SET gridtriage.maintenance = 'on';
TRUNCATE report, damage_case, case_event CASCADE;
SELECT setseed(0.42);
INSERT INTO damage_case (kind, geom)
SELECT (ARRAY['substation', 'transformer', 'line'])[1 + i %% 3]::facility_kind,
       ST_Point(%(w)s + random() * (%(e)s - %(w)s), %(s)s + random() * (%(n)s - %(s)s), 4326)
FROM generate_series(1, %(cases)s) i;
INSERT INTO report (id, case_id, kind, severity, status, hazards, observed_at, received_at, content_hash, geom)
SELECT gen_random_uuid(), (SELECT min(id) FROM damage_case) + i %% %(cases)s,
       (ARRAY['substation', 'transformer', 'line'])[1 + i %% 3]::facility_kind,
       (ARRAY['minor', 'moderate', 'severe', 'destroyed'])[1 + i %% 4]::severity, 'out_of_service',
       CASE WHEN i %% 10 = 0 THEN '{fire}'::hazard[] ELSE '{}' END,
       now() - i * interval '1 second', now() - i * interval '1 second', md5(i::text),
       ST_Point(%(w)s + random() * (%(e)s - %(w)s), %(s)s + random() * (%(n)s - %(s)s), 4326)
FROM generate_series(0, %(points)s - 1) i;
ANALYZE;
"""


# One vector tile of raw report points, as a PostGIS tile server would serve it.
MVT_TILE = """
WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS g),
     tile AS (SELECT ST_AsMVTGeom(ST_Transform(r.geom, 3857), bounds.g) AS geom, r.id::text AS id,
                     r.kind::text AS kind, r.severity::text AS severity
              FROM report r, bounds WHERE r.geom && ST_Transform(bounds.g, 4326))
SELECT coalesce(length(ST_AsMVT(tile.*, 'reports')), 0) AS bytes FROM tile"""


def tiles_covering(bbox: str, zoom: int) -> list[tuple[int, int, int]]:
    """The XYZ (web mercator) tiles that cover a lon/lat box at a zoom."""
    w, s, e, n = (float(v) for v in bbox.split(","))

    def tile(lon: float, lat: float) -> tuple[int, int]:
        scale = 2 ** zoom
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * scale
        return int((lon + 180) / 360 * scale), int(y)

    (x0, y0), (x1, y1) = tile(w, n), tile(e, s)
    return [(zoom, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def mvt_view(conn: psycopg.Connection[dict[str, Any]], tiles: list[tuple[int, int, int]]) -> int:
    """Bytes of the vector tiles of one view, each made by its own bare ST_AsMVT statement."""
    total = 0
    for z, x, y in tiles:
        row = conn.execute(MVT_TILE, {"z": z, "x": x, "y": y}).fetchone()
        total += int(row["bytes"]) if row else 0
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(fn: Callable[..., object], repeat: int) -> list[float]:
    fn()  # warm caches and the pool
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def in_transaction(conn: psycopg.Connection[dict[str, Any]], fn: Callable[..., object],
                   params: dict[str, Any]) -> None:
    with conn.transaction():
        fn(conn, params)


def params_for(bbox: str, zoom: int) -> dict[str, Any]:
    w, s, e, n = (float(v) for v in bbox.split(","))
    return {"bbox": (w, s, e, n), "zoom": zoom, "cell_m": cell_m(zoom), "max_cells": MAX_CELLS,
            "status": None, "kind": None, "severity": None, "hazard": None, "since": None, "until": None}


def seed(url: str, points: int) -> None:
    w, s, e, n = AREA
    with psycopg.connect(url, autocommit=True) as conn:
        values = {"w": w, "s": s, "e": e, "n": n, "cases": max(1, points // 20), "points": points}
        for statement in SEED.split(";\n"):
            if statement.strip():
                conn.execute(statement, values)


def page_interactive(base_url: str, repeat: int) -> list[float]:
    """Seconds from navigation to /map until the map is drawn and the queue rendered, in headless Chromium."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(base_url + "/login")
        page.fill("input[name=username]", "coord")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
        for _ in range(repeat + 1):
            start = time.perf_counter()
            page.goto(base_url + "/map")
            page.wait_for_selector("#map[data-ready=true]", timeout=60_000)
            page.wait_for_selector("#queue[data-count]", state="attached")
            out.append(time.perf_counter() - start)
        browser.close()
    return out[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-browser", action="store_true", help="skip the /map page timing")
    args = parser.parse_args()
    repeat = 15 if args.quick else 60
    base = Path(tempfile.mkdtemp(prefix="gridtriage-bench-map-"))
    base.chmod(0o755)
    cluster = pgcluster.Cluster(base / "pg", free_port())
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start; {repeat} timed runs per cell")
    try:
        url = pgcluster.up(cluster, dbname="bench")
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATE_LIMIT_LOGIN": 0,
                          "RATE_LIMIT_REPORTS": 0, "DB_POOL_MIN": 1})
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        runner = app.test_cli_runner()
        runner.invoke(args=["create-user", "coord", "--role", "coordinator"], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        token = runner.invoke(args=["create-token", "coord"]).output.strip()
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        print(f"\n{'reports':>8} {'layer':>8} {'view':>16} {'features':>8} {'matched':>8} "
              f"{'API p50':>8} {'API p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'tiles':>5} {'MVT kB':>7} "
              f"{'MVT p50':>8} {'MVT p95':>8}  (ms)")
        for points in (10_000, 100_000):
            seed(url, points)
            with psycopg.connect(url, row_factory=psycopg.rows.dict_row, autocommit=True) as conn:
                for layer, fn in (("reports", repo.reports), ("cases", repo.cases)):
                    for name, (bbox, zoom) in VIEWS.items():
                        path = f"/api/map/{layer}?bbox={bbox}&zoom={zoom}"
                        body: dict[str, Any] = client.get(path).json or {}
                        api = percentiles(timed(lambda path=path: client.get(path).close(), repeat))
                        p = params_for(bbox, zoom)
                        bare = percentiles(timed(lambda fn=fn, p=p: in_transaction(conn, fn, p), repeat))
                        mvt = ""
                        if layer == "reports":
                            tiles = tiles_covering(bbox, zoom)
                            size = mvt_view(conn, tiles)
                            t = percentiles(timed(lambda tiles=tiles: mvt_view(conn, tiles), repeat))
                            mvt = f" {len(tiles):>5} {size / 1000:>7.0f} {t[0]:>8.1f} {t[1]:>8.1f}"
                        print(f"{points:>8,} {layer:>8} {name:>16} {len(body['features']):>8,} "
                              f"{body['numberMatched']:>8,} {api[0]:>8.1f} {api[1]:>8.1f} {bare[0]:>8.1f} "
                              f"{bare[1]:>8.1f}{mvt}")
            changes = percentiles(timed(lambda: client.get("/api/map/changes").close(), repeat))
            print(f"{points:>8,} changes poll (cursor query): p50 {changes[0]:.1f} ms, p95 {changes[1]:.1f} ms")
        if not args.no_browser:
            server = make_server("127.0.0.1", free_port(), app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                seconds = page_interactive(f"http://127.0.0.1:{server.server_port}", 3 if args.quick else 10)
                p50, p95 = percentiles(seconds)
                print(f"\n/map interactive with 100,000 reports (navigation -> layers drawn, queue rendered): "
                      f"p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(seconds)} loads")
            finally:
                server.shutdown()
        app.extensions["db_pool"].close()
    finally:
        pgcluster.stop(cluster, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at end; API = Flask test client incl. auth and JSON; "
          "SQL = the same repository function (statement + SET LOCAL jit = off) on a bare psycopg connection; "
          "MVT = bare ST_AsMVT of the raw reports, one statement per covering tile, summed over the view")


if __name__ == "__main__":
    main()
