"""A dispatchable plan as JSON: hours since `as_of` next to absolute ISO 8601 times (UTC), strict numbers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from geo import explain
from geo.dispatch import Dispatch, Etr
from geo.plan import gap, improvement

NAIVE = "most people served first, each repair to the capable crew that finishes it first (travel-aware)"
BOUND = ("valid for every plan with these crews, travel, release times and shifts: each repair's earliest finish "
         "(free hour, shortest travel, release, shift), path work shared by the crews from their free hours, "
         "geo.plan's bounds on travel-inflated repair hours, and mean busy times from the earliest starts; plus the "
         "exact method's own bound when it ran")
UNCERTAINTY = ("lognormal repair times (planned hours = median, sigma by kind and severity, geo.etr.REPAIR_SIGMA),"
               " seeded Monte Carlo through the same energisation; travel and release times as given")


def num(x: float | None) -> float | int | None:
    """A JSON-friendly number: integers stay integers, others 6 decimals, infinity and NaN become null."""
    if x is None or not math.isfinite(x):
        return None
    return int(x) if float(x).is_integer() else round(x, 6)


def iso(as_of: datetime, hours: float) -> str | None:
    """The absolute time `hours` after `as_of`, ISO 8601 in UTC to the second."""
    if not math.isfinite(hours):
        return None
    return (as_of + timedelta(hours=hours)).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _timed(as_of: datetime, **hours: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, h in hours.items():
        out[key] = num(h)
        out[f"{key}_at"] = iso(as_of, h)
    return out


def _etr(as_of: datetime, etr: Etr) -> dict[str, Any]:
    return _timed(as_of, etr=etr.hours, p50=etr.p50_hours, p90=etr.p90_hours)


def dispatch_to_json(result: Dispatch, as_of: datetime, *, samples: int, seed: int) -> dict[str, Any]:
    """The plan, ETRs (per case and per area), KPIs and quality of a dispatch as JSON-ready dicts."""
    q, k = result.quality, result.kpis
    crew_of = {j.id: route.crew for route in result.routes for j in route.jobs}
    return {
        "as_of": iso(as_of, 0.0),
        "time_unit": "hours since as_of; *_at fields are the same instants in ISO 8601 UTC",
        "plan": {
            "crews": [
                {"crew": route.crew, "jobs": [
                    {"id": j.id, **_timed(as_of, travel_start=j.travel_start_hours, arrival=j.arrival_hours,
                                          start=j.start_hours, finish=j.finish_hours),
                     "commitment": j.commitment, "over_shift": j.over_shift}
                    for j in route.jobs]}
                for route in result.routes
            ],
            "etr": {fid: num(e.hours) for fid, e in result.cases.items()},
            "cases": {fid: {"crew": crew_of[fid], **_etr(as_of, e)} for fid, e in result.cases.items()},
            "areas": {fid: _etr(as_of, e) for fid, e in result.areas.items()},
        },
        "uncertainty": {"method": UNCERTAINTY, "samples": samples, "seed": seed},
        "kpis": {
            "affected_population": num(k.affected_population), "phu": num(k.phu),
            "customers_interrupted": num(k.customers_interrupted), "cmi": num(k.cmi),
            "t50": num(k.t50_hours), "t90": num(k.t90_hours), "t100": num(k.t100_hours),
        },
        "quality": {
            "optimised": "objective", "comparison": explain.COMPARISON, "naive": NAIVE, "lower_bound_method": BOUND,
            "optimal": q.optimal, "solver": q.solver,
            "unit": explain.PHU_UNIT,
            "phu": num(q.phu), "naive_phu": num(q.naive_phu), "lower_bound": num(q.phu_lower_bound),
            "gap": num(gap(q.phu, q.phu_lower_bound)), "improvement_vs_naive": num(improvement(q.phu, q.naive_phu)),
            "objective_unit": explain.OBJECTIVE_UNIT,
            "objective": num(q.objective), "naive_objective": num(q.naive_objective),
            "objective_lower_bound": num(q.objective_lower_bound),
            "objective_gap": num(gap(q.objective, q.objective_lower_bound)),
            "objective_improvement_vs_naive": num(improvement(q.objective, q.naive_objective)),
        },
        "exact": q.optimal,
        "converged": result.converged,
        "notes": list(result.notes),
    }
