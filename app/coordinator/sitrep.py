"""GET /sitrep: a printable situation report: cases by status and kind, people without power, plan ETRs."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, render_template

from app import db
from app.auth.access import requires
from app.coordinator import dispatching
from app.coordinator.situation import Situation, dark_areas, facility_name, load_situation, plan_for
from app.errors import ValidationError
from app.repo import cases as repo
from app.repo import crews as crews_repo
from geo.dispatch import Crew
from geo.message import Text
from geo.plan import Plan, time_limit
from geo.taxonomy import DAMAGE_CASE_STATUSES

bp = Blueprint("sitrep", __name__, template_folder="templates")
CREW_COUNTS = (1, 3)
# /api/plan's default budget: a plan the search finishes is the same either way, and on a network too big to finish
# in time this report then shows plans as good as the map's plan panel (which asks /api/plan with the default).
PLAN_TIME_LIMIT_S = 2.0


def plans(situation: Situation, *, time_limit_s: float) -> dict[int, Plan]:
    """The plan for each crew count the report shows."""
    return {crews: plan_for(situation, crews=crews, deadline=time_limit(time_limit_s, clock=time.perf_counter),
                            persons_per_customer=current_app.config["PERSONS_PER_CUSTOMER"])
            for crews in CREW_COUNTS}


def clock_etrs(situation: Situation, chosen: tuple[list[Crew], dict[str, dict[str, Any]]] | None
               ) -> dict[str, Any] | None:
    """ETRs as clock times with their P50-P90 ranges, per case and per area, from the dispatch plan of the crews
    on duty (None when there are none or nothing to repair; `error` when they cannot do the work)."""
    if chosen is None:
        return None
    try:
        result = dispatching.plan(situation, chosen[0], deadline=time_limit(PLAN_TIME_LIMIT_S, clock=time.perf_counter),
                                  solver_seconds=PLAN_TIME_LIMIT_S,
                                  persons_per_customer=float(current_app.config["PERSONS_PER_CUSTOMER"]))
    except ValidationError as exc:
        return {"error": Text.joined(*exc.errors.values(), sep="; ")}
    body = dispatching.plan_json(situation, result)
    cases = sorted(({"case_id": int(cid), **etr} for cid, etr in body["plan"]["cases"].items()),
                   key=lambda row: (row["etr"] or 0, row["case_id"]))
    for row in cases:
        row["facility"] = facility_name(row["facility"])
    areas = sorted((a for a in body["plan"]["areas"] if (a["etr"] or 0) > 0 and a["population"] > 0),
                   key=lambda a: a["etr"])
    return {"cases": cases, "areas": areas, "optimal": body["quality"]["optimal"],
            "crews": [route["crew"] for route in body["plan"]["crews"]]}


def plan_rows(situation: Situation, plans: Mapping[int, Plan]) -> list[dict[str, Any]]:
    """Per case, the ETR with each crew count, latest last."""
    rows = [{"case_id": case["case_id"], "facility": facility_name(node), "status": case["status"],
             "etr": {crews: plans[crews].etr_hours.get(node) for crews in CREW_COUNTS}}
            for node, case in situation.cases.items()]
    rows.sort(key=lambda r: (r["etr"][CREW_COUNTS[-1]] or 0, r["case_id"]))
    return rows


def case_counts(counts: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Cases by status (every case, in workflow order), and damage cases by facility kind (merged duplicates and
    rejected cases left out, so one damage counts once)."""
    by_status: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for row in counts:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["cases"]
        if row["status"] in DAMAGE_CASE_STATUSES:  # a duplicate's damage is its survivor's; rejected is none
            by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + row["cases"]
    return by_status, dict(sorted(by_kind.items(), key=lambda item: (-item[1], item[0])))


# The restoration chart's frame in SVG pixels: the legend above the plot, tick labels left of and below it.
CHART_W, CHART_H = 480, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 44


@dataclass(frozen=True)
class Chart:
    """A plan's curve of people with power back over time next to the naive order's, laid out as inline SVG.

    The curves' points are (hours, people); `transform` maps them onto the plot, so the SVG holds the data itself.
    """

    crews: int
    plan_points: str
    naive_points: str
    transform: str
    x_ticks: list[tuple[float, str]]  # (pixel, label)
    y_ticks: list[tuple[float, str]]
    phu: float
    naive_phu: float
    phu_lower_bound: float
    width: int = CHART_W
    height: int = CHART_H
    left: int = LEFT
    right: int = CHART_W - RIGHT
    top: int = TOP
    bottom: int = CHART_H - BOTTOM


def restored_curve(areas: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """Steps of the people with power back by each hour: from (0, 0) to (the last area's ETR, everyone)."""
    points = [(0.0, 0.0)]
    for area in sorted((a for a in areas if a["population"] > 0), key=lambda a: a["etr_hours"]):
        hours, people = float(area["etr_hours"]), points[-1][1] + float(area["population"])
        if hours == points[-1][0]:
            points[-1] = (hours, people)
        else:
            points += [(hours, points[-1][1]), (hours, people)]
    return points


def nice_ticks(maximum: float, *, count: int = 4, whole: bool = False) -> list[float]:
    """Tick values from 0 to at least `maximum` in steps of 1, 2 or 5 times a power of ten (whole: at least 1)."""
    raw = maximum / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    step = max(step, 1.0) if whole else step
    return [i * step for i in range(math.ceil(maximum / step - 1e-9) + 1)]


def restoration_chart(situation: Situation, *, crews: int, result: Plan) -> Chart | None:
    """The chart of one plan (the same areas and ETRs /api/plan gives the map's plan panel); None if nobody
    is without power."""
    ours = restored_curve(dark_areas(situation, result.etr_hours))
    naive = restored_curve(dark_areas(situation, result.naive_etr_hours))
    hours, people = max(ours[-1][0], naive[-1][0]), max(ours[-1][1], naive[-1][1])
    if hours <= 0 or people <= 0:
        return None
    x_ticks, y_ticks = nice_ticks(hours), nice_ticks(people, whole=True)
    x_scale = (CHART_W - LEFT - RIGHT) / x_ticks[-1]
    y_scale = (CHART_H - TOP - BOTTOM) / y_ticks[-1]
    q = result.quality
    return Chart(
        crews=crews, plan_points=_points(ours), naive_points=_points(naive),
        transform=f"translate({LEFT} {CHART_H - BOTTOM}) scale({x_scale:.10g} {-y_scale:.10g})",
        x_ticks=[(round(LEFT + t * x_scale, 2), f"{t:g}") for t in x_ticks],
        y_ticks=[(round(CHART_H - BOTTOM - p * y_scale, 2), f"{p:,.0f}") for p in y_ticks],
        phu=q.phu, naive_phu=q.naive_phu, phu_lower_bound=q.phu_lower_bound,
    )


def _points(curve: list[tuple[float, float]]) -> str:
    return " ".join(f"{hours:.10g},{people:.10g}" for hours, people in curve)


@bp.get("/sitrep")
@requires("coordinator")
def sitrep() -> str:
    """Coordinator and up: the situation report, laid out for printing."""
    now = datetime.now(UTC)
    with db.read_connection() as conn:  # only reads: a replica within the allowed lag serves them (issue 17)
        counts = repo.counts(conn)
        situation = load_situation(conn, default_share=float(current_app.config["DEGRADED_SHARE_OUT"]), now=now)
        on_duty = [c["id"] for c in crews_repo.listing(conn) if c["status"] != "off_shift"]
        chosen = dispatching.chosen_crews(conn, on_duty, now=now) if on_duty and situation.cases else None
    planned = plans(situation, time_limit_s=PLAN_TIME_LIMIT_S) if situation.cases else {}
    clock = clock_etrs(situation, chosen)
    charts = [chart for crews, result in planned.items()
              if (chart := restoration_chart(situation, crews=crews, result=result)) is not None]
    by_status, by_kind = case_counts(counts)
    return render_template("coordinator/sitrep.html", now=now, by_status=by_status, by_kind=by_kind, clock=clock,
                           crews_on_duty=len(on_duty),
                           summary=situation.summary(),
                           rows=plan_rows(situation, planned) if planned else [],
                           kpis={crews: result.kpis for crews, result in planned.items()}, charts=charts,
                           crew_counts=CREW_COUNTS, unplaced=situation.unplaced)
