"""Login, CSRF, session expiry, password change, rate limits, security headers and the audit trail."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.conftest import PASSWORD, create_accounts, make_app
from tests.test_reports_api import report

pytestmark = pytest.mark.usefixtures("tokens")  # the accounts these tests sign in with


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def sign_in(client, username: str, password: str = PASSWORD, addr: str = "10.0.0.1"):
    client.environ_base["REMOTE_ADDR"] = addr
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.fixture()
def fresh_app(database_url, tokens):
    """An app of its own, for settings that differ from the session's (limits, lifetimes)."""
    apps = []

    def build(**config):
        app = make_app(database_url, **config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["db_pool"].close()


def test_sign_in_and_out(demo_loaded):
    client = demo_loaded.test_client()
    assert sign_in(client, "coordinator").status_code == 302
    assert client.get("/").status_code == 200
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(demo_loaded):
    response = sign_in(demo_loaded.test_client(), "coordinator", "wrong password!")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)


def test_login_never_redirects_off_site(demo_loaded):
    client = demo_loaded.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=https://evil.example/x",
                           data={"username": "crew", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/")


def test_cookie_authenticated_changes_need_the_csrf_token(demo_loaded):
    client = demo_loaded.test_client()
    sign_in(client, "crew")
    body = report(kind="other", components=[])
    refused = client.post("/api/reports", json=body)
    assert refused.status_code == 400 and "CSRF" in refused.json["error"]
    token = client.get("/api/session").json["csrf_token"]
    assert client.post("/api/reports", json=body, headers={"X-CSRFToken": token}).status_code == 201
    login_without_token = demo_loaded.test_client().post("/login", data={"username": "crew", "password": PASSWORD})
    assert login_without_token.status_code == 400


def test_session_expires_but_crews_stay_signed_in(fresh_app):
    app = fresh_app(SESSION_LIFETIME_S=1)
    coordinator, crew = app.test_client(), app.test_client()
    sign_in(coordinator, "coordinator")
    sign_in(crew, "crew")
    assert coordinator.get("/api/session").status_code == 200
    time.sleep(2.1)
    assert coordinator.get("/api/session").status_code == 401
    assert crew.get("/api/session").status_code == 200  # the remember cookie of a crew phone


def test_password_change_ends_other_sessions_and_is_audited(demo_loaded, db):
    name = f"pw-{uuid.uuid4().hex[:6]}"
    runner = demo_loaded.test_cli_runner()
    assert runner.invoke(args=["create-user", name, "--role", "coordinator"],
                         env={"GRIDTRIAGE_PASSWORD": PASSWORD}).exit_code == 0
    here, elsewhere = demo_loaded.test_client(), demo_loaded.test_client()
    sign_in(here, name)
    sign_in(elsewhere, name)
    token = csrf_from(here.get("/account/password").get_data(as_text=True))
    changed = here.post("/account/password", data={"current": PASSWORD, "new": "a much better one",
                                                   "confirm": "a much better one", "csrf_token": token})
    assert changed.status_code == 302
    assert here.get("/api/session").status_code == 200
    assert elsewhere.get("/api/session").status_code == 401
    actions = [r["action"] for r in db.execute(
        "SELECT action FROM audit_event WHERE entity = 'user' AND entity_id = "
        "(SELECT id::text FROM app_user WHERE username = %s) ORDER BY id", (name,))]
    assert actions == ["created", "password_changed"]
    assert "password" not in str(db.execute("SELECT after FROM audit_event ORDER BY id DESC LIMIT 1").fetchone())


@pytest.mark.parametrize(("current", "new", "confirm"), [
    (PASSWORD, "short", "short"),  # under 10 characters
    (PASSWORD, "a much better one", "a different one"),  # not repeated the same
    ("wrong current password", "a much better one", "a much better one"),
])
def test_a_refused_password_change_is_4xx_and_changes_nothing(demo_loaded, current, new, confirm):
    name = f"pw-{uuid.uuid4().hex[:6]}"
    create_accounts(demo_loaded, {name: "crew"})
    client = demo_loaded.test_client()
    sign_in(client, name)
    token = csrf_from(client.get("/account/password").get_data(as_text=True))
    response = client.post("/account/password", data={"current": current, "new": new, "confirm": confirm,
                                                      "csrf_token": token})
    assert response.status_code in (400, 422) and 'class="error"' in response.get_data(as_text=True)
    assert client.get("/api/session").status_code == 200  # still signed in: the password did not change
    assert sign_in(demo_loaded.test_client(), name).status_code == 302


def test_login_attempts_are_rate_limited(fresh_app):
    app = fresh_app(RATE_LIMIT_LOGIN=3)
    client = app.test_client()
    addr = f"10.1.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    statuses = [sign_in(client, "admin", "wrong password!", addr=addr).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = sign_in(client, "admin", PASSWORD, addr=addr)  # even the right password waits
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def unique_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250}"


def test_login_limit_counts_per_user_name_and_per_address_separately(fresh_app):
    app = fresh_app(RATE_LIMIT_LOGIN=3)
    client = app.test_client()
    name = f"ghost-{uuid.uuid4().hex[:8]}"
    # One user name from a new address each time: the name's counter trips.
    assert [sign_in(client, name, "wrong password!", addr=unique_address()).status_code
            for _ in range(4)] == [401, 401, 401, 429]
    # One address trying a new user name each time: the address's counter trips.
    addr = unique_address()
    assert [sign_in(client, f"ghost-{uuid.uuid4().hex[:8]}", "wrong password!", addr=addr).status_code
            for _ in range(4)] == [401, 401, 401, 429]
    # Someone else, elsewhere, is not held up by either.
    other = f"rl-ok-{uuid.uuid4().hex[:6]}"
    create_accounts(app, {other: "crew"})
    assert sign_in(client, other, PASSWORD, addr=unique_address()).status_code == 302


def test_report_limit_counts_per_user_and_per_address_separately(fresh_app):
    app = fresh_app(RATE_LIMIT_REPORTS=2)
    suffix = uuid.uuid4().hex[:6]
    tokens = create_accounts(app, {f"rl-a-{suffix}": "crew", f"rl-b-{suffix}": "crew", f"rl-c-{suffix}": "crew"})
    one, two, three = tokens.values()

    def send(token: str, addr: str) -> int:
        client = app.test_client()
        client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=addr)
        return client.post("/api/reports", json=report(kind="other", components=[])).status_code

    # One crew member moving between addresses: their own counter trips.
    assert [send(one, unique_address()) for _ in range(3)] == [201, 201, 429]
    # Two crew members behind one address: the address's counter trips.
    shared = unique_address()
    assert [send(two, shared), send(three, shared), send(three, shared)] == [201, 201, 429]
    # The second member is still free from another address only while their own count allows.
    assert send(two, unique_address()) == 201


def test_report_submission_is_rate_limited_and_a_429_stores_nothing(fresh_app, tokens, db):
    app = fresh_app(RATE_LIMIT_REPORTS=2)
    client = app.test_client()
    client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {tokens['crew2']}", REMOTE_ADDR="10.2.0.9")
    bodies = [report(kind="other", components=[]) for _ in range(3)]
    statuses = [client.post("/api/reports", json=b).status_code for b in bodies]
    assert statuses[:2] == [201, 201] and statuses[2] == 429
    assert db.execute("SELECT count(*) AS n FROM report WHERE id = %s", (bodies[2]["id"],)).fetchone()["n"] == 0


def test_security_headers(demo_loaded):
    response = demo_loaded.test_client().get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    cookie = sign_in(demo_loaded.test_client(), "crew").headers.get_all("Set-Cookie")
    assert all("HttpOnly" in c and "SameSite=Lax" in c for c in cookie)


def test_secure_cookie_flag_when_configured(fresh_app):
    client = fresh_app(SECURE_COOKIES=True).test_client()
    cookies = sign_in(client, "crew").headers.get_all("Set-Cookie")
    assert cookies and all("Secure" in c for c in cookies)


def test_audit_events_cannot_be_altered(db):
    import psycopg

    db.execute("INSERT INTO audit_event (entity, entity_id, action) VALUES ('user', 'x', 'changed')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("UPDATE audit_event SET reason = 'rewritten'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("DELETE FROM audit_event")
