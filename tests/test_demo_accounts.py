"""`flask demo-accounts`: three demo accounts on an empty database only, their logins kept and printed every run."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import psycopg
import pytest

from tests.conftest import create_accounts, make_app
from tests.test_sessions import sign_in

LOGIN_LINE = re.compile(r"^\s+(demo-\w+)\s+(\S+)$", re.MULTILINE)


@pytest.fixture()
def own_app(new_database, tmp_path):
    """An app on an empty migrated database of its own that keeps the demo logins in a temporary file."""
    apps = []

    def build():
        url = new_database()
        app = make_app(url, DEMO_LOGINS_FILE=str(tmp_path / "demo-logins"))
        apps.append(app)
        return app, url

    yield build
    for app in apps:
        app.extensions["db_pool"].close()


def accounts(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT username, role::text FROM app_user ORDER BY username").fetchall())


def test_first_run_creates_three_accounts_that_sign_in_and_later_runs_print_the_same_logins(own_app):
    app, url = own_app()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-accounts"])
    assert first.exit_code == 0, first.output
    logins = dict(LOGIN_LINE.findall(first.output))
    assert accounts(url) == {"demo-admin": "admin", "demo-coordinator": "coordinator", "demo-crew": "crew"}
    assert set(logins) == set(accounts(url))
    kept = Path(app.config["DEMO_LOGINS_FILE"])
    assert dict(LOGIN_LINE.findall(kept.read_text())) == logins
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600  # passwords: readable by the owner only
    for username, password in logins.items():
        assert sign_in(app.test_client(), username, password).status_code == 302, username
    assert sign_in(app.test_client(), "demo-crew", "not the password").status_code == 401

    second = runner.invoke(args=["demo-accounts"])
    assert second.exit_code == 0, second.output
    assert second.output == first.output
    assert len(accounts(url)) == 3


def test_no_demo_accounts_when_any_account_exists(own_app):
    app, url = own_app()
    create_accounts(app, {"someone": "coordinator"})
    kept = Path(app.config["DEMO_LOGINS_FILE"])
    result = app.test_cli_runner().invoke(args=["demo-accounts"])
    assert result.exit_code == 0, result.output
    assert accounts(url) == {"someone": "coordinator"}
    assert "Accounts exist already" in result.output and not LOGIN_LINE.search(result.output)
    assert not kept.exists()

    # Logins left in the file by another database are not shown as if they were this one's.
    elsewhere, _ = own_app()
    assert LOGIN_LINE.search(elsewhere.test_cli_runner().invoke(args=["demo-accounts"]).output)
    written = kept.read_text()
    again = app.test_cli_runner().invoke(args=["demo-accounts"])
    assert again.exit_code == 0 and again.output == result.output
    assert accounts(url) == {"someone": "coordinator"} and kept.read_text() == written
