"""A crew's record from a form, a JSON body or a row of a file: every value checked, or a 422 naming the field."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import time
from functools import cache
from typing import Any

from app import parse
from geo.taxonomy import CREW_SKILLS, CREW_STATUSES

FIELDS = ("name", "lon", "lat", "skills", "shift_start", "shift_end", "time_zone", "status", "members")
NAME_MAX_CHARS = 100
MAX_MEMBERS = 50
SHIFT_TIME = re.compile(r"\A([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?\Z")  # \Z: "$" lets a newline through
SEPARATORS = re.compile(r"[,;]")


@dataclass(frozen=True)
class CrewIn:
    """A crew as a coordinator or a file gives it; `status` None keeps a crew's status (a new one is available)."""

    name: str
    lon: float
    lat: float
    skills: tuple[str, ...]
    shift_start: time
    shift_end: time
    time_zone: str
    status: str | None
    members: tuple[str, ...]  # user names

    def record(self) -> dict[str, Any]:
        return asdict(self)


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names this system knows."""
    return frozenset(zoneinfo.available_timezones())


def _name(value: object) -> str:
    name = parse.text(value, max_chars=NAME_MAX_CHARS)
    if name is None:
        raise parse.Refused("is required")
    return name


def _coordinate(value: object, *, limit: float) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise parse.Refused(f"must be a number between {-limit:g} and {limit:g}") from None
    return parse.number(value, low=-limit, high=limit)


def _words(value: object) -> list[str]:
    """A list of words from a list, or from text separated by commas or semicolons."""
    if isinstance(value, str):
        return [w.strip() for w in SEPARATORS.split(value) if w.strip()]
    if isinstance(value, list | tuple) and all(isinstance(w, str) for w in value):
        return [w.strip() for w in value if w.strip()]
    raise parse.Refused("must be a list of words, or text separated by commas or semicolons")


def _skills(value: object) -> tuple[str, ...]:
    return parse.choices([w.lower() for w in _words(value)], CREW_SKILLS)


def _members(value: object) -> tuple[str, ...]:
    names = _words(value)
    if len(names) > MAX_MEMBERS:
        raise parse.Refused(f"at most {MAX_MEMBERS} accounts")
    for name in names:
        parse.text(name, max_chars=64)
    return tuple(dict.fromkeys(names))


def _shift_time(value: object) -> time:
    found = SHIFT_TIME.match(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise parse.Refused("must be a time of day as HH:MM (24-hour clock), e.g. 07:00")
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return time(hours, minutes, seconds)


def _time_zone(value: object) -> str:
    zone = value.strip() if isinstance(value, str) else None
    if not zone or zone not in time_zones():
        raise parse.Refused("must be an IANA time zone name, e.g. Europe/Kyiv or UTC")
    return zone


def _status(value: object) -> str:
    return parse.choice(value.strip() if isinstance(value, str) else value, CREW_STATUSES)


def parse_crew(values: Mapping[str, Any], *, status_required: bool = True) -> CrewIn:
    """The crew in `values` (text from a form or file, or JSON values); a ValidationError naming every bad field."""
    fields = parse.Fields(values)
    name = fields.get("name", _name, required=True)
    lon = fields.get("lon", _coordinate, required=True, limit=180.0)
    lat = fields.get("lat", _coordinate, required=True, limit=90.0)
    skills = fields.get("skills", _skills) or ()
    start = fields.get("shift_start", _shift_time, required=True)
    end = fields.get("shift_end", _shift_time, required=True)
    zone = fields.get("time_zone", _time_zone, required=True)
    status = None if not status_required and values.get("status") in (None, "") else fields.get(
        "status", _status, required=True)
    members = fields.get("members", _members) or ()
    if start is not None and end is not None and start == end:
        fields.fail("shift_end", "must differ from shift_start (an overnight shift ends before it starts)")
    fields.check()
    return CrewIn(name=name, lon=lon, lat=lat, skills=skills, shift_start=start, shift_end=end, time_zone=zone,
                  status=status, members=members)
