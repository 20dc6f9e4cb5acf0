"""GET /api/triage and GET /api/plan: the ranked queue and the k-crew plan for the open damage cases."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, request

from app import db
from app.auth.access import requires
from app.coordinator import proposals
from app.coordinator.situation import Situation, case_fields, explain, explain_english, load_situation, ranking
from app.parse import parse_int, parse_number
from app.site import fast_json, sentences
from geo.message import Text, without_stop
from geo.network import without_gc_pauses
from geo.plan import gap, improvement, time_limit
from geo.triage import Ranked

bp = Blueprint("triage", __name__, url_prefix="/api")


# Both views run with the cyclic garbage collector paused (restored after): a situation of 10^5 facilities is
# hundreds of thousands of acyclic rows and objects, and the collector's repeated scans over them while the rows
# are fetched and the network is built cost several times the work itself (bench/bench_api_triage.py).
@bp.get("/triage")
@requires("coordinator")
@without_gc_pauses
def triage() -> Response:
    """Coordinator and up: the ranked repair queue of open damage cases, each with its reason."""
    return fast_json.response(queue_body(current_situation()))


def queue_body(situation: Situation, *, english: bool | None = None) -> dict[str, Any]:
    """/api/triage's answer for a situation (before it is said in the request's language). In English (`english`
    None: the request's language) the explanations are written as plain strings, the same characters."""
    ranked = ranking(proposals.switched(situation))  # the queue after the proposed switching steps
    plain = sentences.english() if english is None else english
    return {"queue": [_row(situation, r, plain) for r in ranked], "summary": situation.summary(),
            "unplaced": situation.unplaced, "switching": proposals.steps_json(situation),
            "exact": situation.network.radial,
            "objective": "people-hours without power, critical sites weighted in people-equivalents"}


def current_situation() -> Situation:
    """The live situation now, with this deployment's default share for degraded facilities."""
    with db.read_connection() as conn:
        return load_situation(conn, default_share=float(current_app.config["DEGRADED_SHARE_OUT"]))


# What follows the local search in /api/plan, estimated so that the answer arrives within time_limit: the plan's
# lower bounds and KPIs, the naive plan, the dark areas and their ETRs twice, the crews' rows and the JSON. Measured
# at 10^4 open cases on a 10^5-facility network (bench/bench_api_triage.py, 2026-12-07, load average about 3 on 2
# cores): 0.35-0.45 s, i.e. about 40 microseconds per open case; the fixed part is small. A heavier load stretches
# it, which the half second the target allows above the budget absorbs.
AFTER_SEARCH_S = 0.02
AFTER_SEARCH_PER_CASE_S = 40e-6


def search_budget(time_limit_s: float, spent_s: float, cases: int) -> float:
    """Seconds left for the plan (construction and local search) of a request with `time_limit_s` that has spent
    `spent_s` reading its `cases` open cases: the rest of the budget less what follows the search (never < 0; at 0
    the plan is the construction's, with its bounds and gap as always)."""
    return max(0.0, time_limit_s - spent_s - (AFTER_SEARCH_S + AFTER_SEARCH_PER_CASE_S * cases))


@bp.get("/plan")
@requires("coordinator")
@without_gc_pauses
def plan_for_crews() -> Response:
    """Coordinator and up: the plan for k crews with ETRs per case and per area, next to the naive plan."""
    crews = parse_int(request.args.get("crews"), name="crews", low=1, high=500, default=1)
    time_limit_s = parse_number(request.args.get("time_limit"), name="time_limit", low=0.05,
                                high=current_app.config["PLAN_MAX_SECONDS"], default=2.0)
    # The budget is the request's: it counts from here, so reading the situation spends it too, and the search
    # stops early enough to leave room for what follows it (search_budget).
    start = time.perf_counter()
    situation = current_situation()
    deadline = time_limit(search_budget(time_limit_s, time.perf_counter() - start, len(situation.cases)),
                          clock=time.perf_counter)
    result, switched = proposals.plan_both(situation, crews=crews, deadline=deadline,
                                           persons_per_customer=current_app.config["PERSONS_PER_CUSTOMER"])
    q = result.quality
    return fast_json.response({
        "as_of": situation.as_of.isoformat(), "summary": situation.summary(),
        "crew_labels": list(result.crew_labels),
        "crews": [[{**case_fields(situation, job.id), "start_hours": job.start_hours,
                    "finish_hours": job.finish_hours, "commitment": job.commitment} for job in crew]
                  for crew in result.crews],
        "etr_by_case": {str(situation.cases[f]["case_id"]): h for f, h in result.etr_hours.items()},
        "etr_by_area": proposals.areas(situation, result.etr_hours),
        "naive_crews": [[{"case_id": situation.cases[job.id]["case_id"], "facility": job.id,
                          "start_hours": job.start_hours, "finish_hours": job.finish_hours} for job in crew]
                        for crew in result.naive_crews],
        "naive_etr_by_area": proposals.areas(situation, result.naive_etr_hours),
        "kpis": vars(result.kpis),
        "quality": {**vars(q), "optimised": "objective",
                    "objective_gap": gap(q.objective, q.objective_lower_bound),
                    "objective_improvement_vs_naive": improvement(q.objective, q.naive_objective),
                    "gap": gap(q.phu, q.phu_lower_bound),
                    "improvement_vs_naive": improvement(q.phu, q.naive_phu)},
        "exact": result.exact, "converged": result.converged, "notes": list(result.notes),
        "unplaced": situation.unplaced, "switching": switched,
    })


def _row(situation: Situation, r: Ranked, english: bool) -> dict[str, Any]:
    """A ranked case as the queue shows it: its fields, its figures in the ranking and the reason for its rank."""
    row = case_fields(situation, r.id)
    row["rank"], row["repair_hours"], row["ratio"] = r.rank, r.repair_hours, r.ratio
    row["gain_now"], row["gain_with_blockers"], row["population_served"] = (r.gain_now, r.gain_with_blockers,
                                                                           r.population_served)
    row["blocked_by"] = [situation.cases[b]["case_id"] for b in r.blocked_by]
    row["blocked_by_facilities"] = list(r.blocked_by)
    row["explanation"] = _explained(situation, r.id, r.explanation, english=english)
    return row


def _explained(situation: Situation, node: str, explanation: str, *, english: bool = False) -> str:
    """The case's explanation, with what a proposed switching step does for its people (`english`: only its
    English, as a plain string)."""
    fed = proposals.back_feeds(situation, node)
    if english and fed is None:
        return explain_english(situation, node, explanation)
    said = explain(situation, node, explanation)
    return Text.joined(without_stop(said), "; ", fed, ".") if fed else said
