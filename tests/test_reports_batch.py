"""POST /api/reports/batch: a phone's queue of offline reports in one request, each stored exactly once by its own
id, each answered as a single POST would answer it, every 201/200 committed before the answer."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from flask import Flask

from app.reports.batch import MAX_REPORTS
from tests.conftest import api_client, create_accounts, make_app
from tests.test_reports_api import count_reports, report


@pytest.fixture()
def limited(database_url: str):
    """An app whose report limit is 3 per window, for the rate-limit tests."""
    app = make_app(database_url, RATE_LIMIT_REPORTS=3)
    yield app
    app.extensions["db_pool"].close()


def send(client, reports):
    return client.post("/api/reports/batch", json={"reports": reports})


def test_a_queue_is_stored_once_each_and_answered_in_order(demo_loaded, tokens, db):
    client = api_client(demo_loaded, tokens["crew"])
    queue = [report(kind="other", components=[]) for _ in range(5)]
    response = send(client, queue)
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [(q["id"], 201) for q in queue]
    for item, result in zip(queue, results, strict=True):
        assert count_reports(db, item["id"]) == 1
        assert result["report"] == client.get(f"/api/reports/{item['id']}").get_json()["report"]


def test_the_same_queue_sent_again_stores_nothing_twice(demo_loaded, tokens, db):
    client = api_client(demo_loaded, tokens["crew"])
    queue = [report(kind="other", components=[]) for _ in range(3)]
    first = send(client, queue).get_json()["results"]
    single = client.post("/api/reports", json=queue[1])  # one of them was also sent on its own
    again = send(client, queue).get_json()["results"]
    assert [r["status"] for r in first] == [201] * 3 and single.status_code == 200
    assert [r["status"] for r in again] == [200] * 3
    assert [r["report"] for r in again] == [r["report"] for r in first]
    assert all(count_reports(db, q["id"]) == 1 for q in queue)


def test_a_bad_report_is_answered_on_its_own_and_the_others_are_stored(demo_loaded, tokens, db):
    client = api_client(demo_loaded, tokens["crew"])
    good, reused = report(kind="other", components=[]), report(kind="other", components=[])
    assert client.post("/api/reports", json=reused).status_code == 201
    bad = report(severity="apocalyptic")
    queue = [good, bad, {**reused, "notes": "other content under the same id"},
             report(kind="other", components=[], case_id=2**62)]
    results = send(client, queue).get_json()["results"]
    assert [r["status"] for r in results] == [201, 422, 409, 422]
    assert results[1]["id"] == bad["id"] and "severity" in results[1]["errors"]
    assert "case_id" in results[3]["errors"] and "report" not in results[3]
    assert count_reports(db, good["id"]) == 1 and count_reports(db, bad["id"]) == 0


def test_the_rate_limit_counts_each_report_and_refuses_the_rest(limited):
    name = f"batcher-{uuid.uuid4().hex[:8]}"
    token = create_accounts(limited, {name: "crew"})[name]
    response = send(api_client(limited, token), [report(kind="other", components=[]) for _ in range(5)])
    assert [r["status"] for r in response.get_json()["results"]] == [201, 201, 201, 429, 429]
    assert int(response.headers["Retry-After"]) >= 1
    single = api_client(limited, token).post("/api/reports", json=report(kind="other", components=[]))
    assert single.status_code == 429  # the batch's reports counted as sent one by one


def test_a_token_revoked_after_a_server_cached_it_refuses_the_whole_batch(database_url, db):
    app = make_app(database_url)
    try:
        name = f"revoked-batch-{uuid.uuid4().hex[:8]}"
        token = create_accounts(app, {name: "crew"})[name]
        client = api_client(app, token)
        assert send(client, [report(kind="other", components=[])]).status_code == 200  # cached now
        db.execute("UPDATE api_token SET revoked_at = now() WHERE user_id = (SELECT id FROM app_user "
                   "WHERE username = %s)", (name,))
        queue = [report(kind="other", components=[])]
        assert send(client, queue).status_code == 401 and count_reports(db, queue[0]["id"]) == 0
        assert send(client, [report(severity="apocalyptic")]).status_code == 401  # nothing for a statement to check
        assert client.post("/api/reports/batch", json={"reports": "x"}).status_code == 401
    finally:
        app.extensions["db_pool"].close()


@pytest.mark.parametrize(("body", "field"), [
    ({}, "reports"), ({"reports": []}, "reports"), ({"reports": "x"}, "reports"),
    ({"reports": [], "extra": 1}, "extra"), ({"reports": [{}] * (MAX_REPORTS + 1)}, "reports"),
    ({"reports": [{}, []]}, "reports[1]")])
def test_a_bad_envelope_is_a_422_naming_it(demo_loaded, tokens, body, field):
    response = api_client(demo_loaded, tokens["crew"]).post("/api/reports/batch", json=body)
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_not_json_is_a_400(demo_loaded, tokens):
    response = api_client(demo_loaded, tokens["crew"]).post("/api/reports/batch", data=b"[1,",
                                                             content_type="application/json")
    assert response.status_code == 400


def test_a_committed_report_survives_a_batch_cut_short(demo_loaded: Flask, tokens, db, database_url):
    """Each report commits on its own: if the batch fails after some (here the server connection is killed while
    the third waits), the answer is no 2xx, the stored ones stay stored, and sending the batch again completes it,
    each report once."""
    client = api_client(demo_loaded, tokens["crew"])
    queue = [report(kind="other", components=[]) for _ in range(3)]
    answers: list[int] = []
    # The third report's id held by another transaction, so the batch waits there.
    with db.transaction(), psycopg.connect(database_url, autocommit=True) as watcher:
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (queue[2]["id"],))
        sending = threading.Thread(target=lambda: answers.append(send(client, queue).status_code))
        sending.start()
        deadline = time.monotonic() + 20
        while not (waiting := watcher.execute(
                """SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'
                   AND query LIKE '%%ingest_report(%%' AND datname = current_database()""").fetchall()):
            assert time.monotonic() < deadline, "the batch never reached its third report"
            time.sleep(0.02)
        watcher.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        sending.join(timeout=20)
    assert answers and not 200 <= answers[0] < 300, answers
    assert [count_reports(db, q["id"]) for q in queue] == [1, 1, 0]
    again = send(client, queue).get_json()["results"]
    assert [r["status"] for r in again] == [200, 200, 201]
    assert [count_reports(db, q["id"]) for q in queue] == [1, 1, 1]
