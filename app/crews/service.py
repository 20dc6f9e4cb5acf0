"""Crews on the database, in the caller's transaction: saving a record with its accounts (audited), the JSON the
API gives of it, and what a member's field report or status change does to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from app.crews.input import CrewIn
from app.errors import FieldConflict, NotFound, ValidationError
from app.repo import Conn
from app.repo import crews as repo
from app.repo.users import audit

MEMBER_ROLE = "crew"  # the accounts that may belong to a crew
ON_SITE = "on_site"  # where a crew is when one of its members reports from a site
NEW_CREW_STATUS = "available"


@dataclass(frozen=True)
class Saved:
    """A saved crew and what happened to it: created, changed or unchanged."""

    id: int
    name: str
    outcome: str


def _clock(value: time) -> str:
    return value.strftime("%H:%M") if value.second == 0 else value.strftime("%H:%M:%S")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    """A crew's record as the audit trail keeps it (and compares it)."""
    return {"name": values["name"], "base": [round(values["lon"], 7), round(values["lat"], 7)],
            "skills": sorted(values["skills"]), "shift_start": _clock(values["shift_start"]),
            "shift_end": _clock(values["shift_end"]), "time_zone": values["time_zone"], "status": values["status"],
            "members": sorted(values["members"])}


def _member_ids(conn: Conn, names: Sequence[str], *, crew_id: int | None) -> list[int]:
    """The accounts of these names, each an active crew account in no other crew; else the reason, for `members`."""
    found = {row["username"]: row for row in repo.accounts(conn, names)}
    for name in names:
        account = found.get(name)
        if account is None:
            raise ValidationError({"members": f"there is no account {name!r}"})
        if not account["active"] or account["role"] != MEMBER_ROLE:
            raise ValidationError({"members": f"{name!r} is not an active {MEMBER_ROLE} account"})
        if account["crew_id"] is not None and account["crew_id"] != crew_id:
            raise FieldConflict("members", f"{name!r} already belongs to crew {account['crew']!r}; an account "
                                           "belongs to one crew at most (take it out of that crew first)")
    return [int(found[name]["id"]) for name in names]


def save(conn: Conn, crew: CrewIn, *, existing: dict[str, Any] | None, actor_id: int | None,
         reason: str | None) -> Saved:
    """Create the crew (`existing` None) or change `existing` into it, with exactly its member accounts; audited.

    The caller holds repo.lock(). A name another crew has is a conflict on `name`; an unknown account, or one that
    belongs to another crew, is refused on `members`."""
    crew_id = int(existing["id"]) if existing is not None else None
    other = repo.get_by_name(conn, crew.name)
    if other is not None and other["id"] != crew_id:
        raise FieldConflict("name", f"there is already a crew named {crew.name!r}")
    member_ids = _member_ids(conn, crew.members, crew_id=crew_id)
    status = crew.status or (existing["status"] if existing is not None else NEW_CREW_STATUS)
    values = {"name": crew.name, "lon": crew.lon, "lat": crew.lat, "skills": list(crew.skills),
              "shift_start": crew.shift_start, "shift_end": crew.shift_end, "time_zone": crew.time_zone,
              "status": status}
    after = _audited({**values, "members": crew.members})
    if existing is None:
        crew_id = repo.insert(conn, values)
        before, outcome = None, "created"
    else:
        assert crew_id is not None
        before = _audited(existing)
        outcome = "unchanged" if before == after else "changed"
        if outcome == "changed":
            repo.update(conn, crew_id, values)
    repo.clear_members(conn, [crew_id])  # (again, after an import cleared them to let accounts move between crews)
    repo.add_members(conn, crew_id, member_ids)
    if outcome != "unchanged":
        changed = {k: v for k, v in after.items() if before is None or before[k] != v}
        audit(conn, actor_id=actor_id, entity="crew", entity_id=str(crew_id), action=outcome,
              before={k: before[k] for k in changed} if before else None, after=changed, reason=reason)
    return Saved(id=crew_id, name=crew.name, outcome=outcome)


def on_shift(start: time, end: time, time_zone: str, *, now: datetime) -> bool:
    """Whether `now` falls in the shift on the crew's clock (an overnight shift ends before it starts)."""
    local = now.astimezone(ZoneInfo(time_zone)).time()
    return start <= local < end if start < end else (local >= start or local < end)


def crew_json(row: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """A crew as GET /api/crews gives it."""
    position = None if row["position_at"] is None else {
        "lon": row["position_lon"], "lat": row["position_lat"], "at": _iso(row["position_at"])}
    return {
        "id": row["id"], "name": row["name"], "base": {"lon": row["lon"], "lat": row["lat"]},
        "skills": list(row["skills"]),
        "shift": {"start": _clock(row["shift_start"]), "end": _clock(row["shift_end"]),
                  "time_zone": row["time_zone"],
                  "on_shift_now": on_shift(row["shift_start"], row["shift_end"], row["time_zone"], now=now)},
        "status": row["status"], "status_at": _iso(row["status_at"]), "position": position,
        "members": list(row["members"]), "updated_at": _iso(row["updated_at"]),
    }


def report_seen(conn: Conn, *, user_id: int, lon: float, lat: float, observed_at: datetime, report_id: str) -> None:
    """A field report from a member of a crew: the crew is at the report's point, on site, as of its observed time
    (unless the crew has newer news: a report sent late from an outbox never moves it back). Audited."""
    changed = repo.report_seen(conn, user_id=user_id, lon=lon, lat=lat, observed_at=observed_at, status=ON_SITE)
    if changed is None:
        return
    before_position = None if changed["position_at"] is None else [changed["position_lon"], changed["position_lat"]]
    audit(conn, actor_id=user_id, entity="crew", entity_id=str(changed["id"]), action="position_reported",
          before={"status": changed["before_status"], "position": before_position,
                  "position_at": _iso(changed["position_at"])},
          after={"status": changed["status"], "position": [lon, lat], "position_at": observed_at.isoformat()},
          reason=f"field report {report_id}")


def set_my_status(conn: Conn, *, user_id: int, status: str) -> dict[str, Any]:
    """Set the status of the account's own crew (audited when it changes); the crew afterwards."""
    crew = repo.of_user(conn, user_id)
    if crew is None:
        raise NotFound("your account belongs to no crew; a coordinator adds it to one on the crews page")
    if crew["status"] != status:
        repo.set_status(conn, int(crew["id"]), status)
        audit(conn, actor_id=user_id, entity="crew", entity_id=str(crew["id"]), action="status_changed",
              before={"status": crew["status"]}, after={"status": status}, reason="set by the crew")
    found = repo.get(conn, int(crew["id"]))
    assert found is not None
    return found
