"""Benchmark the coordinator map's clustered layers at 10^5 and 10^6 reports, next to bare SQL and bare ST_AsMVT.

Run: .venv/bin/python bench/bench_map.py [--quick] [--no-browser] [--sizes 100000,1000000]
A throw-away PostGIS cluster (tools.pgcluster) gets N random reports in N/20 cases over County Dublin (one INSERT
each, which also folds them into migration 0014's per-zoom aggregates). For a screen centred on Dublin at each zoom,
each layer request goes through the Flask app (test client, bearer token) and is timed next to the repository
function it calls run bare with psycopg, next to the clustered SQL over the raw rows (the baseline: what the API ran
before the aggregates, and still runs with filters), and next to the vector-tile alternative: bare ST_AsMVT of the
raw reports in every XYZ tile covering the same view (what a tile server such as pg_tileserv or Martin would run;
the sum over the view's tiles). With the browser on, it times /map at 10^5 reports in headless Chromium: until the
layers are drawn (interactive) and until the repair queue is rendered too.
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
from functools import partial
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

AREA = (-6.45, 53.2, -6.05, 53.6)  # lon/lat box of the random points (County Dublin)
CENTRE = (-6.26, 53.35)
SCREEN_PX = (1400, 900)  # a coordinator's map
QUICK_ZOOMS = (5, 8, 10, 12, 13, 14, 15, 16, 17)
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
VACUUM ANALYZE;
"""


def view(zoom: int) -> str:
    """The bbox a screen of SCREEN_PX centred on CENTRE shows at a zoom (Web Mercator, 256-pixel tiles)."""
    lon, lat = CENTRE
    scale = 256 * 2 ** zoom
    x = (lon + 180) / 360 * scale
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * scale

    def lonlat(px: float, py: float) -> tuple[float, float]:
        lat_ = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / scale))))
        return max(-180.0, min(180.0, px / scale * 360 - 180)), max(-85.0, min(85.0, lat_))

    (w, n), (e, s) = lonlat(x - SCREEN_PX[0] / 2, y - SCREEN_PX[1] / 2), lonlat(x + SCREEN_PX[0] / 2,
                                                                                  y + SCREEN_PX[1] / 2)
    return f"{w:.6f},{s:.6f},{e:.6f},{n:.6f}"


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


def params_for(bbox: str, zoom: int, **filters: list[str]) -> dict[str, Any]:
    w, s, e, n = (float(v) for v in bbox.split(","))
    out: dict[str, Any] = {"bbox": (w, s, e, n), "zoom": zoom, "cell_m": cell_m(zoom), "max_cells": MAX_CELLS,
                           "status": None, "kind": None, "severity": None, "hazard": None, "since": None,
                           "until": None}
    out.update(filters)
    return out


def seed(url: str, points: int) -> float:
    """Seconds to load `points` reports in points/20 cases with one INSERT (the map's fold included), then VACUUM
    ANALYZE so that no autovacuum of the new rows runs during the timings."""
    w, s, e, n = AREA
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        values = {"w": w, "s": s, "e": e, "n": n, "cases": max(1, points // 20), "points": points}
        for statement in SEED.split(";\n"):
            if statement.strip():
                conn.execute(statement, values)
    return time.perf_counter() - start


def page_interactive(base_url: str, repeat: int) -> tuple[list[float], list[float], list[tuple[str, float]]]:
    """Seconds from navigation to /map until the map's layers are drawn (interactive) and until the queue is
    rendered too, in headless Chromium; and the slowest requests of the last load (path, ms)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    interactive, complete = [], []
    slowest: list[tuple[str, float]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": SCREEN_PX[0] + 400, "height": SCREEN_PX[1]})
        page = context.new_page()
        page.goto(base_url + "/login")
        page.fill("input[name=username]", "coord")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
        for _ in range(repeat + 1):
            start = time.perf_counter()
            page.goto(base_url + "/map")
            page.wait_for_selector("#map[data-interactive=true]", state="attached", timeout=120_000)
            interactive.append(time.perf_counter() - start)
            page.wait_for_selector("#map[data-ready=true]", state="attached", timeout=120_000)
            page.wait_for_selector("#queue[data-count]", state="attached")
            complete.append(time.perf_counter() - start)
        entries = page.evaluate("""performance.getEntriesByType('resource').map(
            (e) => [new URL(e.name).pathname, e.responseEnd - e.startTime])""")
        slowest = sorted(((str(p), float(ms)) for p, ms in entries), key=lambda e: -e[1])[:5]
        browser.close()
    return interactive[1:], complete[1:], slowest


ONE_REPORT = """
INSERT INTO report (id, case_id, kind, severity, status, observed_at, content_hash, geom)
VALUES (gen_random_uuid(), %(case)s, 'line', 'minor', 'degraded', now(), 'bench', ST_Point(%(lon)s, %(lat)s, 4326))"""


def insert_cost(url: str, count: int) -> tuple[float, float]:
    """Single-report INSERT transactions per second with migration 0014's insert trigger on, and off (best of two
    interleaved rounds each). Leaves reports the aggregates do not hold: run it last on a data set."""
    rates: dict[bool, float] = {True: 0.0, False: 0.0}
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT min(id) FROM damage_case").fetchone()
        case = row[0] if row else None
        w, s, e, n = AREA
        for trigger in (True, False, True, False):
            conn.execute("ALTER TABLE report ENABLE TRIGGER report_map_inserted" if trigger
                         else "ALTER TABLE report DISABLE TRIGGER report_map_inserted")
            start = time.perf_counter()
            for i in range(count):  # autocommit: one transaction each, as POST /api/reports
                conn.execute(ONE_REPORT, {"case": case, "lon": w + (e - w) * (i % 97) / 97,
                                          "lat": s + (n - s) * (i % 89) / 89})
            rates[trigger] = max(rates[trigger], count / (time.perf_counter() - start))
        conn.execute("ALTER TABLE report ENABLE TRIGGER report_map_inserted")
    return rates[True], rates[False]


def fmt(p: tuple[float, float]) -> str:
    return f"{p[0]:>8.1f} {p[1]:>8.1f}"


def bench_layers(client: Any, conn: psycopg.Connection[dict[str, Any]], points: int, zooms: tuple[int, ...],
                 repeat: int, baseline_repeat: int) -> None:
    """One line per layer and zoom: the API, its SQL, the bare clustered SQL and bare ST_AsMVT of the view."""
    rows: list[tuple[str, int, str, dict[str, list[str]]]] = [
        (layer, zoom, "", {}) for layer in ("reports", "cases") for zoom in zooms]
    rows += [(layer, 10, "severity=destroyed", {"severity": ["destroyed"]}) for layer in ("reports", "cases")]
    for layer, zoom, query, filters in rows:
        fn = repo.reports if layer == "reports" else repo.cases
        bbox = view(zoom)
        path = f"/api/map/{layer}?bbox={bbox}&zoom={zoom}" + (f"&{query}" if query else "")
        body: dict[str, Any] = client.get(path).json or {}
        api = percentiles(timed(lambda path=path: client.get(path).close(), repeat))
        p = params_for(bbox, zoom, **filters)
        ours = percentiles(timed(lambda fn=fn, p=p: in_transaction(conn, fn, p), repeat))
        bare = percentiles(timed(lambda fn=fn, p=p: in_transaction(conn, partial(fn, live=True), p),
                                 baseline_repeat))
        mvt = ""
        if layer == "reports" and not query:
            tiles = tiles_covering(bbox, zoom)
            size = mvt_view(conn, tiles)
            t = percentiles(timed(lambda tiles=tiles: mvt_view(conn, tiles), baseline_repeat))
            mvt = f" {len(tiles):>5} {size / 1000:>7.0f} {fmt(t)}"
        name = f"z{zoom}" + (f" {query}" if query else "")
        print(f"{points:>9,} {layer:>8} {name:>22} {len(body['features']):>8,} {body['numberMatched']:>9,} "
              f"{fmt(api)} {fmt(ours)} {fmt(bare)}{mvt}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and zooms")
    parser.add_argument("--no-browser", action="store_true", help="skip the /map page timing")
    parser.add_argument("--sizes", default="100000,1000000", help="report counts, comma-separated")
    args = parser.parse_args()
    repeat = 15 if args.quick else 60
    zooms = QUICK_ZOOMS if args.quick else tuple(range(0, 19))
    base = Path(tempfile.mkdtemp(prefix="gridtriage-bench-map-"))
    base.chmod(0o755)
    cluster = pgcluster.Cluster(base / "pg", free_port())
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start; {repeat} timed runs per cell "
          f"(baselines at 10^6: {3 if args.quick else 10})")
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
        for points in (int(v) for v in args.sizes.split(",")):
            seconds = seed(url, points)
            print(f"\n{points:,} reports in {points // 20:,} cases loaded in {seconds:.1f} s (one INSERT, the "
                  f"map's fold included); load average {os.getloadavg()[0]:.1f}")
            print(f"{'reports':>9} {'layer':>8} {'view':>22} {'features':>8} {'matched':>9} "
                  f"{'API p50':>8} {'API p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'bare p50':>8} {'bare p95':>8} "
                  f"{'tiles':>5} {'MVT kB':>7} {'MVT p50':>8} {'MVT p95':>8}  (ms)")
            baseline_repeat = repeat if points < 1_000_000 else (3 if args.quick else 10)
            with psycopg.connect(url, row_factory=psycopg.rows.dict_row, autocommit=True) as conn:
                bench_layers(client, conn, points, zooms, repeat, baseline_repeat)
                changes = percentiles(timed(lambda: client.get("/api/map/changes").close(), repeat))
                cursor = percentiles(timed(lambda: in_transaction(conn, lambda c, _: repo.cursor(c), {}), repeat))
                count = percentiles(timed(lambda: conn.execute("SELECT count(*) FROM report").fetchone(), repeat))
            print(f"{points:>9,} change poll: API p50 {changes[0]:.1f} / p95 {changes[1]:.1f} ms; its SQL p50 "
                  f"{cursor[0]:.1f} ms; a bare count(*) of the reports (what the cursor used to run) p50 "
                  f"{count[0]:.1f} ms")
            if not args.no_browser and points == 100_000:
                server = make_server("127.0.0.1", free_port(), app, threaded=True)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                try:
                    interactive, complete, slowest = page_interactive(f"http://127.0.0.1:{server.server_port}",
                                                                      3 if args.quick else 10)
                finally:
                    server.shutdown()
                i50, i95 = percentiles(interactive)
                c50, c95 = percentiles(complete)
                print(f"\n/map with {points:,} reports in Chromium over {len(interactive)} loads: interactive "
                      f"(navigation -> layers drawn) p50 {i50:.0f} ms, p95 {i95:.0f} ms; with the queue rendered "
                      f"too p50 {c50:.0f} ms, p95 {c95:.0f} ms")
                print("  slowest requests of the last load: "
                      + ", ".join(f"{path} {ms:.0f} ms" for path, ms in slowest), flush=True)
            if points == 100_000:
                on, off = insert_cost(url, 1_000 if args.quick else 5_000)
                print(f"\ningestion cost of the map's aggregates: single-report INSERT transactions {on:,.0f}/s "
                      f"with the insert trigger, {off:,.0f}/s without ({(on / off - 1) * 100:+.0f} %)",
                      flush=True)
        app.extensions["db_pool"].close()
    finally:
        pgcluster.stop(cluster, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at end; view = a {SCREEN_PX[0]}x{SCREEN_PX[1]} px screen "
          f"centred on {CENTRE} at that zoom; API = Flask test client incl. bearer auth and JSON; SQL = the "
          "repository function the API calls (aggregates of migration 0014 without filters) on a bare psycopg "
          "connection; bare = the clustered SQL over the raw rows (repo live=True: what the API ran before, and "
          "what it runs with filters); MVT = bare ST_AsMVT of the raw reports, one statement per covering tile, "
          "summed over the view")


if __name__ == "__main__":
    main()
