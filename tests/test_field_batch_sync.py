"""The field form's outbox sends its queue through POST /api/reports/batch, in real headless Chromium: one request for
a queue, each result handled as its own request's answer would be, an older server's 404 met with one request per
report, and a batch cut by the server dying halfway that still ends with every report stored exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.conftest import ROOT, create_accounts, free_port, login, make_app
from tests.test_faults import healthy, stored_ids, wait_for
from tests.test_field_form import AIRTON, TIMEOUT_MS, fill_report, submit

pytestmark = pytest.mark.browser

BATCH, SINGLE = "/api/reports/batch", "/api/reports"


class Requests:
    """The report POSTs a page made, by path, with their bodies' report ids (Playwright sees every request)."""

    def __init__(self, page: Any) -> None:
        self.made: list[tuple[str, list[str]]] = []
        page.on("request", self._seen)

    def _seen(self, request: Any) -> None:
        path = urlsplit(request.url).path
        if request.method == "POST" and path in (BATCH, SINGLE):
            body = request.post_data_json
            self.made.append((path, [r["id"] for r in body["reports"]] if path == BATCH else [body["id"]]))

    def to(self, path: str) -> list[list[str]]:
        return [ids for p, ids in self.made if p == path]


def queue_offline(context: Any, page: Any, n: int) -> list[str]:
    """n reports made with the form while the phone is offline; their ids, oldest first."""
    page.wait_for_selector("html[data-offline-ready]")
    context.set_offline(True)
    page.wait_for_selector("#net-status[data-state=offline]")
    ids = []
    for i in range(n):
        fill_report(page, f"queued offline {i + 1} of {n}")
        ids.append(submit(page))
    for report_id in ids:
        page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=waiting]")
    return ids


def sent_in_page(page: Any, ids: list[str]) -> None:
    for report_id in ids:
        page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent][data-case-id]")


def counts(url: str, ids: list[str]) -> dict[str, int]:
    found = stored_ids(url)
    return {i: found[i] for i in ids}


def crafted(**changes: object) -> dict[str, object]:
    """A report as the form makes it, near Airton substation."""
    observed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {"id": str(uuid.uuid4()), "facility_id": None, "lon": AIRTON["longitude"], "lat": AIRTON["latitude"],
            "accuracy_m": 10, "observed_at": observed, "kind": "substation", "severity": "minor", "status": "degraded",
            "components": [], "hazards": [], "repair_hours": None, "crew_size": None, "materials": None,
            "notes": None, **changes}


def put_in_outbox(page: Any, payloads: list[dict[str, object]]) -> None:
    """Records in the outbox as the form would have left them, oldest first, all at once for the outbox.

    The puts hold the outbox's sync lock: a sync started meanwhile (the page's first health probe answering starts
    one) waits and then sees the whole queue, as it would a queue the form had left, never half of it."""
    page.evaluate("""async (payloads) => {
        const outbox = await import("/static/field/outbox.js");
        await navigator.locks.request("gridtriage-outbox-sync", async () => {
            for (const p of payloads) {
                const record = outbox.newRecord(p, [], "crew");
                await outbox.put(record);
                await new Promise((r) => setTimeout(r, 2));  // createdAt keeps the order
            }
        });
    }""", payloads)


@pytest.fixture()
def phone(open_field) -> Callable[..., tuple[Any, Any]]:
    return lambda **options: open_field(timeout_ms=TIMEOUT_MS, geolocation=AIRTON, permissions=["geolocation"],
                                        **options)


def test_a_queue_made_offline_goes_in_one_batch_and_each_report_is_stored_once(phone, database_url):
    context, page = phone()
    requests = Requests(page)
    ids = queue_offline(context, page, 4)
    context.set_offline(False)
    sent_in_page(page, ids)
    assert requests.to(BATCH) == [ids]  # one request, oldest first
    assert requests.to(SINGLE) == []
    assert counts(database_url, ids) == dict.fromkeys(ids, 1)
    page.click("#send-now")  # nothing is left to send: no request
    page.wait_for_timeout(500)
    assert len(requests.made) == 1
    assert page.js_errors == []


def test_each_result_of_a_batch_is_handled_as_its_own_answer_would_be(phone, client, database_url):
    context, page = phone()
    requests = Requests(page)
    taken = crafted()
    assert client.post("/api/reports", json=taken).status_code == 201  # the id is used, for other content
    good = [crafted(notes="first"), crafted(notes="second")]
    bad = crafted(lat=95)
    conflicting = {**taken, "severity": "severe"}
    put_in_outbox(page, [good[0], bad, conflicting, good[1]])
    page.click("#send-now")

    sent_in_page(page, [str(r["id"]) for r in good])
    page.wait_for_selector(f"#outbox-list li[data-id='{bad['id']}'][data-state=rejected] li[data-field=lat]")
    assert "must be between -90 and 90" in page.inner_text(f"#outbox-list li[data-id='{bad['id']}'] li[data-field=lat]")
    conflict = page.wait_for_selector(f"#outbox-list li[data-id='{taken['id']}'][data-state=rejected]")
    assert "rejected" in conflict.inner_text()
    assert requests.to(BATCH) == [[str(r["id"]) for r in (good[0], bad, conflicting, good[1])]]
    assert requests.to(SINGLE) == []
    assert counts(database_url, [str(r["id"]) for r in (*good, bad, taken)]) == {
        str(good[0]["id"]): 1, str(good[1]["id"]): 1, str(bad["id"]): 0, str(taken["id"]): 1}
    page.click("#send-now")  # what was rejected is kept for the crew, never sent again
    page.wait_for_timeout(500)
    assert len(requests.made) == 1
    assert page.js_errors == []


def test_a_queue_larger_than_the_servers_limit_goes_in_balanced_batches(phone, database_url):
    from app.reports.batch import MAX_REPORTS

    context, page = phone()
    requests = Requests(page)
    payloads = [crafted(notes=f"long queue {i}") for i in range(MAX_REPORTS + 1)]
    put_in_outbox(page, payloads)
    page.click("#send-now")
    ids = [str(p["id"]) for p in payloads]
    page.wait_for_function("n => document.querySelectorAll('#outbox-list li[data-state=sent]').length >= n",
                           arg=len(ids), timeout=60_000)
    batches = requests.to(BATCH)
    assert [len(b) for b in batches] == [51, 50] and sum(batches, []) == ids
    assert requests.to(SINGLE) == []
    assert counts(database_url, ids) == dict.fromkeys(ids, 1)


def test_an_older_server_without_the_batch_route_gets_one_request_per_report(phone, database_url):
    context, page = phone(service_workers="block")  # so that page.route sees the outbox's requests
    page.route(f"**{BATCH}", lambda route: route.fulfill(status=404, json={"error": "not found"}))
    requests = Requests(page)
    first = [crafted(notes=f"older server {i}") for i in range(3)]
    put_in_outbox(page, first)
    page.click("#send-now")
    sent_in_page(page, [str(p["id"]) for p in first])
    assert requests.to(BATCH) == [[str(p["id"]) for p in first]]
    assert requests.to(SINGLE) == [[str(p["id"])] for p in first]

    later = [crafted(notes=f"older server, later {i}") for i in range(2)]
    put_in_outbox(page, later)
    page.click("#send-now")
    sent_in_page(page, [str(p["id"]) for p in later])
    assert len(requests.to(BATCH)) == 1  # the page remembers: no batch again
    ids = [str(p["id"]) for p in first + later]
    assert counts(database_url, ids) == dict.fromkeys(ids, 1)


class Served:
    """The app under gunicorn in a process group of its own, on a database of the test's own (a real server to kill)."""

    def __init__(self, url: str, log: Path, **env: str) -> None:
        self.url, self.log, self.env, self.port = url, log, env, free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.url, "FLASK_SECRET_KEY": "batch-test", "FLASK_DB_TIMEOUT_S": "3",
               "FLASK_RATE_LIMIT_REPORTS": "0", "FLASK_RATE_LIMIT_LOGIN": "0", **self.env}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{self.port}",
                 "app:create_app()"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self.process is not None and self.process.poll() is None and healthy(self.port),
                 timeout_s=60, what="gunicorn to serve /healthz")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)


@pytest.fixture()
def own_server(new_database, browser) -> Iterator[Callable[..., tuple[Served, Any, Any]]]:
    """Start gunicorn (with extra FLASK_* settings) and open its /field signed in as a crew member."""
    made: list[tuple[Served, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        def start(**env: str) -> tuple[Served, Any, Any]:
            url = new_database()
            setup = make_app(url)
            try:
                create_accounts(setup, {"crew": "crew"})
            finally:
                setup.extensions["db_pool"].close()
            server = Served(url, Path(tmp) / f"gunicorn{len(made)}.log", **env)
            server.start()
            context = browser.new_context(geolocation=AIRTON, permissions=["geolocation"])
            made.append((server, context))
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.js_errors = []
            page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
            login(page, server.base, "crew")
            page.goto(server.base + "/field")
            page.wait_for_selector("html[data-field-ready]")
            return server, context, page

        yield start
        for server, context in made:
            context.close()
            server.kill(signal.SIGKILL)


def test_a_batch_cut_by_the_server_dying_halfway_ends_with_every_report_stored_once(own_server):
    server, context, page = own_server()
    requests = Requests(page)
    ids = queue_offline(context, page, 5)
    # Report 3 waits on its id's lock (the ingest statement takes it), held here: the server stores 1 and 2, then hangs.
    with psycopg.connect(server.url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s::uuid::text, 0))", (ids[2],))
        context.set_offline(False)
        wait_for(lambda: counts(server.url, ids) == {**dict.fromkeys(ids, 0), ids[0]: 1, ids[1]: 1}, timeout_s=30,
                 what="the first two reports of the batch to be stored")
        server.kill(signal.SIGKILL)  # the server goes away halfway through the batch: no answer
        # Nothing was acknowledged: once the page has given up on the answer, everything is still in the queue.
        page.wait_for_function("""async (ids) => {
            const outbox = await import("/static/field/outbox.js");
            const records = await Promise.all(ids.map((id) => outbox.get(id)));
            return records.every((r) => r.state === "waiting" && !r.sending && r.lastError);
        }""", arg=ids)
        holder.rollback()
    assert requests.to(BATCH) == [ids]
    for report_id in ids:
        page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=waiting]")

    server.start()  # back on the same port: the page notices and sends the same queue again, with the same ids
    sent_in_page(page, ids)
    assert requests.to(BATCH) == [ids, ids]
    assert requests.to(SINGLE) == []
    assert counts(server.url, ids) == dict.fromkeys(ids, 1)
    assert stored_ids(server.url).total() == 5
    assert page.js_errors == []


def test_reports_over_the_rate_limit_are_sent_again_after_their_retry_after(own_server):
    limit = 3
    server, context, page = own_server(FLASK_RATE_LIMIT_REPORTS=str(limit), FLASK_RATE_LIMIT_REPORTS_WINDOW_S="3")
    requests = Requests(page)
    answers: list[list[dict[str, Any]]] = []
    page.on("response", lambda r: answers.append(r.json()["results"])
            if r.request.method == "POST" and urlsplit(r.url).path == BATCH else None)
    # 2 limits + 1 more: even a batch that straddles two rate-limit windows has a report refused with a 429.
    ids = queue_offline(context, page, 2 * limit + 1)
    context.set_offline(False)
    for report_id in ids:  # a refused report waits its Retry-After (2-3 s) and backoff, perhaps more than once
        page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]", timeout=45_000)
    first = answers[0]
    limited = [r["id"] for r in first if r["status"] == 429]
    assert limited and all(r["retry_after_s"] >= 1 for r in first if r["status"] == 429)
    assert [r["id"] for r in first if r["status"] == 201] == [i for i in ids if i not in limited]
    # The refused ones (and only those) went again once their time came; nothing was sent twice that was stored.
    resent = sum(requests.to(BATCH)[1:], []) + sum(requests.to(SINGLE), [])
    assert sorted(set(resent)) == sorted(limited)
    assert requests.to(BATCH)[1] == limited  # together again, in their order
    assert counts(server.url, ids) == dict.fromkeys(ids, 1)
