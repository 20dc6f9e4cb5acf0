"""The situation the coordinator's views show: the live network with its open damage cases, built from the
database, with the figures every view shares (people without power now, dark areas and their ETRs, the work
crews hold, the fields of a case)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from app.coordinator import registry, switching
from app.coordinator.switching import TieSwitching
from app.repo import Conn
from app.repo import triage as repo
from geo import explain as words
from geo import live
from geo.access import Access, access, release
from geo.message import N_, DeferredText, Moment, Quantity, Text, without_stop
from geo.network import CriticalSite, Facility, Network
from geo.plan import Commitment, Plan, area_etr, plan
from geo.repair_hours import RepairHours, remaining, repair_hours
from geo.triage import Ranked, rank

SUMMARY_METHOD = Text(N_(
    "people_without_power: the people of every service area that has no supply now: out-of-service facilities "
    "and everything fed only through them, the share without supply of degraded ones (the crew's share_out, "
    "else DEGRADED_SHARE_OUT), temporarily restored ones counted as supplied. people_partially_supplied: the "
    "people who still have supply in the areas of degraded facilities. Population: each facility's direct "
    "population from the latest computed population layer."))


@dataclass(frozen=True)
class Situation:
    """The live network with its open damage, and what the response shows about each case."""

    network: Network
    expanded: live.LiveNetwork  # the network as planned, with what it maps back to
    picture: live.Picture
    critical_sites: tuple[CriticalSite, ...]
    cases: dict[str, dict[str, Any]]  # by network id
    facility_ids: dict[str, int]  # network id (supply nodes too) -> facility id
    unplaced: list[dict[str, Any]]  # cases at sites with no registered facility
    commitments: tuple[Commitment, ...]  # the work crews hold: repairs under way, then assigned cases
    as_of: datetime
    switching: TieSwitching | None = None  # the tie switches: closed ones applied, open ones as proposed steps

    @property
    def supplying(self) -> frozenset[str]:
        """Damaged facilities that supply everyone (operating): their repair restores nobody now."""
        return frozenset(node for node, s in self.expanded.states.items() if s.status == live.OPERATING)

    @cached_property
    def sites_at(self) -> dict[str, list[dict[str, Any]]]:
        """The critical sites (not priority bumps) of each facility that has any, as the JSON rows show them."""
        out: dict[str, list[dict[str, Any]]] = {}
        for s in self.critical_sites:
            if s.kind != "priority_bump":
                out.setdefault(s.facility, []).append({"id": s.id, "kind": s.kind, "weight": s.weight})
        return out

    def summary(self) -> dict[str, Any]:
        """The live figures /api/triage, /api/plan, the sitrep and the map header share."""
        return {"people_without_power": self.picture.people_without_power,
                "people_partially_supplied": self.picture.people_partially_supplied,
                "as_of": self.as_of.isoformat(), "method": SUMMARY_METHOD}


def _clock(moment: datetime | None, today: date) -> Moment | None:
    """A time as a coordinator reads it: "07:10 UTC" today (a UTC date), else with its date."""
    if moment is None:
        return None
    # To the minute, as every language writes a Moment (geo.message, app/site/sentences.py): the same sentence
    # then comes from the cache below for every case of that minute.
    return Moment(moment.replace(second=0, microsecond=0), with_date=moment.astimezone(UTC).date() != today)


def iso_utc(moment: datetime | None) -> str | None:
    """A time as the JSON answers give it: ISO 8601 in UTC (None stays None)."""
    return moment.astimezone(UTC).isoformat() if moment else None


# Repair hours, site access and the status and work sentences are the same few values for thousands of cases
# (kind, severities, estimate; access state, hazards; status, who and the minute): each distinct one is worked
# out, and its sentence made, once per server (they are immutable).
@lru_cache(maxsize=4096)
def _hours(override: object, estimate: object, kind: str, severities: tuple[str, ...], accepted: object
           ) -> RepairHours:
    return repair_hours(override=override, estimate=estimate, kind=kind,  # type: ignore[arg-type]
                        severities=severities, accepted=accepted)  # type: ignore[arg-type]


@lru_cache(maxsize=1024)
def _access(state: str | None, hazards: tuple[str, ...]) -> Access:
    return access(state, hazards)


@lru_cache(maxsize=1024)
def _disagree(seen: tuple[str, ...], status: str) -> Text:
    return words.reports_disagree(seen, status)


@lru_cache(maxsize=8192)
def _source(status: str, share_out: float, set_by: str, who: str | None, when: Moment | None, reason: str | None,
            share_given: bool) -> Text:
    return words.status_source(status, share_out, set_by=set_by, who=who, when=when, reason=reason,
                               share_given=share_given)


@lru_cache(maxsize=4096)
def _work(status: str, crew: str | None, started: Moment | None) -> Text | None:
    return words.work_in_progress(status, crew, started)


@lru_cache(maxsize=8192)
def _effect(status: str, share_out: float, dark_people: float) -> Text:
    return words.status_effect(status, share_out, dark_people)


@lru_cache(maxsize=4096)
def _state(status: str, share_out: float | None, default_share: float) -> live.State:
    return live.state(status, share_out, default_share=default_share)


def _planned(case: dict[str, Any], now: datetime) -> RepairHours:
    planned = _hours(case["repair_hours_override"], case["reported_repair_hours"], case["kind"],
                     tuple(case["severities"]), case["repair_hours_accepted"])
    if case["status"] == "in_repair" and case["repair_started_at"] is not None:
        return remaining(planned, (now - case["repair_started_at"]).total_seconds() / 3600.0)
    return planned


def _describe(case: dict[str, Any], state: live.State, today: date) -> None:
    """Add the words and figures of the case's live state to its row (`today`: the UTC date now)."""
    case["operational_status_source"] = _source(
        state.status, state.share_out, case["status_set_by"], case["status_set_by_user"],
        _clock(case["status_set_at"], today), case["status_reason"], case["share_out"] is not None)
    case["operational_status"] = state.status
    case["share_out"] = state.share_out
    seen = case["reported_statuses"] or []
    case["reports_disagree"] = _disagree(tuple(seen), state.status) if len(seen) > 1 else None
    case["work"] = _work(case["status"], case["assigned_crew"], _clock(case["repair_started_at"], today))
    site = _access(case["access_state"], tuple(case["hazards"]))
    case["access"], case["access_source"] = site.state, site.source
    case["release_at"] = release(site.state, case["access_expected_at"], case["materials_until"])


def load_situation(conn: Conn, *, default_share: float, now: datetime | None = None) -> Situation:
    """Read the open cases (in the caller's transaction) onto the registry network as the live picture.

    The registry (facilities, feed links, population, critical sites) is the one this server keeps while the
    database's registry revision is unchanged (app/coordinator/registry.py); only the open cases are read each
    time. The revision is read after them: if it is still the kept one, no registry change was committed before
    the cases were read, so the kept network is the one they refer to."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    cases = repo.open_cases(conn)
    kept = registry.current(conn)
    # Network ids are "name (facility id)": unique, and the engine's explanations then read with real names and
    # never show a facility's id where a case number could be read.
    # A damaged facility's id is a Text, so that the sentences naming it can be said in the user's language (ids
    # compare and hash as the English string; the others stay plain strings, cheaper by far on a large registry).
    facilities = list(kept.facilities)
    placed: dict[str, dict[str, Any]] = {}
    states: dict[str, live.State] = {}
    unplaced = []
    damaged: list[int] = []  # positions of the damaged facilities
    for case in cases:
        i = kept.position.get(case["facility_id"]) if case["facility_id"] is not None else None
        if i is None:
            unplaced.append({"case_id": case["case_id"], "kind": case["kind"], "lon": case["lon"], "lat": case["lat"]})
            continue
        node = Text(N_("{name} (facility {id})"), name=kept.names[i], id=case["facility_id"])
        base = kept.facilities[i]
        hours = _planned(case, now)
        case["repair_hours_source"], case["repair_hours_flag"] = hours.source, hours.flag
        case["population"] = {"direct": base.population, "layer": kept.layers[i], "method": kept.methods[i]}
        states[node] = _state(case["operational_status"] or live.OUT_OF_SERVICE, case["share_out"], default_share)
        _describe(case, states[node], today)
        placed[node] = case
        facilities[i] = Facility(id=node, parents=base.parents, population=base.population, damaged=True,
                                 repair_hours=hours.hours)
        damaged.append(i)
    ids = {node: node for node in placed}  # a site at a damaged facility names it by its Text, as the engine does
    given = tuple(CriticalSite(id=s.id, facility=ids[s.facility], weight=s.weight, kind=s.kind)
                  if s.facility in ids else s for s in kept.critical_sites)
    overlaid = facilities
    # Tie switches (issue 15): closed ones back-feed part of the network, whose facilities become sources; open
    # ones are proposed switching steps (app/coordinator/switching.py).
    ties = switching.apply_ties(conn, facilities, states, kept.position)
    if ties.result.fed:
        facilities = list(ties.result.facilities)
    # The registry's `feeds` (and the damaged positions) describe its own list; a list changed since (another feed
    # topology) is expanded without them.
    same = facilities is overlaid
    if same and kept.base is not None:  # the kept radial network with this damage laid on it by columns
        at = sorted(set(damaged))
        nodes = [facilities[i] for i in at]
        expanded = live.live_on_base(kept.base, at, [f.id for f in nodes], [f.repair_hours or 0.0 for f in nodes],
                                     states)
    else:
        expanded = live.live_network(facilities, states, feeds=kept.feeds if same else None,
                                     damaged=sorted(set(damaged)) if same else None)
    return Situation(
        network=expanded.network, expanded=expanded, picture=live.picture(expanded),
        critical_sites=expanded.sites(given) + _bumps(placed),
        cases=placed, facility_ids=kept.facility_ids | {supply: kept.facility_ids[facility]
                                                        for facility, supply in expanded.supply_node.items()},
        unplaced=unplaced, commitments=_commitments(placed, now), as_of=now, switching=ties,
    )


def _commitments(placed: dict[str, dict[str, Any]], now: datetime) -> tuple[Commitment, ...]:
    """The work crews hold, per crew in the order they do it: the repair under way first, then the cases
    assigned to it in the order they were assigned. Cases with no crew named are planned freely."""
    held = [(node, c) for node, c in placed.items() if c["status"] in ("in_repair", "assigned") and c["assigned_crew"]]
    held.sort(key=lambda item: (item[1]["status"] != "in_repair", item[1]["repair_started_at"] or now,
                                item[1]["assigned_at"] or now, item[1]["case_id"]))
    out, working = [], set()
    for node, c in held:
        # A crew repairs one thing at a time: of two cases marked in repair for one crew, the one started first
        # is under way and the other waits next in its sequence.
        under_way = c["status"] == "in_repair" and c["assigned_crew"] not in working
        if under_way:
            working.add(c["assigned_crew"])
        started = c["repair_started_at"]
        out.append(Commitment(job=node, crew=c["assigned_crew"], in_progress=under_way,
                              started_hours_ago=max(0.0, (now - started).total_seconds() / 3600.0)
                              if under_way and started else 0.0))
    return tuple(out)


def _bumps(placed: dict[str, dict[str, Any]]) -> tuple[CriticalSite, ...]:
    """A coordinator's priority bump counts as an extra weight in people-equivalents on the case's facility."""
    return tuple(CriticalSite(id=f"bump-{case['case_id']}", facility=node, weight=float(case["priority_bump"]),
                              kind="priority_bump")
                 for node, case in placed.items() if case.get("priority_bump"))


def ranking(situation: Situation) -> list[Ranked]:
    """The one-crew repair queue: cases whose repair restores people first, operating ones in their own group."""
    return rank(situation.network, critical_sites=situation.critical_sites, last=situation.supplying)


def plan_for(situation: Situation, *, crews: int, deadline: Callable[[], bool] | None,
             persons_per_customer: float) -> Plan:
    """The k-crew plan of the situation, keeping the work crews hold."""
    return plan(situation.network, crews=crews, deadline=deadline, critical_sites=situation.critical_sites,
                persons_per_customer=persons_per_customer, commitments=situation.commitments)


def explain(situation: Situation, node: str, explanation: str) -> Text:
    """The engine's sentence after what the case's live state means, with what coordinators set on the case: an
    override of its repair hours and a priority bump, each with who set it and why."""
    case = situation.cases[node]
    state = situation.expanded.states[node]
    lead = Text(N_("{source}: {effect}. "), source=case["operational_status_source"],
                effect=_effect(state.status, state.share_out, without_power_now(situation, node)))
    said: list[Text] = []
    if case["repair_hours_override"] is not None:
        said.append(Text(N_("{hours} h repair (override by {who}: {reason})"),
                         hours=Quantity(float(case["repair_hours_override"]), "hours"),
                         who=case.get("override_by") or Text(N_("a coordinator")),
                         reason=_reason(case.get("override_reason"))))
    if case.get("priority_bump"):
        said.append(Text(N_("priority raised by {who} (+{bump} people-equivalents): {reason}"),
                         who=case.get("bump_by") or Text(N_("a coordinator")),
                         bump=Quantity(float(case["priority_bump"]), "hours"), reason=_reason(case.get("bump_reason"))))
    body = Text.joined(Text.joined(_without_stop(explanation), *said, sep="; "), ".") if said else explanation
    return Text.joined(lead, body, capital=True)


def _without_stop(explanation: str) -> str:
    """`without_stop` of a ranking's sentence, still deferred when the sentence is: the ranking makes every
    sentence's message id and parameters at once on the first one asked for (geo/triage.py), which an English
    answer never needs, and asking here for a few hundred overridden or bumped cases cost the whole ranking's
    Texts (0.3-0.5 s at 10^4 cases). The ranking's sentences are `Text.joined(..., ".")` without a separator, so
    the English is the sentence less its stop (DeferredText checks it when the Text is made)."""
    if isinstance(explanation, DeferredText) and explanation.endswith("."):
        return DeferredText(str.__str__(explanation)[:-1], lambda _: _stopless(explanation), 0)
    return without_stop(explanation)


def _stopless(explanation: str) -> Text:
    said = without_stop(explanation)
    return said if isinstance(said, Text) else Text.joined(said)


def _reason(reason: str | None) -> str:
    """A coordinator's reason inside a sentence, which ends with its own stop."""
    return (reason.rstrip(".") or reason) if reason else Text(N_("no reason given"))


def facility_name(node: str) -> str:
    """The facility's name from its network id ("name (facility id)", a supply node's with " (supplying)")."""
    return node.removesuffix(live.SUPPLY_SUFFIX).rsplit(" (facility ", 1)[0]


def without_power_now(situation: Situation, node: str) -> float:
    """People without power now in the case's own area and everything fed through it."""
    return float(situation.picture.without_power_now.get(node, 0.0))


def case_fields(situation: Situation, node: str) -> dict[str, Any]:
    case = situation.cases[node]
    return {"case_id": case["case_id"], "facility_id": situation.facility_ids[node], "facility": node,
            "facility_name": facility_name(node),
            "kind": case["kind"], "status": case["status"], "hazards": case["hazards"], "reports": case["reports"],
            "operational_status": case["operational_status"],
            "operational_status_source": case["operational_status_source"],
            "share_out": case["share_out"], "reports_disagree": case["reports_disagree"],
            # Where the people counted come from: the population layer and method, and (above) which report or
            # coordinator set the share without supply.
            "population": case["population"],
            "without_power_now": without_power_now(situation, node),
            "crew": case["assigned_crew"], "work": case["work"],
            "access_state": case["access"], "access_source": case["access_source"],
            "access_expected_at": iso_utc(case["access_expected_at"]),
            "materials_until": iso_utc(case["materials_until"]), "not_before": iso_utc(case["release_at"]),
            "repair_started_at": case["repair_started_at"].isoformat() if case["repair_started_at"] else None,
            "repair_hours_source": case["repair_hours_source"],
            "repair_hours_is_default": case["repair_hours_source"].startswith("default"),
            "repair_hours_flag": case["repair_hours_flag"],
            "priority_bump": float(case.get("priority_bump") or 0),
            "critical_sites": situation.sites_at.get(node, [])}


def dark_areas(situation: Situation, etr_hours: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each area without power now, with the hour a plan's ETRs bring it back. A degraded facility's area is two
    parts: its people without supply (back at its own ETR) and the rest (back when its feed is, if dark)."""
    network = situation.network
    areas = area_etr(network, etr_hours)
    ids = situation.facility_ids
    # By the network's columns: no Facility made per facility, and only the dark ones looked at one by one.
    nodes = list(network.arrays.ids)
    hours = list(areas.values()) if list(areas) == nodes else [areas[node] for node in nodes]
    people = network.arrays.population
    return [{"facility_id": ids[nodes[i]], "facility": nodes[i], "population": float(people[i]), "etr_hours": hours[i]}
            for i in np.flatnonzero(np.asarray(hours, dtype=float) > 0).tolist()]


def people_without_power(situation: Situation) -> float:
    """People without power now (see SUMMARY_METHOD)."""
    return float(situation.picture.people_without_power)
