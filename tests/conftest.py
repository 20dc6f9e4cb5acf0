"""Shared fixtures: a throw-away PostGIS started for the test session, the app, and a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from psycopg import sql
from werkzeug.serving import make_server

from app import create_app
from app.db import upgrade
from tools import pgcluster

ROOT = Path(__file__).resolve().parent.parent

# The property tests draw the same examples on every run ("derandomize"), so that `make test` passes or fails on
# the code, not on the run's random seed: a landing is decided by it. HYPOTHESIS_PROFILE=explore draws new
# examples each run, to look for counterexamples (one of geo.mesh's was found that way); a counterexample found
# belongs in a plain test.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
# Real public data kept in the repository (see data/reference/SOURCES.md), so a clean clone runs every test.
REFERENCE_DATA = ROOT / "data" / "reference"
DEMO_DATA = ROOT / "data" / "demo"


def at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls in threads released together (a barrier), as concurrent clients would; their results."""
    results: list[object] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestServer:
    """The session's PostgreSQL server, able to make throw-away databases, and to be stopped and started."""

    def __init__(self, admin_url: str, cluster: pgcluster.Cluster | None) -> None:
        self.admin_url, self.cluster = admin_url, cluster

    def create_database(self, prefix: str = "gt_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        pgcluster.create_database(self.admin_url, name)
        return psycopg.conninfo.make_conninfo(self.admin_url, dbname=name)

    def drop_database(self, url: str) -> None:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name))))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TestServer]:
    """DATABASE_URL's server when set (throw-away databases on it), else our own cluster in a temp dir."""
    if os.environ.get("DATABASE_URL"):
        yield TestServer(os.environ["DATABASE_URL"], None)
        return
    base = Path(tempfile.mkdtemp(prefix="gridtriage-test-pg-"))
    base.chmod(0o755)  # the postgres user (when we are root) must reach the cluster inside
    cluster = pgcluster.Cluster(base / "pg", free_port())
    try:
        pgcluster.up(cluster, dbname="postgres")
        password = pgcluster.init(cluster)
        yield TestServer(pgcluster.url(cluster, password, "postgres"), cluster)
    finally:
        pgcluster.stop(cluster, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(pg_server: TestServer) -> Iterator[str]:
    """One migrated database for the session."""
    url = pg_server.create_database()
    upgrade(url)
    yield url
    pg_server.drop_database(url)


def make_app(database_url: str, **extra: object) -> Flask:
    # The session's tests send many reports from one address; the rate-limit tests make their own app.
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                       "DB_TIMEOUT_S": 3.0, "RATE_LIMIT_REPORTS": 0, "RATE_LIMIT_LOGIN": 0, **extra})


PASSWORD = "correct horse battery"
ACCOUNTS = {"crew": "crew", "crew2": "crew", "coordinator": "coordinator", "admin": "admin"}


@pytest.fixture(scope="session")
def tokens(app: Flask) -> dict[str, str]:
    """One account per role (and a second crew), each with an API token; the password is PASSWORD."""
    return create_accounts(app)


def api_client(app: Flask, token: str | None) -> FlaskClient:
    """A test client that authenticates every request with a bearer token (or not at all)."""
    client = app.test_client()
    if token:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    yield app
    app.extensions["db_pool"].close()


@pytest.fixture(scope="session")
def demo_loaded(app: Flask) -> Flask:
    """The app with the County Dublin demo region loaded (once per session)."""
    from app.imports.demo import load

    with app.app_context():
        load(Path(app.config["DEMO_DIR"]))
    return app


@pytest.fixture()
def client(app: Flask, tokens: dict[str, str]) -> FlaskClient:
    """A crew member's API client."""
    return api_client(app, tokens["crew"])


@pytest.fixture()
def coordinator(app: Flask, tokens: dict[str, str]) -> FlaskClient:
    return api_client(app, tokens["coordinator"])


@pytest.fixture()
def anonymous(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A direct connection for checking what is stored (autocommit)."""
    with psycopg.connect(database_url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn


@pytest.fixture(scope="session")
def live_server(demo_loaded: Flask, tokens: dict[str, str]) -> Iterator[str]:
    """The app served over HTTP on a free port, for the browser."""
    server = make_server("127.0.0.1", free_port(), demo_loaded, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (no downloaded browsers)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def login(page, base_url: str, username: str) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture()
def open_field(browser, live_server: str) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """Open /field signed in as `user` in a browser context of its own (a phone); closed after the test.

    `init_script` runs in every page before the app's scripts; other keywords go to the browser context
    (geolocation, permissions, locale…). JavaScript errors collect in `page.js_errors`.
    """
    contexts: list[Any] = []

    def open_form(*, user: str = "crew", init_script: str | None = None, timeout_ms: float = 15_000,
                  **context_options: Any) -> tuple[Any, Any]:
        context = browser.new_context(**context_options)
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        login(page, live_server, user)
        page.goto(live_server + "/field")
        page.wait_for_selector("html[data-field-ready]")
        return context, page

    yield open_form
    for context in contexts:
        context.close()


@pytest.fixture()
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


IMPORT_TABLES = "facility, feed_link, service_area, population_layer, critical_site, study_area, dataset, audit_event"


def maintenance(url: str) -> str:
    """The same database for a test's own clean-up connections, which may empty the append-only tables."""
    return psycopg.conninfo.make_conninfo(url, options="-c gridtriage.maintenance=on")


@pytest.fixture(scope="module")
def onboarding(pg_server: TestServer) -> Iterator[tuple[Flask, str]]:
    """An app on a migrated database of the test module's own, so imports never touch the session's one.

    The URL given to the tests is for their own connections: it may empty tables (see `maintenance`).
    """
    url = pg_server.create_database("gt_import")
    upgrade(url)
    app = make_app(url)
    yield app, maintenance(url)
    app.extensions["db_pool"].close()
    pg_server.drop_database(url)


@pytest.fixture()
def fresh(onboarding: tuple[Flask, str]) -> Iterator[tuple[Flask, psycopg.Connection]]:
    """The module's app and a direct connection, on empty tables."""
    app, url = onboarding
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute(f"TRUNCATE {IMPORT_TABLES} CASCADE")
        yield app, conn


def run(app: Flask, *args: object) -> str:
    """Run a `flask --app app` command; it must succeed. Its output."""
    result = app.test_cli_runner().invoke(args=[str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def create_accounts(app: Flask, names: dict[str, str] = ACCOUNTS) -> dict[str, str]:
    """Accounts (name -> role) made through the CLI as an operator would, each with a new API token."""
    runner = app.test_cli_runner()
    found = {}
    for name, role in names.items():
        created = runner.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        assert created.exit_code == 0, created.output
        token = runner.invoke(args=["create-token", name])
        assert token.exit_code == 0, token.output
        found[name] = token.output.strip()
    return found


@pytest.fixture(scope="session")
def new_database(pg_server: TestServer) -> Iterator[Callable[[], str]]:
    """Make migrated databases of a test's own (for tests that fill one with data or take its server down)."""
    made: list[str] = []

    def make() -> str:
        url = pg_server.create_database("gt_own")
        made.append(url)
        upgrade(url)
        return url

    yield make
    for url in made:
        pg_server.drop_database(url)


@dataclass(frozen=True)
class Replicated:
    """A migrated database on a primary, the same database's URL on a streaming replica of it, and both clusters."""

    primary_url: str
    replica_url: str
    primary: pgcluster.Cluster
    replica: pgcluster.Cluster


@pytest.fixture(scope="session")
def replica() -> Iterator[Replicated]:
    """A primary cluster of its own with one migrated database, and a streaming replica of it: a second local
    cluster (tools/pgcluster.replica). The primary is not the session's server, whose many databases would make
    the base backup slow. Both are stopped at the end."""
    try:
        pgcluster.bindir()
    except pgcluster.ClusterError as exc:
        pytest.skip(f"no local PostgreSQL to start a primary and its replica: {exc}")
    base = Path(tempfile.mkdtemp(prefix="gridtriage-test-replication-"))
    base.chmod(0o755)  # the postgres user (when we are root) must reach the clusters inside
    primary = pgcluster.Cluster(base / "primary", free_port())
    standby = pgcluster.Cluster(base / "replica", free_port())
    try:
        url = pgcluster.up(primary, dbname="gt_replicated")
        upgrade(url)
        pgcluster.replica(primary, standby)
        yield Replicated(url, psycopg.conninfo.make_conninfo(url, port=standby.port), primary, standby)
    finally:
        pgcluster.stop(standby, mode="immediate")
        pgcluster.stop(primary, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)


def all_day_shift() -> tuple[str, str]:
    """A daily shift in UTC (start, end as HH:MM) that began an hour ago and lasts 23 h 59 min: a test's plan never
    waits for the next shift, whatever the hour the test runs at (00:00 to 23:59 made an evening run wait for
    midnight)."""
    began = datetime.now(UTC) - timedelta(hours=1)
    return began.strftime("%H:%M"), (began - timedelta(minutes=1)).strftime("%H:%M")
