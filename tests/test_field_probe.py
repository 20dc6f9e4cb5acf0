"""The field form asks the server whether it can be reached: waiting reports go out within seconds of it answering
again, with no `online` event (a page opened offline may never get one), and the badge says "Online" only then."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import login
from tests.test_field_form import AIRTON, fill_report, stored, submit

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
UNREACHABLE = "Server not available: reports wait in the outbox."
# Counts the `online` events the page gets: the server must be found again without any.
COUNT_ONLINE = "window.onlineEvents = 0; addEventListener('online', () => { window.onlineEvents += 1; });"
ATTEMPTS = "id => import('/static/field/outbox.js').then(m => m.get(id)).then(r => r && [r.attempts, r.nextAttemptAt])"


def badge(page) -> tuple[str, str]:
    return page.get_attribute("#net-status", "data-state") or "", page.inner_text("#net-status")


def wait_stored(db, report_id: str, within_s: float) -> float:
    """Seconds until the server has the report; fails after `within_s`."""
    start = time.monotonic()
    while stored(db, report_id) is None:
        assert time.monotonic() - start < within_s, f"report not received within {within_s} s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_waiting_report_is_sent_within_seconds_of_the_server_answering_again_without_an_online_event(
        open_field, live_server, db):
    # No service worker, so that the context's routes see every request (the next test keeps it).
    context, page = open_field(init_script=COUNT_ONLINE, timeout_ms=TIMEOUT_MS, geolocation=AIRTON,
                               permissions=["geolocation"], service_workers="block")
    page.wait_for_selector("#net-status[data-state=online]")
    probes: list[float] = []
    context.on("request", lambda r: probes.append(time.monotonic()) if r.url.endswith("/healthz") else None)

    # The server out of reach while the phone believes it is online (no event of any kind).
    context.route(f"{live_server}/**", lambda route: route.abort("connectionrefused"))
    fill_report(page, "sent once the server answers again")
    report_id = submit(page)
    page.wait_for_selector("#net-status[data-state=unreachable]")
    assert badge(page) == ("unreachable", UNREACHABLE)
    assert page.evaluate("navigator.onLine") is True

    # Wait until the report's own backoff holds it back for 8 s or more (its fourth failed try), as after a while.
    deadline = time.monotonic() + 30
    while True:
        attempts, next_at = page.evaluate(ATTEMPTS, report_id)
        if attempts >= 4:
            break
        assert time.monotonic() < deadline, "the report was not retried"
        time.sleep(0.05)
    held_back_s = (next_at - page.evaluate("Date.now()")) / 1000
    assert held_back_s > 6
    assert badge(page)[0] == "unreachable" and stored(db, report_id) is None

    context.unroute(f"{live_server}/**")
    took_s = wait_stored(db, report_id, within_s=5)
    assert took_s < held_back_s - 1  # the probe sent it, not the backoff timer
    page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")
    assert badge(page) == ("online", "Online")
    assert page.evaluate("window.onlineEvents") == 0

    # Cheap: every few seconds while the report waited, never while the outbox is empty.
    while_waiting = len(probes)
    time.sleep(7)
    assert len(probes) - while_waiting <= 1  # at most the one already under way when the report went out
    gaps = [b - a for a, b in zip(probes, probes[1:], strict=False)]
    assert gaps and min(gaps) > 2
    assert page.js_errors == []


class Relay:
    """A TCP relay in front of the live server that can refuse every connection, as a server out of reach does."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.reachable = True
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.reachable:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # a reset: the browser's request fails at once
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.open |= {client, server}
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *socks: socket.socket) -> None:
        with self.lock:
            for s in socks:
                if s in self.open:
                    self.open.discard(s)
                    with contextlib.suppress(OSError):  # the other side may have gone already
                        s.shutdown(socket.SHUT_RDWR)
                    s.close()

    def cut(self) -> None:
        """Refuse new connections and end the open ones."""
        self.reachable = False
        with self.lock:
            socks = list(self.open)
        self._drop(*socks)

    def mend(self) -> None:
        self.reachable = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture()
def relay(live_server: str) -> Iterator[Relay]:
    relay = Relay(int(live_server.rsplit(":", 1)[1]))
    yield relay
    relay.close()


@pytest.fixture()
def phone(browser) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(**options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def test_page_opened_with_the_server_out_of_reach_never_says_online_and_sends_once_it_answers(relay, phone, db):
    """The service worker keeps the page and answers it from its cache, but never the probe."""
    base = f"http://127.0.0.1:{relay.port}"
    context = phone(geolocation=AIRTON, permissions=["geolocation"])
    context.add_init_script(COUNT_ONLINE)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, base, "crew")
    page.goto(base + "/field")
    page.wait_for_selector("html[data-offline-ready]")
    page.wait_for_selector("#net-status[data-state=online]")

    relay.cut()
    page.reload()  # opened with no server: the service worker's copy
    page.wait_for_selector("html[data-field-ready]")
    page.wait_for_selector("#net-status[data-state=unreachable]")
    fill_report(page, "made on a page opened with the server out of reach")
    report_id = submit(page)
    time.sleep(4)  # probes and retries fail meanwhile; none of them may turn the badge to "Online"
    assert badge(page) == ("unreachable", UNREACHABLE)
    assert stored(db, report_id) is None

    relay.mend()
    wait_stored(db, report_id, within_s=8)
    page.wait_for_selector(f"#outbox-list li[data-id='{report_id}'][data-state=sent]")
    assert badge(page) == ("online", "Online")
    assert page.evaluate("[window.onlineEvents, navigator.onLine]") == [0, True]
    assert errors == []
