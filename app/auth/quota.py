"""A rate limit to count inside another statement: the keys a request counts against and the configured limit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    """At most `per_window` requests per key in each fixed window of `window_s` seconds."""

    per_window: int
    window_s: int
    keys: tuple[str, ...]
