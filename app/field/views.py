"""The crew's field form at /field: the page, its service worker (offline app shell) and its web app manifest."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, make_response, render_template, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user

from app import db
from app.auth.access import public, requires
from app.repo import regions as region_repo
from app.reports import batch
from app.site import tiles
from app.site.labels import CASE_STATUS_LABELS, CREW_STATUS_LABELS, LABELS, PROGRESS_LABELS
from geo import taxonomy
from geo.repair_hours import MIN_REPAIR_HOURS
from geo.taxonomy import OPEN_CASE_STATUSES, PROGRESS

bp = Blueprint("field", __name__, template_folder="templates", static_folder="static", static_url_path="/static/field")

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
STATIC_FIELD = HERE / "static"
# Leaflet's files the pin map needs offline (the pin is a CSS icon, so no marker images).
LEAFLET_FILES = ("leaflet.js", "leaflet.css")

# A degraded facility's share of customers without supply, in steps a crew can tap with gloves on (sent as 0-1);
# "not known" sends nothing, and the triage then uses its documented default.
SHARE_OUT_CHOICES = (
    ("", lazy_gettext("Not known")), ("0.25", lazy_gettext("about 25 %")), ("0.5", lazy_gettext("about 50 %")),
    ("0.75", lazy_gettext("about 75 %")), ("1", lazy_gettext("All")),
)
COMPONENT_LABELS = {
    "turbine": lazy_gettext("turbine"), "generator": lazy_gettext("generator"), "boiler": lazy_gettext("boiler"),
    "step_up_transformer": lazy_gettext("step-up transformer"), "switchyard": lazy_gettext("switchyard"),
    "cooling": lazy_gettext("cooling"), "fuel_supply": lazy_gettext("fuel supply"),
    "control_room": lazy_gettext("control room"), "building": lazy_gettext("building"),
    "heat_exchanger": lazy_gettext("heat exchanger"), "district_heating_pump": lazy_gettext("district heating pump"),
    "pipework": lazy_gettext("pipework"), "transformer": lazy_gettext("transformer"),
    "breaker": lazy_gettext("circuit breaker"), "disconnector": lazy_gettext("disconnector"),
    "busbar": lazy_gettext("busbar"), "protection_relay": lazy_gettext("protection relay"),
    "scada": lazy_gettext("SCADA / telemetry"), "cable": lazy_gettext("cable"), "fence": lazy_gettext("fence"),
    "windings": lazy_gettext("windings"), "bushing": lazy_gettext("bushing"),
    "tap_changer": lazy_gettext("tap changer"), "oil_tank": lazy_gettext("oil tank"),
    "tower": lazy_gettext("tower"), "pole": lazy_gettext("pole"), "conductor": lazy_gettext("conductor"),
    "insulator": lazy_gettext("insulator"), "crossarm": lazy_gettext("crossarm"),
    "earth_wire": lazy_gettext("earth wire"), "compressor": lazy_gettext("compressor"),
    "valve": lazy_gettext("valve"), "metering": lazy_gettext("metering"), "other": lazy_gettext("other"),
}


def _label(code: str, table: dict[str, Any]) -> str:
    return str(table.get(code, code.replace("_", " ")))


def _messages() -> dict[str, str]:
    """Every string the scripts show, translated for the request's locale."""
    return {
        "waiting": gettext("waiting"), "sending": gettext("sending…"), "sent": gettext("sent"),
        "rejected": gettext("rejected"),
        "caseReceipt": gettext("case %(case)s, received %(time)s"),
        "caseReceiptNamed": gettext("case %(case)s (%(name)s), received %(time)s"),
        "facilityNumber": gettext("facility no. %(id)s"),
        "photosProgress": gettext("photos: %(sent)s of %(total)s sent"),
        "photoRejected": gettext("photo %(n)s rejected: %(reason)s"),
        "nextTry": gettext("next try %(time)s"),
        "noReports": gettext("No reports yet."),
        "outboxWaiting": gettext("Outbox: %(n)s waiting to be sent"),
        "otherAccounts": gettext("Reports of another account wait on this phone until they sign in: %(n)s"),
        "gpsWaiting": gettext("Waiting for GPS…"), "gpsAccuracy": gettext("GPS: ± %(m)s m"),
        "gpsPoor": gettext("GPS accuracy is poor (± %(m)s m): move to open sky, or set a pin on the map."),
        "gpsDenied": gettext("GPS is not available: %(reason)s. Set a pin on the map or pick a facility."),
        # The browser's GeolocationPositionError codes 1-3; its own message is in the browser's language.
        "gpsRefused": gettext("the phone or the browser refused access to the location"),
        "gpsUnavailable": gettext("no position could be found"),
        "gpsTimeout": gettext("no position came in time"),
        "gpsUnknown": gettext("the browser gave no reason"),
        "zoomIn": gettext("Zoom in"), "zoomOut": gettext("Zoom out"),
        "pinSet": gettext("Pin set on the map"), "facilityChosen": gettext("Facility: %(name)s"),
        "noFacility": gettext("No facility (location only)"),
        "nearestOffline": gettext("Nearest facilities from the copy saved on this phone."),
        "nearestNone": gettext("No registered facilities nearby."),
        "needLocation": gettext("Set the location: wait for GPS, set a pin, or pick a facility."),
        "needKind": gettext("Choose the facility kind."),
        "needSeverity": gettext("Choose a severity."),
        "needStatus": gettext("Choose a status."),
        "needRepairHours": gettext("Give a repair estimate of at least %(h)s h."),
        "needCrewSize": gettext("Give a crew size of at least 1."),
        "needObservedAt": gettext("Give the date and time of the observation."),
        "observedInFuture": gettext("The observation time is in the future: correct it."),
        "moreToFix": gettext("Other fields to fix are marked."),
        "saved": gettext("Saved in the outbox; it will be sent as soon as there is a network."),
        "sendingReport": gettext("Sending…"),
        "sentReceipt": gettext("Sent: case %(case)s, received %(time)s"),
        "sentReceiptNamed": gettext("Sent: case %(case)s, %(name)s, received %(time)s"),
        "sentNoCase": gettext("Sent, received %(time)s"),
        "rejectedSaved": gettext("The server did not accept the report: see why in the outbox, correct it and send "
                                 "it again."),
        "noBaseMap": gettext("No base map: facilities from the registry on this phone"),
        "registryKept": gettext("Facilities on this phone: %(n)s, updated %(time)s."),
        "registryOffline": gettext("No network: searching the copy on this phone."),
        "registryMissing": gettext("The facility registry is not on this phone yet: it is loaded when the phone is "
                                   "online."),
        "searchNone": gettext("No facility matches “%(query)s”."),
        "myWorkSummary": gettext("My work: %(n)s"),
        "online": gettext("Online"), "offline": gettext("Offline: reports wait in the outbox."),
        "photoFailed": gettext("Could not read this photo: %(reason)s"),
        "removePhoto": gettext("Remove photo"),
        "storageFailed": gettext("Could not save the report on this phone: %(reason)s"),
        "exportEmpty": gettext("The outbox is empty."),
        "signIn": gettext("Sign in to send the waiting reports"),
        "distance": gettext("%(m)s m"), "distanceKm": gettext("%(km)s km"),
        "correct": gettext("Correct and resend"), "beingCorrected": gettext("Being corrected in the form"),
        "discard": gettext("Discard"), "discardYes": gettext("Yes, discard"), "discardNo": gettext("Keep"),
        "discardConfirm": gettext("Discard this report for good? It will not be sent."),
        "restoredLocation": gettext("Location of the rejected report"),
        "alreadyCorrected": gettext("This report was already corrected or discarded in another window. "
                                    "Send the form again to save it as a new report."),
        "myWorkUpdated": gettext("Last refreshed %(time)s"),
        "myWorkNever": gettext("Not loaded yet: the cases assigned to you are loaded when the phone is online."),
        "myWorkEmpty": gettext("No open cases are assigned to you."),
        "myWorkRefreshing": gettext("Refreshing…"),
        "myWorkOffline": gettext("Offline: showing the copy saved on this phone."),
        "myWorkFailed": gettext("Could not refresh (%(reason)s): showing the copy saved on this phone."),
        "myWorkOtherAccount": gettext("Another account is signed in on this phone: reload the page."),
        "workCase": gettext("Case %(case)s: %(name)s"), "unregisteredSite": gettext("unregistered site"),
        "workSeverity": gettext("Worst severity: %(severity)s"), "workHazards": gettext("Hazards: %(list)s"),
        "workCrew": gettext("Crew: %(crew)s"), "workLastEvent": gettext("Last change %(time)s"),
        "workNext": gettext("Next job"), "workOpenMap": gettext("Open in the map app"),
        "workAccess": gettext("Access: %(state)s"),
        "access_needs_clearance": gettext("needs clearance first"), "access_cleared": gettext("cleared"),
        "access_blocked": gettext("blocked"),
        "workReports": gettext("Your reports on this case: %(n)s, the latest %(time)s"),
        "reportProgress": gettext("Report progress"), "followUp": gettext("Follow up"),
        "followUpOn": gettext("Follow-up on case %(case)s: %(name)s"),
        "followUpEntry": gettext("Follow-up on case %(case)s"),
        "crewStatusSaving": gettext("Sending…"),
        "crewStatusSaved": gettext("Crew %(crew)s: %(status)s"),
        "crewStatusNoCrew": gettext("Your account belongs to no crew: ask a coordinator to add it to one."),
        "crewStatusFailed": gettext("Could not set the status (%(reason)s): try again."),
        "crewStatusOffline": gettext("Offline: the status could not be sent; try again when online."),
        "bytes": gettext("%(n)s B"),
        "kilobytes": gettext("%(n)s KB"),
        "megabytes": gettext("%(n)s MB"),
        "tilesStored": gettext("Kept on this phone: %(n)s map tiles, %(size)s (zoom %(from)s–%(to)s), "
                               "from %(time)s."),
        "tilesNone": gettext("No map tiles are kept on this phone."),
        "storageUsed": gettext("This site uses %(used)s of the %(quota)s the browser allows it."),
        "tilesPlanned": gettext("%(n)s tiles, %(size)s to download (zoom %(from)s–%(to)s)."),
        "tilesChecking": gettext("Asking the server…"),
        "tilesProgress": gettext("Storing tile %(done)s of %(total)s…"),
        "tilesDone": gettext("Stored %(n)s tiles (%(size)s): the map works without a network."),
        "tilesDeleted": gettext("The kept map was deleted."),
        "tilesFailed": gettext("Could not keep the map: %(reason)s"),
        "tilesNoArea": gettext("No area yet: the facilities are not on this phone."),
        "tilesNoFile": gettext("The server has no base-map file to keep: the map draws the project's own layers."),
        "tilesNoStorage": gettext("This browser cannot keep files for offline use."),
    }


OFFLINE_TILE_ZOOM = (10, 15)


def _offline_zoom() -> list[int]:
    """The zoom range the offline-map panel proposes: FLASK_OFFLINE_TILE_ZOOM as a JSON pair such as [10, 15]."""
    value = current_app.config.get("OFFLINE_TILE_ZOOM", OFFLINE_TILE_ZOOM)
    if (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value)
            and 0 <= value[0] <= value[1] <= 24):
        return [int(value[0]), int(value[1])]
    logger.error("FLASK_OFFLINE_TILE_ZOOM must be a pair [from, to] of zooms 0-24, got %r: using %r", value,
                 OFFLINE_TILE_ZOOM)
    return list(OFFLINE_TILE_ZOOM)


def page_config() -> dict[str, Any]:
    """What the page's scripts need, as one JSON object: vocabulary with labels, messages, URLs and map settings."""
    kinds = taxonomy.FACILITY_KINDS
    return {
        "kinds": [{"code": k, "label": _label(k, LABELS)} for k in kinds],
        "components": {k: [{"code": c, "label": _label(c, COMPONENT_LABELS)} for c in taxonomy.allowed_components(k)]
                       for k in kinds},
        "messages": _messages(),
        "user": current_user.username,  # whose "My work" the phone keeps
        "labels": {"progress": {k: str(PROGRESS_LABELS[k]) for k in PROGRESS},
                   "caseStatus": {k: str(CASE_STATUS_LABELS[k]) for k in OPEN_CASE_STATUSES},
                   "severity": {k: _label(k, LABELS) for k in taxonomy.SEVERITIES},
                   "hazard": {k: _label(k, LABELS) for k in taxonomy.HAZARDS},
                   "crewStatus": {k: str(CREW_STATUS_LABELS[k]) for k in taxonomy.CREW_STATUSES}},
        "urls": {
            "reports": "/api/reports",
            "reportsBatch": url_for("reports.create_reports_batch"),
            "session": "/api/session",
            "login": "/login",
            "nearest": "/api/facilities/nearest",
            "facilities": url_for("facilities.list_facilities"),
            "myCases": url_for("my_work.my_cases"),
            "crewStatus": url_for("crews.set_my_status"),
            "serviceWorker": url_for("field.service_worker"),
            "scope": url_for("field.form"),
            "tileArea": url_for("site.tile_area"),
            "layers": url_for("field.layers"),
        },
        "baseMap": tiles.base_map_settings(),
        # The zoom range the offline-map panel proposes (the crew may change it within the file's range).
        "offlineZoom": _offline_zoom(),
        "tileUrl": current_app.config["TILE_URL"],
        "tileAttribution": current_app.config["TILE_ATTRIBUTION"],
        "accuracyWarnM": 50,
        # The outbox sends its queue in batches no larger than the server takes (app/reports/batch.py).
        "batchMaxReports": batch.MAX_REPORTS,
        "batchMaxBytes": current_app.config["REPORT_BATCH_MAX_BYTES"],
        "maxNotes": 4000,
        "maxMaterials": 2000,
    }


@bp.get("/field")
@requires("crew")
def form() -> Response:
    """Crew: the mobile damage report form, usable offline once opened."""
    response = make_response(render_template("field/field.html", field_config=page_config(), labels=LABELS,
                                             taxonomy=taxonomy, progress=PROGRESS, progress_labels=PROGRESS_LABELS,
                                             min_repair_hours=MIN_REPAIR_HOURS, share_out_choices=SHARE_OUT_CHOICES,
                                             crew_statuses=taxonomy.CREW_STATUSES,
                                             crew_status_labels=CREW_STATUS_LABELS))
    # One account's page (phones are shared): only the service worker keeps it, which forgets it at sign-out;
    # no HTTP or back-forward cache may show it to the next account.
    response.headers["Cache-Control"] = "no-store"
    return response


def _shell() -> list[str]:
    """The files the service worker keeps so that the form opens with no network (the page itself is kept apart)."""
    urls = [url_for("field.manifest"), url_for("static", filename="css/app.css"),
            url_for("static", filename="js/dom.js")]
    urls += [url_for("field.static", filename=p.name) for p in sorted(STATIC_FIELD.iterdir())
             if p.suffix in (".js", ".css", ".svg") and p.name != "sw.js"]
    urls += [url_for("site.vendor_asset", package="leaflet", filename=f) for f in LEAFLET_FILES]
    return urls


def _shell_version() -> str:
    """A digest of the shell's static files: a new version makes a new service worker and a fresh cache."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_FIELD.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    root = Path(current_app.root_path)
    for shared in ("css/app.css", "js/dom.js"):  # in the shell too (app.css has field styles)
        digest.update((root / "static" / shared).read_bytes())
    for template in (HERE / "templates" / "field" / "field.html", root / "templates" / "base.html"):
        digest.update(template.read_bytes())
    return digest.hexdigest()[:16]


@bp.get("/field/sw.js")
@public
def service_worker() -> Response:
    """The form's service worker, controlling /field (hence the Service-Worker-Allowed header)."""
    tile = url_for("site.tile", z=0, x=0, y=0, fmt="png")
    settings = {"version": _shell_version(), "shell": _shell(), "page": url_for("field.form"), "api": "/api/",
                "tiles": tile.removesuffix("0/0/0.png"), "tileArea": url_for("site.tile_area")}
    body = f"const SETTINGS = {json.dumps(settings)};\n" + (STATIC_FIELD / "sw.js").read_text(encoding="utf-8")
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = url_for("field.form")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/field/manifest.webmanifest")
@public
def manifest() -> Response:
    """The web app manifest, so that crews can add the form to the home screen."""
    body = {
        "name": "GridTriage field report", "short_name": "GridTriage",
        "start_url": url_for("field.form"), "scope": url_for("field.form"), "display": "standalone",
        "background_color": "#ffffff", "theme_color": "#12263a",
        "icons": [{"src": url_for("field.static", filename="icon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }
    return Response(json.dumps(body), mimetype="application/manifest+json")


LAYER_TOLERANCE_DEG = 0.0002  # about 20 m: finer than a phone's map shows at the zooms where areas are seen whole
LAYER_DECIMALS = 5  # about 1 m


@bp.get("/field/layers.json")
@requires("crew")
def layers() -> Response:
    """Crew and up: the regions' boundaries and the service areas, simplified, for the phone's map to draw without a
    base map (the phone keeps the last copy for offline use)."""
    with db.connection() as conn:
        found = region_repo.map_layers(conn, tolerance_deg=LAYER_TOLERANCE_DEG, decimals=LAYER_DECIMALS)
    response = jsonify(found)
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response
