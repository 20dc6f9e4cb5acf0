"""External URLs of the OGC API: from the configured PUBLIC_URL, never from a request's Host header."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint` as users reach it: PUBLIC_URL plus the path when configured, else from the
    request's host (which Flask's TRUSTED_HOSTS setting restricts)."""
    base = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
