"""Fault tests: a 2xx means committed, whether the database goes away mid-run or the server is killed under load."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from werkzeug.serving import make_server

from tests.conftest import ROOT, create_accounts, free_port, make_app
from tests.test_reports_api import report
from tools import pgcluster

HTTP_TIMEOUT_S = 15.0  # a request that takes longer than this counts as a hang


def wait_for(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll until the condition holds; fail naming what never happened."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def request(port: int, method: str, path: str, *, token: str | None = None, body: object = None,
            ) -> tuple[int, str | None]:
    """One HTTP request on a fresh connection: (status, Retry-After header)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


def healthy(port: int) -> bool:
    try:
        return request(port, "GET", "/healthz")[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def stored_ids(url: str) -> Counter[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return Counter(str(row[0]) for row in conn.execute("SELECT id FROM report"))


class Outbox(threading.Thread):
    """A field form's outbox: queues new reports while `feeding`, sends the oldest, keeps it until a 2xx."""

    def __init__(self, port: int, token: str, feeding: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.feeding = port, token, feeding
        self.pending: deque[dict[str, object]] = deque()
        self.acked: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.problems: list[str] = []  # anything but a 2xx, or a 503 with Retry-After

    def run(self) -> None:
        deadline = time.monotonic() + 90
        while (self.feeding.is_set() or self.pending) and time.monotonic() < deadline:
            if self.feeding.is_set():
                self.pending.append(report())
            body = self.pending[0]
            try:
                status, retry_after = request(self.port, "POST", "/api/reports", token=self.token, body=body)
            except OSError as exc:
                self.problems.append(f"{type(exc).__name__}: {exc}")
                continue
            self.statuses[status] += 1
            if status in (200, 201):
                self.acked.append(str(body["id"]))
                self.pending.popleft()
            elif status == 503 and retry_after:
                time.sleep(0.05)  # the real outbox waits Retry-After seconds; the test need not
            else:
                self.problems.append(f"{status} (Retry-After {retry_after!r})")
                self.pending.popleft()


@pytest.fixture()
def served(new_database) -> Iterator[tuple[str, int, str]]:
    """The app on a database of its own, served over HTTP by werkzeug's threaded server: (url, port, crew token)."""
    url = new_database()
    app = make_app(url, DB_TIMEOUT_S=1.0)
    token = create_accounts(app, {"crew": "crew"})["crew"]
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, server.server_port, token
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["db_pool"].close()


def test_database_outage_loses_nothing_acknowledged_and_the_app_recovers_by_itself(pg_server, app, served):
    if pg_server.cluster is None:
        pytest.skip("stopping the database needs the tests' own cluster; DATABASE_URL points at a shared server")
    url, port, token = served
    feeding = threading.Event()
    feeding.set()
    outboxes = [Outbox(port, token, feeding) for _ in range(2)]
    for outbox in outboxes:
        outbox.start()

    def acked() -> int:
        return sum(len(o.acked) for o in outboxes)

    try:
        wait_for(lambda: acked() >= 10, timeout_s=30, what="reports before the outage")
        pgcluster.stop(pg_server.cluster, mode="fast")
        wait_for(lambda: sum(o.statuses[503] for o in outboxes) >= 4, timeout_s=30, what="503s during the outage")
    finally:
        pgcluster.start(pg_server.cluster)
    wait_for(lambda: healthy(port), timeout_s=45, what="/healthz to return to 200 without a restart")
    before = acked()
    wait_for(lambda: acked() >= before + 10, timeout_s=30, what="reports after the outage")
    feeding.clear()
    for outbox in outboxes:
        outbox.join(timeout=60)
        assert not outbox.is_alive(), "the outbox did not drain"

    assert [p for o in outboxes for p in o.problems] == []  # no 500, no 503 without Retry-After, no hang
    assert all(not o.pending for o in outboxes)
    acknowledged = [i for o in outboxes for i in o.acked]
    assert len(acknowledged) == len(set(acknowledged))
    assert stored_ids(url) == Counter(acknowledged)  # every acknowledged report stored once, and nothing else
    # The session's own app shares the cluster: its pool must have recovered by itself too.
    wait_for(lambda: app.test_client().get("/healthz").status_code == 200, timeout_s=45,
             what="the session app's /healthz")


class Gunicorn:
    """`gunicorn -w 2 'app:create_app()'` in a process group of its own, so one signal reaches every worker."""

    def __init__(self, url: str, port: int, log: Path) -> None:
        self.url, self.port, self.log = url, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.url, "FLASK_RATE_LIMIT_REPORTS": "0", "FLASK_SECRET_KEY": "x",
               "FLASK_DB_TIMEOUT_S": "3"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "app:create_app()"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.ready, timeout_s=60, what="gunicorn to serve /healthz")

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
        return healthy(self.port)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        if self.process is not None:
            self.process.wait(timeout=30)


class Load(threading.Thread):
    """Sends new reports one after another until told to stop; remembers what was sent and what was acknowledged."""

    def __init__(self, port: int, token: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.stop = port, token, stop
        self.sent: dict[str, dict[str, object]] = {}
        self.acked: list[str] = []
        self.refusals: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            body = report()
            self.sent[str(body["id"])] = body
            try:
                status, _ = request(self.port, "POST", "/api/reports", token=self.token, body=body)
            except (OSError, http.client.HTTPException):
                continue  # killed mid-request (a reset, or a response cut short), or not listening: not acknowledged
            if status in (200, 201):
                self.acked.append(str(body["id"]))
            else:
                self.refusals.append(status)


def test_server_killed_under_load_keeps_every_acknowledged_report(new_database):
    url = new_database()
    setup = make_app(url)
    try:
        token = create_accounts(setup, {"crew": "crew"})["crew"]
    finally:
        setup.extensions["db_pool"].close()
    with tempfile.TemporaryDirectory() as tmp:
        server = Gunicorn(url, free_port(), Path(tmp) / "gunicorn.log")
        try:
            server.start()
            stop = threading.Event()
            loads = [Load(server.port, token, stop) for _ in range(4)]
            for load in loads:
                load.start()
            wait_for(lambda: sum(len(load.acked) for load in loads) >= 40, timeout_s=30, what="reports under load")
            server.kill(signal.SIGKILL)
            stop.set()
            for load in loads:
                load.join(timeout=HTTP_TIMEOUT_S + 5)
                assert not load.is_alive()

            sent = {i: body for load in loads for i, body in load.sent.items()}
            acknowledged = [i for load in loads for i in load.acked]
            assert [s for load in loads for s in load.refusals] == []
            stored = stored_ids(url)
            assert set(acknowledged) <= set(stored), "an acknowledged report was lost"
            assert set(stored) <= set(sent) and max(stored.values()) == 1

            server.start()  # after a crash the server comes back with nothing to repair
            for report_id in sorted(set(sent) - set(acknowledged)):
                status, _ = request(server.port, "POST", "/api/reports", token=token, body=sent[report_id])
                assert status in (200, 201), (report_id, status)  # 200: committed before the kill, unacknowledged
            assert stored_ids(url) == Counter(set(sent))
        finally:
            server.kill(signal.SIGTERM if server.process and server.process.poll() is None else signal.SIGKILL)
