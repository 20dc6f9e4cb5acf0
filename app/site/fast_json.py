"""Large JSON answers (the triage queue, the plan) written by orjson: the same document as the app's JSON provider
gives (keys sorted, geo's sentences said in the request's language, dates and dataclasses as Flask writes them,
a non-finite number as null), several times faster; non-ASCII text as UTF-8 instead of escapes."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, current_app

from app.site.sentences import localise

OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
           | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)


def response(body: Any) -> Response:
    """`body` as an application/json response, as `flask.jsonify(body)` gives it."""
    provider = current_app.json
    default = getattr(getattr(provider, "inner", provider), "default", None)  # Flask's: dates, decimals, dataclasses
    return current_app.response_class(orjson.dumps(localise(body), default=default, option=OPTIONS) + b"\n",
                                      mimetype="application/json")
