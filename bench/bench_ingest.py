"""Benchmark report ingestion: sustained POST /api/reports under gunicorn against raw PostgreSQL inserts.

Run: .venv/bin/python bench/bench_ingest.py [--quick] [--seconds N] [--concurrency C] [--workers W] [--threads T]
                                            [--batch B] [--fold-interval S]
Starts its own throw-away PostGIS cluster (migrated, demo region loaded) and gunicorn on free ports, drives
C keep-alive client threads for N seconds (~5 % of requests are retries of an acknowledged id), then the same
clients for N seconds with POST /api/reports/batch of B reports each (a phone syncing its queue; --batch 0 skips
it), checks that every acknowledged report is stored exactly once, then measures the same rows inserted straight
into PostgreSQL.
Each client is a crew account in a crew of its own, observing its reports in order, so every report also moves
its crew (with an audit row). The client, gunicorn and PostgreSQL share this machine's cores, so the figures are
for the whole box; it also prints the CPU each of them spent per request (from /proc), which depends less on
other load on the machine than the rates do.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from app import create_app  # noqa: E402
from app.db import upgrade  # noqa: E402
from app.repo import reports as repo  # noqa: E402
from app.reports.input import parse_report  # noqa: E402
from geo.taxonomy import HAZARDS, OPERATIONAL_STATUSES, SEVERITIES, allowed_components  # noqa: E402
from tools import pgcluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DUBLIN_LON, DUBLIN_LAT = (-6.4, -6.1), (53.25, 53.45)
RETRY_SHARE = 0.05
SUBSTATION_PARTS = allowed_components("substation")
BENCH_PASSWORD = "bench-ingest-password"
RATE_LIMIT_NEVER_REACHED = 10**9
STOP = threading.Event()  # set on Ctrl-C or error, so load threads end quietly while the servers go down


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report_body(rng: random.Random, now: datetime, observed_at: datetime | None = None) -> dict[str, Any]:
    """A valid substation report somewhere around Dublin, with a fresh device-made id."""
    observed = observed_at or now - timedelta(minutes=rng.randint(1, 600))
    return {
        "id": str(uuid.uuid4()), "lon": round(rng.uniform(*DUBLIN_LON), 6), "lat": round(rng.uniform(*DUBLIN_LAT), 6),
        "accuracy_m": round(rng.uniform(3, 30), 1),
        "observed_at": observed.isoformat(), "kind": "substation",
        "severity": rng.choice(SEVERITIES), "status": rng.choice(OPERATIONAL_STATUSES),
        "components": rng.sample(SUBSTATION_PARTS, rng.randint(1, 3)),
        "hazards": rng.sample(HAZARDS, rng.randint(0, 2)), "repair_hours": rng.randint(1, 48),
        "crew_size": rng.randint(1, 8), "materials": "110/38 kV transformer",
        "notes": f"bench report {rng.randrange(10**6)}",
    }


def report_row(body: dict[str, Any], *, case_id: int) -> dict[str, Any]:
    """The report table row the API would store for this body, on a given case."""
    r = parse_report(body, now=datetime.now(UTC))
    return {
        "id": str(r.id), "case_id": case_id, "facility_id": r.facility_id, "reporter_id": None, "kind": r.kind,
        "severity": r.severity, "status": r.status, "progress": r.progress, "components": list(r.components),
        "hazards": list(r.hazards), "repair_hours": r.repair_hours, "crew_size": r.crew_size,
        "materials": r.materials, "notes": r.notes, "accuracy_m": r.accuracy_m, "observed_at": r.observed_at,
        "content_hash": r.content_hash(), "lon": r.lon, "lat": r.lat, "share_out": r.share_out,
    }


# --- the database and the server -------------------------------------------------------------------------------


def start_database(cluster: pgcluster.Cluster) -> tuple[str, str]:
    """Start the cluster; return the URLs of a database for the API and of one for the raw baseline, both migrated."""
    api_url = pgcluster.up(cluster, dbname="bench_api")
    password = pgcluster.init(cluster)
    pgcluster.create_database(pgcluster.url(cluster, password, "postgres"), "bench_raw")
    raw_url = pgcluster.url(cluster, password, "bench_raw")
    upgrade(api_url)
    upgrade(raw_url)
    return api_url, raw_url


def prepare_app_data(database_url: str, *, crews: int, base: Path) -> list[str]:
    """Load the demo region and create one crew account per client with the app's own commands, each the member of
    a crew of its own (so its reports move the crew, with an audit row, as in the field); return the tokens."""
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret"})
    runner = app.test_cli_runner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> str:
        done = runner.invoke(args=list(args), env=env)
        if done.exit_code != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.output}") from done.exception
        return done.output.strip()

    try:
        for line in invoke("load-demo").splitlines():
            print(f"  {line}")
        tokens = []
        for i in range(crews):
            invoke("create-user", f"bench-crew-{i}", "--role", "crew", env={"GRIDTRIAGE_PASSWORD": BENCH_PASSWORD})
            tokens.append(invoke("create-token", f"bench-crew-{i}", "--label", "bench_ingest").splitlines()[-1])
        crew_file = base / "crews.csv"
        crew_file.write_text("name,lon,lat,skills,shift_start,shift_end,time_zone,status,members\n" + "".join(
            f"Bench crew {i},-6.26,53.35,substation,00:00,23:59,UTC,available,bench-crew-{i}\n" for i in range(crews)))
        invoke("import-crews", str(crew_file))
        return tokens
    finally:
        app.extensions["db_pool"].close()


def start_gunicorn(base: Path, database_url: str, *, port: int, workers: int, threads: int,
                   rate_limit: bool, worker_class: str = "gthread",
                   fold_interval_s: float | None = None) -> subprocess.Popen[bytes]:
    """gunicorn with gthread (or sync) workers, each worker's pool holding one connection per thread and one for the
    map folder (app/reports/map_folder.py; `fold_interval_s` None: the app's default interval, 0: no folder)."""
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_SECRET_KEY": "bench-secret",
           "FLASK_DB_POOL_MIN": str(threads + 1), "FLASK_DB_POOL_MAX": str(threads + 1),
           # On: counted as in production, but never reached; off: the limiter is skipped (0 turns it off).
           "FLASK_RATE_LIMIT_REPORTS": str(RATE_LIMIT_NEVER_REACHED if rate_limit else 0)}
    if fold_interval_s is not None:
        env["FLASK_MAP_FOLD_INTERVAL_S"] = str(fold_interval_s)
    cmd = [str(VENV_BIN / "gunicorn"), "-k", worker_class, "-w", str(workers), "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "--keep-alive", "10", "--log-level", "warning", "--chdir", str(ROOT),
           "app:create_app()"]
    log = (base / "gunicorn.log").open("wb")
    # Its own session: a Ctrl-C reaches only us, and we stop the server in order.
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(server: subprocess.Popen[bytes], port: int, log: Path, *, timeout_s: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not healthy after {timeout_s:g} s:\n{log.read_text()[-3000:]}")


def stop_gunicorn(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


# --- load --------------------------------------------------------------------------------------------------------


@dataclass
class ClientLog:
    """What one client thread sent and got back."""

    latencies_s: list[float] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    retry_statuses: list[str] = field(default_factory=list)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> body, for 2xx answers
    created: list[str] = field(default_factory=list)  # ids answered 201
    end_s: float = 0.0


def client(port: int, token: str, seed: int, deadline: float, log: ClientLog) -> None:
    """POST reports as one crew over one keep-alive connection until the deadline; ~5 % retry acknowledged ids.
    Like a phone, a crew observes its reports in order (so each one moves its crew, with an audit row)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    observed = now - timedelta(hours=2) + timedelta(minutes=seed)  # the measured run (seeds 100+) after warm-up (1+)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {token}"}
    acked_ids: list[str] = list(log.acked)
    while time.perf_counter() < deadline and not STOP.is_set():
        retry = bool(acked_ids) and rng.random() < RETRY_SHARE
        if not retry:
            observed += timedelta(milliseconds=100)
        body = log.acked[rng.choice(acked_ids)] if retry else report_body(rng, now, observed)
        payload = json.dumps(body).encode()
        started = time.perf_counter()
        try:
            conn.request("POST", "/api/reports", body=payload, headers=headers)
            response = conn.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            status = f"error:{type(exc).__name__}"
            conn.close()  # http.client reconnects on the next request
        log.latencies_s.append(time.perf_counter() - started)
        log.statuses.append(status)
        if retry:
            log.retry_statuses.append(status)
        if status.startswith("2") and not retry:
            log.acked[body["id"]] = body
            acked_ids.append(body["id"])
        if status == "201":
            log.created.append(body["id"])
    log.end_s = time.perf_counter()
    conn.close()


def batch_client(port: int, token: str, seed: int, deadline: float, log: ClientLog, *, size: int) -> None:
    """Like `client`, but as a phone syncing its queue: POST /api/reports/batch with `size` reports at a time (~5 %
    of them retries of acknowledged ids). `latencies_s` holds one figure per batch request; the statuses are the
    reports' own."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    observed = now - timedelta(minutes=10) + timedelta(seconds=seed % 100)  # after the single reports' times
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {token}"}
    acked_ids: list[str] = list(log.acked)
    while time.perf_counter() < deadline and not STOP.is_set():
        bodies, retried = [], []
        for _ in range(size):
            retry = bool(acked_ids) and rng.random() < RETRY_SHARE
            if not retry:
                observed += timedelta(milliseconds=100)
            bodies.append(log.acked[rng.choice(acked_ids)] if retry else report_body(rng, now, observed))
            retried.append(retry)
        payload = json.dumps({"reports": bodies}).encode()
        started = time.perf_counter()
        try:
            conn.request("POST", "/api/reports/batch", body=payload, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            statuses = ([str(r["status"]) for r in json.loads(answer)["results"]] if response.status == 200
                        else [str(response.status)] * size)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            statuses = [f"error:{type(exc).__name__}"] * size
            conn.close()
        log.latencies_s.append(time.perf_counter() - started)
        for body, retry, status in zip(bodies, retried, statuses, strict=True):
            log.statuses.append(status)
            if retry:
                log.retry_statuses.append(status)
            if status.startswith("2") and not retry and body["id"] not in log.acked:
                log.acked[body["id"]] = body
                acked_ids.append(body["id"])
            if status == "201":
                log.created.append(body["id"])
    log.end_s = time.perf_counter()
    conn.close()


def run_clients(port: int, tokens: list[str], *, seconds: float, logs: list[ClientLog], seed: int,
                batch: int = 0) -> float:
    """Run one client per log (the i-th as the i-th crew) for `seconds`, single reports or (batch > 0) batches of
    that many; return the wall time until the last answer."""
    started = time.perf_counter()

    def target(token: str, i: int, log: ClientLog) -> None:
        if batch:
            batch_client(port, token, seed + i, started + seconds, log, size=batch)
        else:
            client(port, token, seed + i, started + seconds, log)

    workers = [threading.Thread(target=target, args=(token, i, log), daemon=True)
               for i, (token, log) in enumerate(zip(tokens, logs, strict=True))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return max(log.end_s for log in logs) - started


def percentiles_ms(values_s: list[float]) -> tuple[float, float, float]:
    if not values_s:
        return float("nan"), float("nan"), float("nan")
    ordered = sorted(values_s)
    pick = [ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 for q in (0.50, 0.95, 0.99)]
    return pick[0], pick[1], pick[2]


# --- CPU per report ------------------------------------------------------------------------------------------


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of a live process and its descendants, live or reaped (from /proc): server
    connections that have ended count through the parent that waited for them."""
    parent, spent = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        pid = int(entry.name)
        parent[pid], spent[pid] = int(fields[1]), sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier and pid not in tree]
        tree.update(frontier)
    return sum(spent.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def postmaster_pid(cluster: pgcluster.Cluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


# --- the raw PostgreSQL baseline ---------------------------------------------------------------------------------


def raw_writer(url: str, case_id: int, seed: int, deadline: float, latencies_s: list[float]) -> None:
    """Insert rows with the API's own INSERT statement, one transaction per row, until the deadline."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    try:
        with psycopg.connect(url, row_factory=dict_row) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            conn.commit()
            while time.perf_counter() < deadline and not STOP.is_set():
                row = report_row(report_body(rng, now), case_id=case_id)  # built outside the timed part
                started = time.perf_counter()
                repo.insert(conn, row)
                conn.commit()
                latencies_s.append(time.perf_counter() - started)
    except psycopg.Error:
        if not STOP.is_set():
            raise


def raw_per_row(url: str, case_id: int, *, threads: int, seconds: float) -> tuple[int, float, list[float]]:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    started = time.perf_counter()
    workers = [threading.Thread(target=raw_writer, args=(url, case_id, 1000 + i, started + seconds, latencies[i]),
                                daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    flat = [x for lat in latencies for x in lat]
    return len(flat), elapsed, flat


COPY_COLUMNS = ("id", "case_id", "facility_id", "reporter_id", "kind", "severity", "status", "progress",
                "components", "hazards", "repair_hours", "crew_size", "materials", "notes", "accuracy_m",
                "observed_at", "content_hash")


def raw_bulk(url: str, case_id: int, *, rows_n: int) -> tuple[float, float]:
    """Seconds for rows_n pipelined INSERTs (psycopg's executemany), then rows_n COPY rows, one transaction each."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    many = [report_row(report_body(rng, now), case_id=case_id) for _ in range(rows_n)]
    copied = [report_row(report_body(rng, now), case_id=case_id) for _ in range(rows_n)]
    with psycopg.connect(url, row_factory=dict_row) as conn:
        started = time.perf_counter()
        with conn.pipeline():
            for row in many:
                repo.insert(conn, row)  # the API's own statement
        conn.commit()
        many_s = time.perf_counter() - started
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                "COPY report (id, case_id, facility_id, reporter_id, kind, severity, status, progress, components, "
                "hazards, repair_hours, crew_size, materials, notes, accuracy_m, observed_at, content_hash, geom) "
                "FROM STDIN") as copy:
            for row in copied:
                copy.write_row([*(row[c] for c in COPY_COLUMNS), f"SRID=4326;POINT({row['lon']} {row['lat']})"])
        conn.commit()
        copy_s = time.perf_counter() - started
    return many_s, copy_s


# --- the check ---------------------------------------------------------------------------------------------------


def count_check(url: str, logs: list[ClientLog]) -> tuple[bool, list[str]]:
    """Every acknowledged id stored exactly once, nothing else stored, every retry answered 200."""
    acked = {i for log in logs for i in log.acked}
    created = [i for log in logs for i in log.created]
    retry_statuses = Counter(s for log in logs for s in log.retry_statuses)
    with psycopg.connect(url) as conn:
        dups = conn.execute("SELECT id, count(*) FROM report GROUP BY id HAVING count(*) > 1").fetchall()
        stored = {str(r[0]) for r in conn.execute("SELECT id FROM report").fetchall()}
    missing = acked - stored
    findings = [
        f"distinct acknowledged ids: {len(acked):,} (must be > 0)",
        f"duplicate ids in report: {len(dups)}",
        f"acknowledged ids missing from report: {len(missing)}",
        f"stored rows: {len(stored):,} (must equal the acknowledged ids)",
        f"ids answered 201 more than once: {len(created) - len(set(created))}",
        f"retries answered other than 200: {sum(n for s, n in retry_statuses.items() if s != '200')}",
    ]
    ok = (bool(acked) and not dups and not missing and len(stored) == len(acked) and len(created) == len(set(created))
          and set(retry_statuses) <= {"200"})
    return ok, findings


def map_check(url: str) -> tuple[bool, str]:
    """The map's aggregates hold every stored report once: folded into the cells (each zoom's cells sum to the
    folded count) or still queued."""
    with psycopg.connect(url) as conn:
        row = conn.execute("""SELECT (SELECT count(*) FROM report), (SELECT folded FROM map_fold_state),
                                     (SELECT count(*) FROM map_report_pending),
                                     (SELECT array_agg(DISTINCT n) FROM (SELECT sum(n) AS n FROM map_report_cell
                                                                         GROUP BY zoom) z)""").fetchone()
    assert row is not None
    stored, folded, queued, per_zoom = row
    ok = stored == folded + queued and per_zoom == [folded]
    return ok, (f"map: {stored:,} stored = {folded:,} folded (every zoom's cells: {per_zoom}) + {queued:,} queued: "
                + ("PASS" if ok else "FAIL"))


def matched_share(url: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("""SELECT avg((c.facility_id IS NOT NULL)::int)::float8 FROM report r
                              JOIN damage_case c ON c.id = r.case_id""").fetchone()
    return float(row[0] or 0) if row else 0.0


def crew_moves(url: str) -> int:
    """Audit rows of crews moved by their members' reports (a report observed before the crew's last position
    does not move it)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM audit_event WHERE entity = 'crew' AND action = 'position_reported'"
                           ).fetchone()
    return int(row[0]) if row else 0


# --- main --------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    cpus = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5 s of load instead of 20")
    parser.add_argument("--seconds", type=float, help="seconds of measured load (default 20, --quick 5)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    small = cpus <= 2  # the Makefile's rule for `make run`: 1 x 8 on 2 cores or fewer, else a worker per core x 4
    parser.add_argument("--workers", type=int, default=1 if small else cpus,
                        help="gunicorn workers (default as `make run`: 1 on 2 cores or fewer, else one per core)")
    parser.add_argument("--threads", type=int, default=8 if small else 4,
                        help="threads per gunicorn worker (default as `make run`: 8 on 2 cores or fewer, else 4)")
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread",
                        help="gunicorn's worker class (sync: no keep-alive, one request per worker at a time)")
    parser.add_argument("--batch", type=int, default=20,
                        help="then the same clients with POST /api/reports/batch of this many reports (0: skip)")
    parser.add_argument("--fold-interval", type=float, default=None,
                        help="the app's MAP_FOLD_INTERVAL_S (default: the app's; 0: no background map folder)")
    parser.add_argument("--no-rate-limit", action="store_true",
                        help="skip the report rate limiter (default: it counts every report but never refuses)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    warmup_s = 1.0 if args.quick else 2.0
    bulk_rows = 5_000 if args.quick else 20_000
    # A SIGTERM unwinds like Ctrl-C, so the server and the cluster are stopped below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="gridtriage-bench-ingest-"))
    base.chmod(0o755)  # the postgres user (when we are root) must reach the cluster inside
    cluster = pgcluster.Cluster(base / "pg", free_port())
    server: subprocess.Popen[bytes] | None = None
    try:
        print(f"== setup (temp dir {base}) ==")
        started = time.perf_counter()
        api_url, raw_url = start_database(cluster)
        tokens = prepare_app_data(api_url, crews=args.concurrency, base=base)
        print(f"  PostGIS on 127.0.0.1:{cluster.port}: migrated, demo loaded, {len(tokens)} crew accounts with API "
              f"tokens, each in a crew of its own, in {time.perf_counter() - started:.1f} s")
        port = free_port()
        server = start_gunicorn(base, api_url, port=port, workers=args.workers, threads=args.threads,
                                rate_limit=not args.no_rate_limit, worker_class=args.worker_class,
                                fold_interval_s=args.fold_interval)
        ready_s = wait_healthy(server, port, base / "gunicorn.log")
        print(f"  gunicorn -k {args.worker_class} -w {args.workers} --threads {args.threads} on 127.0.0.1:{port} "
              f"(pool {args.threads + 1} conns/worker: one per thread, one for the map folder), /healthz 200 after "
              f"{ready_s:.1f} s")
        print("  report rate limiter: " + ("off (FLASK_RATE_LIMIT_REPORTS=0)" if args.no_rate_limit else
              f"on, limit raised to {RATE_LIMIT_NEVER_REACHED:,}/window so it counts but never refuses"))
        print(f"  client: {args.concurrency} threads in this process (http.client, one keep-alive connection and "
              f"one crew token each); client, gunicorn and PostgreSQL share {cpus} cores")

        logs = [ClientLog() for _ in range(args.concurrency)]
        run_clients(port, tokens, seconds=warmup_s, logs=logs, seed=1)
        measured = [ClientLog(acked=dict(log.acked)) for log in logs]  # warmed-up ids are retry candidates too
        print(f"\n== POST /api/reports: {warmup_s:g} s warm-up, then {seconds:g} s measured ==")
        cpu_before = (time.process_time(), tree_cpu_s(server.pid), tree_cpu_s(postmaster_pid(cluster)))
        elapsed = run_clients(port, tokens, seconds=seconds, logs=measured, seed=100)
        cpu_after = (time.process_time(), tree_cpu_s(server.pid), tree_cpu_s(postmaster_pid(cluster)))
        batched = [ClientLog(acked=dict(log.acked)) for log in measured]
        if args.batch:
            batch_cpu_before = (time.process_time(), tree_cpu_s(server.pid), tree_cpu_s(postmaster_pid(cluster)))
            batch_elapsed = run_clients(port, tokens, seconds=seconds, logs=batched, seed=500, batch=args.batch)
            batch_cpu_after = (time.process_time(), tree_cpu_s(server.pid), tree_cpu_s(postmaster_pid(cluster)))
        stop_gunicorn(server)

        statuses = Counter(s for log in measured for s in log.statuses)
        if any(not s.startswith("2") for s in statuses):
            print("  gunicorn log (tail):\n" + (base / "gunicorn.log").read_text(errors="replace")[-3000:])
        ok_latencies = [lat for log in measured for lat, s in zip(log.latencies_s, log.statuses, strict=True)
                        if s.startswith("2")]
        retries = sum(len(log.retry_statuses) for log in measured)
        api_rate = len(ok_latencies) / elapsed
        api_p = percentiles_ms(ok_latencies)
        print("  statuses: " + ", ".join(f"{s}: {n:,}" for s, n in sorted(statuses.items()))
              + f"  (retries sent: {retries:,}, {retries / max(1, statuses.total()):.1%})")
        answered = max(1, statuses.total())
        spent_ms = [(after - before) * 1000 / answered for before, after in zip(cpu_before, cpu_after, strict=True)]
        print("  CPU per request: client {:.2f} ms, gunicorn {:.2f} ms, PostgreSQL {:.2f} ms; total {:.2f} ms "
              "(2 cores give 2,000 ms per second)".format(*spent_ms, sum(spent_ms)))
        share = matched_share(api_url)
        print(f"  reports matched to a substation within 250 m (KNN): {share:.0%}; the rest opened a case each")
        print(f"  crew moves audited (a member's report newer than the crew's last position): {crew_moves(api_url):,}")

        batch_rate, batch_p, per_report = float("nan"), (float("nan"),) * 3, [float("nan")]
        if args.batch:
            print(f"\n== POST /api/reports/batch, {args.batch} reports per request: {seconds:g} s measured ==")
            batch_statuses = Counter(s for log in batched for s in log.statuses)
            print("  report statuses: " + ", ".join(f"{s}: {n:,}" for s, n in sorted(batch_statuses.items())))
            batch_ok = sum(n for s, n in batch_statuses.items() if s.startswith("2"))
            batch_rate = batch_ok / batch_elapsed
            batch_p = percentiles_ms([lat for log in batched for lat in log.latencies_s])
            per_report = [(after - before) * 1000 / max(1, batch_statuses.total())
                          for before, after in zip(batch_cpu_before, batch_cpu_after, strict=True)]
            print("  CPU per report: client {:.2f} ms, gunicorn {:.2f} ms, PostgreSQL {:.2f} ms; total {:.2f} ms"
                  .format(*per_report, sum(per_report)))
        passed, findings = count_check(api_url, [*logs, *measured, *batched])
        print("\n== count check (warm-up and measured requests) ==")
        for line in findings:
            print(f"  {line}")
        print(f"  {'PASS' if passed else 'FAIL'}")
        map_ok, map_line = map_check(api_url)
        print(f"  {map_line}")
        passed = passed and map_ok

        print("\n== raw PostgreSQL baseline (empty migrated database, same rows on one pre-made case) ==")
        with psycopg.connect(raw_url, row_factory=dict_row) as conn:
            case_id = repo.open_case(conn, facility_id=None, kind="substation", lon=-6.26, lat=53.35)
        assert case_id is not None
        raw_cpu_before = (time.process_time(), tree_cpu_s(postmaster_pid(cluster)))
        raw_n, raw_s, raw_lat = raw_per_row(raw_url, case_id, threads=args.concurrency, seconds=seconds)
        raw_cpu = [(after - before) * 1000 / max(1, raw_n) for before, after in
                   zip(raw_cpu_before, (time.process_time(), tree_cpu_s(postmaster_pid(cluster))), strict=True)]
        print("  CPU per row: client {:.2f} ms, PostgreSQL {:.2f} ms; total {:.2f} ms".format(*raw_cpu, sum(raw_cpu)))
        raw_p = percentiles_ms(raw_lat)
        many_s, copy_s = raw_bulk(raw_url, case_id, rows_n=bulk_rows)
        load_after = os.getloadavg()

        print(f"\n== summary ({seconds:g} s, {args.concurrency} clients, gunicorn {args.workers}x{args.threads} "
              f"{args.worker_class}, {cpus} cores shared with the client) ==")
        blank = (float("nan"),) * 3
        print(f"{'path':<46} {'rows/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'rows':>8}")
        for label, rate, p, n in (
                ("POST /api/reports (2xx only)", api_rate, api_p, len(ok_latencies)),
                *([(f"POST /api/reports/batch x{args.batch} (ms/request)", batch_rate, batch_p,
                    sum(1 for log in batched for st in log.statuses if st.startswith("2")))] if args.batch else []),
                (f"raw INSERT, 1 txn/row, {args.concurrency} connections", raw_n / raw_s, raw_p, raw_n),
                ("raw executemany-style pipelined INSERT, 1 conn", bulk_rows / many_s, blank, bulk_rows),
                ("raw COPY, 1 conn, 1 txn", bulk_rows / copy_s, blank, bulk_rows)):
            print(f"{label:<46} {rate:>8,.0f} " + " ".join(f"{x:>7.1f}" if x == x else f"{'':>7}" for x in p)
                  + f" {n:>8,}")
        ratio = api_rate / (raw_n / raw_s)
        print(f"API / raw per-row: {ratio:.0%}" + (f"; batch / raw per-row: {batch_rate / (raw_n / raw_s):.0%}"
                                                   if args.batch else ""))
        cpu_line = [("POST /api/reports", sum(spent_ms)), ("raw INSERT row", sum(raw_cpu))]
        if args.batch:
            cpu_line.insert(1, (f"batch x{args.batch}", sum(per_report)))
        print("CPU per report, client + gunicorn + PostgreSQL (the steadier figure): " + "; ".join(
            f"{name} {ms:.2f} ms (at most {cpus * 1000 / ms:,.0f}/s on {cpus} idle cores)" for name, ms in cpu_line))
        print("targets (issue 17): >= 1,000 reports/s {}, p99 < 50 ms {}, >= 50 % of raw per-row {}".format(
            *("met" if ok else "NOT met" for ok in (api_rate >= 1000, api_p[2] < 50, ratio >= 0.5))))
        print("load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after))
        print(f"count check: {'PASS' if passed else 'FAIL'}")
        return 0 if passed else 1
    except KeyboardInterrupt:
        print("\ninterrupted; stopping gunicorn and PostgreSQL", file=sys.stderr)
        return 130
    finally:
        STOP.set()
        if server is not None:
            stop_gunicorn(server)
        pgcluster.stop(cluster, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
