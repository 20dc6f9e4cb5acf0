"""The registry network an app server keeps between requests: every facility as the engine takes it (id "name
(facility id)", feed parents, direct population, undamaged), what it feeds, and the critical sites.

It changes rarely (imports), so each server builds it once and keeps it while the database's registry revision
(migration 0019) says it has not changed; every request reads the revision in its own transaction, on whichever
database it reads (the primary or a replica), so several servers and a replica behind never show a stale one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context

from app.repo import Conn
from app.repo import triage as repo
from geo.network import CriticalSite, Facility, Network, build_network

KEEP = 2  # registries kept per server: the primary's and a replica a revision behind it, without rebuilding
IDLE_S = 60.0  # a kept registry no request has read for this long is dropped (about 50 MB per 10^5 facilities)


@dataclass(frozen=True, eq=False)
class Registry:
    """The registry at one revision, as plain values shared by every request (never changed once built)."""

    token: str  # the revision's token: a new random value with every committed change
    revision: int
    facilities: tuple[Facility, ...]  # in facility id order, none damaged
    position: dict[str, int]  # facility id (text) -> its position in `facilities`
    names: tuple[str, ...]
    layers: tuple[str | None, ...]  # the population layer and method of each facility's direct population
    methods: tuple[str | None, ...]
    feeds: tuple[tuple[int, ...], ...]  # per facility, the positions of the facilities it feeds
    critical_sites: tuple[CriticalSite, ...]
    facility_ids: dict[str, int]  # network id -> facility id
    base: Network | None = None  # the facilities as a radial Network (None if meshed): damage is laid on it per request
    meshed: bool = False  # some facility has two parents: geo.mesh orients its feed links per request (issue 15)


def _radial_base(facilities: tuple[Facility, ...]) -> Network | None:
    """The undamaged facilities as a Network, built once per revision, when radial (geo.network.with_damage lays
    each request's damage on it by columns; a meshed registry is built per request as before)."""
    if not all(len(f.parents) <= 1 for f in facilities):
        return None
    network = build_network(facilities)
    return network if network.radial else None


def build(revision: Mapping[str, Any], rows: list[dict[str, Any]], sites: list[dict[str, Any]]) -> Registry:
    """The registry of these rows (app/repo/triage.network and critical_sites) at `revision`."""
    label = [f"{row['name']} (facility {row['id']})" for row in rows]
    position = {row["id"]: i for i, row in enumerate(rows)}
    feeds: list[list[int]] = [[] for _ in rows]
    facilities = []
    for i, row in enumerate(rows):
        parents = row["parents"]
        for p in parents:
            feeds[position[p]].append(i)
        facilities.append(Facility(id=label[i], parents=tuple(label[position[p]] for p in parents),
                                   population=float(row["population"])))
    kept = tuple(facilities)
    return Registry(
        token=str(revision["token"]), revision=int(revision["revision"]), facilities=kept, base=_radial_base(kept),
        meshed=any(len(f.parents) > 1 for f in kept),
        position=position, names=tuple(row["name"] for row in rows),
        layers=tuple(row["population_layer"] for row in rows), methods=tuple(row["population_method"] for row in rows),
        feeds=tuple(tuple(f) for f in feeds),
        critical_sites=tuple(CriticalSite(id=s["id"], facility=label[position[s["facility_id"]]],
                                          weight=float(s["weight"]), kind=s["kind"]) for s in sites),
        facility_ids={label[i]: int(row["id"]) for i, row in enumerate(rows)})


class Kept:
    """One server's registries by revision token, at most KEEP of them, built at most once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, Registry] = {}
        self._used: dict[str, float] = {}  # token -> when a request last read it (monotonic)
        self.builds = 0  # how many times a registry was read and built (tests check that it was kept)

    def current(self, conn: Conn) -> Registry:
        """The registry as `conn`'s transaction sees it: the kept one if its revision is still the database's."""
        revision = repo.registry_revision(conn)
        found = self._by_token.get(revision["token"])
        if found is not None:
            self._used[found.token] = time.monotonic()
            if len(self._by_token) > 1:
                self._drop_idle(but=found.token)
            return found
        with self._lock:  # one build per revision, however many requests arrive meanwhile
            found = self._by_token.get(revision["token"])
            if found is None:
                found = build(revision, repo.network(conn), repo.critical_sites(conn))
                self.builds += 1
                # Each statement sees what was committed before it: if the token is still the same after the rows
                # were read, no registry change came between and the rows are that revision's. Else they are this
                # request's only (never kept under a token they may be newer than).
                if repo.registry_revision(conn)["token"] != found.token:
                    return found
                kept = dict(self._by_token)
                while len(kept) >= KEEP:
                    kept.pop(next(iter(kept)))
                kept[found.token] = found
                self._by_token = kept
                now = time.monotonic()
                self._used = {token: self._used.get(token, now) for token in kept}
        return found

    def _drop_idle(self, *, but: str) -> None:
        """Forget the registries no request has read for IDLE_S (the one before an import, once no replica behind
        is read any more), so that a server holds one registry in the steady state."""
        now = time.monotonic()
        if not self._lock.acquire(blocking=False):  # a build is under way: it evicts, and this can wait
            return
        try:
            kept = {token: r for token, r in self._by_token.items()
                    if token == but or now - self._used.get(token, now) < IDLE_S}
            if len(kept) < len(self._by_token):
                self._by_token = kept
                self._used = {token: self._used[token] for token in kept}
        finally:
            self._lock.release()

    def __iter__(self) -> Iterator[Registry]:
        return iter(list(self._by_token.values()))


def meshed(position: Mapping[str, int]) -> bool | None:
    """Whether the kept registry whose `position` this is (the very object) is meshed; None if none is kept."""
    if not has_app_context():
        return None
    kept: Kept | None = current_app.extensions.get("triage_registry")
    return next((r.meshed for r in kept or () if r.position is position), None)


def current(conn: Conn) -> Registry:
    """The registry for this request: kept by the app (one per server process), else read now (no app)."""
    if not has_app_context():
        return Kept().current(conn)
    kept: Kept = current_app.extensions.setdefault("triage_registry", Kept())
    return kept.current(conn)
