"""Benchmark pgbouncer (transaction pooling) against direct PostgreSQL connections, in one run on one cluster.

Run: .venv/bin/python bench/bench_pgbouncer.py [--quick] [--seconds N]
Starts its own throw-away PostGIS cluster and pgbouncer (tools/pgcluster.py) on free ports, then measures, direct
and through pgbouncer side by side:
  1. short-lived clients: each connects, runs one small transaction and disconnects (CLI commands, cron jobs,
     serverless-style workers; every app process that starts);
  2. many connected clients: more client connections than the server's cores (many app processes, each with its
     own pool), each running small read-write transactions; and through pgbouncer alone, more clients than the
     server's max_connections allows at all;
  3. the app itself: POST /api/reports under gunicorn (its pool keeps its connections open), direct with and
     without prepared statements, and through pgbouncer (which needs them off).
The clients, pgbouncer and PostgreSQL share this machine's cores, so the figures are for the whole box.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from app.db import upgrade  # noqa: E402
from tools import pgcluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
POOL_SIZE = 8  # pgbouncer's server connections per database and user
KEYS = 10_000
PASSWORD = "bench-pgbouncer-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tally:
    """What the client threads of one measurement did."""

    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, latency_s: float) -> None:
        with self.lock:
            self.latencies_s.append(latency_s)

    def fail(self, error: str) -> None:
        if "FATAL" in error:  # the server's reason, e.g. "sorry, too many clients already"
            error = error[error.index("FATAL"):]
        with self.lock:
            self.errors.append(error)


def run_threads(n: int, setup: Callable[[int], Any], step: Callable[[Any], None], *, seconds: float,
                during: Callable[[], int | None] | None = None) -> Result:
    """n threads: each sets itself up (`setup(i)`, e.g. connects; not timed), then, all together, repeats
    `step(state)` until the deadline; each step is timed. `during` runs half way (e.g. counts server backends)."""
    tally = Tally()
    deadline: list[float] = []
    barrier = threading.Barrier(n + 1, action=lambda: deadline.append(time.perf_counter() + seconds))

    def run(i: int) -> None:
        try:
            state = setup(i)
        except (psycopg.Error, OSError) as exc:
            tally.fail(type(exc).__name__ + ": " + str(exc).splitlines()[0])
            barrier.wait()
            return
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            try:
                step(state)
            except (psycopg.Error, OSError, http.client.HTTPException, RuntimeError) as exc:
                tally.fail(type(exc).__name__ + ": " + str(exc).splitlines()[0])
                time.sleep(0.05)
                continue
            tally.add(time.perf_counter() - t0)
        if isinstance(state, psycopg.Connection | http.client.HTTPConnection):
            state.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    found = None
    if during is not None:
        time.sleep(seconds / 2)
        found = during()
    for t in threads:
        t.join()
    return Result(tally, time.perf_counter() - started, found)


@dataclass(frozen=True)
class Result:
    tally: Tally
    elapsed_s: float
    backends: int | None = None  # client backends on the server half way through


def percentile_ms(values_s: list[float], share: float) -> float:
    if not values_s:
        return float("nan")
    ordered = sorted(values_s)
    return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]


TRANSACTION = """INSERT INTO bench_counter (id, hits) VALUES (%(key)s, 1)
                 ON CONFLICT (id) DO UPDATE SET hits = bench_counter.hits + 1 RETURNING hits"""


def short_lived(url: str, *, clients: int, seconds: float) -> Result:
    """Each step connects, runs one transaction and disconnects."""
    def step(rng: random.Random) -> None:
        with psycopg.connect(url, prepare_threshold=None) as conn:
            conn.execute(TRANSACTION, {"key": rng.randrange(KEYS)}).fetchone()

    return run_threads(clients, random.Random, step, seconds=seconds)


def connected(url: str, *, clients: int, seconds: float, admin_url: str) -> Result:
    """Each client connects first (not timed), then runs one transaction after another."""
    rngs: dict[int, random.Random] = {}

    def setup(i: int) -> psycopg.Connection[Any]:
        conn = psycopg.connect(url, prepare_threshold=None)
        rngs[id(conn)] = random.Random(i)
        return conn

    def step(conn: psycopg.Connection[Any]) -> None:
        conn.execute(TRANSACTION, {"key": rngs[id(conn)].randrange(KEYS)}).fetchone()
        conn.commit()

    return run_threads(clients, setup, step, seconds=seconds, during=lambda: backends(admin_url))


def report_body(rng: random.Random) -> bytes:
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return json.dumps({"id": str(uuid.uuid4()), "lon": -6.4 + 0.3 * rng.random(), "lat": 53.25 + 0.2 * rng.random(),
                       "accuracy_m": 8.0, "observed_at": observed, "kind": "other", "severity": "moderate",
                       "status": "degraded", "components": [], "hazards": [], "repair_hours": 2}).encode()


def post_reports(port: int, token: str, *, clients: int, seconds: float) -> Result:
    """Each client keeps one HTTP connection and sends one new report after another (201 counts)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    rng = random.Random(7)

    def step(conn: http.client.HTTPConnection) -> None:
        conn.request("POST", "/api/reports", body=report_body(rng), headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"HTTP {response.status}")

    return run_threads(clients, lambda i: http.client.HTTPConnection("127.0.0.1", port, timeout=30), step,
                       seconds=seconds)


def app_token(url: str) -> str:
    """A crew account and its API token, made with the app's own commands."""
    env = {**os.environ, "DATABASE_URL": url, "GRIDTRIAGE_PASSWORD": PASSWORD}
    flask = [str(VENV_BIN / "flask"), "--app", "app"]
    subprocess.run([*flask, "create-user", "bench", "--role", "crew"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    made = subprocess.run([*flask, "create-token", "bench"], env=env, cwd=ROOT, check=False, capture_output=True,
                          text=True)
    if made.returncode != 0:
        raise RuntimeError(f"flask create-token failed:\n{made.stdout}{made.stderr}")
    return made.stdout.strip()


def with_gunicorn(base: Path, url: str, *, prepare: bool, workers: int, threads: int,
                  measure: Callable[[int], Result]) -> Result:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "FLASK_SECRET_KEY": "bench", "FLASK_RATE_LIMIT_REPORTS": "0",
           "FLASK_DB_POOL_MIN": str(threads), "FLASK_DB_POOL_MAX": str(threads)}
    if not prepare:
        env["FLASK_DB_PREPARE_THRESHOLD"] = "null"
    with (base / "gunicorn.log").open("ab") as log:
        server = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-k", "gthread", "-w", str(workers), "--threads",
                                   str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                                   "app:create_app()"], cwd=ROOT, env=env, stdout=log, stderr=log,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{(base / 'gunicorn.log').read_text()[-3000:]}")
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not become healthy in 60 s")
            time.sleep(0.2)
        measure(port)  # warm-up: every worker's pool filled and its code paths imported
        return measure(port)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def row(label: str, result: Result) -> str:
    tally = result.tally
    done = len(tally.latencies_s)
    errors = f"{len(tally.errors)} ({tally.errors[0][:60]})" if tally.errors else "0"
    backends_used = "" if result.backends is None else f"{result.backends:,}"  # blank: not counted, or no room
    return (f"| {label} | {done / result.elapsed_s:,.0f} | {percentile_ms(tally.latencies_s, 0.5):.1f} | "
            f"{percentile_ms(tally.latencies_s, 0.99):.1f} | {backends_used} | {errors} |")


def backends(admin_url: str) -> int | None:
    """Client backends on the server now (None when the server takes no more connections)."""
    try:
        with psycopg.connect(admin_url) as conn:
            found = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                                 ).fetchone()
    except psycopg.OperationalError:
        return None
    return int(found[0]) if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per measurement (default 10 s)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--clients", type=int, default=8, help="short-lived and app clients (default 8)")
    parser.add_argument("--connected", type=int, default=80, help="connected clients (default 80, below the "
                                                                    "server's max_connections of 100)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    cpus = os.cpu_count() or 1
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="gridtriage-bench-pgb-"))
    base.chmod(0o755)
    cluster = pgcluster.Cluster(base / "pg", free_port())
    try:
        direct = pgcluster.up(cluster, dbname="bench")
        admin = psycopg.conninfo.make_conninfo(direct, dbname="postgres")
        upgrade(direct)
        with psycopg.connect(direct) as conn:
            conn.execute("CREATE TABLE bench_counter (id int PRIMARY KEY, hits int NOT NULL)")
            max_connections = conn.execute("SHOW max_connections").fetchone()
        token = app_token(direct)
        port = free_port()
        with pgcluster.pooling(cluster, base / "pgbouncer", port=port, pool_size=POOL_SIZE, max_clients=2000):
            pooled = psycopg.conninfo.make_conninfo(direct, port=port)
            limit = max_connections[0] if max_connections else "?"
            print(f"PostgreSQL on 127.0.0.1:{cluster.port} (max_connections {limit}), pgbouncer transaction "
                  f"pooling on :{port} with {POOL_SIZE} server connections; {seconds:g} s per measurement, "
                  f"{cpus} cores, load {load_before[0]:.2f}")
            lines = ["| path | transactions/s | p50 ms | p99 ms | server backends | errors |",
                     "|---|---:|---:|---:|---:|---:|",
                     f"| **1. short-lived clients: {args.clients} threads, connect + 1 transaction + close** ||||||",
                     row("direct", short_lived(direct, clients=args.clients, seconds=seconds)),
                     row("pgbouncer", short_lived(pooled, clients=args.clients, seconds=seconds)),
                     f"| **2. {args.connected} connected clients, one small write transaction after another** ||||||",
                     row("direct", connected(direct, clients=args.connected, seconds=seconds, admin_url=admin)),
                     row("pgbouncer", connected(pooled, clients=args.connected, seconds=seconds, admin_url=admin))]
            beyond = 4 * args.connected
            lines.append(row(f"direct, {beyond} clients (refused above max_connections: errors)",
                             connected(direct, clients=beyond, seconds=seconds, admin_url=admin)))
            lines.append(row(f"pgbouncer, {beyond} clients",
                             connected(pooled, clients=beyond, seconds=seconds, admin_url=admin)))
            lines.append(f"| **3. POST /api/reports, gunicorn 2×4 threads, {args.clients} keep-alive clients** ||||||")
            for label, url, prepare in (("direct, prepared statements (default)", direct, True),
                                        ("direct, FLASK_DB_PREPARE_THRESHOLD=null", direct, False),
                                        ("pgbouncer, FLASK_DB_PREPARE_THRESHOLD=null", pooled, False)):
                lines.append(row(label, with_gunicorn(
                    base, url, prepare=prepare, workers=2, threads=4,
                    measure=lambda p: post_reports(p, token, clients=args.clients, seconds=seconds))))
        load_after = os.getloadavg()
        print("\n".join(lines))
        print(f"\nserver backends: client backends on PostgreSQL half way through a measurement (pgbouncer's are "
              f"at most {POOL_SIZE}, plus the count's own); load average {load_before[0]:.2f} before, "
              f"{load_after[0]:.2f} after")
    finally:
        pgcluster.stop(cluster, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
