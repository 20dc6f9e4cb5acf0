// Where the report is: the GPS fix, a pin set on the map, or a facility picked from the nearest ones or found by
// name, id or external id in the registry kept on the phone (GPS is often jammed near front lines).
import { $, config, t, el, kindLabels, formatDistance, formatTime, say } from "./page.js";
import { showComponents, unflag } from "./fields.js";
import { PinMap, featureDistanceM, featurePosition, loadFacilities, loadLayers, nearest, watchGps } from "./geo.js";
import { fold, searchFacilities } from "./search.js";
import * as offlineMap from "./offlinemap.js";

const place = { gps: null, pin: null, facility: null };
let caseAt = null; // {lon, lat} of the case while the form holds a follow-up on it
let registry = null; // the facilities FeatureCollection (from the API, or the copy kept on the phone)
let nearestAsked = false;
let lastNearest = null; // {facilities, offline}: the nearest ones, shown again when the search is emptied
const SEARCH_LIMIT = 8;

export function reportLocation() {
  if (place.pin) return { lon: place.pin.lon, lat: place.pin.lat, accuracy_m: place.pin.accuracy_m ?? null };
  if (place.gps) return { lon: place.gps.lon, lat: place.gps.lat, accuracy_m: place.gps.accuracy };
  const at = place.facility && place.facility.position;
  if (at) return { lon: at.lon, lat: at.lat, accuracy_m: null };
  // A follow-up with no GPS, pin or known facility position: where its case is.
  if (caseAt && Number.isFinite(caseAt.lon) && Number.isFinite(caseAt.lat)) {
    return { lon: caseAt.lon, lat: caseAt.lat, accuracy_m: null };
  }
  return null;
}

// The case a follow-up is about ({lon, lat}), or null when the form holds none.
export function setCaseLocation(at) { caseAt = at; }

export function chosenFacility() { return place.facility; }

export function showLocation() {
  const summary = $("loc-summary");
  summary.replaceChildren();
  const where = reportLocation();
  const parts = [];
  if (place.facility) parts.push(t("facilityChosen", { name: place.facility.name }));
  if (place.pin) parts.push(place.pin.restored ? t("restoredLocation") : t("pinSet"));
  if (where) parts.push(`${where.lat.toFixed(5)}, ${where.lon.toFixed(5)}`);
  summary.textContent = parts.join(" · ");
  if (place.pin && place.gps) {
    const back = el("button", { type: "button", class: "link-button", id: "clear-pin", text: "GPS" });
    back.addEventListener("click", () => { place.pin = null; map.clearPin(); unflag("location"); showLocation(); });
    summary.append(" ", back);
  }
  summary.dataset.ready = where ? "true" : "false";
}

// GeolocationPositionError's codes: PERMISSION_DENIED, POSITION_UNAVAILABLE, TIMEOUT.
const GPS_REASONS = { 1: "gpsRefused", 2: "gpsUnavailable", 3: "gpsTimeout" };

const map = new PinMap($("pin-map"), {
  baseMap: config.baseMap,
  noBaseMap: t("noBaseMap"),
  words: { zoomIn: t("zoomIn"), zoomOut: t("zoomOut"), metres: (m) => t("distance", { m }),
           kilometres: (km) => t("distanceKm", { km }) },
  onPin: (at) => { place.pin = at; unflag("location"); showLocation(); findNearest(at); },
  onFacility: (feature) => chooseFacility({ id: feature.id ?? feature.properties.id, name: feature.properties.name,
                                            kind: feature.properties.kind }, true),
});

export function focusMap(lat, lon) { map.focus(lat, lon); }

// Puts the location of a rejected report back as a pin, for the crew to check.
export function restorePin({ lon, lat, accuracy_m }) {
  place.pin = { lon, lat, accuracy_m: accuracy_m ?? null, restored: true };
  map.setPin(lat, lon, false);
  map.focus(lat, lon);
}

function gpsStatus(state, text) {
  const status = $("gps-status");
  status.dataset.state = state;
  status.textContent = text;
}

watchGps((fix) => {
  place.gps = fix;
  const m = Math.round(fix.accuracy);
  if (fix.accuracy > config.accuracyWarnM) gpsStatus("poor", t("gpsPoor", { m }));
  else gpsStatus("good", t("gpsAccuracy", { m }));
  map.showGps(fix);
  showLocation();
  if (!nearestAsked && !place.pin) findNearest(fix);
}, (error) => gpsStatus("error", t("gpsDenied", { reason: t(GPS_REASONS[error.code] ?? "gpsUnknown") })));

function facilityPosition(id) {
  const feature = map.feature(id);
  return feature ? featurePosition(feature) : null;
}

// The facility of that id in the registry, or null when the registry does not know it.
export function registryFacility(id) {
  const feature = map.feature(id);
  return feature ? { id, name: feature.properties.name, kind: feature.properties.kind } : null;
}

export function chooseFacility(facility, fromMap = false) {
  place.facility = facility ? { ...facility, position: facilityPosition(facility.id) } : null;
  const list = $("facility-list");
  let input = list.querySelector(`input[value="${CSS.escape(String(facility ? facility.id : ""))}"]`);
  if (!input && facility) {
    input = facilityChoice({ ...facility, distance_m: null });
    list.append(input.closest("label"));
  }
  if (input) input.checked = true;
  if (facility && facility.kind && !$("kind").value) { $("kind").value = facility.kind; showComponents(); }
  if (fromMap && place.facility.position) map.focus(place.facility.position.lat, place.facility.position.lon);
  showLocation();
}

// One facility to choose; one found by search shows its external id and, chosen, is shown on the map.
function facilityChoice(f, { found = false } = {}) {
  const input = el("input", { type: "radio", name: "facility", value: String(f.id) });
  input.addEventListener("change", () => chooseFacility({ id: f.id, name: f.name, kind: f.kind }, found));
  const detail = [kindLabels[f.kind] || f.kind, found && f.external_id ? f.external_id : null,
                  f.distance_m == null ? null : formatDistance(f.distance_m)];
  el("label", { class: "choice facility" }, input, " ",
     el("span", { class: "facility-name", text: f.name }),
     el("span", { class: "facility-detail", text: detail.filter(Boolean).join(" · ") }));
  return input;
}

// The facilities to choose from ("No facility" first, the chosen one kept), where they come from, and a note.
function showChoices(facilities, { source, note = null, found = false }) {
  const list = $("facility-list");
  const chosen = place.facility ? String(place.facility.id) : "";
  const none = el("input", { type: "radio", name: "facility", value: "" });
  none.addEventListener("change", () => chooseFacility(null));
  const items = [el("label", { class: "choice" }, none, " ", t("noFacility"))];
  for (const f of facilities) items.push(facilityChoice(f, { found }).closest("label"));
  if (place.facility && !facilities.some((f) => String(f.id) === chosen)) {
    items.push(facilityChoice({ ...place.facility, distance_m: null }).closest("label"));
  }
  list.replaceChildren(...items);
  const selected = list.querySelector(`input[value="${CSS.escape(chosen)}"]`);
  if (selected) selected.checked = true;
  list.dataset.count = String(facilities.length);
  list.dataset.source = source;
  if (note) list.append(el("p", { class: "hint", text: note }));
}

function showNearest({ facilities, offline }) {
  showChoices(facilities, { source: offline ? "local" : "server",
                            note: offline ? (facilities.length ? t("nearestOffline") : t("nearestNone")) : null });
}

const searching = () => Boolean(fold($("facility-search").value));

// `asked`: the crew tapped "Find nearest facilities" (which ends a search); else the nearest ones wait behind one.
async function findNearest(at, { asked = false } = {}) {
  const where = at || reportLocation();
  if (!where) { say("error", t("needLocation")); return; }
  nearestAsked = true;
  await registryReady;
  lastNearest = await nearest(config.urls.nearest, registry, where.lon, where.lat, 5);
  if (asked) $("facility-search").value = "";
  if (!searching()) showNearest(lastNearest);
}

// The facilities of the kept registry that match the search box, with their distance when the location is known.
function search() {
  const query = $("facility-search").value;
  if (!fold(query)) {
    if (lastNearest) showNearest(lastNearest);
    else showChoices([], { source: "" });
    return;
  }
  if (!registry) { showChoices([], { source: "search", note: t("registryMissing") }); return; }
  const here = reportLocation();
  const found = searchFacilities(registry, query, SEARCH_LIMIT).map((f) => ({
    ...f, distance_m: here ? featureDistanceM(f.feature, here.lon, here.lat) : null }));
  showChoices(found, { source: "search", found: true,
                       note: found.length ? null : t("searchNone", { query: query.trim() }) });
}

let searchTimer = null;
$("facility-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 150); });
$("facility-search").addEventListener("search", search); // the field's own clear button, and Enter
$("facility-search").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); search(); } });

// How current the registry on the phone is, and whether the server could be asked.
function showRegistry(offline) {
  const status = $("registry-status");
  if (!registry) { status.textContent = t("registryMissing"); status.dataset.state = "missing"; return; }
  const parts = [t("registryKept", { n: registry.features.length, time: formatTime(registry.syncedAt) })];
  if (offline) parts.push(t("registryOffline"));
  status.textContent = parts.join(" ");
  status.dataset.state = offline ? "offline" : "current";
}

$("find-nearest").addEventListener("click", () => findNearest(null, { asked: true }));
$("facility-list").querySelector('input[value=""]').addEventListener("change", () => chooseFacility(null));

// Finding the nearest facilities waits for this, so a tap right after an offline reload uses the kept copy.
const registryReady = loadFacilities(config.urls.facilities).then(({ collection, offline, changed }) => {
  registry = collection;
  map.showFacilities(collection);
  if (place.facility) place.facility.position = facilityPosition(place.facility.id);
  $("registry-status").dataset.changed = String(changed);
  showRegistry(offline);
  if (searching()) search();
});

// The project's own layers (service areas and boundary, simplified), from the server, else the copy kept on the phone.
loadLayers(config.urls.layers).then((layers) => {
  if (layers) map.showAreas(layers);
  else $("pin-map").dataset.serviceAreas = "unavailable";
});

// The base map kept on the phone covers the facilities kept on it, or what the map shows now.
offlineMap.init({ area: (which) => {
  if (which === "view") {
    const b = map.map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
  }
  return offlineMap.collectionBbox(registry);
} });

// Empties the location for the next report: the chosen facility, and a pin put back from a rejected report.
export function clearLocation() {
  place.facility = null;
  const none = $("facility-list").querySelector('input[value=""]');
  if (none) none.checked = true;
  if (place.pin && place.pin.restored) { place.pin = null; map.clearPin(); }
  showLocation();
}
