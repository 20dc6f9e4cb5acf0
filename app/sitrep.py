"""GET /sitrep: a printable situation report: cases by status and kind, people without power, plan ETRs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, render_template

from app import db
from app.auth import requires
from app.repo import cases as repo
from app.triage import Situation, load_situation
from geo.network import energised_at_start
from geo.schedule import plan

bp = Blueprint("sitrep", __name__)
CREW_COUNTS = (1, 3)
# /api/plan's default budget: a plan the search finishes is the same either way, and on a network too big to finish
# in time this report then shows plans as good as the map's plan panel (which asks /api/plan with the default).
PLAN_TIME_LIMIT_S = 2.0
NOT_DAMAGE = ("duplicate", "rejected")  # a duplicate's damage is its surviving case's; a rejected report is none


def people_without_power(situation: Situation) -> float:
    """People in the service areas of facilities that are de-energised now (damaged or fed through damage)."""
    network = situation.network
    on = energised_at_start(network)
    return float(sum(f.population for f, powered in zip(network.facilities, on, strict=True) if not powered))


def plan_rows(situation: Situation, *, time_limit_s: float) -> tuple[list[dict[str, Any]], dict[int, Any]]:
    """Per case, the ETR with 1 and with 3 crews; and each plan's KPIs."""
    etr: dict[int, dict[str, float]] = {}
    kpis: dict[int, Any] = {}
    for crews in CREW_COUNTS:
        result = plan(situation.network, crews=crews, time_limit_s=time_limit_s,
                      critical_sites=situation.critical_sites,
                      persons_per_customer=current_app.config["PERSONS_PER_CUSTOMER"])
        kpis[crews] = result.kpis
        for node, hours in result.etr_hours.items():
            etr.setdefault(crews, {})[node] = hours
    rows = [{"case_id": case["case_id"], "facility": node.split(" #")[0], "status": case["status"],
             "etr": {crews: etr.get(crews, {}).get(node) for crews in CREW_COUNTS}}
            for node, case in situation.cases.items()]
    rows.sort(key=lambda r: (r["etr"][CREW_COUNTS[-1]] or 0, r["case_id"]))
    return rows, kpis


def case_counts(counts: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Cases by status (every case, in workflow order), and damage cases by facility kind (merged duplicates and
    rejected cases left out, so one damage counts once)."""
    by_status: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for row in counts:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["cases"]
        if row["status"] not in NOT_DAMAGE:
            by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + row["cases"]
    return by_status, dict(sorted(by_kind.items(), key=lambda item: (-item[1], item[0])))


@bp.get("/sitrep")
@requires("coordinator")
def sitrep() -> str:
    """Coordinator and up: the situation report, laid out for printing."""
    with db.connection() as conn:
        counts = repo.counts(conn)
    situation = load_situation()
    rows, kpis = plan_rows(situation, time_limit_s=PLAN_TIME_LIMIT_S) if situation.cases else ([], {})
    by_status, by_kind = case_counts(counts)
    return render_template("sitrep.html", now=datetime.now(UTC), by_status=by_status, by_kind=by_kind,
                           without_power=people_without_power(situation), rows=rows, kpis=kpis,
                           crew_counts=CREW_COUNTS, unplaced=situation.unplaced)
