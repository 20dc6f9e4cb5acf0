"""The situation after the proposed switching steps: the queue is ranked and the plan made on it, and the steps
as /api/triage, /api/plan and /api/switches give them (app/coordinator/switching.py applies the ties)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from app.coordinator.situation import Situation, dark_areas, facility_name, plan_for
from app.coordinator.switching import DONE_BY
from app.repo import Conn
from app.repo import switches as repo
from geo import live, ties
from geo.message import N_, Quantity, Text
from geo.plan import Plan, TimeLimit


def switched(situation: Situation) -> Situation:
    """The situation on the network after the proposed switching steps (the same one when none is proposed):
    what the queue is ranked and the plan made on. The live figures (who is dark now) stay the situation's."""
    tie = situation.switching
    if tie is None or not tie.steps:
        return situation
    if "situation" not in tie.cache:
        expanded = live.live_network(tie.result.proposed, situation.expanded.states)
        tie.cache["situation"] = replace(situation, network=expanded.network, expanded=expanded)
    after: Situation = tie.cache["situation"]
    return after


def _weight(situation: Situation, step: ties.Step) -> tuple[float, float]:
    """The people a step back-feeds, and the same in people-equivalents (with the critical sites among them)."""
    nodes = {situation.expanded.node_of(f) for f in step.restores}
    sites = sum(s.weight for s in situation.critical_sites if s.facility in nodes)
    return step.people, step.people + sites


def waiting_cost(situation: Situation) -> tuple[float, float]:
    """People-hours and people-equivalent-hours the proposed steps' people wait for them: each step's people
    have power only once it is done (its ready hours), not from hour 0 as the switched network has them."""
    phu = objective = 0.0
    for step in situation.switching.steps if situation.switching else ():
        people, weight = _weight(situation, step)
        phu += people * step.ready_hours
        objective += weight * step.ready_hours
    return phu, objective


def steps_json(situation: Situation) -> list[dict[str, Any]]:
    """The proposed switching steps as the API gives them, in the order to do them."""
    tie = situation.switching
    if tie is None:
        return []
    names = {node: facility_name(node) for step in tie.steps for node in step.bridges}
    out = []
    for number, step in enumerate(tie.steps):
        row = tie.rows[step.tie.id]
        bridged = [node for node in step.bridges if node in situation.cases]
        out.append({
            "switch_id": int(row["id"]), "external_id": row["external_id"], "name": row["name"],
            "lon": row["lon"], "lat": row["lat"], "remote": bool(row["remote"]), "hours": step.hours,
            "ready_hours": step.ready_hours,
            "after_switch_id": int(step.after) if step.after is not None else None,
            "facility_ids": [situation.facility_ids[row_node] for row_node in (step.tie.a, step.tie.b)],
            "people_restored": step.people,
            "restores_facility_ids": sorted(situation.facility_ids[f] for f in step.restores),
            "bridges": {"case_ids": [situation.cases[node]["case_id"] for node in bridged],
                        "case_facility_names": [names[node] for node in bridged],
                        "facility_ids": [situation.facility_ids[node] for node in step.bridges]},
            "people_hours_saved": step.people_hours_saved,
            "flow": tie.flow(number), "done_by": DONE_BY,
            "sentence": ties.sentence(step, names),
        })
    return out


def back_feeds(situation: Situation, node: str) -> Text | None:
    """What the proposed steps do for a case's people, when one stands in for its repair: "closing switch S12
    (proposed) back-feeds 4,200 people in 0.5 h that this repair would restore"."""
    tie = situation.switching
    said = [Text(N_("closing switch {switch} (proposed) back-feeds {people} people in {hours} h that this repair "
                    "would restore"), switch=step.tie.name, people=Quantity(step.people, "people"),
                 hours=Quantity(step.ready_hours, "hours"))
            for step in (tie.steps if tie else ()) if node in step.bridges]
    return Text.joined(*said, sep="; ") if said else None


def ties_json(conn: Conn, situation: Situation) -> dict[str, Any]:
    """Every tie switch as GeoJSON points: its state (closed or open), whether a step proposes closing it, and
    who closed it when."""
    proposed = {step.tie.id: step for step in (situation.switching.steps if situation.switching else ())}
    features = []
    for row in repo.ties(conn):
        step = proposed.get(str(row["id"]))
        features.append({"type": "Feature", "id": int(row["id"]),
                         "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                         "properties": {
                             "id": int(row["id"]), "external_id": row["external_id"], "name": row["name"],
                             "facility_ids": [int(row["facility_a"]), int(row["facility_b"])],
                             "remote": bool(row["remote"]), "switch_hours": row["switch_hours"],
                             "state": "closed" if row["closed_at"] is not None else "open",
                             "closed_at": row["closed_at"].isoformat() if row["closed_at"] else None,
                             "closed_by": row["closed_by"], "proposed": step is not None,
                             "people_restored": step.people if step else None,
                             "sentence": ties.sentence(step, {b: facility_name(b) for b in step.bridges})
                             if step else None}})
    return {"type": "FeatureCollection", "features": features}


PLAN_METHOD = Text(N_(
    "The plan with switching repairs on the network after the proposed steps; each step's people wait its "
    "hours (ready_hours) first, counted in its people-hours (those of a critical site in people-equivalents). "
    "The plan that only repairs is the same planner on the network without them; the better of the two is "
    "the one with the smaller objective."))


def plan_both(situation: Situation, *, crews: int, deadline: TimeLimit, persons_per_customer: float,
              ) -> tuple[Plan, dict[str, Any] | None]:
    """The k-crew plan after the proposed switching steps (their people's wait counted in its people-hours) and
    what it is worth against the plan that only repairs (None when no step is proposed). The search budget is
    shared: the plan with switching has the first half, the repairs-only plan the rest."""
    after = switched(situation)
    if after is situation:
        return plan_for(situation, crews=crews, deadline=deadline, persons_per_customer=persons_per_customer), None
    first = replace(deadline, seconds=deadline.seconds / 2)
    result = plan_for(after, crews=crews, deadline=first, persons_per_customer=persons_per_customer)
    only = plan_for(situation, crews=crews, deadline=deadline, persons_per_customer=persons_per_customer)
    phu, objective = waiting_cost(situation)
    q, k = result.quality, result.kpis
    waited = replace(result, quality=replace(
        q, objective=q.objective + objective, naive_objective=q.naive_objective + objective,
        objective_lower_bound=q.objective_lower_bound + objective, phu=q.phu + phu, naive_phu=q.naive_phu + phu,
        phu_lower_bound=q.phu_lower_bound + phu), kpis=replace(
        k, phu=k.phu + phu, cmi=(k.phu + phu) * 60.0 / persons_per_customer,
        affected_population=k.affected_population + sum(s.people for s in situation.switching.steps)
        if situation.switching else k.affected_population))
    block = {"steps": steps_json(situation), "done_by": DONE_BY, "method": PLAN_METHOD,
             "summary": Text(N_("With switching: objective {with_switching} (people-hours {phu_with}); repairs "
                                "only: objective {repairs_only} (people-hours {phu_only})"),
                             with_switching=Quantity(waited.quality.objective, "whole"),
                             phu_with=Quantity(waited.quality.phu, "whole"),
                             repairs_only=Quantity(only.quality.objective, "whole"),
                             phu_only=Quantity(only.quality.phu, "whole")),
             "objective_with_switching": waited.quality.objective,
             "objective_repairs_only": only.quality.objective,
             "phu_with_switching": waited.quality.phu, "phu_repairs_only": only.quality.phu,
             "waiting_phu": phu, "waiting_objective": objective,
             "repairs_only_etr_by_case": {str(situation.cases[f]["case_id"]): h for f, h in only.etr_hours.items()},
             "repairs_only_converged": only.converged}
    return waited, block


def areas(situation: Situation, etr_hours: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each area without power now with the hour a plan brings it back: those a proposed step back-feeds at the
    step's ready hours, the others at the hour the plan's repairs (after the steps) do."""
    after = switched(situation)
    if after is situation:
        return dark_areas(situation, etr_hours)
    network = situation.network
    fed: list[dict[str, Any]] = []
    for step in situation.switching.steps if situation.switching else ():
        for node in (situation.expanded.node_of(f) for f in step.restores):
            people = float(network.facilities[network.index[node]].population)
            if people > 0:
                fed.append({"facility_id": situation.facility_ids[node], "facility": node, "population": people,
                            "etr_hours": step.ready_hours})
    return dark_areas(after, etr_hours) + fed
