"""The dispatchable plan on the database: the chosen crews as the engine's records (base or last position,
skills, shift window), the open cases as sites (position, skill, not-before time), and turning a plan into
assignments. Flask-free: the views pass the connection, the time and the settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.cases import service as cases
from app.coordinator.situation import Situation, facility_name, iso_utc
from app.errors import ValidationError
from app.repo import Conn
from app.repo import crews as repo
from geo.dispatch import Crew, Dispatch, Site, dispatch
from geo.dispatch_json import dispatch_to_json
from geo.message import N_, Text
from geo.repair_hours import worst_severity
from geo.taxonomy import SKILL_FOR_KIND
from geo.workflow import TRANSITIONS

SAMPLES, SEED = 500, 0


def shift_window(start: time, end: time, time_zone: str, *, now: datetime) -> tuple[float, float]:
    """Hours from `now` until the crew's current or next shift starts (0 when on shift) and until it ends."""
    zone = ZoneInfo(time_zone)
    today = now.astimezone(zone).date()
    for offset in (-1, 0, 1):
        begins = datetime.combine(today + timedelta(days=offset), start, tzinfo=zone)
        ends = datetime.combine(begins.date() + timedelta(days=1 if end <= start else 0), end, tzinfo=zone)
        if ends > now:
            return max(0.0, (begins - now).total_seconds() / 3600), (ends - now).total_seconds() / 3600
    raise AssertionError("a shift ends within two days")  # pragma: no cover


def shift_hours(start: time, end: time) -> float:
    """How long a daily shift from `start` to `end` lasts (past midnight when end <= start; 24 h when equal)."""
    minutes = (end.hour * 60 + end.minute - start.hour * 60 - start.minute) % (24 * 60)
    return (minutes or 24 * 60) / 60


def chosen_crews(conn: Conn, crew_ids: Sequence[int], *, now: datetime) -> tuple[list[Crew], dict[str, dict[str, Any]]]:
    """The engine's crews for the chosen crew ids (by name), with their records; a 422 naming `crew` otherwise."""
    if not crew_ids:
        raise ValidationError({"crew": "choose at least one crew (crew=ID, repeated)"})
    rows = {}
    for crew_id in crew_ids:
        row = repo.get(conn, crew_id)
        if row is None:
            raise ValidationError({"crew": f"there is no crew {crew_id}"})
        rows[row["name"]] = row
    out = []
    for name, row in rows.items():
        free, ends = shift_window(row["shift_start"], row["shift_end"], row["time_zone"], now=now)
        where = (row["position_lon"], row["position_lat"]) if row["position_at"] else (row["lon"], row["lat"])
        # daily shifts on the crew's clock (a day is taken as 24 h: a change to or from summer time is off by one)
        length = shift_hours(row["shift_start"], row["shift_end"])
        out.append(Crew(id=name, base=where, skills=frozenset(row["skills"]), available_from_hours=free,
                        shift_end_hours=ends, shift_hours=max(length, ends - free), shift_period_hours=24.0))
    return out, rows


def sites(situation: Situation) -> dict[str, Site]:
    """Each open case's site: where it is, the skill its facility kind needs, and when the repair may start."""
    out = {}
    for node, case in situation.cases.items():
        wait = case["release_at"]
        release = max(0.0, (wait - situation.as_of).total_seconds() / 3600) if wait else 0.0
        out[node] = Site(id=node, point=(case["lon"], case["lat"]), skill=SKILL_FOR_KIND.get(case["kind"]),
                         release_hours=release, kind=case["kind"], severity=worst_severity(case["severities"]))
    return out


def plan(situation: Situation, crews: list[Crew], *, deadline: Callable[[], bool], solver_seconds: float,
         persons_per_customer: float) -> Dispatch:
    """The dispatchable plan of the situation for the chosen crews."""
    names = {crew.id for crew in crews}
    held = tuple(c for c in situation.commitments if c.crew in names)  # the chosen crews keep their work
    try:
        return dispatch(situation.network, crews, sites(situation), critical_sites=situation.critical_sites,
                        deadline=deadline, solver_seconds=solver_seconds, samples=SAMPLES, seed=SEED,
                        persons_per_customer=persons_per_customer, commitments=held)
    except ValueError as exc:  # e.g. a case whose facility needs a skill no chosen crew has
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], Text) else str(exc)
        raise ValidationError({"crew": reason}) from None


def plan_json(situation: Situation, result: Dispatch) -> dict[str, Any]:
    """The plan as JSON with clock times, each job and ETR also under the case's number and facility name."""
    body = dispatch_to_json(result, situation.as_of, samples=SAMPLES, seed=SEED)
    for route in body["plan"]["crews"]:
        for job in route["jobs"]:
            case = situation.cases[job["id"]]
            job.update(case_id=case["case_id"], facility_name=facility_name(job["id"]), status=case["status"],
                       access_state=case["access"], not_before=iso_utc(case["release_at"]))
    body["plan"]["cases"] = {str(situation.cases[node]["case_id"]): {"facility": node, **etr}
                             for node, etr in body["plan"]["cases"].items()}
    people = {f.id: f.population for f in situation.network.facilities}
    body["plan"]["areas"] = [{"facility_id": situation.facility_ids[node], "facility": facility_name(node),
                              "population": people[node], **etr} for node, etr in body["plan"]["areas"].items()]
    body["summary"] = situation.summary()
    planned_crews = {route["crew"] for route in body["plan"]["crews"]}
    body["notes"] += [Text(N_("case {case} is held by {crew}, which is not among the chosen crews: planned as if "
                              "free"), case=situation.cases[c.job]["case_id"], crew=c.crew)
                      for c in situation.commitments if c.crew not in planned_crews]
    return body


def assign(conn: Conn, situation: Situation, result: Dispatch, rows: dict[str, dict[str, Any]], *,
           actor_id: int | None) -> dict[str, Any]:
    """Turn the plan into assignments: each crew's cases in its order (an audited assign event each, to the
    crew and its first member account); cases already in repair or temporarily restored keep their crew."""
    assigned, kept = [], []
    allowed = TRANSITIONS["assign"][0]
    for route in result.routes:
        members = rows[route.crew]["members"]
        for position, job in enumerate(route.jobs, start=1):
            case = situation.cases[job.id]
            if case["status"] not in allowed:
                kept.append({"case_id": case["case_id"], "status": case["status"], "crew": case["assigned_crew"]})
                continue
            cases.apply(conn, case["case_id"], cases.Action(
                "assign", crew=route.crew, crew_account=members[0] if members else None,
                reason=f"dispatched: job {position} of {len(route.jobs)} for {route.crew}"), actor_id=actor_id)
            assigned.append({"case_id": case["case_id"], "crew": route.crew, "order": position,
                             "crew_account": members[0] if members else None})
    return {"assigned": assigned, "kept": kept}
