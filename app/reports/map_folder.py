"""The map's report queue folded in the background, off the reporting transactions (migration 0021).

A stored report only appends itself to the map's queue; the views poke this server process's folder, which folds
the queue at most every MAP_FOLD_INTERVAL_S while reports keep arriving, on a connection from the app's pool.
The fold takes a try-lock in the database, so with several processes or servers one folds and the others find the
queue empty or leave it for the next time. Every snapshot stays exact whenever the fold runs (readers add the queued
reports themselves); the folder only keeps the queue short. The thread ends after IDLE_EXIT_S without reports, or
when its pool closes, and the next report starts it again.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import psycopg
from flask import current_app
from flask.sansio.app import App
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from app.repo import Conn
from app.repo import map as map_repo

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 0.5  # a queue of about 500 rows at 1,000 reports/s; readers group it in well under 1 ms
IDLE_EXIT_S = 30.0
CONNECT_TIMEOUT_S = 5.0


class Folder:
    """One process's folder: `poke()` after a report is stored; the fold follows within `interval_s`."""

    def __init__(self, pool: ConnectionPool[Conn], *, interval_s: float, idle_exit_s: float = IDLE_EXIT_S) -> None:
        self._pool = pool
        self._interval_s = interval_s
        self._idle_exit_s = idle_exit_s
        self._wake = threading.Event()
        self._lock = threading.Lock()  # guards starting and ending the thread, so no poke is left unserved
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.folds = 0  # folds run by this folder (for tests)

    def poke(self) -> None:
        """A report was queued: make sure a fold follows."""
        if self._wake.is_set() and self._pid == os.getpid():
            # A fold is already due: the thread clears the flag only just before it folds, and a thread about to
            # end sees the flag under the lock and stays. (Most pokes under load; the lock cost 2 % of a request.)
            return
        with self._lock:
            self._wake.set()
            if self._pid != os.getpid():  # a forked copy: the thread stayed in the parent
                self._pid, self._thread = os.getpid(), None
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="map-folder", daemon=True)
                self._thread.start()

    def _idle(self) -> bool:
        """Whether to end the thread: no poke since the last fold (decided under the lock poke() takes)."""
        with self._lock:
            if self._wake.is_set():
                return False
            self._thread = None
            return True

    def _run(self) -> None:
        try:
            self._loop()
        finally:  # whatever ended it (an unexpected error included), the next poke starts a new thread
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None
                    self._wake.clear()  # else poke()'s quick path would take a fold as still due

    def _loop(self) -> None:
        last = 0.0
        while True:
            if not self._wake.wait(self._idle_exit_s) and self._idle():
                return
            pause = last + self._interval_s - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # reports keep arriving meanwhile: one fold takes them all
            self._wake.clear()
            last = time.monotonic()
            try:
                with self._pool.connection(timeout=CONNECT_TIMEOUT_S) as conn:
                    map_repo.fold(conn)
                self.folds += 1
            except PoolClosed:
                return
            except (psycopg.Error, PoolTimeout) as exc:  # the database is away: the queue waits, readers stay exact
                log.warning("map fold failed, retrying in %.1f s: %s", self._interval_s, exc)
                self._wake.set()


def init_app(app: App) -> None:
    """Give the app its folder (none when MAP_FOLD_INTERVAL_S is 0: the database's own every-1024th fold only)."""
    interval_s = float(app.config.setdefault("MAP_FOLD_INTERVAL_S", DEFAULT_INTERVAL_S))
    if interval_s > 0:
        app.extensions["map_folder"] = Folder(app.extensions["db_pool"], interval_s=interval_s)


def reports_stored() -> None:
    """Called by a view that stored reports: this process's folder folds them onto the map soon."""
    folder: Folder | None = current_app.extensions.get("map_folder")
    if folder is not None:
        folder.poke()
