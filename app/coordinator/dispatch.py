"""GET /api/dispatch and POST /api/dispatch: the dispatchable plan for chosen crews (travel, skills, shifts, access
and materials, clock-time ETRs with P50/P90), and turning it into assignments."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user

from app import db, parse
from app.auth.access import requires
from app.coordinator import dispatching
from app.coordinator.proposals import switched
from app.coordinator.situation import Situation, load_situation
from app.errors import ValidationError
from app.parse import parse_number
from geo.dispatch import Dispatch
from geo.plan import time_limit

bp = Blueprint("dispatch", __name__, url_prefix="/api")


def _crew_ids(values: list[object]) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(parse.integer(int(str(value)), low=1, high=2**62))
        except (ValueError, parse.Refused):
            raise ValidationError({"crew": f"{value!r} is not a crew id"}) from None
    return ids


def _planned(crew_ids: list[int], seconds: float) -> tuple[Situation, Dispatch, dict[str, dict[str, Any]]]:
    now = datetime.now(UTC)
    with db.connection() as conn:
        # Planned on the network after the proposed switching steps, as the queue is (app/coordinator/proposals.py).
        situation = switched(load_situation(conn, default_share=float(current_app.config["DEGRADED_SHARE_OUT"]),
                                            now=now))
        crews, rows = dispatching.chosen_crews(conn, crew_ids, now=now)
    result = dispatching.plan(situation, crews, deadline=time_limit(seconds, clock=time.perf_counter),
                              solver_seconds=seconds,
                              persons_per_customer=float(current_app.config["PERSONS_PER_CUSTOMER"]))
    return situation, result, rows


def _seconds(value: object) -> float:
    limit = float(current_app.config["PLAN_MAX_SECONDS"])
    return parse_number(None if value is None else str(value), name="time_limit", low=0.05, high=limit, default=2.0)


@bp.get("/dispatch")
@requires("coordinator")
def dispatch_plan() -> Response:
    """Coordinator and up: the plan for the chosen crews (crew=ID, repeated) with clock-time ETRs and ranges."""
    situation, result, _ = _planned(_crew_ids(list(request.args.getlist("crew"))),
                                    _seconds(request.args.get("time_limit")))
    return jsonify(dispatching.plan_json(situation, result))


@bp.post("/dispatch")
@requires("coordinator")
def dispatch_assign() -> Response:
    """Coordinator and up: plan for the chosen crews ({"crews": [ids]}) and assign each crew its cases in order."""
    body = parse.json_object(request, max_bytes=current_app.config["REPORT_MAX_BYTES"])
    given = body.get("crews")
    if not isinstance(given, list):
        raise ValidationError({"crews": "must be a list of crew ids"})
    situation, result, rows = _planned(_crew_ids(given), _seconds(body.get("time_limit")))
    with db.connection() as conn:
        done = dispatching.assign(conn, situation, result, rows, actor_id=int(current_user.id))
    return jsonify({**done, "plan": dispatching.plan_json(situation, result)})
