"""The production front (nginx before gunicorn, as `make run` serves): slow clients cannot take the app offline."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tools import front

SLOW_CLIENTS = 50
BODY_BYTES = 60_000  # what each slow client announces; it sends a byte every TRICKLE_S
TRICKLE_S = 0.5
QUICK_S = 1.0  # /healthz answers in milliseconds; a second means it waited for a thread


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[int]:
    """nginx and gunicorn (2 workers of 4 threads, as `make run`) on the session's database: nginx's port."""
    try:
        front.nginx_binary()
    except front.FrontError as exc:
        pytest.skip(str(exc))
    runtime = Path(tempfile.mkdtemp(prefix="gridtriage-front-"))
    runtime.chmod(0o755)  # nginx's workers (www-data when we are root) must reach the socket inside
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_SECRET_KEY": "test-secret", "FLASK_DB_TIMEOUT_S": "3"}
    site = front.Front(runtime / "front", "127.0.0.1", free_port())
    try:
        with front.serving(site, workers=2, env=env):
            yield site.port
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def get(port: int, path: str, *, timeout_s: float = 10.0) -> tuple[int, float, bytes]:
    """GET on a fresh connection: (status, seconds taken, body)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, time.monotonic() - started, response.read()
    finally:
        conn.close()


class Trickle(threading.Thread):
    """Slow clients: each sends a POST's headers, then its body a byte at a time, until told to stop."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.dropped = 0  # connections the server closed while their client was still sending
        self.sockets = []
        head = (f"POST /api/reports HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {BODY_BYTES}\r\n\r\n{{").encode()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            self.sockets.append(sock)

    def run(self) -> None:
        while not self.stop.wait(TRICKLE_S):
            for sock in list(self.sockets):
                try:
                    sock.sendall(b" ")
                except OSError:
                    self.dropped += 1
                    self.sockets.remove(sock)

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def test_health_answers_quickly_while_fifty_slow_clients_trickle_request_bodies(served):
    port = served
    assert get(port, "/healthz")[0] == 200
    slow = Trickle(port, SLOW_CLIENTS)
    slow.start()
    try:
        time.sleep(2 * TRICKLE_S)  # every slow client has begun its body
        answers = []
        for _ in range(10):
            answers.append(get(port, "/healthz"))
            time.sleep(0.2)
        assert slow.dropped == 0 and len(slow.sockets) == SLOW_CLIENTS  # all 50 were still sending throughout
    finally:
        slow.close()
    assert [status for status, _, _ in answers] == [200] * 10
    slowest = max(took for _, took, _ in answers)
    assert slowest < QUICK_S, f"/healthz took {slowest:.2f} s with {SLOW_CLIENTS} slow clients"


def test_a_body_larger_than_the_largest_upload_is_refused_by_the_front_with_the_apps_error(served):
    limit = front.largest_body_bytes()
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    try:
        # Only the headers: the front refuses on Content-Length before any of the body is sent.
        conn.putrequest("PUT", "/api/reports/x/photos/y")
        conn.putheader("Content-Type", "image/jpeg")
        conn.putheader("Content-Length", str(limit + 1))
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/json"
        assert json.loads(response.read()) == {"error": "invalid input",
                                               "errors": {"body": f"is larger than {limit} bytes"}}
    finally:
        conn.close()
