"""The open cases laid on the registry network, case by case: what one case's row gives (its network id, live state,
repair hours, the words of its status, work and access, and the fields the JSON answers show of it).

Between two requests most cases are unchanged, so each distinct row is worked out once and reused by the next
request while the row itself, the registry revision, the UTC date and the default share are the same: the key is
everything the result is made from, so a kept result can never be stale, whichever server or database (primary
or replica) the rows come from. A repair under way is worked out every time (its hours left follow the clock).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from app.coordinator.registry import Registry
from geo import explain as words
from geo import live
from geo.access import Access, access, release
from geo.message import N_, Moment, Text
from geo.network import Facility
from geo.repair_hours import RepairHours, remaining, repair_hours


@dataclass(frozen=True, eq=False)
class Overlay:
    """One open case on the registry network (shared by the requests that read the same row: never changed)."""

    case: dict[str, Any]  # the row's fields and the derived ones, as Situation.cases holds them
    node: Text | None = None  # its network id; None: no registered facility at the site (unplaced)
    position: int = -1  # its facility's position in the registry
    state: live.State | None = None
    facility: Facility | None = None  # the damaged facility as the engine takes it
    fields: dict[str, Any] = field(default_factory=dict)  # case_fields less the figures of the whole situation
    leads: dict[float, Text] = field(default_factory=dict)  # explanation leads by people without power now
    kept: bool = True  # whether a later request may reuse it (not for a repair under way)


def iso_utc(moment: datetime | None) -> str | None:
    """A time as the JSON answers give it: ISO 8601 in UTC (None stays None)."""
    return moment.astimezone(UTC).isoformat() if moment else None


def _clock(moment: datetime | None, today: date) -> Moment | None:
    """A time as a coordinator reads it: "07:10 UTC" today (a UTC date), else with its date."""
    if moment is None:
        return None
    # To the minute, as every language writes a Moment (geo.message, app/site/sentences.py): the same sentence
    # then comes from the cache below for every case of that minute.
    return Moment(moment.replace(second=0, microsecond=0), with_date=moment.astimezone(UTC).date() != today)


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


@lru_cache(maxsize=4096)
def _state(status: str, share_out: float | None, default_share: float) -> live.State:
    return live.state(status, share_out, default_share=default_share)


def planned(case: Mapping[str, Any], now: datetime) -> RepairHours:
    """The case's repair hours: as estimated (override, report, default), less the time spent on a repair under
    way."""
    hours = _hours(case["repair_hours_override"], case["reported_repair_hours"], case["kind"],
                   tuple(case["severities"]), case["repair_hours_accepted"])
    if case["status"] == "in_repair" and case["repair_started_at"] is not None:
        return remaining(hours, (now - case["repair_started_at"]).total_seconds() / 3600.0)
    return hours


def describe(case: dict[str, Any], state: live.State, today: date) -> None:
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


def facility_name(node: str) -> str:
    """The facility's name from its network id ("name (facility id)", a supply node's with " (supplying)")."""
    return node.removesuffix(live.SUPPLY_SUFFIX).rsplit(" (facility ", 1)[0]


def static_fields(case: Mapping[str, Any], node: str, facility_id: int) -> dict[str, Any]:
    """The fields of a case in the JSON answers that its own row and the registry give (case_fields adds the
    people without power now and its critical sites)."""
    return {"case_id": case["case_id"], "facility_id": facility_id, "facility": node,
            "facility_name": facility_name(node),
            "kind": case["kind"], "status": case["status"], "hazards": case["hazards"], "reports": case["reports"],
            "operational_status": case["operational_status"],
            "operational_status_source": case["operational_status_source"],
            "share_out": case["share_out"], "reports_disagree": case["reports_disagree"],
            # Where the people counted come from: the population layer and method, and (above) which report or
            # coordinator set the share without supply.
            "population": case["population"],
            "crew": case["assigned_crew"], "work": case["work"],
            "access_state": case["access"], "access_source": case["access_source"],
            "access_expected_at": iso_utc(case["access_expected_at"]),
            "materials_until": iso_utc(case["materials_until"]), "not_before": iso_utc(case["release_at"]),
            "repair_started_at": case["repair_started_at"].isoformat() if case["repair_started_at"] else None,
            "repair_hours_source": case["repair_hours_source"],
            "repair_hours_is_default": case["repair_hours_source"].startswith("default"),
            "repair_hours_flag": case["repair_hours_flag"],
            "priority_bump": float(case.get("priority_bump") or 0)}


def overlay(case: dict[str, Any], kept: Registry, *, now: datetime, today: date, default_share: float) -> Overlay:
    """One case's row (as a dict, which this completes) on the registry network."""
    i = kept.position.get(case["facility_id"]) if case["facility_id"] is not None else None
    if i is None:
        return Overlay(case={"case_id": case["case_id"], "kind": case["kind"], "lon": case["lon"], "lat": case["lat"]})
    # Network ids are "name (facility id)": unique, and the engine's explanations then read with real names and
    # never show a facility's id where a case number could be read. A damaged facility's id is a Text, so that
    # the sentences naming it can be said in the user's language (ids compare and hash as the English string; the
    # others stay plain strings, cheaper by far on a large registry).
    node = Text(N_("{name} (facility {id})"), name=kept.names[i], id=case["facility_id"])
    base = kept.facilities[i]
    hours = planned(case, now)
    case["repair_hours_source"], case["repair_hours_flag"] = hours.source, hours.flag
    case["population"] = {"direct": base.population, "layer": kept.layers[i], "method": kept.methods[i]}
    state = _state(case["operational_status"] or live.OUT_OF_SERVICE, case["share_out"], default_share)
    describe(case, state, today)
    return Overlay(case=case, node=node, position=i, state=state,
                   facility=Facility(id=node, parents=base.parents, population=base.population, damaged=True,
                                     repair_hours=hours.hours),
                   fields=static_fields(case, node, kept.facility_ids[node]),
                   kept=not (case["status"] == "in_repair" and case["repair_started_at"] is not None))


class Overlays:
    """The overlays of the last request, by case, each with the row it was worked out from, for the next request
    (one server's; results, never state)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scope: tuple[object, ...] = ()
        self._by_case: dict[object, tuple[tuple[Any, ...], Overlay]] = {}
        self.made = 0  # how many rows were worked out (not reused): tests check both ways

    def of(self, names: Sequence[str], rows: Sequence[tuple[Any, ...]], kept: Registry, *, now: datetime,
           default_share: float, timezone: str) -> list[Overlay]:
        """The overlay of every row (`names`: the row's columns; `timezone`: the one its times were read in). A kept
        overlay is reused when the case's row now equals, value for value, the row it was worked out from (a
        comparison, cheaper than hashing every value of every row)."""
        today = now.astimezone(UTC).date()
        scope = (kept.token, today, default_share, timezone, tuple(names))
        with self._lock:
            previous = self._by_case if self._scope == scope else {}
        at = names.index("case_id")
        current: dict[object, tuple[tuple[Any, ...], Overlay]] = {}
        out = []
        made = 0
        for row in rows:
            case_id = row[at]
            was = previous.get(case_id)
            if was is not None and was[0] == row:
                found = was[1]
            else:
                found = overlay(dict(zip(names, row, strict=True)), kept, now=now, today=today,
                                default_share=default_share)
                made += 1
            if found.kept:
                current[case_id] = (row, found)
            out.append(found)
        with self._lock:  # what this request read is what the next one most likely reads
            self._scope, self._by_case = scope, current
            self.made += made
        return out
