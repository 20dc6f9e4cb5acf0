"""POST /api/reports as one statement (migration 0013): what it sends to the database, bearer tokens taken from a
per-process cache yet refused at once when revoked on another server, and rate-limit counters that several servers
share and that no request queues on."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from flask import Flask

from app.reports.input import parse_report
from geo import taxonomy
from tests.conftest import api_client, create_accounts, make_app
from tests.test_reports_api import report


@pytest.fixture()
def servers(database_url: str) -> Iterator[list[Flask]]:
    """Two app servers on one database: each with its own pool, token cache and server connections."""
    apps = [make_app(database_url, RATE_LIMIT_REPORTS=3) for _ in range(2)]
    yield apps
    for app in apps:
        app.extensions["db_pool"].close()


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250}"


def sender(app: Flask, token: str, addr: str | None = None):
    client = api_client(app, token)
    client.environ_base["REMOTE_ADDR"] = addr or address()
    return client


class Statements:
    """The SQL statements this thread sends through psycopg, in order (the database and the app are real; the map
    folder's thread, app/reports/map_folder.py, is not the request's)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._thread = threading.get_ident()

    def __enter__(self) -> Statements:
        original = psycopg.Cursor.execute
        self._original = original

        def counting(cursor, query, *args, **kwargs):  # type: ignore[no-untyped-def]
            if threading.get_ident() == self._thread:
                self.sent.append(" ".join(str(query).split()))
            return original(cursor, query, *args, **kwargs)

        psycopg.Cursor.execute = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        psycopg.Cursor.execute = self._original  # type: ignore[method-assign]

    def of_the_app(self) -> list[str]:
        """Without the pool's liveness check (an empty query on a checkout after a while idle, app/db.py)."""
        return [s for s in self.sent if s]


def stored(db, report_id: str) -> int:
    return db.execute("SELECT count(*) AS n FROM report WHERE id = %s", (report_id,)).fetchone()["n"]


def test_a_report_is_one_statement_that_commits_and_answers(demo_loaded, tokens, db):
    client = sender(demo_loaded, tokens["crew"])
    assert client.post("/api/reports", json=report()).status_code == 201  # the token is now in this server's cache
    body = report()
    with Statements() as seen:
        response = client.post("/api/reports", json=body)
    assert response.status_code == 201
    # Nothing else: no token query, no read of the row (the pool's check is tests/test_pool_check.py's).
    sent = seen.of_the_app()
    assert len(sent) == 1 and sent[0].startswith("SELECT * FROM ingest_report("), sent
    assert stored(db, body["id"]) == 1  # committed before the answer: read from another connection
    answered = response.get_json()["report"]
    shown = client.get(f"/api/reports/{body['id']}").get_json()["report"]
    assert answered == shown and answered["id"] == body["id"]
    assert "content_hash" not in answered and "geom" not in answered
    events = db.execute("SELECT action FROM case_event WHERE data->>'report_id' = %s", (body["id"],)).fetchall()
    assert [e["action"] for e in events] == ["report_added"]


def test_other_views_still_query_the_token_each_time(demo_loaded, tokens):
    client = sender(demo_loaded, tokens["crew"])
    assert client.post("/api/reports", json=report()).status_code == 201
    with Statements() as seen:
        assert client.get("/api/reports?limit=1").status_code == 200
    assert any("FROM api_token t JOIN app_user u" in s for s in seen.of_the_app())


def test_a_token_revoked_on_one_server_is_refused_by_another_that_cached_it(servers, db):
    one, other = servers
    name = f"revoked-{suffix()}"
    token = create_accounts(one, {name: "crew"})[name]
    for app in servers:  # both servers have resolved (and cached) the token
        assert sender(app, token).post("/api/reports", json=report()).status_code == 201
    assert db.execute("""UPDATE api_token SET revoked_at = now() WHERE user_id = (SELECT id FROM app_user
                         WHERE username = %s)""", (name,)).rowcount == 1

    body = report()
    refused = sender(other, token).post("/api/reports", json=body)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored(db, body["id"]) == 0
    again = sender(other, token).post("/api/reports", json=body)  # forgotten: now refused before the view
    assert again.status_code == 401 and stored(db, body["id"]) == 0
    assert sender(one, token).get("/api/reports").status_code == 401


@pytest.mark.parametrize("bad", [{"severity": "apocalyptic"}, None, b"{not json", b"x" * 70_000])
def test_a_revoked_token_still_in_a_servers_cache_gets_401_whatever_the_body(servers, db, bad):
    """Authentication is decided before the body is judged: a cached, revoked token never learns that its body was
    bad (422), not JSON (400) or too large (413)."""
    one, other = servers
    name = f"revoked-{suffix()}"
    token = create_accounts(one, {name: "crew"})[name]
    assert sender(other, token).post("/api/reports", json=report()).status_code == 201  # cached on `other`
    db.execute("""UPDATE api_token SET revoked_at = now() WHERE user_id = (SELECT id FROM app_user
                  WHERE username = %s)""", (name,))
    client = sender(other, token)
    if isinstance(bad, bytes):
        refused = client.post("/api/reports", data=bad, content_type="application/json")
    else:
        body = report(**(bad or {}))
        if bad is None:
            del body["id"]
        refused = client.post("/api/reports", json=body)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_body_from_a_live_cached_token_is_still_named(servers):
    one, other = servers
    name = f"sloppy-{suffix()}"
    token = create_accounts(one, {name: "crew"})[name]
    assert sender(other, token).post("/api/reports", json=report()).status_code == 201
    refused = sender(other, token).post("/api/reports", json=report(severity="apocalyptic"))
    assert refused.status_code == 422 and "severity" in refused.get_json()["errors"]


def test_a_deactivated_account_is_refused_even_from_the_cache(servers, db):
    one, other = servers
    name = f"leaver-{suffix()}"
    token = create_accounts(one, {name: "crew"})[name]
    assert sender(other, token).post("/api/reports", json=report()).status_code == 201
    db.execute("UPDATE app_user SET active = false, session_epoch = session_epoch + 1 WHERE username = %s", (name,))
    body = report()
    assert sender(other, token).post("/api/reports", json=body).status_code == 401
    assert stored(db, body["id"]) == 0


def test_a_role_taken_away_takes_effect_at_once_although_the_cache_still_says_coordinator(servers, db, tokens):
    one, other = servers
    name = f"demoted-{suffix()}"
    token = create_accounts(one, {name: "coordinator"})[name]
    first = sender(other, token).post("/api/reports", json=report(kind="other", components=[], lon=-6.5, lat=53.1))
    assert first.status_code == 201
    crew_case = sender(one, tokens["crew"]).post("/api/reports", json=report(kind="other", components=[],
                                                                             lon=-6.55, lat=53.12))
    case_id = crew_case.get_json()["report"]["case_id"]
    db.execute("UPDATE app_user SET role = 'crew' WHERE username = %s", (name,))
    # A coordinator may follow up any case; a crew member only its own: the statement reads the role, not the cache.
    follow_up = sender(other, token).post("/api/reports", json=report(kind="other", components=[], case_id=case_id,
                                                                      lon=-6.55, lat=53.12))
    assert follow_up.status_code == 422 and "case_id" in follow_up.get_json()["errors"]


def test_the_rate_limit_is_counted_across_servers(servers):
    name = f"limited-{suffix()}"
    token = create_accounts(servers[0], {name: "crew"})[name]
    statuses = [sender(servers[i % 2], token).post("/api/reports", json=report(kind="other", components=[]))
                .status_code for i in range(5)]
    assert statuses == [201, 201, 201, 429, 429]


def test_a_rate_limited_retry_is_refused_before_it_is_found_and_nothing_else_changes(servers, db):
    name = f"retrier-{suffix()}"
    token = create_accounts(servers[0], {name: "crew"})[name]
    client = sender(servers[0], token)
    body = report(kind="other", components=[])
    assert [client.post("/api/reports", json=body).status_code for _ in range(3)] == [201, 200, 200]
    limited = client.post("/api/reports", json=body)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert stored(db, body["id"]) == 1


def test_no_request_waits_for_another_transactions_count_of_the_same_address(servers, db, database_url):
    """Every crew behind one address shares its counter; an open transaction holding a count of that address (a
    slow request elsewhere) must not hold up the next report, as one shared counter row would."""
    app = servers[0]
    name = f"behind-nat-{suffix()}"
    token = create_accounts(app, {name: "crew"})[name]
    addr = address()
    with psycopg.connect(database_url) as slow:  # another server's request, counted and not yet committed
        slow.execute("SELECT * FROM rate_limit_hits(%s, 60)", ([f"reports:addr:{addr}"],))
        answers: list[int] = []
        request = threading.Thread(target=lambda: answers.append(
            sender(app, token, addr).post("/api/reports", json=report(kind="other", components=[])).status_code))
        request.start()
        request.join(timeout=30)
        finished = not request.is_alive()
        slow.rollback()
    request.join()
    assert finished and answers == [201]


def test_a_connections_first_count_in_a_window_drops_the_keys_finished_windows(db, database_url):
    key = f"test:{suffix()}"
    db.execute("""INSERT INTO rate_limit (key, window_start, shard, hits)
                  VALUES (%(k)s, now() - interval '1 hour', 1, 5), (%(k)s, now() - interval '2 hours', 2, 7)""",
               {"k": key})
    with psycopg.connect(database_url) as conn:
        _, hits, _ = conn.execute("SELECT * FROM rate_limit_hits(%s, 60)", ([key],)).fetchone()
    assert hits == 1
    rows = db.execute("SELECT hits FROM rate_limit WHERE key = %s", (key,)).fetchall()
    assert [r["hits"] for r in rows] == [1]


def test_a_connections_first_count_in_a_window_drops_every_window_older_than_a_day(db, database_url):
    """Keys never counted again (an address seen once) do not stay for ever: any key's windows that started more
    than a day ago go when a connection first counts a key in a new window."""
    gone, recent = f"test:{suffix()}", f"test:{suffix()}"
    db.execute("""INSERT INTO rate_limit (key, window_start, shard, hits)
                  VALUES (%(gone)s, now() - interval '25 hours', 1, 5),
                         (%(recent)s, now() - interval '2 hours', 1, 3)""", {"gone": gone, "recent": recent})
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT * FROM rate_limit_hits(%s, 60)", ([f"test:{suffix()}"],)).fetchall()
    left = {r["key"] for r in db.execute("SELECT key FROM rate_limit WHERE key = ANY(%s)", ([gone, recent],))}
    assert left == {recent}


def test_a_report_counts_its_limit_and_forgets_old_windows_in_its_own_statement(servers, db):
    name = f"forgetful-{suffix()}"
    token = create_accounts(servers[0], {name: "crew"})[name]
    stale = f"reports:addr:{address()}"
    db.execute("INSERT INTO rate_limit (key, window_start, shard, hits) VALUES (%s, now() - interval '3 days', 1, 9)",
               (stale,))
    assert sender(servers[0], token).post("/api/reports", json=report(kind="other", components=[])).status_code == 201
    assert db.execute("SELECT count(*) AS n FROM rate_limit WHERE key = %s", (stale,)).fetchone()["n"] == 0


def test_hits_of_one_key_on_several_connections_add_up(database_url):
    key = f"test:{suffix()}"
    with psycopg.connect(database_url, autocommit=True) as a, psycopg.connect(database_url, autocommit=True) as b:
        counts = [conn.execute("SELECT hits FROM rate_limit_hits(%s, 60)", ([key],)).fetchone()[0]
                  for conn in (a, b, a, b, b)]
        both = a.execute("SELECT key, hits FROM rate_limit_hits(%s, 60) ORDER BY key", ([key, f"{key}:other"],))
        assert both.fetchall() == [(key, 6), (f"{key}:other", 1)]
    assert counts == [1, 2, 3, 4, 5]


def test_a_signed_in_crew_member_reports_through_the_same_statement(demo_loaded, db):
    from tests.test_sessions import sign_in

    client = demo_loaded.test_client()
    assert sign_in(client, "crew").status_code == 302
    page = client.get("/field").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page) or re.search(r'csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    body = report()
    response = client.post("/api/reports", json=body, headers={"X-CSRFToken": csrf.group(1)})
    assert response.status_code == 201 and stored(db, body["id"]) == 1


def test_the_statements_open_case_predicate_names_the_closed_statuses(db):
    source = db.execute("SELECT pg_get_functiondef('ingest_report'::regproc) AS text").fetchone()["text"]
    predicate = re.search(r"ON CONFLICT.*?DO NOTHING", source, flags=re.S)
    assert predicate is not None
    named = set(re.findall(r"'(\w+)'", predicate.group())) & set(taxonomy.CASE_STATUSES)
    assert named == set(taxonomy.CLOSED_CASE_STATUSES)


def test_a_reports_fingerprint_is_what_it_was_before_the_statement():
    """Retries of reports stored before migration 0013 must still be recognised as the same report."""
    body = {"id": "00000000-0000-0000-0000-000000000017", "lon": -6.25, "lat": 53.33, "accuracy_m": 8.0,
            "observed_at": "2026-12-07T09:30:00+02:00", "kind": "substation", "severity": "severe",
            "status": "degraded", "share_out": 0.4, "components": ["transformer", "busbar"], "hazards": ["fire"],
            "repair_hours": 6, "crew_size": 4, "materials": "110/38 kV transformer", "notes": "Transformer burnt"}
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert parse_report(body, now=now).content_hash() == FINGERPRINT
    del body["share_out"]
    body["status"] = "out_of_service"
    assert parse_report(body, now=now).content_hash() == FINGERPRINT_WITHOUT_SHARE


# Computed with the code before migration 0013 (dataclasses.asdict): the fingerprint of stored reports never changes.
FINGERPRINT = "0829976d168355f700695b2dff460c45196635457ecc49649d3944979c14250e"
FINGERPRINT_WITHOUT_SHARE = "8a391709184b9ba175aba6b1135aec2726181761bd8a84cf69fc81523d27e5b0"


def test_one_report_is_found_by_its_text_id_through_an_index(db):
    """report_view shows the id as text; a look-up by it must not read the whole table (it did, twice a report)."""
    with db.transaction():
        db.execute("SET LOCAL enable_seqscan = off")
        plan = db.execute("EXPLAIN SELECT * FROM report_view WHERE id = %s", (str(uuid.uuid4()),)).fetchall()
    assert "report_id_text_idx" in " ".join(row["QUERY PLAN"] for row in plan)


@pytest.mark.parametrize("values", [[], ["fire"], ["", "NULL", "a,b", "{x}", 'say "hi"', "back\\slash\\", " lead",
                                                  "тест", "addr:2001:db8::1"]])
def test_array_parameters_sent_as_literals_read_back_as_the_same_values(db, values):
    """ingest_report's arrays go as literals (app/repo/reports.text_array), whatever the text holds."""
    from app.repo.reports import text_array

    assert db.execute("SELECT %s::text[] AS a", (text_array(values),)).fetchone()["a"] == values
