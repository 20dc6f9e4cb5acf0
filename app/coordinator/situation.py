"""The situation the coordinator's views show: the network with its open damage cases, built from the database,
with the figures every view shares (people without power, dark areas and their ETRs, the fields of a case)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.repo import Conn
from app.repo import triage as repo
from geo.network import CriticalSite, Facility, Network, build_network, energised_at_start
from geo.plan import area_etr
from geo.repair_hours import RepairHours, repair_hours


@dataclass(frozen=True)
class Situation:
    """The network with its open damage, and what the response shows about each case."""

    network: Network
    critical_sites: tuple[CriticalSite, ...]
    cases: dict[str, dict[str, Any]]  # by network id
    facility_ids: dict[str, int]  # network id -> facility id
    unplaced: list[dict[str, Any]]  # cases at sites with no registered facility


def _repair_hours(case: dict[str, Any]) -> RepairHours:
    return repair_hours(override=case["repair_hours_override"], estimate=case["reported_repair_hours"],
                        kind=case["kind"], severities=case["severities"], accepted=case["repair_hours_accepted"])


def load_situation(conn: Conn) -> Situation:
    """Read the network, open cases and critical sites (in the caller's transaction) as domain values."""
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
            case["repair_hours_source"], case["repair_hours_flag"] = hours.source, hours.flag
        facilities.append(Facility(id=label[row["id"]], parents=tuple(label[p] for p in row["parents"]),
                                   population=float(row["population"]), damaged=case is not None,
                                   repair_hours=hours.hours if hours else None))
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


def explain(situation: Situation, node: str, explanation: str) -> str:
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


def case_fields(situation: Situation, node: str) -> dict[str, Any]:
    case = situation.cases[node]
    return {"case_id": case["case_id"], "facility_id": situation.facility_ids[node], "facility": node,
            "kind": case["kind"], "status": case["status"], "hazards": case["hazards"], "reports": case["reports"],
            "repair_hours_source": case["repair_hours_source"],
            "repair_hours_is_default": case["repair_hours_source"].startswith("default"),
            "repair_hours_flag": case["repair_hours_flag"],
            "priority_bump": float(case.get("priority_bump") or 0),
            "critical_sites": [{"id": s.id, "kind": s.kind, "weight": s.weight}
                               for s in situation.critical_sites if s.facility == node and s.kind != "priority_bump"]}


def dark_areas(situation: Situation, etr_hours: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each area without power now (its facility's own people), with the hour a plan's ETRs bring it back."""
    network = situation.network
    areas = area_etr(network, etr_hours)
    return [{"facility_id": situation.facility_ids[f.id], "facility": f.id, "population": f.population,
             "etr_hours": areas[f.id]} for f in network.facilities if areas[f.id] > 0]


def people_without_power(situation: Situation) -> float:
    """People in the service areas of facilities that are de-energised now (damaged or fed through damage)."""
    network = situation.network
    on = energised_at_start(network)
    return float(sum(f.population for f, powered in zip(network.facilities, on, strict=True) if not powered))
