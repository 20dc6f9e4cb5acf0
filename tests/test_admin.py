"""/admin/users: admins manage accounts; every change is audited with a reason; nobody locks the system out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, api_client, create_accounts, make_app
from tests.test_sessions import csrf_from, sign_in


@pytest.fixture(scope="module")
def own(new_database) -> Iterator[tuple[Flask, dict[str, str]]]:
    """An app on a database of its own, so counting admins and accounts is exact."""
    app = make_app(new_database())
    tokens = create_accounts(app, {"boss": "admin", "worker": "crew", "lead": "coordinator"})
    yield app, tokens
    app.extensions["db_pool"].close()


@pytest.fixture()
def boss(own) -> FlaskClient:
    client = own[0].test_client()
    assert sign_in(client, "boss").status_code == 302
    return client


def user_id(app: Flask, name: str) -> int:
    from app import db
    from app.repo import users

    with app.app_context(), db.connection() as conn:
        row = users.get_by_name(conn, name)
        assert row is not None
        return int(row["id"])


def post_change(client: FlaskClient, target: int, **fields: str):
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    return client.post(f"/admin/users/{target}", data={"csrf_token": token, **fields})


def history(app: Flask, target: int) -> list[dict]:
    from app import db

    with app.app_context(), db.connection() as conn:
        return conn.execute("""SELECT e.action, e.before, e.after, e.reason, a.username AS actor
                               FROM audit_event e LEFT JOIN app_user a ON a.id = e.actor_id
                               WHERE e.entity = 'user' AND e.entity_id = %s ORDER BY e.id""",
                            (str(target),)).fetchall()


def new_account(app: Flask, role: str = "crew") -> tuple[str, int]:
    name = f"acct-{uuid.uuid4().hex[:8]}"
    create_accounts(app, {name: role})
    return name, user_id(app, name)


def test_the_page_lists_accounts_for_admins_only(own, boss):
    app, tokens = own
    page = boss.get("/admin/users")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert all(f'data-username="{name}"' in html for name in ("boss", "worker", "lead"))
    assert api_client(app, tokens["lead"]).get("/admin/users").status_code == 403
    crew = app.test_client()
    sign_in(crew, "worker")
    assert crew.get("/admin/users").status_code == 403


def test_an_admin_creates_an_account_that_can_sign_in(own, boss):
    app, _ = own
    name = f"new-{uuid.uuid4().hex[:6]}"
    token = csrf_from(boss.get("/admin/users").get_data(as_text=True))
    made = boss.post("/admin/users", data={"csrf_token": token, "username": name, "role": "coordinator",
                                           "password": PASSWORD})
    assert made.status_code == 303 and made.headers["Location"].endswith("/admin/users")
    assert sign_in(app.test_client(), name).status_code == 302
    [created] = history(app, user_id(app, name))
    assert created["action"] == "created" and created["actor"] == "boss"
    assert created["after"] == {"username": name, "role": "coordinator"}


@pytest.mark.parametrize(("fields", "status", "field"), [
    ({"username": "bad name<script>", "role": "crew", "password": PASSWORD}, 422, "username"),
    ({"username": "shortpw", "role": "crew", "password": "short"}, 422, "password"),
    ({"username": "norole", "role": "superuser", "password": PASSWORD}, 422, "role"),
    ({"username": "worker", "role": "crew", "password": PASSWORD}, 409, None),
    ({"username": "eve\n", "role": "crew", "password": PASSWORD}, 422, "username"),  # "$" would let it through
])
def test_a_bad_new_account_is_refused_and_nothing_is_made(own, boss, fields, status, field):
    app, _ = own
    from app import db
    from app.repo import users

    with app.app_context(), db.connection() as conn:
        before = users.count(conn)
    token = csrf_from(boss.get("/admin/users").get_data(as_text=True))
    response = boss.post("/admin/users", data={"csrf_token": token, **fields})
    html = response.get_data(as_text=True)
    assert response.status_code == status
    if field:
        assert f'data-field="{field}"' in html
    assert "<script>" not in html.split("<main>")[1]
    with app.app_context(), db.connection() as conn:
        assert users.count(conn) == before


def test_role_change_is_audited_with_before_after_and_reason(own, boss):
    app, _ = own
    name, target = new_account(app, "coordinator")
    response = post_change(boss, target, action="role", role="crew", reason="moved to a field crew")
    assert response.status_code == 303
    client = api_client(app, create_accounts(app, {f"{name}-x": "crew"})[f"{name}-x"])
    assert client.get("/api/session").status_code == 200  # a second account, unaffected
    event = history(app, target)[-1]
    assert event["action"] == "role_changed" and event["actor"] == "boss"
    assert event["before"] == {"role": "coordinator", "active": True} and event["after"] == {"role": "crew"}
    assert event["reason"] == "moved to a field crew"
    page = boss.get("/admin/users").get_data(as_text=True)
    assert "moved to a field crew" in page


@pytest.mark.parametrize("fields", [
    {"action": "role", "role": ""},
    {"action": "role"},
    {"action": "password", "password": " " * 12},
    {"action": "password"},
    {"action": "nonsense"},
])
def test_a_bad_change_is_422_and_changes_nothing(own, boss, fields):
    app, _ = own
    name, target = new_account(app, "coordinator")
    response = post_change(boss, target, reason="checking", **fields)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert [e["action"] for e in history(app, target)] == ["created", "token_created"]
    assert sign_in(app.test_client(), name).status_code == 302  # the password still works


def test_concurrent_creates_of_one_name_make_one_account(own):
    from tests.conftest import at_once

    app, _ = own
    admins = [app.test_client() for _ in range(4)]
    tokens = []
    for client in admins:
        sign_in(client, "boss")
        tokens.append(csrf_from(client.get("/admin/users").get_data(as_text=True)))
    name = f"twin-{uuid.uuid4().hex[:6]}"
    statuses = at_once([lambda c=c, t=t: c.post("/admin/users", data={
        "csrf_token": t, "username": name, "role": "crew", "password": PASSWORD}).status_code
        for c, t in zip(admins, tokens, strict=True)])
    assert sorted(statuses) == [303, 409, 409, 409]


def test_a_change_without_a_reason_changes_nothing(own, boss):
    app, _ = own
    _, target = new_account(app, "coordinator")
    response = post_change(boss, target, action="role", role="admin", reason="")
    assert response.status_code == 422 and 'data-field="reason"' in response.get_data(as_text=True)
    assert [e["action"] for e in history(app, target)] == ["created", "token_created"]


def test_deactivation_ends_sessions_and_tokens_for_good(own, boss):
    app, _ = own
    name = f"acct-{uuid.uuid4().hex[:8]}"
    token = create_accounts(app, {name: "crew"})[name]
    target = user_id(app, name)
    phone = app.test_client()
    assert sign_in(phone, name).status_code == 302
    assert post_change(boss, target, action="deactivate", reason="phone lost").status_code == 303
    assert phone.get("/api/session").status_code == 401
    assert api_client(app, token).get("/api/session").status_code == 401
    assert sign_in(app.test_client(), name).status_code == 401
    assert post_change(boss, target, action="activate", reason="phone found").status_code == 303
    # Reactivating does not revive what a lost phone held: its session and its token stay dead.
    assert phone.get("/api/session").status_code == 401
    assert api_client(app, token).get("/api/session").status_code == 401
    assert sign_in(app.test_client(), name).status_code == 302
    events = history(app, target)
    assert [e["action"] for e in events][-2:] == ["deactivated", "activated"]
    assert events[-2]["after"] == {"active": False, "tokens_revoked": 1}


def test_password_reset_ends_sessions_and_revoking_tokens_stops_them(own, boss):
    app, _ = own
    name = f"acct-{uuid.uuid4().hex[:8]}"
    token = create_accounts(app, {name: "crew"})[name]
    target = user_id(app, name)
    phone = app.test_client()
    sign_in(phone, name)
    short = post_change(boss, target, action="password", password="short", reason="forgotten")
    assert short.status_code == 422
    assert post_change(boss, target, action="password", password="a brand new password", reason="forgotten"
                       ).status_code == 303
    assert phone.get("/api/session").status_code == 401
    assert sign_in(app.test_client(), name, "a brand new password").status_code == 302
    # A reset says the password may be known to someone else: the account's API tokens are revoked with it.
    assert api_client(app, token).get("/api/session").status_code == 401
    fresh = create_accounts_token(app, name)
    assert api_client(app, fresh).get("/api/session").status_code == 200
    assert post_change(boss, target, action="revoke_tokens", reason="rotate").status_code == 303
    assert api_client(app, fresh).get("/api/session").status_code == 401
    events = history(app, target)
    assert [e["action"] for e in events][-3:] == ["password_reset", "token_created", "tokens_revoked"]
    assert events[-3]["after"] == {"password": "reset", "tokens_revoked": 1}
    assert events[-1]["after"] == {"tokens_revoked": 1}
    assert "brand new" not in str(events)


def create_accounts_token(app, name: str) -> str:
    made = app.test_cli_runner().invoke(args=["create-token", name])
    assert made.exit_code == 0, made.output
    return made.output.strip()


def test_an_admin_cannot_demote_or_deactivate_themselves(own, boss):
    app, _ = own
    me = user_id(app, "boss")
    for fields, says in (({"action": "role", "role": "crew"}, "your own role"), ({"action": "deactivate"}, "yourself")):
        refused = post_change(boss, me, reason="oops", **fields)
        assert refused.status_code == 409 and says in refused.get_data(as_text=True)
    assert [e["action"] for e in history(app, me)] == ["created", "token_created"]


def test_two_admins_demoting_each_other_at_once_leave_one_admin(own):
    """The second request still sees its caller as admin (loaded before the first committed); the lock and the
    last-admin rule refuse it."""
    app, _ = own
    from flask_login import login_user

    from app import db
    from app.admin.views import ChangeForm, Refused, _apply
    from app.auth.access import User

    with app.app_context(), db.connection() as conn:
        conn.execute("UPDATE app_user SET role = 'crew' WHERE role = 'admin'")  # only this test's two admins
        one, one_id = new_account(app, "admin")
        two, two_id = new_account(app, "admin")
    try:
        with app.test_request_context(method="POST", data={"action": "role", "role": "crew", "reason": "race"}):
            login_user(User(id=one_id, username=one, role="admin", password_tag="x"))
            with db.connection() as conn:
                _apply(conn, two_id, ChangeForm(meta={"csrf": False}))  # one demotes two: fine
            login_user(User(id=two_id, username=two, role="admin", password_tag="x"))  # two's stale view
            with pytest.raises(Refused, match="last active admin"), db.connection() as conn:
                _apply(conn, one_id, ChangeForm(meta={"csrf": False}))
    finally:
        with app.app_context(), db.connection() as conn:
            conn.execute("UPDATE app_user SET role = 'admin' WHERE username = 'boss'")


def test_unknown_account_is_404(boss):
    assert post_change(boss, 999_999_999, action="deactivate", reason="gone").status_code == 404


def test_reasons_are_shown_as_text(own, boss):
    app, _ = own
    _, target = new_account(app)
    post_change(boss, target, action="revoke_tokens", reason='<img src=x onerror="alert(1)">')
    html = boss.get("/admin/users").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=" in html
