"""Text and scripts go compressed through the production front (nginx before gunicorn, as `make run` serves)."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tools import front


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[int]:
    """nginx and gunicorn on the session's database, as `make run` starts them: nginx's port."""
    try:
        front.nginx_binary()
    except front.FrontError as exc:
        pytest.skip(str(exc))
    runtime = Path(tempfile.mkdtemp(prefix="gridtriage-gzip-"))
    runtime.chmod(0o755)  # nginx's workers (www-data when we are root) must reach the socket inside
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_SECRET_KEY": "test-secret"}
    site = front.Front(runtime / "front", "127.0.0.1", free_port())
    try:
        with front.serving(site, workers=1, env=env):
            yield site.port
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        headers: dict[str, str] = {}
        for name, value in response.getheaders():  # a repeated header (Vary) as one comma-separated value
            headers[name.lower()] = f"{headers[name.lower()]}, {value}" if name.lower() in headers else value
        return response.status, headers, response.read()
    finally:
        conn.close()


def without_tokens(body: bytes) -> bytes:
    return re.sub(rb'"[A-Za-z0-9_.+/=-]{24,}"', b'""', body)


@pytest.mark.parametrize(("path", "kind"), [
    ("/login", "text/html"),
    ("/static/css/app.css", "text/css"),
    ("/vendor/leaflet/leaflet.js", "javascript"),
    ("/static/field/form.js", "javascript"),
    ("/api/openapi.json", "application/json"),
])
def test_text_and_scripts_are_sent_compressed_to_clients_that_accept_it(served, path, kind):
    status, headers, body = get(served, path, **{"Accept-Encoding": "gzip"})
    assert status == 200 and kind in headers["content-type"]
    assert headers.get("content-encoding") == "gzip" and "Accept-Encoding" in headers.get("vary", "")
    plain_status, plain_headers, plain = get(served, path)
    assert plain_status == 200 and "content-encoding" not in plain_headers
    # The same answer, but for the page's per-request tokens (CSRF), and smaller.
    assert without_tokens(gzip.decompress(body)) == without_tokens(plain) and len(body) < len(plain) / 2
