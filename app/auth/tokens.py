"""API bearer tokens: their digest, and a per-process cache of whom a token named, which only a statement that
checks the token again may trust.

Why a cache can be safe here: the cache only lets a request skip the token query before the view runs. A view that
opts in (`checks_token`) hands the digest to its one statement, which joins the token again (revoked? account
active?) and refuses the request as a whole when it no longer holds. So a token revoked on one server, or in the
database directly, is refused by every other server on its next request, with no invalidation message to lose.
Every other view resolves the token with a query, as before. The cache is bounded in size and age only to bound
memory and how long an account's name or role may lag in what the process knows.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class TokenRefused(PermissionError):
    """The statement found the request's token revoked, or its account deactivated: answer 401."""


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCache(Generic[T]):
    """Token digest -> the account it named when last checked; thread-safe, least recently used dropped first."""

    def __init__(self, *, max_entries: int, ttl_s: float) -> None:
        self.max_entries, self.ttl_s = max_entries, ttl_s
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> T | None:
        with self._lock:
            found = self._entries.get(digest)
            if found is None:
                return None
            if time.monotonic() - found[0] > self.ttl_s:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return found[1]

    def put(self, digest: str, value: T) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            self._entries[digest] = (time.monotonic(), value)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)
