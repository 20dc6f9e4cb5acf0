"""Labels for the vocabulary's codes (geo.taxonomy, geo.workflow), shared by the field form and the desk pages.

Written out as literal lazy_gettext calls so that pybabel finds every one of them.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext, lazy_gettext

KIND_LABELS = {
    "power_plant": lazy_gettext("Power plant"),
    "chp_plant": lazy_gettext("CHP plant"),
    "heat_plant": lazy_gettext("Heat plant"),
    "substation": lazy_gettext("Substation"),
    "transformer": lazy_gettext("Transformer"),
    "line": lazy_gettext("Line"),
    "gas_facility": lazy_gettext("Gas facility"),
    "other": lazy_gettext("Other"),
}
SEVERITY_LABELS = {
    "minor": lazy_gettext("Minor"),
    "moderate": lazy_gettext("Moderate"),
    "severe": lazy_gettext("Severe"),
    "destroyed": lazy_gettext("Destroyed"),
}
OPERATIONAL_LABELS = {
    "operating": lazy_gettext("Operating"),
    "degraded": lazy_gettext("Degraded"),
    "out_of_service": lazy_gettext("Out of service"),
}
HAZARD_LABELS = {
    "uxo": lazy_gettext("Unexploded ordnance"),
    "fire": lazy_gettext("Fire"),
    "structural": lazy_gettext("Structural collapse risk"),
    "live_wires": lazy_gettext("Live wires"),
    "access_blocked": lazy_gettext("Access blocked"),
}
# The field form's one table of kinds, severities, operational statuses and hazards.
LABELS = {**KIND_LABELS, **SEVERITY_LABELS, **OPERATIONAL_LABELS, **HAZARD_LABELS}
# A follow-up report's progress (geo.taxonomy.PROGRESS).
PROGRESS_LABELS = {
    "repair_started": lazy_gettext("Repair started"),
    "temporarily_restored": lazy_gettext("Temporarily restored"),
    "restored": lazy_gettext("Restored"),
}
# The open statuses (under "My work"), then every status of a damage case.
CASE_STATUS_LABELS = {
    "reported": lazy_gettext("Reported"),
    "confirmed": lazy_gettext("Confirmed"),
    "assigned": lazy_gettext("Assigned"),
    "in_repair": lazy_gettext("In repair"),
    "temporarily_restored": lazy_gettext("Temporarily restored"),
}
ALL_CASE_STATUS_LABELS = {
    **CASE_STATUS_LABELS,
    "repaired": lazy_gettext("Repaired"),
    "rejected": lazy_gettext("Rejected"),
    "duplicate": lazy_gettext("Duplicate"),
}
CREW_STATUS_LABELS = {
    "available": lazy_gettext("Available"),
    "en_route": lazy_gettext("En route"),
    "on_site": lazy_gettext("On site"),
    "off_shift": lazy_gettext("Off shift"),
}
CREW_SKILL_LABELS = {
    "line": lazy_gettext("lines"),
    "substation": lazy_gettext("substations"),
    "generation": lazy_gettext("generation"),
    "hv": lazy_gettext("high voltage"),
}
ACCESS_LABELS = {
    "needs_clearance": lazy_gettext("needs clearance"),
    "cleared": lazy_gettext("cleared"),
    "blocked": lazy_gettext("blocked"),
    "open": lazy_gettext("open"),
    "from_hazards": lazy_gettext("as the reported hazards say"),
}
# The kinds of critical sites (geo.taxonomy.SITE_KINDS).
SITE_KIND_LABELS = {
    "hospital": lazy_gettext("Hospital"),
    "water_pumping": lazy_gettext("Water pumping station"),
    "wastewater_pumping": lazy_gettext("Wastewater pumping station"),
    "heat_plant": lazy_gettext("Heat plant"),
    "shelter": lazy_gettext("Shelter"),
    "telecom": lazy_gettext("Telecom site"),
    "other": lazy_gettext("Other"),
}
# How a facility's population was computed (geo.taxonomy.POPULATION_METHODS).
METHOD_LABELS = {
    "point_sum": lazy_gettext("points summed"),
    "areal_weighting": lazy_gettext("areal weighting of census areas"),
    "raster_exact": lazy_gettext("exact sum over a raster"),
    "given": lazy_gettext("given"),
}
ROLE_LABELS = {"crew": lazy_gettext("crew"), "coordinator": lazy_gettext("coordinator"), "admin": lazy_gettext("admin")}
# What an event of a case, a crew or an account did (case_event.action, audit actions).
EVENT_LABELS = {
    "opened": lazy_gettext("opened"),
    "report_added": lazy_gettext("report added"),
    "status_changed": lazy_gettext("status changed"),
    "progress_not_applied": lazy_gettext("progress not applied"),
    "confirm": lazy_gettext("confirmed"),
    "reject": lazy_gettext("rejected"),
    "assign": lazy_gettext("assigned"),
    "release": lazy_gettext("released"),
    "start_repair": lazy_gettext("repair started"),
    "temporarily_restore": lazy_gettext("temporarily restored"),
    "repaired": lazy_gettext("repaired"),
    "override_hours": lazy_gettext("repair hours overridden"),
    "accept_hours": lazy_gettext("crew's estimate accepted"),
    "set_operational_status": lazy_gettext("operational status set"),
    "set_access": lazy_gettext("access set"),
    "set_materials": lazy_gettext("materials set"),
    "bump_priority": lazy_gettext("priority raised"),
    "merge": lazy_gettext("merged"),
    "merged_into": lazy_gettext("merged into"),
    "unmerge": lazy_gettext("merge undone"),
    "unmerged_from": lazy_gettext("taken out of"),
    "created": lazy_gettext("created"),
    "changed": lazy_gettext("changed"),
    "unchanged": lazy_gettext("unchanged"),
    "position_reported": lazy_gettext("position reported"),
    "role_changed": lazy_gettext("role changed"),
    "deactivated": lazy_gettext("deactivated"),
    "activated": lazy_gettext("reactivated"),
    "password_reset": lazy_gettext("password reset"),
    "password_changed": lazy_gettext("password changed"),
    "tokens_revoked": lazy_gettext("API tokens revoked"),
    "token_created": lazy_gettext("API token created"),
}
# The case page's buttons, one for each action of geo.workflow.
ACTION_LABELS = {
    "confirm": lazy_gettext("Confirm"),
    "reject": lazy_gettext("Reject"),
    "assign": lazy_gettext("Assign"),
    "release": lazy_gettext("Release"),
    "start_repair": lazy_gettext("Mark in repair"),
    "temporarily_restore": lazy_gettext("Temporarily restored"),
    "repaired": lazy_gettext("Repaired"),
    "override_hours": lazy_gettext("Override repair hours"),
    "accept_hours": lazy_gettext("Accept the crew's estimate"),
    "set_operational_status": lazy_gettext("Set operational status"),
    "set_access": lazy_gettext("Set access"),
    "set_materials": lazy_gettext("Set materials"),
    "bump_priority": lazy_gettext("Raise priority"),
    "merge": lazy_gettext("Merge into this case"),
    "unmerge": lazy_gettext("Undo the merge"),
}
# The reasons the system itself writes into the history (not a person's words, which are shown as written).
SYSTEM_REASONS = {
    "first report on this facility": lazy_gettext("first report on this facility"),
    "report at a site with no registered facility nearby": lazy_gettext(
        "report at a site with no registered facility nearby"),
    "command line": lazy_gettext("command line"),
    "created by an admin": lazy_gettext("created by an admin"),
    "crews page": lazy_gettext("crews page"),
    "set by the crew": lazy_gettext("set by the crew"),
    "set by the crew on site": lazy_gettext("set by the crew on site"),
    "changed by the user": lazy_gettext("changed by the user"),
}
# The fields an account's or a crew's history shows before and after a change.
FIELD_LABELS = {
    "username": lazy_gettext("user name"),
    "role": lazy_gettext("role"),
    "active": lazy_gettext("active"),
    "label": lazy_gettext("label"),
    "password": lazy_gettext("password"),
    "tokens_revoked": lazy_gettext("API tokens revoked"),
    "status": lazy_gettext("status"),
    "name": lazy_gettext("name"),
    "base": lazy_gettext("base (longitude, latitude)"),
    "lon": lazy_gettext("longitude"),
    "lat": lazy_gettext("latitude"),
    "skills": lazy_gettext("skills"),
    "shift_start": lazy_gettext("shift start"),
    "shift_end": lazy_gettext("shift end"),
    "time_zone": lazy_gettext("time zone"),
    "members": lazy_gettext("members"),
    "position": lazy_gettext("position"),
    "position_at": lazy_gettext("position at"),
}
# The case page's form fields, as its error list names them.
FORM_FIELD_LABELS = {
    "action": lazy_gettext("action"), "reason": lazy_gettext("reason"), "crew": lazy_gettext("crew"),
    "crew_account": lazy_gettext("crew account"), "operational_status": lazy_gettext("operational status"),
    "share_out": lazy_gettext("share without supply"), "access_state": lazy_gettext("access"),
    "expected_at": lazy_gettext("clearance expected"), "materials_until": lazy_gettext("materials due"),
    "hours": lazy_gettext("repair hours"), "bump": lazy_gettext("priority bump"),
    "duplicate_id": lazy_gettext("case to merge"), "csrf_token": lazy_gettext("security token"),
}
# The values of those fields that are codes, by field (lists of codes too).
FIELD_VOCABULARIES = {"role": "role", "status": "crew_status", "skills": "skill"}
VOCABULARIES: dict[str, dict[str, Any]] = {
    "kind": KIND_LABELS,
    "severity": SEVERITY_LABELS,
    "operational": OPERATIONAL_LABELS,
    "hazard": HAZARD_LABELS,
    "progress": PROGRESS_LABELS,
    "status": ALL_CASE_STATUS_LABELS,
    "crew_status": CREW_STATUS_LABELS,
    "skill": CREW_SKILL_LABELS,
    "access": ACCESS_LABELS,
    "site_kind": SITE_KIND_LABELS,
    "role": ROLE_LABELS,
    "event": EVENT_LABELS,
    "action": ACTION_LABELS,
    "form_field": FORM_FIELD_LABELS,
}


def label(code: object, table: dict[str, Any]) -> str:
    """The translated label of a code, or the code with spaces for underscores when the table has none."""
    text = "" if code is None else str(code)
    return str(table.get(text, text.replace("_", " ")))


def vocabulary_label(code: object, vocabulary: str) -> str:
    """The translated label of a code of one of VOCABULARIES ("status", "kind", ...)."""
    return label(code, VOCABULARIES[vocabulary])


def code_label(code: object, vocabulary: str, *, spaced: bool = False) -> str:
    """A code as the pages show it: the vocabulary's label in the request's language ("In repair" for in_repair,
    "У ремонті" in Ukrainian), never the raw code. `spaced` is kept for callers of the time codes were shown."""
    del spaced
    return label(code, VOCABULARIES[vocabulary])


# The reasons the system writes with data in them (app/crews/service.py, app/reports/service.py,
# app/coordinator/dispatching.py, app/imports/crews.py), matched whole; the data is said as it is.
_FIELD_REPORT = re.compile(r"field report (?P<report>[\w-]+)")
_FIELD_PROGRESS = re.compile(r"field report: (?P<progress>[a-z_]+)(?P<unassigned>, from a crew the case is not "
                             r"assigned to)?")
_DISPATCHED = re.compile(r"dispatched: job (?P<position>\d+) of (?P<jobs>\d+) for (?P<crew>.+)")
_IMPORT_CREWS = re.compile(r"import-crews (?P<file>.+)")


def _templated_reason(said: str) -> str | None:
    """A system reason with data in it, in the request's language; None for any other text."""
    text: object = None
    if found := _FIELD_REPORT.fullmatch(said):
        text = gettext("field report %(report)s", report=found["report"])
    elif (found := _FIELD_PROGRESS.fullmatch(said)) and found["progress"] in PROGRESS_LABELS:
        progress = str(PROGRESS_LABELS[found["progress"]]).lower()
        text = (gettext("field report: %(progress)s, from a crew the case is not assigned to", progress=progress)
                if found["unassigned"] else gettext("field report: %(progress)s", progress=progress))
    elif found := _DISPATCHED.fullmatch(said):
        text = gettext("dispatched: job %(position)s of %(jobs)s for %(crew)s", position=found["position"],
                       jobs=found["jobs"], crew=found["crew"])
    elif found := _IMPORT_CREWS.fullmatch(said):
        text = gettext("crews imported from %(file)s", file=found["file"])
    return None if text is None else str(text)


def reason(text: object) -> str:
    """A reason from the history: the system's own in the request's language, a person's as written."""
    said = "" if text is None else str(text)
    if said in SYSTEM_REASONS:
        return str(SYSTEM_REASONS[said])
    return _templated_reason(said) or said


def changes(values: object) -> str:
    """The fields of a change ({"role": "crew", "active": true}) in words: "role: crew; active: yes"."""
    if not isinstance(values, dict):
        return "" if values is None else str(values)
    said = []
    for key, value in values.items():
        if isinstance(value, bool):
            shown = str(lazy_gettext("yes") if value else lazy_gettext("no"))
        elif value is None:
            shown = "–"
        elif key in FIELD_VOCABULARIES and isinstance(value, list):
            shown = ", ".join(vocabulary_label(v, FIELD_VOCABULARIES[key]) for v in value)
        elif key in FIELD_VOCABULARIES:
            shown = vocabulary_label(value, FIELD_VOCABULARIES[key])
        elif isinstance(value, list):
            shown = ", ".join("–" if v is None else str(v) for v in value)
        elif key == "password" and value == "reset":
            shown = str(lazy_gettext("reset"))
        else:
            shown = str(value)
        said.append(f"{label(key, FIELD_LABELS)}: {shown}")
    return "; ".join(said)
