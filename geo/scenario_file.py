"""Read a scenario file: plain radial facilities decoded straight into typed columns, anything else as before.

Public API:
    read_scenario(data) -> Scenario   the scenario in a file's bytes (raises orjson.JSONDecodeError, ScenarioError
                                      or DispatchError exactly as `parse_scenario(orjson.loads(data))` does)

Most scenario files are one parent per facility with an id, population, damage and repair hours, and nothing
else on the facilities. msgspec decodes those straight into typed records (checking types and signs as it reads,
about half of orjson's time for the dicts), and numpy builds the network from their columns. A file with anything
else (a list of parents, a dispatch key on a facility, a null or a wrong type, an unknown field, invalid JSON)
is read the general way, by orjson and `geo.scenario.parse_scenario`, which names the facility and the field.
"""

from __future__ import annotations

import math
from operator import attrgetter
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson

from geo.network import network_from_arrays, without_gc_pauses
from geo.scenario import Scenario, parse_scenario


class _Facility(msgspec.Struct, forbid_unknown_fields=True):
    """A facility of the plain shape; a missing repair time is NaN (then an error if it is damaged)."""

    id: Annotated[str, msgspec.Meta(min_length=1)]
    parent: str | None = None
    population: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    damaged: bool = False
    repair_hours: float = math.nan


class _Document(msgspec.Struct):
    """A scenario whose facilities are all of the plain shape; the other keys are kept as their JSON text."""

    facilities: list[_Facility]
    crews: msgspec.Raw = msgspec.Raw()
    critical_sites: msgspec.Raw = msgspec.Raw()
    as_of: msgspec.Raw = msgspec.Raw()
    travel: msgspec.Raw = msgspec.Raw()


_DECODER = msgspec.json.Decoder(_Document)
_REST = ("crews", "critical_sites", "as_of", "travel")


@without_gc_pauses
def read_scenario(data: bytes) -> Scenario:
    """The scenario of a file's bytes (see the module docstring for the two ways it is read)."""
    try:
        document = _DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return parse_scenario(orjson.loads(data))
    facilities = document.facilities
    n = len(facilities)
    population = np.fromiter(map(attrgetter("population"), facilities), dtype=float, count=n)
    damaged = np.fromiter(map(attrgetter("damaged"), facilities), dtype=bool, count=n)
    hours = np.fromiter(map(attrgetter("repair_hours"), facilities), dtype=float, count=n)
    given = hours[damaged]
    if not (np.isfinite(population).all() and np.isfinite(given).all() and (given >= 0).all()):
        return parse_scenario(orjson.loads(data))  # a number out of range: said field by field
    network = network_from_arrays(list(map(attrgetter("id"), facilities)), list(map(attrgetter("parent"), facilities)),
                                  population, damaged, hours)
    rest: dict[str, Any] = {"facilities": []}
    for key in _REST:
        raw = getattr(document, key)
        if len(raw):
            rest[key] = orjson.loads(memoryview(raw))
    return parse_scenario(rest, network=network)
