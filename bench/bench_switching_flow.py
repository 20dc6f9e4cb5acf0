"""Benchmark the power-flow check of proposed switching steps on /api/triage (issue 15): MV Oberrhein imported
by import-facilities, two feeder lines out so two tie switches are proposed; the request with the check (kept
verdicts; verdicts run again; network rebuilt from the registry and verdicts run, as after an import) next to
the same request without the check, in the same run.

Run: .venv/bin/python bench/bench_switching_flow.py [--quick]
A throw-away PostGIS cluster (tools.pgcluster); each request goes through the Flask app (test client, bearer
token). The rows are interleaved (one of each in turn) so that a change of the machine's load hits them alike.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from app import create_app  # noqa: E402
from app.coordinator import switching  # noqa: E402
from app.db import upgrade  # noqa: E402
from tools import pgcluster  # noqa: E402

PASSWORD = "bench-password-123"
OBERRHEIN = Path(__file__).resolve().parents[1] / "data" / "reference" / "oberrhein" / "mv_oberrhein.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DAMAGED = ("mv_oberrhein:line:97", "mv_oberrhein:line:62")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 7 if args.quick else 25
    warnings.simplefilter("ignore")  # pandapower's notes (numba missing) are not results
    base = Path(tempfile.mkdtemp(prefix="gridtriage-bench-flow-"))
    base.chmod(0o755)
    cluster = pgcluster.Cluster(base / "pg", free_port())
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start; {repeat} timed runs per row")
    try:
        url = pgcluster.up(cluster, dbname="bench")
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATE_LIMIT_LOGIN": 0, "DB_POOL_MIN": 1})
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        runner = app.test_cli_runner()
        result = runner.invoke(args=["import-facilities", str(OBERRHEIN)])
        assert result.exit_code == 0, result.output
        with psycopg.connect(url, autocommit=True) as conn:
            ids: dict[str, int] = dict(conn.execute("SELECT external_id, id FROM facility").fetchall())
            dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('p', 'bench') RETURNING id").fetchone()
            assert dataset is not None
            layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) VALUES ('p', "
                                 "'points', %s, 0) RETURNING id", dataset).fetchone()
            assert layer is not None
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) SELECT id, %s, 100, 100, 'given' FROM facility WHERE kind = 'substation'", layer)
        tokens = {}
        for name, role in (("coord", "coordinator"), ("crew", "crew")):
            runner.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
            tokens[name] = runner.invoke(args=["create-token", name]).output.strip()
        crew, coord = app.test_client(), app.test_client()
        crew.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['crew']}"
        coord.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['coord']}"
        for external_id in DAMAGED:
            body = {"id": str(uuid.uuid4()), "facility_id": ids[external_id], "lon": 7.8, "lat": 48.4,
                    "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "kind": "line",
                    "severity": "severe", "status": "out_of_service", "repair_hours": 8}
            assert crew.post("/api/reports", json=body).status_code == 201

        def triage() -> Any:
            response = coord.get("/api/triage")
            assert response.status_code == 200
            return response.get_json()

        steps = triage()["switching"]
        print(f"{len(steps)} proposed steps: " + "; ".join(f"{s['name']}: {s['flow']['status']}" for s in steps))
        assert steps and all(s["flow"]["status"] != "not_possible" for s in steps)

        def without() -> None:
            switching.POWER_FLOW = False
            try:
                triage()
            finally:
                switching.POWER_FLOW = True

        def again() -> None:
            switching._flows.clear()
            triage()

        def rebuilt() -> None:
            switching._flows.clear()
            switching._networks.clear()
            triage()

        rows: dict[str, Callable[[], object]] = {
            "baseline: /api/triage without the check": without,
            "/api/triage, verdicts kept": triage,
            "/api/triage, power flows run again": again,
            "/api/triage, network rebuilt + power flows": rebuilt}
        samples: dict[str, list[float]] = {name: [] for name in rows}
        for fn in rows.values():
            fn()  # warm-up
        for _ in range(repeat):
            for name, fn in rows.items():
                start = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - start) * 1000)
        base_ms = statistics.median(samples["baseline: /api/triage without the check"])
        print(f"\n{'':46} {'p50 ms':>8} {'max ms':>8} {'added ms':>9}")
        for name, values in samples.items():
            median = statistics.median(values)
            print(f"{name:46} {median:8.1f} {max(values):8.1f} {median - base_ms:9.1f}")
        app.extensions["db_pool"].close()
    finally:
        pgcluster.stop(cluster, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at end; API = Flask test client incl. bearer auth and JSON")


if __name__ == "__main__":
    main()
