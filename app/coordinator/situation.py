"""The situation the coordinator's views show: the live network with its open damage cases, built from the
database, with the figures every view shares (people without power now, dark areas and their ETRs, the work
crews hold, the fields of a case)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from app.coordinator import registry, switching
from app.coordinator.overlay import Overlay, Overlays, static_fields
from app.coordinator.overlay import facility_name as facility_name
from app.coordinator.overlay import iso_utc as iso_utc
from app.coordinator.switching import TieSwitching
from app.repo import Conn
from app.repo import triage as repo
from geo import explain as words
from geo import live
from geo.message import N_, DeferredText, Quantity, Text, without_stop
from geo.network import CriticalSite, Network
from geo.plan import Commitment, Plan, area_etr, plan
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
    overlays: Mapping[str, Overlay] = field(default_factory=dict)  # by network id: what each case's row gives

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


# The overlays of the open cases the last request read, reused for the rows that did not change (overlay.py).
OVERLAYS = Overlays()


def load_situation(conn: Conn, *, default_share: float, now: datetime | None = None) -> Situation:
    """Read the open cases (in the caller's transaction) onto the registry network as the live picture.

    The registry (facilities, feed links, population, critical sites) is the one this server keeps while the
    database's registry revision is unchanged (app/coordinator/registry.py); only the open cases are read each
    time. The revision is read after them: if it is still the kept one, no registry change was committed before
    the cases were read, so the kept network is the one they refer to. What each case's row gives is worked out
    once per distinct row (app/coordinator/overlay.py)."""
    now = now or datetime.now(UTC)
    names, rows = repo.open_case_rows(conn)
    kept = registry.current(conn)
    overlays = OVERLAYS.of(names, rows, kept, now=now, default_share=default_share,
                           timezone=str(conn.info.timezone))
    facilities = list(kept.facilities)
    placed: dict[str, dict[str, Any]] = {}
    states: dict[str, live.State] = {}
    by_node: dict[str, Overlay] = {}
    unplaced = []
    damaged: list[int] = []  # positions of the damaged facilities
    for o in overlays:
        if o.node is None:
            unplaced.append(o.case)
            continue
        assert o.state is not None and o.facility is not None
        placed[o.node], states[o.node], by_node[o.node] = o.case, o.state, o
        facilities[o.position] = o.facility
        damaged.append(o.position)
    ids = {node: node for node in placed}  # a site at a damaged facility names it by its Text, as the engine does
    given = tuple(CriticalSite(id=s.id, facility=ids[s.facility], weight=s.weight, kind=s.kind)
                  if s.facility in ids else s for s in kept.critical_sites)
    overlaid = facilities
    # Tie switches (issue 15): closed ones back-feed part of the network, whose facilities become sources; open
    # ones are proposed switching steps (app/coordinator/switching.py).
    ties = switching.apply_ties(conn, facilities, states, kept.position)
    if ties.result.changed:  # feed links turned (geo.mesh): back-fed parts, closed ties, a meshed registry
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
        unplaced=unplaced, commitments=_commitments(placed, now), as_of=now, switching=ties, overlays=by_node,
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


@lru_cache(maxsize=8192)
def _effect(status: str, share_out: float, dark_people: float) -> Text:
    return words.status_effect(status, share_out, dark_people)


def _lead(situation: Situation, node: str) -> Text:
    """The explanation's lead: where the case's live state comes from and what it means for its people. The same
    for an unchanged case in an unchanged picture, so each overlay keeps its last few (by the people without power
    now: its source, status and share are the overlay's own)."""
    case = situation.cases[node]
    state = situation.expanded.states[node]
    dark = without_power_now(situation, node)
    o = situation.overlays.get(node)
    mine = o is not None and o.case is case and o.state is state and dark != 0.0
    lead = o.leads.get(dark) if o is not None and mine else None
    if lead is None:
        lead = Text(N_("{source}: {effect}. "), source=case["operational_status_source"],
                    effect=_effect(state.status, state.share_out, dark))
        if o is not None and mine:
            if len(o.leads) > 3:
                o.leads.clear()
            o.leads[dark] = lead
    return lead


def explain_english(situation: Situation, node: str, explanation: str) -> str:
    """`explain`'s sentence in English only, as a plain string (what an English answer writes: the same
    characters), without making the Text that another language needs."""
    case = situation.cases[node]
    if case["repair_hours_override"] is not None or case.get("priority_bump"):
        return explain(situation, node, explanation)
    lead = _lead(situation, node)  # never empty: the capital is its first letter
    return lead[:1].upper() + lead[1:] + explanation


def explain(situation: Situation, node: str, explanation: str) -> Text:
    """The engine's sentence after what the case's live state means, with what coordinators set on the case: an
    override of its repair hours and a priority bump, each with who set it and why."""
    case = situation.cases[node]
    if case["repair_hours_override"] is None and not case.get("priority_bump"):  # most cases: nothing set
        return Text.joined(_lead(situation, node), explanation, capital=True)
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
    return Text.joined(_lead(situation, node), body, capital=True)


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


def without_power_now(situation: Situation, node: str) -> float:
    """People without power now in the case's own area and everything fed through it."""
    return float(situation.picture.without_power_now.get(node, 0.0))


def case_fields(situation: Situation, node: str) -> dict[str, Any]:
    """A case's fields as the JSON answers give them: its row's (kept with its overlay), the people without power
    now in what it supplies, and its critical sites."""
    case = situation.cases[node]
    o = situation.overlays.get(node)
    fields = (dict(o.fields) if o is not None and o.case is case
              else static_fields(case, node, situation.facility_ids[node]))
    fields["without_power_now"] = without_power_now(situation, node)
    fields["critical_sites"] = situation.sites_at.get(node, [])
    return fields


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
