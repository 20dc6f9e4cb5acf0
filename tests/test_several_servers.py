"""Two app servers (two gunicorn processes, as behind a load balancer) on one database, the second through
pgbouncer in transaction pooling mode: a sign-in made on one works on the other and a sign-out on one ends it on
both, rate limits count across both, and nothing they serve depends on which process answers (CSRF tokens, revoked
tokens, the map's change cursor, a report sent twice)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import requests

from tests import conftest
from tests.conftest import PASSWORD, ROOT, create_accounts, free_port, make_app
from tests.test_reports_api import report
from tools import pgcluster

START_TIMEOUT_S = 60
HTTP_TIMEOUT_S = 30
LOGIN_LIMIT, REPORT_LIMIT = 4, 5


@pytest.fixture(scope="module")
def pooler(pg_server: conftest.TestServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int | None]:
    """pgbouncer (transaction pooling, 4 server connections) in front of the session's server: its port (None on
    DATABASE_URL's server, which is not ours to put pgbouncer in front of: then both app servers connect directly)."""
    if pg_server.cluster is None:
        yield None
        return
    base = tmp_path_factory.mktemp("pgbouncer")
    base.chmod(0o755)  # the postgres user (when we are root) runs pgbouncer and reaches its files inside
    port = free_port()
    with pgcluster.pooling(pg_server.cluster, base / "pgbouncer", port=port, pool_size=4):
        yield port


@pytest.fixture(scope="module")
def servers(new_database, pooler: int | None) -> Iterator[dict[str, object]]:
    """Two gunicorn processes serving one database with one secret key, the second through pgbouncer; the
    accounts and their API tokens.

    They serve `tools.front:wsgi()` as production does behind nginx, so each test's client names its own
    address in X-Forwarded-For and the per-address limits of one test do not reach another's."""
    url = new_database()
    pooled = psycopg.conninfo.make_conninfo(url, port=pooler) if pooler else None
    setup_app = make_app(url)
    tokens = create_accounts(setup_app, {"crew": "crew", "crew2": "crew", "admin": "admin",
                                         "coordinator": "coordinator", "dispatcher": "coordinator",
                                         "mapper": "crew", "pooled": "crew"})  # one account per test that sends reports
    setup_app.extensions["db_pool"].close()
    env = {**os.environ, "DATABASE_URL": url, "FLASK_SECRET_KEY": "one key for every app server",
           "FLASK_RATE_LIMIT_LOGIN": str(LOGIN_LIMIT), "FLASK_RATE_LIMIT_REPORTS": str(REPORT_LIMIT),
           "FLASK_RATE_LIMIT_REPORTS_WINDOW_S": "3600", "FLASK_RATE_LIMIT_LOGIN_WINDOW_S": "3600",
           "FLASK_DB_POOL_MAX": "4"}
    ports = [free_port(), free_port()]
    envs = [env, {**env, "DATABASE_URL": pooled, "FLASK_DB_PREPARE_THRESHOLD": "null"} if pooled else env]
    processes = [subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                                   "--threads", "4", "--log-level", "warning", "tools.front:wsgi()"],
                                  cwd=ROOT, env=each, start_new_session=True)
                 for port, each in zip(ports, envs, strict=True)]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, process in zip(bases, processes, strict=True):
            _wait_until_up(base, process)
        yield {"a": bases[0], "b": bases[1], "tokens": tokens, "url": url, "pooled": pooled}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert process.poll() is None, f"the app server for {base} exited with {process.returncode}"
        try:
            if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or the first request still on its way
            pass
        assert time.monotonic() < deadline, f"the app server for {base} did not start in {START_TIMEOUT_S} s"
        time.sleep(0.2)


def browser(address: str) -> requests.Session:
    """One person's browser, from one address (X-Forwarded-For, as nginx passes it)."""
    session = requests.Session()
    session.headers["X-Forwarded-For"] = address
    return session


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def sign_in(session: requests.Session, base: str, username: str, password: str = PASSWORD) -> requests.Response:
    token = csrf_from(session.get(f"{base}/login", timeout=HTTP_TIMEOUT_S).text)
    return session.post(f"{base}/login", data={"username": username, "password": password, "csrf_token": token},
                        allow_redirects=False, timeout=HTTP_TIMEOUT_S)


def who(session: requests.Session, base: str) -> str | None:
    response = session.get(f"{base}/api/session", timeout=HTTP_TIMEOUT_S)
    return response.json()["username"] if response.status_code == 200 else None


def bearer(token: str, address: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}


def test_a_sign_in_on_one_server_works_on_the_other_and_a_sign_out_on_either_ends_it_on_both(servers):
    a, b = servers["a"], servers["b"]
    crew = browser("10.1.0.1")
    assert sign_in(crew, a, "crew").status_code == 302
    assert who(crew, a) == "crew" and who(crew, b) == "crew"
    copied = crew.cookies.copy()  # the session and remember cookies, as a stolen or second tab would hold them
    # A CSRF token the other server handed out is good here too (one secret key), and signing out on b …
    csrf = crew.get(f"{a}/api/session", timeout=HTTP_TIMEOUT_S).json()["csrf_token"]
    assert crew.post(f"{b}/logout", data={"csrf_token": csrf}, allow_redirects=False,
                     timeout=HTTP_TIMEOUT_S).status_code == 302
    # … ends the sign-in on the server: neither server takes the old cookies any more.
    replay = browser("10.1.0.1")
    replay.cookies.update(copied)
    assert who(replay, a) is None and who(replay, b) is None
    assert who(crew, a) is None


def test_login_attempts_count_across_servers(servers):
    a, b = servers["a"], servers["b"]
    guesser = browser("10.2.0.1")
    answers = [sign_in(guesser, (a, b)[i % 2], "crew2", "wrong password!").status_code
               for i in range(LOGIN_LIMIT + 1)]
    # Per process, each server would have seen at most three attempts and refused none.
    assert answers == [401] * LOGIN_LIMIT + [429]
    elsewhere = browser("10.2.0.2")  # the same name from another address is limited too (per user name) …
    assert sign_in(elsewhere, b, "crew2").status_code == 429
    assert sign_in(elsewhere, a, "coordinator").status_code == 302  # … but not another account from there


def test_reports_count_against_one_limit_across_servers(servers):
    a, b = servers["a"], servers["b"]
    headers = bearer(servers["tokens"]["crew2"], "10.3.0.1")
    answers = [requests.post(f"{(a, b)[i % 2]}/api/reports", json=report(kind="other", components=[]),
                             headers=headers, timeout=HTTP_TIMEOUT_S).status_code for i in range(REPORT_LIMIT + 1)]
    assert answers == [201] * REPORT_LIMIT + [429]


def test_a_report_sent_to_both_servers_is_stored_once(servers):
    a, b = servers["a"], servers["b"]
    headers = bearer(servers["tokens"]["crew"], "10.4.0.1")
    body = report(kind="other", components=[])
    first = requests.post(f"{a}/api/reports", json=body, headers=headers, timeout=HTTP_TIMEOUT_S)
    again = requests.post(f"{b}/api/reports", json=body, headers=headers, timeout=HTTP_TIMEOUT_S)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["report"]["id"] == first.json()["report"]["id"] == body["id"]
    with psycopg.connect(str(servers["url"])) as conn:
        assert conn.execute("SELECT count(*) FROM report WHERE id = %s", (body["id"],)).fetchone() == (1,)


def test_the_maps_change_cursor_is_the_same_on_both_servers_and_moves_on_both(servers):
    a, b = servers["a"], servers["b"]
    coordinator = bearer(servers["tokens"]["coordinator"], "10.5.0.1")

    def cursor(base: str) -> str:
        response = requests.get(f"{base}/api/map/changes", headers=coordinator, timeout=HTTP_TIMEOUT_S)
        assert response.status_code == 200
        return str(response.json()["cursor"])

    before = cursor(a)
    assert cursor(b) == before
    sent = requests.post(f"{b}/api/reports", json=report(kind="other", components=[], id=str(uuid.uuid4())),
                         headers=bearer(servers["tokens"]["crew"], "10.5.0.2"), timeout=HTTP_TIMEOUT_S)
    assert sent.status_code == 201
    after = cursor(a)
    assert after != before and cursor(b) == after


def test_the_maps_report_clusters_count_every_report_sent_through_either_server_once(servers):
    a, b = servers["a"], servers["b"]
    crew = bearer(servers["tokens"]["mapper"], "10.8.0.1")
    for base in (a, b, a):  # reports from both servers, folded into the map's cells by either (migration 0014)
        assert requests.post(f"{base}/api/reports", json=report(kind="other", components=[]), headers=crew,
                             timeout=HTTP_TIMEOUT_S).status_code == 201
    with psycopg.connect(str(servers["url"])) as conn:
        stored = conn.execute("SELECT count(*) FROM report").fetchone()
    coordinator = bearer(servers["tokens"]["coordinator"], "10.8.0.2")
    for base in (a, b):
        for zoom in (0, 8, 17):
            layer = requests.get(f"{base}/api/map/reports?bbox=-180,-85,180,85&zoom={zoom}", headers=coordinator,
                                 timeout=HTTP_TIMEOUT_S).json()
            assert (sum(f["properties"]["count"] for f in layer["features"]),) == stored, (base, zoom)


def test_revoking_tokens_on_one_server_ends_them_on_the_other(servers):
    a, b = servers["a"], servers["b"]
    token = servers["tokens"]["dispatcher"]
    assert requests.get(f"{b}/api/triage", headers=bearer(token, "10.6.0.1"), timeout=HTTP_TIMEOUT_S
                        ).status_code == 200
    # A report sent on b first, so that whatever b keeps of the token (it may cache it per process) is warm.
    assert requests.post(f"{b}/api/reports", json=report(kind="other", components=[]),
                         headers=bearer(token, "10.6.0.1"), timeout=HTTP_TIMEOUT_S).status_code == 201
    admin = browser("10.6.0.2")
    assert sign_in(admin, a, "admin").status_code == 302
    with psycopg.connect(str(servers["url"])) as conn:
        row = conn.execute("SELECT id FROM app_user WHERE username = 'dispatcher'").fetchone()
    assert row is not None
    page = admin.get(f"{a}/admin/users", timeout=HTTP_TIMEOUT_S)
    done = admin.post(f"{a}/admin/users/{row[0]}", data={"action": "revoke_tokens", "reason": "phone lost",
                                                         "csrf_token": csrf_from(page.text)},
                      allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    assert done.status_code == 303
    for base in (b, a):
        assert requests.get(f"{base}/api/triage", headers=bearer(token, "10.6.0.1"), timeout=HTTP_TIMEOUT_S
                            ).status_code == 401, base
        body = report(kind="other", components=[])
        refused = requests.post(f"{base}/api/reports", json=body, headers=bearer(token, "10.6.0.1"),
                                timeout=HTTP_TIMEOUT_S)
        assert refused.status_code == 401, (base, refused.text)
        with psycopg.connect(str(servers["url"])) as conn:
            assert conn.execute("SELECT count(*) FROM report WHERE id = %s", (body["id"],)).fetchone() == (0,)


def transactions_through_pgbouncer(pooled: str) -> int:
    """The transactions pgbouncer has passed to this database (its admin console speaks only the simple protocol)."""
    name = psycopg.conninfo.conninfo_to_dict(pooled)["dbname"]
    admin = psycopg.conninfo.make_conninfo(pooled, dbname="pgbouncer")
    with psycopg.connect(admin, autocommit=True) as conn:
        cursor = psycopg.ClientCursor(conn)
        cursor.execute("SHOW STATS")
        columns = [c.name for c in cursor.description or []]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return sum(int(row["total_xact_count"]) for row in rows if row["database"] == name)


def test_the_second_server_works_through_pgbouncer_in_transaction_mode(servers):
    if servers["pooled"] is None:
        pytest.skip("DATABASE_URL's server: pgbouncer is started in front of the local cluster only")
    b, pooled = servers["b"], str(servers["pooled"])
    before = transactions_through_pgbouncer(pooled)
    crew = browser("10.7.0.1")
    assert sign_in(crew, b, "pooled").status_code == 302
    csrf = crew.get(f"{b}/api/session", timeout=HTTP_TIMEOUT_S).json()["csrf_token"]
    sent = crew.post(f"{b}/api/reports", json=report(kind="other", components=[]), headers={"X-CSRFToken": csrf},
                     timeout=HTTP_TIMEOUT_S)
    assert sent.status_code == 201, sent.text
    coordinator = bearer(servers["tokens"]["coordinator"], "10.7.0.2")
    for path in ("/api/triage", "/api/map/cases?bbox=-180,-85,180,85&zoom=3", "/api/export/cases.gpkg",
                 "/ogc/collections/reports/items?limit=5"):
        assert requests.get(f"{b}{path}", headers=coordinator, timeout=HTTP_TIMEOUT_S).status_code == 200, path
    # Times are read and written in UTC (SET TIME ZONE on each new connection is carried by pgbouncer).
    assert sent.json()["report"]["received_at"].endswith(("Z", "+00:00"))
    assert transactions_through_pgbouncer(pooled) > before
