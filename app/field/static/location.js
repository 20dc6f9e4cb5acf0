// Where the report is: the GPS fix, a pin set on the map, or a facility picked from the nearest ones.
import { $, config, t, el, kindLabels, formatDistance } from "./page.js";
import { showComponents, unflag } from "./fields.js";
import { PinMap, featurePosition, loadFacilities, nearest, watchGps } from "./geo.js";

const place = { gps: null, pin: null, facility: null };
let caseAt = null; // {lon, lat} of the case while the form holds a follow-up on it
let registry = null; // the facilities FeatureCollection (from the API, or the copy kept on the phone)
let nearestAsked = false;

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

const map = new PinMap($("pin-map"), {
  tileUrl: config.tileUrl,
  tileAttribution: config.tileAttribution,
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
}, (error) => gpsStatus("error", t("gpsDenied", { reason: error.message || String(error.code) })));

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

function facilityChoice(f) {
  const input = el("input", { type: "radio", name: "facility", value: String(f.id) });
  input.addEventListener("change", () => chooseFacility({ id: f.id, name: f.name, kind: f.kind }));
  const detail = [kindLabels[f.kind] || f.kind, f.distance_m == null ? null : formatDistance(f.distance_m)];
  el("label", { class: "choice facility" }, input, " ",
     el("span", { class: "facility-name", text: f.name }),
     el("span", { class: "facility-detail", text: detail.filter(Boolean).join(" · ") }));
  return input;
}

async function findNearest(at) {
  const where = at || reportLocation();
  if (!where) { $("form-status").textContent = t("needLocation"); return; }
  nearestAsked = true;
  await registryReady;
  const { facilities, offline } = await nearest(config.urls.nearest, registry, where.lon, where.lat, 5);
  const list = $("facility-list");
  const chosen = place.facility ? String(place.facility.id) : "";
  const none = el("input", { type: "radio", name: "facility", value: "" });
  none.addEventListener("change", () => chooseFacility(null));
  const items = [el("label", { class: "choice" }, none, " ", t("noFacility"))];
  for (const f of facilities) items.push(facilityChoice(f).closest("label"));
  if (place.facility && !facilities.some((f) => String(f.id) === chosen)) {
    items.push(facilityChoice({ ...place.facility, distance_m: null }).closest("label"));
  }
  list.replaceChildren(...items);
  const selected = list.querySelector(`input[value="${CSS.escape(chosen)}"]`);
  if (selected) selected.checked = true;
  list.dataset.count = String(facilities.length);
  list.dataset.source = offline ? "local" : "server";
  if (offline) list.append(el("p", { class: "hint", text: facilities.length ? t("nearestOffline") : t("nearestNone") }));
}

$("find-nearest").addEventListener("click", () => findNearest());
$("facility-list").querySelector('input[value=""]').addEventListener("change", () => chooseFacility(null));

// Finding the nearest facilities waits for this, so a tap right after an offline reload uses the kept copy.
const registryReady = loadFacilities(config.urls.facilities).then(({ collection }) => {
  registry = collection;
  map.showFacilities(collection);
  if (place.facility) place.facility.position = facilityPosition(place.facility.id);
});

// Empties the location for the next report: the chosen facility, and a pin put back from a rejected report.
export function clearLocation() {
  place.facility = null;
  const none = $("facility-list").querySelector('input[value=""]');
  if (none) none.checked = true;
  if (place.pin && place.pin.restored) { place.pin = null; map.clearPin(); }
  showLocation();
}
