"""Parse a scenario's dispatch keys: `as_of`, crews as records, facility positions, skills, release times, travel.

Every error is a DispatchError naming the key, crew or facility; the command line exits with status 2 on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from geo.dispatch_model import Crew, DispatchError, Site
from geo.taxonomy import SEVERITIES
from geo.travel import GREAT_CIRCLE, Travel

SITE_KEYS = ("lon", "lat", "skill", "release_hours", "kind", "severity")


def _number(value: Any, where: str, key: str, *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DispatchError(f"{where}: field {key!r} must be a number, got {value!r}")
    if value < low:
        raise DispatchError(f"{where}: field {key!r} must be >= {low:g}, got {value!r}")
    return float(value)


def _point(lon: Any, lat: Any, where: str, key: str) -> tuple[float, float]:
    x = _number(lon, where, key, low=-180.0)
    y = _number(lat, where, key, low=-90.0)
    if x > 180 or y > 90:
        raise DispatchError(f"{where}: field {key!r} must be lon in [-180, 180] and lat in [-90, 90], "
                            f"got [{lon!r}, {lat!r}]")
    return x, y


def parse_as_of(value: Any) -> datetime | None:
    """The scenario's `as_of`: an ISO 8601 time with a UTC offset (or Z), as an aware datetime; None if absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise DispatchError(f"scenario: field 'as_of' must be an ISO 8601 time, got {value!r}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise DispatchError(f"scenario: field 'as_of' is not an ISO 8601 time: {value!r}") from None
    if when.tzinfo is None:
        raise DispatchError(f"scenario: field 'as_of' must carry a UTC offset or Z, got {value!r}")
    return when.astimezone(UTC)


def parse_crews(raw: list[Any]) -> tuple[Crew, ...]:
    """Crews given as records `{"id", "base": [lon, lat], "skills": [...], "available_from_hours", ...}`; a crew
    with `available_until_hours` (the end of its current shift) works in shifts of `shift_hours` (default: from
    available_from_hours to that end) every `shift_period_hours` (default 24), see geo.dispatch_model."""
    if not raw:
        raise DispatchError("scenario: field 'crews' lists no crew")
    crews = []
    for position, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise DispatchError(f"crews[{position}]: must be an object")
        cid = item.get("id")
        if not isinstance(cid, str) or not cid:
            raise DispatchError(f"crews[{position}]: field 'id' must be a non-empty string, got {cid!r}")
        where = f"crew {cid!r}"
        base = item.get("base")
        if base is not None and not (isinstance(base, list) and len(base) == 2):
            raise DispatchError(f"{where}: field 'base' must be [lon, lat], got {base!r}")
        skills = item.get("skills", [])
        if not isinstance(skills, list) or not all(isinstance(s, str) and s for s in skills):
            raise DispatchError(f"{where}: field 'skills' must be a list of names, got {skills!r}")
        if "available_until_hours" in item and "shift_end_hours" in item:
            raise DispatchError(f"{where}: give 'available_until_hours' or its older name 'shift_end_hours', not both")
        end = item.get("available_until_hours", item.get("shift_end_hours"))
        length, period = item.get("shift_hours"), item.get("shift_period_hours", 24)
        crews.append(Crew(
            id=cid,
            base=_point(base[0], base[1], where, "base") if base is not None else None,
            skills=frozenset(skills),
            available_from_hours=_number(item.get("available_from_hours", 0), where, "available_from_hours"),
            shift_end_hours=_number(end, where, "available_until_hours") if end is not None else None,
            shift_hours=_number(length, where, "shift_hours") if length is not None else None,
            shift_period_hours=_number(period, where, "shift_period_hours"),
        ))
    return tuple(crews)


def parse_site(raw: Mapping[str, Any], fid: str) -> Site | None:
    """A facility's dispatch fields (`lon`, `lat`, `skill`, `release_hours`, `kind`, `severity`), or None."""
    if not any(key in raw for key in SITE_KEYS):
        return None
    where = f"facility {fid!r}"
    has_lon, has_lat = raw.get("lon") is not None, raw.get("lat") is not None
    if has_lon != has_lat:
        raise DispatchError(f"{where}: fields 'lon' and 'lat' go together")
    skill = raw.get("skill")
    if skill is not None and not (isinstance(skill, str) and skill):
        raise DispatchError(f"{where}: field 'skill' must be a name or null, got {skill!r}")
    kind = raw.get("kind", "other")
    if not isinstance(kind, str):
        raise DispatchError(f"{where}: field 'kind' must be a string, got {kind!r}")
    severity = raw.get("severity", "moderate")
    if severity not in SEVERITIES:
        raise DispatchError(f"{where}: field 'severity' must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    return Site(
        id=fid,
        point=_point(raw["lon"], raw["lat"], where, "lon/lat") if has_lon else None,
        skill=skill,
        release_hours=_number(raw.get("release_hours", 0), where, "release_hours"),
        kind=kind,
        severity=severity,
    )


def parse_travel(raw: Any) -> Travel:
    """`travel`: `{"speed_kmh", "detour"}` (defaults 40 and 1.3) or `{"matrix_minutes": {from: {to: minutes}}}`."""
    if raw is None:
        return GREAT_CIRCLE
    if not isinstance(raw, Mapping):
        raise DispatchError(f"scenario: field 'travel' must be an object, got {raw!r}")
    unknown = sorted(set(raw) - {"speed_kmh", "detour", "matrix_minutes"})
    if unknown:
        raise DispatchError(f"travel: unknown field {unknown[0]!r}")
    matrix = raw.get("matrix_minutes")
    if matrix is not None:
        if not isinstance(matrix, Mapping) or not all(isinstance(row, Mapping) for row in matrix.values()):
            raise DispatchError("travel: field 'matrix_minutes' must be {from: {to: minutes}}")
        table = {str(a): {str(b): _number(m, f"travel from {a!r}", f"to {b!r}") for b, m in row.items()}
                 for a, row in matrix.items()}
        return Travel(matrix_minutes=table)
    speed = _number(raw.get("speed_kmh", GREAT_CIRCLE.speed_kmh), "travel", "speed_kmh")
    if speed <= 0:
        raise DispatchError(f"travel: field 'speed_kmh' must be > 0, got {speed!r}")
    return Travel(speed_kmh=speed, detour=_number(raw.get("detour", GREAT_CIRCLE.detour), "travel", "detour", low=1.0))
