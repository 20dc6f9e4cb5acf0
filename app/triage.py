"""GET /api/triage and GET /api/plan: the ranked queue and the k-crew plan for the open damage cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from app import db
from app.auth import requires
from app.params import parse_int, parse_number
from app.repo import triage as repo
from geo.network import CriticalSite, Facility, Network, build_network
from geo.repair_defaults import default_repair_hours, worst_severity
from geo.restoration import area_etr
from geo.schedule import gap, improvement, plan
from geo.triage import rank

bp = Blueprint("triage", __name__, url_prefix="/api")


@dataclass(frozen=True)
class Situation:
    """The network with its open damage, and what the response shows about each case."""

    network: Network
    critical_sites: tuple[CriticalSite, ...]
    cases: dict[str, dict[str, Any]]  # by network id
    facility_ids: dict[str, int]  # network id -> facility id
    unplaced: list[dict[str, Any]]  # cases at sites with no registered facility


def _repair_hours(case: dict[str, Any]) -> tuple[float, str]:
    if case["repair_hours_override"] is not None:
        return float(case["repair_hours_override"]), "coordinator override"
    if case["reported_repair_hours"] is not None:
        return float(case["reported_repair_hours"]), "crew estimate"
    severity = worst_severity(case["severities"])
    return default_repair_hours(case["kind"], severity), f"default for a {severity} {case['kind']}"


def load_situation() -> Situation:
    """Read the network, open cases and critical sites in one transaction and build the domain values."""
    with db.connection() as conn:
        rows = repo.network(conn)
        cases = repo.open_cases(conn)
        sites = repo.critical_sites(conn)
    # Network ids are "name #id": unique, and the engine's explanations then read with real names.
    label = {row["id"]: f"{row['name']} #{row['id']}" for row in rows}
    placed = {label[c["facility_id"]]: c for c in cases if c["facility_id"] is not None}
    facilities = []
    for row in rows:
        case = placed.get(label[row["id"]])
        hours = _repair_hours(case) if case else None
        if case and hours:
            case["repair_hours_source"] = hours[1]
        facilities.append(Facility(id=label[row["id"]], parents=tuple(label[p] for p in row["parents"]),
                                   population=float(row["population"]), damaged=case is not None,
                                   repair_hours=hours[0] if hours else None))
    return Situation(
        network=build_network(facilities),
        critical_sites=tuple(CriticalSite(id=s["id"], facility=label[s["facility_id"]], weight=float(s["weight"]),
                                          kind=s["kind"]) for s in sites) + _bumps(placed),
        cases=placed,
        facility_ids={label[row["id"]]: int(row["id"]) for row in rows},
        unplaced=[{"case_id": c["case_id"], "kind": c["kind"], "lon": c["lon"], "lat": c["lat"]}
                  for c in cases if c["facility_id"] is None],
    )


def _bumps(placed: dict[str, dict[str, Any]]) -> tuple[CriticalSite, ...]:
    """A coordinator's priority bump counts as an extra weight in people-equivalents on the case's facility."""
    return tuple(CriticalSite(id=f"bump-{case['case_id']}", facility=node, weight=float(case["priority_bump"]),
                              kind="priority_bump")
                 for node, case in placed.items() if case.get("priority_bump"))


def _explain(situation: Situation, node: str, explanation: str) -> str:
    """The engine's sentence with what coordinators set on the case: an override of its repair hours and a
    priority bump, each with who set it and why."""
    case = situation.cases[node]
    said: list[str] = []
    if case["repair_hours_override"] is not None:
        said.append(f"{float(case['repair_hours_override']):g} h repair (override by "
                    f"{case.get('override_by') or 'a coordinator'}: {_reason(case.get('override_reason'))})")
    if case.get("priority_bump"):
        said.append(f"priority raised by {case.get('bump_by') or 'a coordinator'} "
                    f"(+{float(case['priority_bump']):g} people-equivalents): {_reason(case.get('bump_reason'))}")
    return "; ".join([explanation.removesuffix("."), *said]) + "." if said else explanation


def _reason(reason: str | None) -> str:
    return (reason.rstrip(".") or reason) if reason else "no reason given"  # the sentence ends with its own stop


def _case_fields(situation: Situation, node: str) -> dict[str, Any]:
    case = situation.cases[node]
    return {"case_id": case["case_id"], "facility_id": situation.facility_ids[node], "facility": node,
            "kind": case["kind"], "status": case["status"], "hazards": case["hazards"], "reports": case["reports"],
            "repair_hours_source": case["repair_hours_source"],
            "repair_hours_is_default": case["repair_hours_source"].startswith("default"),
            "priority_bump": float(case.get("priority_bump") or 0),
            "critical_sites": [{"id": s.id, "kind": s.kind, "weight": s.weight}
                               for s in situation.critical_sites if s.facility == node and s.kind != "priority_bump"]}


def dark_areas(situation: Situation, etr_hours: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each area without power now (its facility's own people), with the hour a plan's ETRs bring it back."""
    network = situation.network
    areas = area_etr({f.id: f.parents for f in network.facilities},
                     [network.facilities[i].id for i in network.order], etr_hours)
    return [{"facility_id": situation.facility_ids[f.id], "facility": f.id, "population": f.population,
             "etr_hours": areas[f.id]} for f in network.facilities if areas[f.id] > 0]


@bp.get("/triage")
@requires("coordinator")
def triage() -> Response:
    """Coordinator and up: the ranked repair queue of open damage cases, each with its reason."""
    situation = load_situation()
    ranked = rank(situation.network, critical_sites=situation.critical_sites)
    queue = [{
        "rank": r.rank, **_case_fields(situation, r.id), "repair_hours": r.repair_hours, "ratio": r.ratio,
        "gain_now": r.gain_now, "gain_with_blockers": r.gain_with_blockers, "population_served": r.population_served,
        "blocked_by": [situation.cases[b]["case_id"] for b in r.blocked_by],
        "blocked_by_facilities": list(r.blocked_by),
        "explanation": _explain(situation, r.id, r.explanation),
    } for r in ranked]
    return jsonify({"queue": queue, "unplaced": situation.unplaced, "exact": situation.network.radial,
                    "objective": "people-hours without power, critical sites weighted in people-equivalents"})


@bp.get("/plan")
@requires("coordinator")
def plan_for_crews() -> Response:
    """Coordinator and up: the plan for k crews with ETRs per case and per area, next to the naive plan."""
    crews = parse_int(request.args.get("crews"), name="crews", low=1, high=500, default=1)
    time_limit_s = parse_number(request.args.get("time_limit"), name="time_limit", low=0.05,
                                high=current_app.config["PLAN_MAX_SECONDS"], default=2.0)
    situation = load_situation()
    result = plan(situation.network, crews=crews, time_limit_s=time_limit_s,
                  critical_sites=situation.critical_sites,
                  persons_per_customer=current_app.config["PERSONS_PER_CUSTOMER"])
    q = result.quality
    return jsonify({
        "crews": [[{**_case_fields(situation, job.id), "start_hours": job.start_hours,
                    "finish_hours": job.finish_hours} for job in crew] for crew in result.crews],
        "etr_by_case": {str(situation.cases[f]["case_id"]): h for f, h in result.etr_hours.items()},
        "etr_by_area": dark_areas(situation, result.etr_hours),
        "naive_crews": [[{"case_id": situation.cases[job.id]["case_id"], "facility": job.id,
                          "start_hours": job.start_hours, "finish_hours": job.finish_hours} for job in crew]
                        for crew in result.naive_crews],
        "naive_etr_by_area": dark_areas(situation, result.naive_etr_hours),
        "kpis": vars(result.kpis),
        "quality": {**vars(q), "optimised": "objective",
                    "objective_gap": gap(q.objective, q.objective_lower_bound),
                    "objective_improvement_vs_naive": improvement(q.objective, q.naive_objective),
                    "gap": gap(q.phu, q.phu_lower_bound),
                    "improvement_vs_naive": improvement(q.phu, q.naive_phu)},
        "exact": result.exact, "converged": result.converged, "notes": list(result.notes),
        "unplaced": situation.unplaced,
    })
