"""Parse a scenario JSON document into domain values; errors name the facility (or site) and the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from geo.dispatch_model import Crew, Site
from geo.network import (
    CriticalSite,
    Facility,
    Network,
    ScenarioError,
    build_network,
    facility_weights,
    network_from_columns,
    without_gc_pauses,
)
from geo.scenario_dispatch import SITE_KEYS, parse_as_of, parse_crews, parse_site, parse_travel
from geo.travel import GREAT_CIRCLE, Travel


@dataclass(frozen=True, eq=False)
class Scenario:
    """A validated network, its critical sites and the number of repair crews.

    With crews given as records (the dispatchable plan), `crew_records` holds them, `crews` is their number,
    `sites` the damaged facilities' positions, skills and release times, and `travel` how travel is estimated.
    `dispatch_keys` names the dispatch keys a scenario with an integer `crews` gives (they are then unused).
    """

    network: Network
    critical_sites: tuple[CriticalSite, ...]
    crews: int
    as_of: datetime | None = None
    crew_records: tuple[Crew, ...] = ()
    sites: Mapping[str, Site] = field(default_factory=dict)
    travel: Travel = GREAT_CIRCLE
    dispatch_keys: tuple[str, ...] = ()


def _number(value: Any, where: str, field: str, *, required: bool, default: float = 0.0) -> float | None:
    if value is None:
        if required:
            raise ScenarioError(f"{where}: field {field!r} is missing")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"{where}: field {field!r} must be a number, got {value!r}")
    if value < 0:
        raise ScenarioError(f"{where}: field {field!r} must be >= 0, got {value!r}")
    return float(value)


def _facility(raw: Any, position: int) -> Facility:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"facilities[{position}]: must be an object")
    fid = raw.get("id")
    if not isinstance(fid, str) or not fid:
        raise ScenarioError(f"facilities[{position}]: field 'id' must be a non-empty string, got {fid!r}")
    where = f"facility {fid!r}"
    parent = raw.get("parent", raw.get("parents"))
    if parent is None:
        parents: tuple[str, ...] = ()
    elif isinstance(parent, str):
        parents = (parent,)
    elif isinstance(parent, list) and all(isinstance(p, str) for p in parent):
        parents = tuple(parent)
    else:
        raise ScenarioError(f"{where}: field 'parent' must be an id, null or a list of ids, got {parent!r}")
    damaged = raw.get("damaged", False)
    if not isinstance(damaged, bool):
        raise ScenarioError(f"{where}: field 'damaged' must be true or false, got {damaged!r}")
    hours = raw.get("repair_hours")
    return Facility(
        id=fid,
        parents=parents,
        population=_number(raw.get("population"), where, "population", required=False) or 0.0,
        damaged=damaged,
        repair_hours=_number(hours, where, "repair_hours", required=damaged) if damaged else None,
    )


def _site(raw: Any, position: int) -> CriticalSite:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"critical_sites[{position}]: must be an object")
    sid = raw.get("id", f"critical_sites[{position}]")
    where = f"critical site {sid!r}"
    facility = raw.get("facility")
    if not isinstance(facility, str):
        raise ScenarioError(f"{where}: field 'facility' must be a facility id, got {facility!r}")
    kind = raw.get("kind", "other")
    if not isinstance(kind, str):
        raise ScenarioError(f"{where}: field 'kind' must be a string, got {kind!r}")
    weight = _number(raw.get("weight"), where, "weight", required=True) or 0.0
    return CriticalSite(id=str(sid), facility=facility, weight=weight, kind=kind)


def _columns(raw_facilities: list[Any]) -> Network | None:
    """The network of a radial facility list whose every field has the right type, built by columns (numpy);
    None when some facility is not of that shape (a list of parents, a wrong type), for `_facility` to check."""
    if not all(type(raw) is dict for raw in raw_facilities):
        return None
    ids = [raw.get("id") for raw in raw_facilities]
    parents = [raw.get("parent", raw.get("parents")) for raw in raw_facilities]
    damaged = [raw.get("damaged", False) for raw in raw_facilities]
    if not (all(type(i) is str and i for i in ids) and all(p is None or type(p) is str for p in parents)
            and all(type(d) is bool for d in damaged)):
        return None
    population = [raw.get("population") for raw in raw_facilities]
    population = [0.0 if p is None else p for p in population]
    hours = [raw.get("repair_hours") if d else None for raw, d in zip(raw_facilities, damaged, strict=True)]
    # network_from_columns checks the numbers and the links, and hands anything wrong to build_network; but
    # the messages about a field's type or sign are this module's, so a wrong number takes the checked path.
    if not (all(type(p) is int or type(p) is float for p in population)
            and all(type(h) is int or type(h) is float for h, d in zip(hours, damaged, strict=True) if d)):
        return None
    try:
        numbers = np.concatenate((np.asarray(population, dtype=float),
                                  np.asarray([h for h in hours if h is not None], dtype=float)))
    except OverflowError:  # an integer beyond any float
        return None
    if not (np.isfinite(numbers).all() and (numbers >= 0).all()):
        return None
    return network_from_columns(ids, parents, population, damaged, hours)


@without_gc_pauses
def parse_scenario(document: Any, *, network: Network | None = None) -> Scenario:
    """Turn a scenario JSON document (already decoded) into a Scenario, or raise ScenarioError.

    `network`: the facilities already built from the document (geo.scenario_file), which then lists none."""
    if not isinstance(document, Mapping):
        raise ScenarioError("scenario: must be a JSON object")
    raw_facilities = document.get("facilities")
    if not isinstance(raw_facilities, list):
        raise ScenarioError("scenario: field 'facilities' must be a list")
    raw_sites = document.get("critical_sites", [])
    if not isinstance(raw_sites, list):
        raise ScenarioError("scenario: field 'critical_sites' must be a list")
    crews = document.get("crews", 1)
    records = parse_crews(crews) if isinstance(crews, list) else ()
    if not records and (isinstance(crews, bool) or not isinstance(crews, int) or crews < 1):
        raise ScenarioError(f"scenario: field 'crews' must be an integer >= 1 or a list of crews, got {crews!r}")
    if network is None:
        network = _columns(raw_facilities) or build_network(_facility(raw, i) for i, raw in enumerate(raw_facilities))
    sites = tuple(_site(raw, i) for i, raw in enumerate(raw_sites))
    facility_weights(network, sites)  # validates that every site names a known facility
    keys = frozenset(SITE_KEYS)
    with_site = [i for i, raw in enumerate(raw_facilities) if not keys.isdisjoint(raw)]  # parse_site: None else
    ids = network.arrays.ids
    where = {ids[i]: parse_site(raw_facilities[i], ids[i]) for i in with_site}
    used = [key for key in ("as_of", "travel") if key in document]
    used += [key for key in SITE_KEYS if any(key in raw_facilities[i] for i in with_site)]
    return Scenario(
        network=network, critical_sites=sites, crews=len(records) or crews, as_of=parse_as_of(document.get("as_of")),
        crew_records=records, sites={fid: s for fid, s in where.items() if s is not None},
        travel=parse_travel(document.get("travel")), dispatch_keys=() if records else tuple(used),
    )
