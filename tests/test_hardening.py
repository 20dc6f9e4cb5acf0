"""What an outside test of the running app broke: 500s on odd input, unbounded chunked bodies, cookies that
outlived sign-out, CSRF skipped for a bogus bearer header, the Host header in OGC links, formulas in CSV."""

from __future__ import annotations

import http.client
import io
import json
import uuid
from urllib.parse import urlsplit

import pandas as pd
import pytest

from tests.conftest import api_client, make_app
from tests.test_reports_api import report
from tests.test_sessions import csrf_from, sign_in

pytestmark = pytest.mark.usefixtures("tokens")


# --- 4xx, never 500 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("collection", ["facilities", "cases", "reports"])
def test_an_ogc_feature_id_with_a_nul_is_a_404(demo_loaded, coordinator, collection):
    response = coordinator.get(f"/ogc/collections/{collection}/items/%00")
    assert response.status_code == 404 and "no feature" in response.json["error"]


def test_a_nul_in_the_login_name_is_a_400_naming_the_field(demo_loaded):
    client = demo_loaded.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "crew\x00", "password": "x", "csrf_token": token})
    assert response.status_code == 400
    assert "Username: must not contain control characters" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/map\r\nSet-Cookie: x=1", "/map%0d%0aX: y", "/\x00map"])
def test_control_characters_in_next_never_reach_the_redirect(demo_loaded, target):
    client = demo_loaded.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.9.1"
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": target},
                           data={"username": "coordinator", "password": "correct horse battery", "csrf_token": token})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location and "Set-Cookie" not in response.headers.get("X", "")
    assert urlsplit(location).path in ("/", "/map%0d%0aX:%20y", "/map%0d%0aX: y")


# --- bodies are bounded whatever Content-Length says -------------------------------------------------------

def _chunked_post(base: str, path: str, token: str, *, megabytes: int, content_type: str) -> int:
    """POST `megabytes` of body in 64 KiB chunks without a Content-Length; the status the server answers."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("POST", path)
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", content_type)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    chunk = b'{"notes": "' + b"x" * (64 * 1024 - 12) + b'"'
    try:
        for _ in range(megabytes * 16):
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server stopped reading: it answered already
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_chunked_report_body_past_the_limit_is_a_413_not_read_whole(live_server, tokens):
    assert _chunked_post(live_server, "/api/reports", tokens["crew"], megabytes=10,
                         content_type="application/json") == 413


def test_case_actions_refuse_bodies_past_the_report_limit(live_server, tokens, demo_loaded):
    assert _chunked_post(live_server, "/api/cases/1/actions", tokens["coordinator"], megabytes=11,
                         content_type="application/json") == 413
    big = {"action": "reject", "reason": "x" * (11 * 1024 * 1024)}
    response = api_client(demo_loaded, tokens["coordinator"]).post("/api/cases/1/actions", json=big)
    assert response.status_code == 413
    form = demo_loaded.test_client()
    sign_in(form, "coordinator", addr="10.0.9.2")
    token = csrf_from(form.get("/").get_data(as_text=True))
    posted = form.post("/cases/1/actions", data={"csrf_token": token, "action": "reject",
                                                 "reason": "x" * (200 * 1024)})
    assert posted.status_code == 413


def test_a_photo_may_still_be_larger_than_a_report(demo_loaded, client):
    stored = client.post("/api/reports", json=report(kind="other", components=[], lon=-7.2, lat=52.8)).json
    photo = b"\xff\xd8\xff" + b"\x00" * (1024 * 1024)
    put = client.put(f"/api/reports/{stored['report']['id']}/photos/{uuid.uuid4()}", data=photo,
                     content_type="image/jpeg")
    assert put.status_code == 201


# --- sessions and CSRF --------------------------------------------------------------------------------------

def _cookies(client) -> dict[str, str]:
    return {cookie.key: cookie.value for cookie in client._cookies.values()}


def _with_cookies(app, cookies: dict[str, str]):
    copy = app.test_client()
    for key, value in cookies.items():
        copy.set_cookie(key, value)
    return copy


def test_sign_out_ends_the_session_and_remember_cookies_on_the_server(demo_loaded):
    phone = demo_loaded.test_client()
    assert sign_in(phone, "crew", addr="10.0.9.3").status_code == 302
    copied = _cookies(phone)
    assert {"session", "remember_token"} <= set(copied)
    assert _with_cookies(demo_loaded, copied).get("/api/session").status_code == 200
    remember_only = {"remember_token": copied["remember_token"]}
    assert _with_cookies(demo_loaded, remember_only).get("/api/session").status_code == 200
    token = phone.get("/api/session").json["csrf_token"]
    assert phone.post("/logout", data={"csrf_token": token}).status_code == 302
    assert _with_cookies(demo_loaded, copied).get("/api/session").status_code == 401
    assert _with_cookies(demo_loaded, remember_only).get("/api/session").status_code == 401
    # Another sign-in of the same account (another phone) is not ended by this one's sign-out.
    other = demo_loaded.test_client()
    sign_in(other, "crew", addr="10.0.9.4")
    again = demo_loaded.test_client()
    sign_in(again, "crew", addr="10.0.9.5")
    token = again.get("/api/session").json["csrf_token"]
    again.post("/logout", data={"csrf_token": token})
    assert other.get("/api/session").status_code == 200


def test_an_admins_password_reset_ends_sessions_and_revokes_api_tokens(demo_loaded, db):
    app = demo_loaded
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "hz_crew", "--role", "crew"], env={"GRIDTRIAGE_PASSWORD": "a long password 1"})
    token = runner.invoke(args=["create-token", "hz_crew"]).output.strip()
    assert api_client(app, token).get("/api/session").status_code == 200
    phone = app.test_client()
    sign_in(phone, "hz_crew", "a long password 1", addr="10.0.9.6")
    admin = app.test_client()
    sign_in(admin, "admin", addr="10.0.9.7")
    user_id = db.execute("SELECT id FROM app_user WHERE username = 'hz_crew'").fetchone()["id"]
    page = admin.get("/admin/users").get_data(as_text=True)
    changed = admin.post(f"/admin/users/{user_id}", data={
        "csrf_token": csrf_from(page), "action": "password", "password": "another long password 2",
        "reason": "phone lost"})
    assert changed.status_code in (200, 302, 303), changed.get_data(as_text=True)
    assert api_client(app, token).get("/api/session").status_code == 401
    assert phone.get("/api/session").status_code == 401
    event = db.execute("SELECT after FROM audit_event WHERE entity = 'user' AND entity_id = %s "
                       "ORDER BY id DESC LIMIT 1", (str(user_id),)).fetchone()
    assert event["after"] == {"password": "reset", "tokens_revoked": 1}


def test_a_bogus_bearer_header_does_not_skip_the_csrf_check_of_a_cookie_session(demo_loaded):
    client = demo_loaded.test_client()
    sign_in(client, "crew", addr="10.0.9.8")
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer not-a-token"
    response = client.post("/api/reports", json=report(kind="other", components=[], lon=-7.3, lat=52.9))
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_a_real_bearer_token_needs_no_csrf_token(demo_loaded, client):
    assert client.post("/api/reports", json=report(kind="other", components=[], lon=-7.31,
                                                   lat=52.9)).status_code == 201


# --- external URLs and files --------------------------------------------------------------------------------

def test_ogc_links_come_from_public_url_not_the_host_header(database_url, tokens):
    app = make_app(database_url, PUBLIC_URL="https://grid.example/")
    try:
        ogc = api_client(app, tokens["coordinator"])
        body = ogc.get("/ogc/collections", headers={"Host": "evil.example"}).json
        hrefs = [link["href"] for c in body["collections"] for link in c["links"]] + \
            [link["href"] for link in body["links"]]
        assert hrefs and all(h.startswith("https://grid.example/ogc/") for h in hrefs)
        spec = ogc.get("/ogc/api", headers={"Host": "evil.example"}).get_data(as_text=True)
        assert "evil.example" not in spec
    finally:
        app.extensions["db_pool"].close()


def test_trusted_hosts_refuse_any_other_host(database_url, tokens):
    app = make_app(database_url, TRUSTED_HOSTS=["grid.example"])
    try:
        ogc = api_client(app, tokens["coordinator"])
        assert ogc.get("/ogc/collections", headers={"Host": "evil.example"}).status_code == 400
        assert ogc.get("/ogc/collections", headers={"Host": "grid.example"}).status_code == 200
    finally:
        app.extensions["db_pool"].close()


def test_csv_exports_neutralise_formulas_in_crews_text(demo_loaded, client, coordinator):
    # (A leading tab or CR never arrives: the report's text fields are stripped on input.)
    formulas = ["=HYPERLINK(\"http://evil.example\")", "+1+1", "-2+3", "@SUM(A1)"]
    for i, text in enumerate(formulas):
        sent = client.post("/api/reports", json=report(kind="other", components=[], lon=-7.4 - i / 1000,
                                                       lat=52.95, notes=text, materials=text))
        assert sent.status_code == 201
    response = coordinator.get("/api/export/reports.csv")
    rows = pd.read_csv(io.BytesIO(response.data), dtype=str, keep_default_na=False)
    for column in ("notes", "materials"):
        values = set(rows[column])
        for text in formulas:
            assert text not in values and "'" + text in values
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in values)
    geojson = json.loads(coordinator.get("/api/export/reports.geojson").data)
    assert formulas[0] in {f["properties"]["notes"] for f in geojson["features"]}  # other formats are unchanged


@pytest.mark.parametrize("path", ["/api/export/reports.csv?kind=,,", "/api/map/cases?zoom=3&status=,%20,"])
def test_a_filter_of_separators_only_is_a_400_not_any(demo_loaded, coordinator, path):
    response = coordinator.get(path)
    assert response.status_code == 400 and "names no value" in str(response.json["errors"])
    assert coordinator.get(path.split("?")[0] + ("?zoom=3&status=" if "map" in path else "?kind=")).status_code == 200
