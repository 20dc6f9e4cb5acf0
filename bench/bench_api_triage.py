"""Benchmark /api/triage, /api/plan and the case page at 10^4 open cases on a 10^5-facility network, next to
their bare SQL and to the same requests after a registry change.

Run: .venv/bin/python bench/bench_api_triage.py [--quick] [--facilities N] [--cases M] [--crews K]
A throw-away PostGIS cluster (tools.pgcluster) gets a random radial feed tree of N facilities with a population
layer, M open damage cases on distinct facilities with one to three reports each (a tenth of them also with a
duplicate case merged into them, with its own report), some coordinator events (overrides, bumps, status set).
Each request goes through the Flask app (test client, bearer token), timed until its body has arrived (the client's
own parse of the JSON, 0.1-0.4 s at this size, is timed in its own rows). The app keeps the registry network (issue 17,
migration 0019): each request reads the open cases and the registry revision; the baseline is the same request with
a no-op registry change before each, so that it reads and builds the registry (what every request did before).
Next to them, in the same run: the SQL the request runs and ran, the live network, the picture, the ranking (the
engine), the queue rows and the JSON (orjson against Flask's stdlib encoder), a bare scan of the open cases, the
open-cases query as it was before issue 17 (per-case view laterals), the export of the cases layer and a full read
of view case_operational_status (0016 set-based against 0010's laterals in a rolled-back transaction), the case
page with its standings kept and after a registry change (a new ranking and 0.5 s plan), and /api/plan.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from flask import jsonify  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from app import create_app  # noqa: E402
from app.coordinator import registry, situation  # noqa: E402
from app.coordinator.situation import case_fields, explain, load_situation, ranking  # noqa: E402
from app.db import upgrade  # noqa: E402
from app.repo import exports  # noqa: E402
from app.repo import triage as repo  # noqa: E402
from app.site import fast_json  # noqa: E402
from geo import live  # noqa: E402
from tools import pgcluster  # noqa: E402

try:  # the kept case overlays (this benchmark also runs on the code before them, without those rows)
    from app.coordinator.overlay import Overlays  # noqa: E402
except ImportError:  # pragma: no cover
    Overlays = None  # type: ignore[assignment,misc]

PASSWORD = "bench-password-123"

SEED = """
SET gridtriage.maintenance = 'on';
INSERT INTO facility (external_id, name, kind, geom)
SELECT 'f' || i, 'Facility ' || i, (ARRAY['substation', 'transformer', 'line'])[1 + i %% 3]::facility_kind,
       ST_Point(-6.45 + random() * 0.4, 53.2 + random() * 0.4, 4326)
FROM generate_series(1, %(facilities)s) i;
INSERT INTO feed_link (parent_id, child_id, origin)
SELECT b.first + floor(random() * (i - 1))::bigint, b.first + i - 1, 'given'
FROM (SELECT min(id) AS first FROM facility) b, generate_series(2, %(facilities)s) i;
INSERT INTO population_layer (name, kind, total) VALUES ('bench', 'points', 0);
INSERT INTO facility_population (facility_id, layer_id, population, population_served, method)
SELECT f.id, l.id, p, p, 'point_sum'
FROM facility f, population_layer l, LATERAL (SELECT CASE WHEN random() < 0.7 THEN floor(random() * 500) ELSE 0 END
                                             + f.id * 0 AS p) v;
INSERT INTO damage_case (facility_id, kind, status, geom, repair_hours_override, priority_bump)
SELECT f.id, f.kind, (ARRAY['reported', 'confirmed']::case_status[])[1 + (row_number() OVER () %% 2)::int], f.geom,
       CASE WHEN random() < 0.02 THEN 3 END, CASE WHEN random() < 0.01 THEN 500 ELSE 0 END
FROM (SELECT * FROM facility ORDER BY random() LIMIT %(cases)s) f;
INSERT INTO damage_case (facility_id, kind, status, merged_into, geom)
SELECT c.facility_id, c.kind, 'duplicate', c.id, c.geom FROM damage_case c WHERE c.id %% 10 = 0;
INSERT INTO report (id, case_id, facility_id, kind, severity, status, hazards, repair_hours, observed_at, received_at,
                    content_hash, geom)
SELECT gen_random_uuid(), c.id, c.facility_id, c.kind,
       (ARRAY['minor', 'moderate', 'severe', 'destroyed'])[1 + (c.id + k) %% 4]::severity,
       (ARRAY['out_of_service', 'out_of_service', 'degraded'])[1 + (c.id + k) %% 3]::operational_status,
       CASE WHEN (c.id + k) %% 10 = 0 THEN '{fire}'::hazard[] ELSE '{}' END,
       CASE WHEN (c.id + k) %% 2 = 0 THEN 1 + (c.id + k) %% 7 END,
       now() - (c.id + k) * interval '1 second', now() - (c.id + k) * interval '1 second', md5(c.id || '-' || k),
       c.geom
FROM damage_case c, generate_series(1, 3) k WHERE k = 1 OR (c.id + k) %% 3 = 0;
INSERT INTO case_event (case_id, action, reason)
SELECT id, (ARRAY['override_hours', 'bump_priority', 'set_operational_status'])[1 + id %% 3], 'bench'
FROM damage_case WHERE status <> 'duplicate' AND id %% 50 = 0;
ANALYZE;
"""

# The open-cases query before issue 17: the view case_operational_status (two laterals over case_members per case)
# and a lateral per case for the hazards of the case's members. Kept here only as the benchmark's baseline.
BEFORE = """WITH members AS MATERIALIZED (
     SELECT case_id, member_id
     FROM case_members(ARRAY(SELECT id FROM damage_case WHERE status = ANY(%(open)s::case_status[]))))
   SELECT c.id AS case_id, c.facility_id::text AS facility_id, c.kind, c.status,
          array_agg(r.severity::text) AS severities,
          (SELECT coalesce(array_agg(DISTINCT h::text), '{}')
           FROM members m2 JOIN report r2 ON r2.case_id = m2.member_id, unnest(r2.hazards) h
           WHERE m2.case_id = c.id) AS hazards,
          count(r.id) AS reports, st.operational_status::text AS operational_status, st.reported_statuses
   FROM damage_case c JOIN members m ON m.case_id = c.id JOIN report r ON r.case_id = m.member_id
   JOIN case_operational_status st ON st.case_id = c.id
   WHERE c.status = ANY(%(open)s::case_status[])
   GROUP BY c.id, st.operational_status, st.reported_statuses ORDER BY c.id"""

# View case_operational_status as migration 0010 defined it (0016 keeps it for its downgrade).
_SPEC = importlib.util.spec_from_file_location(
    "m0016", Path(__file__).resolve().parents[1] / "migrations/versions/0016_case_status_set_based.py")
assert _SPEC is not None and _SPEC.loader is not None
_M0016 = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_M0016)
OLD_VIEW: str = _M0016.OLD_VIEW


def with_view(conn: psycopg.Connection[Any], old: bool, fn: Callable[[], object]) -> Callable[[], object]:
    """fn in a rolled-back transaction, with view case_operational_status as 0010 defined it if old."""
    def call() -> object:
        with conn.transaction(force_rollback=True):
            if old:
                conn.execute(OLD_VIEW)
            return fn()
    return call


BARE = "SELECT id, facility_id, kind, status FROM damage_case WHERE status = ANY(%(open)s::case_status[]) ORDER BY id"


@contextmanager
def paused_gc() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Samples(list[float]):
    """Milliseconds of wall time per call, with the CPU time this process spent on each (`cpu`): the app runs in
    this process, so that is the request's own work, less disturbed by other processes on the machine than the
    wall time (the database server's CPU is not in it)."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []


def timed(fn: Callable[[], object], repeat: int, *, warm: bool = True) -> Samples:
    """Milliseconds of `repeat` calls, after one untimed warm-up call (unless `warm` is false)."""
    if warm:
        fn()
    out = Samples()
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - start) * 1000)
        out.cpu.append((time.process_time() - cpu) * 1000)
    return out


def p50_p95(samples: Samples) -> str:
    q = statistics.quantiles(samples, n=20, method="inclusive") if len(samples) > 1 else samples * 19
    return f"{statistics.median(samples):8.0f} {q[18]:8.0f} {statistics.median(samples.cpu):8.0f}"


def get_ok(client: Any, url: str, *, json: bool = True) -> Callable[[], object]:
    def call() -> object:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
        return response.get_json() if json else response.get_data()
    return call


def registry_changed(conn: psycopg.Connection[Any]) -> Callable[[], None]:
    """A no-op change of one facility: a new registry revision, so the next request reads and builds it again."""
    first = conn.execute("SELECT min(id) AS id FROM facility").fetchone()
    assert first is not None

    def change() -> None:
        conn.execute("UPDATE facility SET name = name WHERE id = %(id)s", first)
    return change


def one_report(conn: psycopg.Connection[Any]) -> Callable[[], None]:
    """A new report on one open case, chosen at random: the next request finds one case's row changed."""
    def add() -> None:
        conn.execute("""INSERT INTO report (id, case_id, facility_id, kind, severity, status, hazards, observed_at,
                                            received_at, content_hash, geom)
                        SELECT gen_random_uuid(), c.id, c.facility_id, c.kind, 'severe', 'out_of_service', '{}', now(),
                               now(), md5(random()::text), c.geom
                        FROM damage_case c WHERE c.status = ANY(%(open)s::case_status[]) ORDER BY random() LIMIT 1""",
                     {"open": list(repo.OPEN_FOR_TRIAGE)})
    return add


def overlays_dropped() -> Overlays:
    """This server's kept case overlays forgotten: the next request works out every case's row."""
    situation.OVERLAYS = Overlays()
    return situation.OVERLAYS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--facilities", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--crews", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=2.0, help="/api/plan's local-search budget (s)")
    args = parser.parse_args()
    repeat = 5 if args.quick else 20
    base = Path(tempfile.mkdtemp(prefix="gridtriage-bench-triage-"))
    base.chmod(0o755)
    cluster = pgcluster.Cluster(base / "pg", free_port())
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start; {repeat} timed runs per row")
    try:
        url = pgcluster.up(cluster, dbname="bench")
        upgrade(url)
        start = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in SEED.split(";\n"):
                if statement.strip():
                    conn.execute(statement, {"facilities": args.facilities, "cases": args.cases})
        seeded_s = time.perf_counter() - start
        print(f"{args.facilities:,} facilities, {args.cases:,} open cases seeded in {seeded_s:.1f} s")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATE_LIMIT_LOGIN": 0, "DB_POOL_MIN": 1})
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        runner = app.test_cli_runner()
        runner.invoke(args=["create-user", "coord", "--role", "coordinator"], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        token = runner.invoke(args=["create-token", "coord"]).output.strip()
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        uk_client = app.test_client()
        uk_client.environ_base |= {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT_LANGUAGE": "uk"}
        open_ = {"open": list(repo.OPEN_FOR_TRIAGE)}
        # The inside rows run with the collector paused, as the two views run (app/coordinator/triage.py).
        with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn, paused_gc(), app.app_context():
            queue: Any = get_ok(client, "/api/triage")()
            assert len(queue["queue"]) == args.cases, len(queue["queue"])
            changed = registry_changed(conn)
            reported = one_report(conn)
            case_id = queue["queue"][len(queue["queue"]) // 2]["case_id"]
            rows: list[tuple[str, Samples]] = [
                ("GET /api/triage (registry kept)", timed(get_ok(client, "/api/triage", json=False), repeat)),
                ("  baseline: registry changed before each (read + built)",
                 timed(lambda: (changed(), get_ok(client, "/api/triage", json=False)()), repeat)),
                ("  one new report on one case before each", timed(lambda: (reported(), get_ok(
                    client, "/api/triage", json=False)()), repeat)),
                *([("  baseline: kept case overlays dropped before each", timed(lambda: (overlays_dropped(), get_ok(
                    client, "/api/triage", json=False)()), repeat))] if Overlays is not None else []),
                ("  the same with the client parsing the JSON (as this row was timed before)",
                 timed(get_ok(client, "/api/triage"), repeat)),
                ("GET /api/triage in Ukrainian (registry kept)", timed(get_ok(uk_client, "/api/triage", json=False),
                                                                     repeat)),
                ("  its SQL: open cases", timed(lambda: repo.open_cases(conn), repeat)),
                ("  its SQL: registry revision", timed(lambda: repo.registry_revision(conn), repeat)),
                ("  baseline: its SQL before: network + critical sites",
                 timed(lambda: (repo.network(conn), repo.critical_sites(conn)), repeat)),
                ("  load_situation (registry kept)", timed(lambda: load_situation(conn, default_share=0.5), repeat)),
            ]
            situation = load_situation(conn, default_share=0.5)
            kept = registry.current(conn)
            kept_base = kept.base
            assert kept_base is not None
            pairs = sorted((kept.position[str(situation.facility_ids[node])], node) for node in situation.cases)
            at, ids = [p for p, _ in pairs], [node for _, node in pairs]
            hours = [float(situation.network.arrays.hours[situation.network.index[node]]) for node in ids]
            rows.append(("    of which live network laid on the kept base (now)",
                         timed(lambda: live.live_on_base(kept_base, at, ids, hours, situation.expanded.states),
                               repeat)))
            rows.append(("    baseline: live network expanded + built (before)",
                         timed(lambda: live.live_network(list(situation.expanded.network.facilities), {}), repeat)))
            rows.append(("    of which picture", timed(lambda: live.picture(situation.expanded), repeat)))
            ranked = ranking(situation)
            rows.append(("  ranking (engine, geo/triage.rank)", timed(lambda: ranking(situation), repeat)))
            with app.test_request_context("/api/triage"):
                body = {"queue": [{"rank": r.rank, **case_fields(situation, r.id),
                                   "explanation": explain(situation, r.id, r.explanation)} for r in ranked]}
                rows += [("  queue rows (case fields + sentences)",
                          timed(lambda: [{**case_fields(situation, r.id),
                                          "explanation": explain(situation, r.id, r.explanation)} for r in ranked],
                                repeat)),
                         ("  JSON (orjson)", timed(lambda: fast_json.response(body), repeat)),
                         ("  baseline: JSON as before (Flask's stdlib json)", timed(lambda: jsonify(body), repeat))]
            rows.append(("baseline: bare scan of the open cases", timed(lambda: conn.execute(BARE, open_).fetchall(),
                                                                        repeat)))
            rows.append(("baseline: open cases as before (view laterals)",  # seconds at 10^4: run once
                         timed(with_view(conn, True, lambda: conn.execute(BEFORE, open_).fetchall()), 1, warm=False)))
            export = lambda: exports.layer(conn, "cases", exports.Filters())  # noqa: E731
            whole_view = lambda: conn.execute("SELECT * FROM case_operational_status").fetchall()  # noqa: E731
            rows += [("export cases layer (view set-based, 0016)", timed(with_view(conn, False, export), repeat)),
                     ("  baseline: as before (view laterals, 0010)", timed(with_view(conn, True, export), 1,
                                                                           warm=False)),
                     ("view case_operational_status, all rows (0016)", timed(with_view(conn, False, whole_view),
                                                                              repeat)),
                     ("  baseline: as before (0010)", timed(with_view(conn, True, whole_view), 1, warm=False))]
            page = f"/cases/{case_id}"
            rows += [(f"GET {page} (standings kept)", timed(get_ok(client, page, json=False), repeat)),
                     ("  baseline: registry changed before each (ranked + planned)",
                      timed(lambda: (changed(), get_ok(client, page, json=False)()), max(2, repeat // 2)))]
            plan_url = f"/api/plan?crews={args.crews}&time_limit={args.time_limit:g}"
            rows.append((f"GET {plan_url}", timed(get_ok(client, plan_url, json=False), max(2, repeat // 4))))
            rows.append(("  the same with the client parsing the JSON", timed(get_ok(client, plan_url),
                                                                              max(2, repeat // 4))))
        print(f"\n{'':52} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8}")
        for name, samples in rows:
            print(f"{name:52} {p50_p95(samples)}")
        print(f"\ntargets: /api/triage < 500 ms; /api/plan for {args.crews} crews < {args.time_limit:g} s budget "
              f"+ 0.5 s = {(args.time_limit + 0.5) * 1000:.0f} ms")
        app.extensions["db_pool"].close()
    finally:
        pgcluster.stop(cluster, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at end; API = Flask test client incl. bearer auth and JSON")


if __name__ == "__main__":
    main()
