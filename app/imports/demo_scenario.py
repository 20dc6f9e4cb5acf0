"""`flask --app app demo-scenario [--clear]`: a labelled demo damage scenario on the Dublin demo region."""

from __future__ import annotations

import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from app import db
from app.cases.service import Action, apply
from app.repo import Conn, users
from app.repo import cases as repo
from app.reports.input import ReportIn
from app.reports.service import store_photo, store_report

NAMESPACE = uuid.UUID("6d1f3c8e-2f0b-4c55-9a57-1c0de0ee0001")
DEMO_CREW = "demo-crew"
# (facility rank, severity, operational status, hazards, repair hours or None, components) per report.
DAMAGE = [
    (0, "destroyed", "out_of_service", ("fire",), 36.0, ("transformer",)),
    (0, "severe", "out_of_service", ("fire", "live_wires"), None, ("switchgear",)),
    (0, "severe", "out_of_service", (), 30.0, ()),
    (1, "severe", "out_of_service", ("uxo",), None, ()),
    (1, "moderate", "degraded", ("uxo", "access_blocked"), 12.0, ()),
    (2, "moderate", "degraded", (), 6.0, ()),
    (2, "minor", "degraded", (), None, ()),
    (3, "destroyed", "out_of_service", ("structural",), None, ()),
    (3, "severe", "out_of_service", ("structural",), 48.0, ()),
    (3, "destroyed", "out_of_service", (), None, ()),
    (4, "minor", "operating", (), 2.0, ()),
    (5, "severe", "out_of_service", ("live_wires",), 8.0, ()),
    (5, "severe", "out_of_service", (), None, ()),
    (6, "moderate", "degraded", (), None, ()),
    (7, "severe", "out_of_service", ("access_blocked",), 16.0, ()),
    (7, "moderate", "out_of_service", (), 10.0, ()),
    (8, "destroyed", "out_of_service", ("fire", "structural"), 72.0, ()),
    (9, "moderate", "degraded", (), 4.0, ()),
]
FACILITIES = 10
# Roughly what share of customers has no supply, by DAMAGE index (degraded reports only; the others say nothing).
SHARE_OUT = {4: 0.3, 17: 0.25}
# Work crews hold, by facility rank: (crew, repair under way). Crew A is the demo crew's account.
WORK = {5: ("Crew A", True), 7: ("Crew B", False)}
# Two reports of one pole-mounted transformer at a site missing from the registry: two cases 40 m apart,
# which the case page then suggests as duplicates.
UNREGISTERED = [(-6.2390, 53.3330, "severe", "first crew"), (-6.2385, 53.3332, "severe", "second crew")]
PHOTO_REPORTS = (0, 3, 7)


def report_ids() -> list[str]:
    """Every report id of the scenario (fixed, so loading twice stores each report once)."""
    return [str(uuid.uuid5(NAMESPACE, f"report-{i}")) for i in range(len(DAMAGE) + len(UNREGISTERED))]


def _png(rgb: tuple[int, int, int]) -> bytes:
    """A small solid-colour PNG to stand in for a photo."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    size = 32
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def load() -> dict[str, int]:
    """Store the scenario's reports through the normal matching; return how many were new."""
    ids = report_ids()
    now = datetime.now(UTC)
    created = 0
    with db.connection() as conn:
        facilities = repo.demo_facilities(conn, prefix="dublin:", limit=FACILITIES)
        if not facilities:
            raise click.ClickException("the Dublin demo region is not loaded: run `flask --app app load-demo`")
        crew = users.get_by_name(conn, DEMO_CREW)
        reporter = crew["id"] if crew else None
        done = repo.existing_reports(conn, ids)
        items: list[ReportIn] = []
        for i, (rank, severity, status, hazards, hours, components) in enumerate(DAMAGE):
            site = facilities[rank % len(facilities)]
            items.append(ReportIn(
                id=uuid.UUID(ids[i]), facility_id=site["id"] if i % 3 else None, case_id=None,
                lon=site["lon"] + 0.0004 * (i % 3), lat=site["lat"] + 0.0002 * (i % 2), accuracy_m=8.0,
                observed_at=now - timedelta(hours=len(DAMAGE) - i), kind=site["kind"], severity=severity,
                status=status, components=(), hazards=hazards, repair_hours=hours, crew_size=3 if hours else None,
                materials=None, notes=f"[DEMO] {severity} damage at {site['name']}"
                + (f"; {', '.join(hazards)}" if hazards else "") + (f"; parts: {', '.join(components)}"
                                                                   if components else ""),
                progress=None, share_out=SHARE_OUT.get(i)))
        for j, (lon, lat, severity, who) in enumerate(UNREGISTERED):
            items.append(ReportIn(
                id=uuid.UUID(ids[len(DAMAGE) + j]), facility_id=None, case_id=None, lon=lon, lat=lat,
                accuracy_m=15.0, observed_at=now - timedelta(minutes=30 - 10 * j), kind="transformer",
                severity=severity, status="out_of_service", components=(), hazards=("live_wires",),
                repair_hours=None, crew_size=None, materials=None,
                notes=f"[DEMO] pole-mounted transformer down, not in the registry ({who})", progress=None))
        case_of_rank: dict[int, int] = {}
        for i, item in enumerate(items):
            if str(item.id) in done:
                continue
            stored = store_report(conn, item, reporter_id=reporter,
                                  match_distance_m=current_app.config["MATCH_DISTANCE_M"])
            if i < len(DAMAGE):
                case_of_rank[DAMAGE[i][0]] = int(stored.row["case_id"])
            created += 1
            if i in PHOTO_REPORTS:
                store_photo(conn, report_id=str(item.id), photo_id=str(uuid.uuid5(NAMESPACE, f"photo-{i}")),
                            content_type="image/png", data=_png((180, 40 + 20 * i, 40)), owner_id=None)
        _hold(conn, case_of_rank, account=DEMO_CREW if crew else None)
    return {"reports": len(items), "created": created}


def _hold(conn: Conn, case_of_rank: dict[int, int], *, account: str | None) -> None:
    """Give the scenario's work in progress to its crews (only for cases this load opened): a repair under way
    for Crew A (the demo crew's account, which then sees it under My work) and an assignment for Crew B."""
    for rank, (crew, under_way) in WORK.items():
        case_id = case_of_rank.get(rank)
        if case_id is None:
            continue
        actions = [Action("assign", crew=crew, crew_account=account if crew == "Crew A" else None,
                          reason="[DEMO] dispatched")]
        if under_way:
            actions.append(Action("start_repair", reason="[DEMO] crew on site"))
        for action in actions:
            apply(conn, case_id, action, actor_id=None)


def clear() -> dict[str, int]:
    """Remove the scenario's reports, photos, events and the cases they opened."""
    with db.connection() as conn:
        return repo.delete_reports_and_their_cases(conn, report_ids())


@click.command("demo-scenario")
@click.option("--clear", "remove", is_flag=True, help="remove the demo scenario instead of loading it")
@with_appcontext
def demo_scenario_command(remove: bool) -> None:
    """Load (or with --clear remove) a labelled demo damage scenario on the Dublin demo region."""
    if remove:
        done = clear()
        click.echo(f"demo scenario removed: {done['reports']} reports, {done['photos']} photos, "
                   f"{done['cases']} cases, {done['events']} events")
        return
    result = load()
    click.echo(f"demo scenario: {result['created']} of {result['reports']} [DEMO] reports stored "
               f"({result['reports'] - result['created']} were already there)")
