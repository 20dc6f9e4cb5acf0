"""The coordinator map: the /map page and the /api/map/* layers (clustered in the database), filters and changes."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from flask_babel import gettext

from app import db
from app.auth.access import requires
from app.errors import BadParameter
from app.parse import parse_bbox, parse_choices, parse_int, parse_time
from app.repo import map as repo
from app.site import tiles
from app.site.labels import code_label
from geo import taxonomy
from geo.taxonomy import CASE_STATUSES, FACILITY_KINDS, HAZARDS, SEVERITIES

bp = Blueprint("coordinator", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/map")

WORLD_M = 40_075_016.686  # the Web-Mercator world's width in metres
CELL_PX = 64  # one cluster per cell of this many screen pixels
POINT_ZOOM = 17  # from this zoom on every point is drawn on its own (coincident points still count together)
MAX_CELLS = 10_000
MAX_ZOOM = 22


def cell_m(zoom: int) -> float:
    """The grid cell size in EPSG:3857 metres for a zoom level (a tiny cell at high zoom: points one by one)."""
    return 0.01 if zoom >= POINT_ZOOM else WORLD_M / (256 * 2**zoom) * CELL_PX


def _choices(name: str, allowed: tuple[str, ...]) -> list[str] | None:
    values = parse_choices(request.args.getlist(name), name=name, allowed=allowed)
    return list(values) if values is not None else None


def _filters() -> dict[str, Any]:
    """The bbox, zoom and filters of a layer request as SQL parameters, or a 400 naming the parameter."""
    bbox = parse_bbox(request.args.get("bbox"))
    if request.args.get("zoom") in (None, ""):
        raise BadParameter({"zoom": "is required (an integer 0-22)"})
    zoom = parse_int(request.args.get("zoom"), name="zoom", low=0, high=MAX_ZOOM, default=0)
    since = parse_time(request.args.get("since"), name="since")
    until = parse_time(request.args.get("until"), name="until")
    if since and until and until <= since:
        raise BadParameter({"until": "must be later than since"})
    return {"bbox": bbox, "zoom": zoom, "cell_m": cell_m(zoom), "max_cells": MAX_CELLS,
            "status": _choices("status", CASE_STATUSES), "kind": _choices("kind", FACILITY_KINDS),
            "severity": _choices("severity", SEVERITIES), "hazard": _choices("hazard", HAZARDS),
            "since": since, "until": until}


def _geojson(body: str) -> Response:
    return Response(body, mimetype="application/geo+json")


# The codes the map's scripts show, by vocabulary (app.site.labels): codes in English, labels in other languages.
SHOWN_CODES = {"status": taxonomy.CASE_STATUSES, "kind": taxonomy.FACILITY_KINDS, "severity": taxonomy.SEVERITIES,
               "hazard": taxonomy.HAZARDS, "operational": taxonomy.OPERATIONAL_STATUSES,
               "crew_status": taxonomy.CREW_STATUSES, "skill": taxonomy.CREW_SKILLS,
               "access": (*taxonomy.ACCESS_STATES, "open"), "site_kind": taxonomy.SITE_KINDS}


def _messages() -> dict[str, str]:
    """Every string the map's scripts show, translated for the request's locale ("%(name)s" filled in by t())."""
    return {
        # Layers, legends and the map's status line.
        "layerCases": gettext("Damage cases"), "layerReports": gettext("Reports"),
        "layerFacilities": gettext("Facilities"), "layerServiceAreas": gettext("Service areas"),
        "layerCriticalSites": gettext("Critical sites"), "layerBoundary": gettext("Study boundary"),
        "layerCrews": gettext("Crews"), "legend": gettext("Legend"),
        "zoomIn": gettext("Zoom in"), "zoomOut": gettext("Zoom out"),
        "legendStatus": gettext("Case colour: status"), "legendRank": gettext("Case colour: triage rank"),
        "rankFirst": gettext("first in the queue"), "rankLast": gettext("last in the queue"),
        "notQueued": gettext("not in the queue"),
        "legendSize": gettext("Case size: population affected"),
        "legendClusters": gettext("Clusters: number of cases or reports there (click to zoom in)"),
        "clusterCases": gettext("%(n)s cases"), "clusterReports": gettext("%(n)s reports"),
        "legendCrews": gettext("Crews by status (dashed: at base, no position reported)"),
        "legendSites": gettext("Critical sites"), "noCriticalSites": gettext("No critical sites loaded."),
        "criticalSitesCount": gettext("Critical sites: %(n)s"),
        "status": gettext("%(cases)s cases, %(queued)s in the queue"),
        "loadFailed": gettext("Could not load the map: %(reason)s"), "offline": gettext("Offline? %(reason)s"),
        # Exports.
        "export": gettext("Export"), "exportInView": gettext("The filtered cases and reports in the map view."),
        "exportEverywhere": gettext("The filtered cases and reports everywhere (tick “Only cases in the map view” "
                                    "for the view only)."),
        # Popups.
        "case": gettext("Case %(id)s"), "caseNamed": gettext("Case %(id)s: %(name)s"),
        "noFacility": gettext("(no registered facility)"),
        "caseFacts": gettext("%(kind)s, %(status)s, worst severity %(severity)s"),
        "operational": gettext("%(status)s: %(source)s; without power now %(people)s"),
        "affected": gettext("population affected %(people)s; reports: %(reports)s"),
        "hazards": gettext("hazards: %(list)s"), "noHazards": gettext("no hazards reported"),
        "queueRank": gettext("queue rank %(rank)s"), "report": gettext("Report %(id)s"),
        "reportFacts": gettext("%(kind)s, %(severity)s, %(status)s; received %(time)s"),
        "facilityFacts": gettext("%(kind)s; population served %(people)s"), "unknown": gettext("unknown"),
        "serviceArea": gettext("Service area of %(facility)s"),
        "siteFacts": gettext("%(kind)s, weight %(weight)s people-equivalents"),
        "crewAt": gettext("last reported at %(time)s"), "crewAtBase": gettext("at base (no report yet)"),
        "crewStatus": gettext("status: %(status)s"),
        "crewSkills": gettext("skills: %(skills)s; shift %(start)s–%(end)s %(zone)s"),
        "noSkills": gettext("none given"), "onShift": gettext(" (on shift now)"),
        "crewAccounts": gettext("accounts: %(list)s"), "noAccounts": gettext("no accounts"),
        # The repair queue.
        "repairHours": gettext("%(hours)s h repair (%(source)s)"), "defaultBadge": gettext("default"),
        "criticalSites": gettext("critical sites: %(list)s"),
        "serves": gettext("serves %(served)s; restored now %(now)s, with blockers %(blockers)s; "),
        "access": gettext("access: %(state)s (%(source)s)"), "accessExpected": gettext(", expected %(time)s"),
        "materials": gettext("; waiting for materials until %(time)s"),
        "queueOperational": gettext("%(status)s (%(source)s); without power now %(people)s"),
        "checkEstimate": gettext("check estimate: %(flag)s"), "blockedBy": gettext("blocked by: %(list)s"),
        "supplyingGroup": gettext("Damaged, still supplying everyone: repairing these restores nobody now"),
        # The plan of anonymous crews.
        "hours": gettext("%(h)s h"), "chartHours": gettext("hours from now"),
        "chartPeople": gettext("people with power back"), "chartPlan": gettext("plan"),
        "chartNaive": gettext("naive (by population served)"), "crewNumber": gettext("Crew %(n)s"),
        "heldInRepair": gettext(" · in repair"), "heldAssigned": gettext(" · assigned"),
        "planJob": gettext("%(start)s–%(finish)s h, ETR %(etr)s h"), "planning": gettext("Planning…"),
        "planSummary": gettext("People-hours without power: plan %(plan)s, naive %(naive)s, "
                               "lower bound %(bound)s."),
        "planBetterWeighted": gettext("Weighted by critical sites and priority bumps, the plan is %(share)s "
                                      "better than the naive order."),
        "planBetter": gettext("The plan is %(share)s better than the naive order."),
        "planFailed": gettext("Could not plan: %(reason)s"),
        # The plan of named crews.
        "never": gettext("never"), "newInPlan": gettext("%(case)s is new in the plan, for %(crew)s"),
        "caseWithName": gettext("Case %(id)s (%(name)s)"),
        "moved": gettext("%(case)s moved from %(from)s to %(to)s"),
        "slipped": gettext("%(case)s: ETR slipped from %(from)s to %(to)s"),
        "slippedBy": gettext(" (%(h)s h later)"),
        "arrive": gettext("arrive %(time)s"), "start": gettext("start %(time)s"), "finish": gettext("finish %(time)s"),
        "etr": gettext("ETR %(etr)s (P50–P90 %(p50)s–%(p90)s)"), "waitAccess": gettext("access: %(state)s"),
        "notBefore": gettext("not before %(time)s"), "nowStatus": gettext("now %(status)s"),
        "noWork": gettext("no work in this plan"), "optimal": gettext("Proven optimal"),
        "notOptimal": gettext("Not proven optimal"), "aboveBound": gettext(", %(share)s above the lower bound"),
        "naiveOrder": gettext(" (naive order %(phu)s)"),
        "quality": gettext("%(proven)s%(bound)s. People-hours without power: %(phu)s%(naive)s."),
        "noCrews": gettext("No crews yet: add them on the crews page."),
        "computed": gettext("Last computed %(time)s"), "andMore": gettext("and %(n)s more"),
        "sincePrevious": gettext("Since the previous plan: "),
        "noChanges": gettext("no case moved to another crew and no ETR slipped by more than an hour."),
        "tickCrew": gettext("Tick at least one crew."), "dispatching": gettext("Dispatching…"),
        "dispatchFailed": gettext("Could not dispatch: %(reason)s"),
        "assigned": gettext("Case %(id)s → %(crew)s, job %(order)s"),
        "withAccount": gettext(" (account %(account)s)"), "noAccount": gettext(" (no account)"),
        "kept": gettext("Case %(id)s kept by %(crew)s (%(status)s)"), "itsCrew": gettext("its crew"),
        "dispatched": gettext("Dispatched at %(time)s: %(n)s case(s) assigned"),
        "keptNote": gettext("Work under way stays with its crew:"),
        "replanFailed": gettext("Could not re-plan: %(reason)s"),
        "crewsFailed": gettext("Could not load the crews: %(reason)s"),
    }


def page_config() -> dict[str, Any]:
    """What the map's scripts need, as one JSON object: translated messages and code labels, the base map."""
    return {"messages": _messages(),
            "labels": {name: {code: code_label(code, name) for code in codes} for name, codes in SHOWN_CODES.items()},
            "baseMap": tiles.base_map_settings()}


@bp.get("/map")
@requires("coordinator")
def map_page() -> str:
    """Coordinator and up: the map with damage, reports and reference layers, the repair queue and the plan."""
    return render_template("coordinator/map.html", map_config=page_config(),
                           statuses=CASE_STATUSES, kinds=FACILITY_KINDS, severities=SEVERITIES, hazards=HAZARDS)


@bp.get("/api/map/reports")
@requires("coordinator")
def map_reports() -> Response:
    """Coordinator and up: reports in `bbox` at `zoom`, clustered on a grid, filtered; GeoJSON with counts."""
    params = _filters()
    with db.read_connection() as conn:
        return _geojson(repo.reports(conn, params))


@bp.get("/api/map/cases")
@requires("coordinator")
def map_cases() -> Response:
    """Coordinator and up: damage cases in `bbox` at `zoom`, clustered, filtered; GeoJSON with population."""
    params = _filters()
    with db.read_connection() as conn:
        return _geojson(repo.cases(conn, params))


@bp.get("/api/map/case-index")
@requires("coordinator")
def map_case_index() -> Response:
    """Coordinator and up: every case matching the filters (place, status, worst severity), for the queue."""
    request_args = _filters()
    with db.read_connection() as conn:
        body = repo.case_index(conn, request_args)
    return Response(body, mimetype="application/json")


@bp.get("/api/map/service-areas")
@requires("coordinator")
def map_service_areas() -> Response:
    """Coordinator and up: service areas in `bbox`, simplified to about one screen pixel at `zoom`."""
    params = _filters()
    params["tolerance_deg"] = 360 / (256 * 2 ** params["zoom"])
    with db.read_connection() as conn:
        return _geojson(repo.service_areas(conn, params))


@bp.get("/api/map/critical-sites")
@requires("coordinator")
def map_critical_sites() -> Response:
    """Coordinator and up: the critical sites as GeoJSON."""
    with db.read_connection() as conn:
        return _geojson(repo.critical_sites(conn))


@bp.get("/api/map/boundary")
@requires("coordinator")
def map_boundary() -> Response:
    """Coordinator and up: the study boundary as GeoJSON."""
    with db.read_connection() as conn:
        return _geojson(repo.boundary(conn))


@bp.get("/api/map/changes")
@requires("coordinator")
def map_changes() -> Response:
    """Coordinator and up: the change cursor; 304 when it equals `since` or the If-None-Match ETag."""
    with db.read_connection() as conn:
        cursor = hashlib.sha256(repo.cursor(conn).encode()).hexdigest()[:20]
    etag = f'"{cursor}"'
    if request.args.get("since") == cursor or etag in request.headers.get("If-None-Match", ""):
        response = Response(status=304)
    else:
        response = jsonify({"cursor": cursor, "changed": request.args.get("since") is not None})
    response.headers["ETag"] = etag
    return response
