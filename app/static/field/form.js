// The field form: location, damage, photos; a submitted report goes to the outbox and is sent when possible.
import * as outbox from "./outbox.js";
import * as sync from "./sync.js";
import * as myWork from "./mywork.js";
import * as account from "./account.js";
import { prepare, uuid } from "./photos.js";
import { PinMap, featurePosition, loadFacilities, nearest, watchGps } from "./geo.js";

const config = JSON.parse(document.getElementById("field-config").textContent);
const msg = config.messages;
const $ = (id) => document.getElementById(id);
const form = $("field-form");
const kindLabels = Object.fromEntries(config.kinds.map((k) => [k.code, k.label]));
// Whose reports the outbox shows and whose a new report is: the page's account, unless the server says another one
// is signed in (a page the service worker kept from the last shift; it is reloaded, see signedIn).
let user = config.user;
const mine = (record) => outbox.belongsTo(record, user);

// Fills "%(name)s" placeholders of a translated message.
function t(key, values = {}) {
  return (msg[key] || key).replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: 1 });
function formatDistance(m) {
  return m < 1000 ? t("distance", { m: Math.round(m) }) : t("distanceKm", { km: numberFormat.format(m / 1000) });
}
function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(document.documentElement.lang || undefined);
}

// ---- Location: GPS, pin, facility ----------------------------------------------------------------------------

const place = { gps: null, pin: null, facility: null };
// {caseId, name, kind, facilityId, lon, lat, severity} while the form holds a follow-up on that case.
let followUp = null;
let statusChosen = false; // the crew chose the operational status (a chosen progress no longer suggests one)
let registry = null; // the facilities FeatureCollection (from the API, or the copy kept on the phone)
let nearestAsked = false;

function reportLocation() {
  if (place.pin) return { lon: place.pin.lon, lat: place.pin.lat, accuracy_m: place.pin.accuracy_m ?? null };
  if (place.gps) return { lon: place.gps.lon, lat: place.gps.lat, accuracy_m: place.gps.accuracy };
  const at = place.facility && place.facility.position;
  if (at) return { lon: at.lon, lat: at.lat, accuracy_m: null };
  // A follow-up with no GPS, pin or known facility position: where its case is.
  if (followUp && Number.isFinite(followUp.lon) && Number.isFinite(followUp.lat)) {
    return { lon: followUp.lon, lat: followUp.lat, accuracy_m: null };
  }
  return null;
}

function showLocation() {
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

function chooseFacility(facility, fromMap = false) {
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

// ---- Damage fields -------------------------------------------------------------------------------------------

function showComponents() {
  const box = $("components");
  const ticked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  const list = config.components[$("kind").value] || [];
  box.replaceChildren(...list.map((c) => el("label", { class: "choice" },
    el("input", { type: "checkbox", name: "components", value: c.code, checked: ticked.has(c.code) }), " ", c.label)));
  box.dataset.kind = $("kind").value;
}
$("kind").addEventListener("change", showComponents);

function pad(n) { return String(n).padStart(2, "0"); }
function localInputValue(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
function resetObservedAt() {
  $("observed_at").value = localInputValue(new Date());
  delete $("observed_at").dataset.touched;
}
$("observed_at").addEventListener("input", () => { $("observed_at").dataset.touched = "true"; });

// ---- Photos --------------------------------------------------------------------------------------------------

let photos = []; // {id, blob, url, name}

function showPhotos() {
  $("photo-list").replaceChildren(...photos.map((p) => {
    const remove = el("button", { type: "button", class: "secondary small", text: "✕", "aria-label": t("removePhoto") });
    remove.addEventListener("click", () => {
      URL.revokeObjectURL(p.url);
      photos = photos.filter((x) => x !== p);
      showPhotos();
    });
    return el("li", { "data-photo-id": p.id }, el("img", { src: p.url, alt: p.name || "" }), remove);
  }));
  $("photo-list").dataset.count = String(photos.length);
}

$("photo-input").addEventListener("change", async (event) => {
  const files = [...event.target.files];
  event.target.value = "";
  $("photo-status").textContent = "";
  for (const file of files) {
    try {
      const photo = await prepare(file);
      photos.push({ ...photo, url: URL.createObjectURL(photo.blob) });
    } catch (e) {
      $("photo-status").textContent = t("photoFailed", { reason: e.message || String(e) });
    }
  }
  showPhotos();
});

// ---- Submit --------------------------------------------------------------------------------------------------

function numberOrNull(id, integer = false) {
  const raw = $(id).value.trim();
  if (raw === "") return null;
  const n = Number(raw.replace(",", "."));
  if (!Number.isFinite(n)) return NaN;
  return integer ? Math.trunc(n) : n;
}
function textOrNull(id) { const v = $(id).value.trim(); return v === "" ? null : v; }
function checked(name) { return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value); }
function radio(name) { const i = form.querySelector(`input[name="${name}"]:checked`); return i ? i.value : null; }

function showErrors(errors) {
  for (const p of document.querySelectorAll("[data-error-for]")) {
    p.textContent = errors[p.dataset.errorFor] || "";
  }
}

function collect() {
  const errors = {};
  const where = reportLocation();
  if (!where) errors.location = t("needLocation");
  for (const name of ["kind", "severity", "status"]) {
    const value = name === "kind" ? $("kind").value : radio(name);
    if (!value) errors[name] = t("needField");
  }
  const repairHours = numberOrNull("repair_hours");
  if (Number.isNaN(repairHours) || repairHours < 0) errors.repair_hours = t("needField");
  const crewSize = numberOrNull("crew_size", true);
  if (Number.isNaN(crewSize) || (crewSize !== null && crewSize < 1)) errors.crew_size = t("needField");
  if (!$("observed_at").dataset.touched) $("observed_at").value = localInputValue(new Date());
  const observed = new Date($("observed_at").value);
  if (Number.isNaN(observed.getTime()) || observed.getTime() > Date.now() + 5 * 60000) errors.observed_at = t("needField");
  if (Object.keys(errors).length) return { errors };
  const facilityId = place.facility ? Number(place.facility.id) : null;
  return {
    payload: {
      id: correcting ? correcting.reportId : uuid(),
      facility_id: Number.isInteger(facilityId) ? facilityId : null,
      lon: where.lon,
      lat: where.lat,
      accuracy_m: where.accuracy_m == null ? null : Math.round(where.accuracy_m * 10) / 10,
      observed_at: observed.toISOString(),
      kind: $("kind").value,
      severity: radio("severity"),
      status: radio("status"),
      components: checked("components"),
      hazards: checked("hazards"),
      repair_hours: repairHours,
      crew_size: crewSize,
      materials: textOrNull("materials"),
      notes: textOrNull("notes"),
      ...(followUp ? { case_id: followUp.caseId, progress: radio("progress") || null } : {}),
    },
  };
}

let persistAsked = false;
let saving = false; // a second tap on "send" while the first is being saved must not save the report twice

// Empties the form for the next report (a pin set by hand stays: the next report is often of the same site).
function clearForm() {
  for (const p of photos) URL.revokeObjectURL(p.url);
  photos = [];
  form.reset();
  statusChosen = false;
  place.facility = null;
  const none = $("facility-list").querySelector('input[value=""]');
  if (none) none.checked = true;
  if (place.pin && place.pin.restored) { place.pin = null; map.clearPin(); }
  showErrors({});
  clearFlags();
  showPhotos();
  showComponents();
  resetObservedAt();
  showLocation();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (saving) return;
  saving = true;
  try {
    await save();
  } finally {
    saving = false;
  }
});

async function save() {
  const { payload, errors } = collect();
  showErrors(errors || {});
  if (errors) {
    $("form-status").textContent = errors.location || t("needField");
    const first = form.querySelector(`[data-error-for]:not(:empty)`);
    if (first) first.scrollIntoView({ block: "center" });
    return;
  }
  const record = outbox.newRecord(payload, photos, user);
  // Kept for a later correction: the payload holds only the facility's id.
  record.facility = place.facility ? { id: place.facility.id, name: place.facility.name, kind: place.facility.kind }
    : null;
  // Kept for the outbox's list and for a correction: which case the follow-up is about.
  record.followUp = followUp ? { ...followUp } : null;
  try {
    if (!correcting) {
      await outbox.put(record);
    } else if (!(await outbox.replaceRejected(correcting.fromId, record))) {
      // Corrected or discarded in another tab meanwhile: keep what is in the form, as a new report if sent again.
      endCorrection();
      $("form-status").textContent = t("alreadyCorrected");
      return;
    }
  } catch (e) {
    $("form-status").textContent = t("storageFailed", { reason: e.message || String(e) });
    return;
  }
  if (!persistAsked && navigator.storage && navigator.storage.persist) {
    persistAsked = true;
    navigator.storage.persist().catch(() => {});
  }
  endCorrection();
  endFollowUp();
  clearForm();
  $("form-status").textContent = t("saved");
  $("outbox-list").scrollIntoView({ block: "nearest" });
  // Once sent, a follow-up may have moved its case on (e.g. to "in repair"): show that under "My work".
  sync.sync({ force: true }).then(() => myWork.refresh());
}

// ---- A follow-up report on a case (from "My work" or from a sent report in the outbox) --------------------------

// What a chosen progress says about the facility, unless the crew chose its operational status themselves.
const PROGRESS_STATUS = { repair_started: "out_of_service", temporarily_restored: "degraded", restored: "operating" };

function showFollowUp(target) {
  followUp = { caseId: Number(target.caseId), name: target.name, kind: target.kind, facilityId: target.facilityId ?? null,
               lon: Number(target.lon), lat: Number(target.lat), severity: target.severity || null };
  $("follow-up-title").textContent = t("followUpOn", { case: followUp.caseId, name: followUp.name });
  $("follow-up").hidden = false;
}

// Fills the form for a follow-up on a case: its facility (or its place), its kind, the last known severity.
function startFollowUp(target) {
  endCorrection();
  endFollowUp();
  clearForm();
  showFollowUp(target);
  if (target.kind) { $("kind").value = target.kind; showComponents(); }
  if (target.facilityId != null) {
    const fid = target.facilityId;
    chooseFacility(registryFacility(fid) || { id: fid, name: target.name, kind: target.kind });
  }
  if (target.severity) setChecks("severity", [target.severity]);
  if (Number.isFinite(followUp.lat) && Number.isFinite(followUp.lon)) map.focus(followUp.lat, followUp.lon);
  showLocation();
  $("follow-up").scrollIntoView({ block: "start" });
  const first = $("progress-set").querySelector("input:checked") || $("progress-set").querySelector("input");
  if (first) first.focus({ preventScroll: true });
}

function endFollowUp() {
  if (!followUp) return;
  followUp = null;
  $("follow-up").hidden = true;
  setChecks("progress", [""]);
  showLocation();
}

// Without the follow-up, the form is a new report again; a correction keeps what the crew is fixing.
$("cancel-follow-up").addEventListener("click", () => {
  endFollowUp();
  if (correcting) return;
  clearForm();
  $("form-status").textContent = "";
});

for (const input of form.querySelectorAll('input[name="status"]')) {
  input.addEventListener("change", () => { statusChosen = true; });
}
for (const input of form.querySelectorAll('input[name="progress"]')) {
  input.addEventListener("change", () => {
    const suggested = PROGRESS_STATUS[radio("progress")];
    if (suggested && !statusChosen) setChecks("status", [suggested]);
  });
}

// ---- Correcting a rejected report ------------------------------------------------------------------------------

let correcting = null; // {fromId, reportId} while the form holds a rejected report for the crew to fix

// The id the correction is sent under. A 4xx means the server stored nothing (validation runs before the insert,
// and the insert's transaction rolls back on any error), so the rejected id is still free; reusing it means a
// server that somehow did keep the first version answers 409 rather than storing a second copy. A 409, or an id
// the server refused, means the id itself cannot be used: then a new one.
function correctionId(record) {
  const idRefused = record.httpStatus === 409 || Boolean(record.errors && "id" in record.errors);
  return idRefused ? uuid() : record.id;
}

// Where the server's field names are shown and marked in the form.
const SERVER_FIELDS = {
  lon: "location", lat: "location", accuracy_m: "location", facility_id: "facility_id", case_id: "facility_id",
  kind: "kind", severity: "severity", status: "status", components: "components", hazards: "hazards",
  repair_hours: "repair_hours", crew_size: "crew_size", materials: "materials", notes: "notes",
  observed_at: "observed_at", progress: "progress",
};
const FLAG_TARGETS = {
  location: "pin-map", facility_id: "facility-set", kind: "kind", severity: "severity-set", status: "status-set",
  components: "components-set", hazards: "hazards-set", repair_hours: "repair_hours", crew_size: "crew_size",
  materials: "materials", notes: "notes", observed_at: "observed_at", progress: "progress-set",
};

function flag(key) {
  const target = $(FLAG_TARGETS[key]);
  target.dataset.flagged = key;
  if (target.matches("input, select, textarea")) target.setAttribute("aria-invalid", "true");
}

function unflag(key) {
  const target = $(FLAG_TARGETS[key]);
  if (!target || !target.dataset.flagged) return;
  delete target.dataset.flagged;
  target.removeAttribute("aria-invalid");
  const error = form.querySelector(`[data-error-for="${key}"]`);
  if (error) error.textContent = "";
}

function clearFlags() { for (const key of Object.keys(FLAG_TARGETS)) unflag(key); }

// Marks the fields the server named, with its reasons; what fits no field goes to the form's status line.
function showServerErrors(record) {
  const byKey = {};
  const other = [];
  for (const [field, reason] of Object.entries(record.errors || {})) {
    const key = SERVER_FIELDS[field];
    if (key) (byKey[key] = byKey[key] || []).push(key === "location" ? `${field} ${reason}` : String(reason));
    else other.push(`${field} ${reason}`);
  }
  showErrors(Object.fromEntries(Object.entries(byKey).map(([k, v]) => [k, v.join("; ")])));
  for (const key of Object.keys(byKey)) flag(key);
  if (!record.errors) other.push(record.error || "");
  $("form-status").textContent = other.filter(Boolean).join("; ");
}

// A change to a marked field takes its mark away: what is left marked is what still needs looking at.
function unflagChanged(event) {
  const target = event.target.closest("[data-flagged]");
  if (target) unflag(target.dataset.flagged);
}
form.addEventListener("input", unflagChanged);
form.addEventListener("change", unflagChanged);

function registryFacility(id) {
  const feature = map.feature(id);
  return feature ? { id, name: feature.properties.name, kind: feature.properties.kind } : null;
}

function setChecks(name, values) {
  const wanted = new Set(values || []);
  for (const input of form.querySelectorAll(`input[name="${name}"]`)) input.checked = wanted.has(input.value);
}

// Puts a rejected report back into the form, photos included, for the crew to fix and send again.
async function correct(id) {
  const record = await outbox.get(id);
  if (!record || record.state !== "rejected" || !mine(record)) return;
  endCorrection();
  endFollowUp();
  clearForm();
  const p = record.payload || {};
  if (p.case_id != null) {
    showFollowUp(record.followUp || { caseId: p.case_id, name: `#${p.case_id}`, kind: p.kind,
                                      facilityId: p.facility_id, lon: p.lon, lat: p.lat });
    setChecks("progress", [p.progress || ""]);
  }
  $("kind").value = p.kind || "";
  showComponents(); // the kind decides which components there are to tick
  setChecks("severity", [p.severity]);
  setChecks("status", [p.status]);
  statusChosen = Boolean(p.status); // the crew's choice: a progress chosen now must not change it
  setChecks("components", p.components);
  setChecks("hazards", p.hazards);
  for (const name of ["repair_hours", "crew_size", "materials", "notes"]) $(name).value = p[name] ?? "";
  const observed = new Date(p.observed_at);
  if (!Number.isNaN(observed.getTime())) {
    $("observed_at").value = localInputValue(observed);
    $("observed_at").dataset.touched = "true"; // the time of the observation, not of the correction
  }
  if (Number.isFinite(p.lon) && Number.isFinite(p.lat)) {
    place.pin = { lon: p.lon, lat: p.lat, accuracy_m: p.accuracy_m ?? null, restored: true };
    map.setPin(p.lat, p.lon, false);
    map.focus(p.lat, p.lon);
  }
  if (p.facility_id != null) {
    const fid = p.facility_id;
    const known = record.facility && String(record.facility.id) === String(fid) ? record.facility : null;
    chooseFacility(known || registryFacility(fid) || { id: fid, name: `#${fid}`, kind: p.kind });
  }
  // Fresh photo ids: nothing of a rejected report reached the server, and new ids can never collide.
  photos = (record.photos || []).filter((x) => x.blob).map((x) => ({
    id: uuid(), blob: x.blob, url: URL.createObjectURL(x.blob), name: "" }));
  showPhotos();
  correcting = { fromId: record.id, reportId: correctionId(record) };
  $("correction").hidden = false;
  showLocation();
  showServerErrors(record);
  drawOutbox();
  const first = form.querySelector("[data-flagged]") || $("correction");
  first.scrollIntoView({ block: "center" });
  if (first.matches("input, select, textarea")) first.focus({ preventScroll: true });
}

function endCorrection() {
  if (!correcting) return;
  correcting = null;
  $("correction").hidden = true;
  drawOutbox();
}

$("cancel-correction").addEventListener("click", () => {
  endCorrection();
  endFollowUp();
  clearForm();
  $("form-status").textContent = "";
});

// ---- Outbox list ---------------------------------------------------------------------------------------------

function fieldName(field) {
  const label = document.querySelector(`label[for="${CSS.escape(field)}"]`)
    || document.querySelector(`#${CSS.escape(field)}-set legend`)
    || (field === "facility_id" ? document.querySelector("#facility-set legend") : null);
  return label ? label.textContent.trim() : field;
}

function outboxItem(r) {
  const p = r.payload;
  const state = r.state === "waiting" && r.sending ? "sending" : r.state;
  const title = [p.case_id != null ? t("followUpEntry", { case: p.case_id }) : null, kindLabels[p.kind] || p.kind,
    form.querySelector(`input[name="severity"][value="${p.severity}"]`)?.parentElement.textContent.trim() || p.severity,
    p.progress ? config.labels.progress[p.progress] || p.progress : null].filter(Boolean).join(" · ");
  const item = el("li", { class: `report state-${r.state}`, "data-id": r.id, "data-state": r.state,
                          "data-case-id": r.receipt && r.receipt.case_id != null ? String(r.receipt.case_id) : null },
    el("div", { class: "report-head" }, el("span", { class: "badge", text: t(state) }), " ",
       el("strong", { text: title }), " ", el("time", { datetime: p.observed_at, text: formatTime(p.observed_at) })));
  if (r.state === "sent" && r.receipt) {
    item.append(el("p", { class: "receipt", text: t("caseReceipt", { case: r.receipt.case_id,
                                                                    time: formatTime(r.receipt.received_at) }) }));
    if (r.receipt.case_id != null) item.append(sentActions(r));
  }
  if (r.state === "rejected") {
    const reasons = el("ul", { class: "reasons" });
    if (r.errors) {
      for (const [field, reason] of Object.entries(r.errors)) {
        reasons.append(el("li", { "data-field": field }, el("strong", { text: `${fieldName(field)}: ` }), String(reason)));
      }
    } else {
      reasons.append(el("li", { text: r.error || "" }));
    }
    item.append(el("p", { class: "reason", text: r.error || "" }), reasons, rejectedActions(r));
  }
  if (r.photos.length) {
    const sent = r.photos.filter((x) => x.state === "sent").length;
    item.append(el("p", { class: "photos", text: t("photosProgress", { sent, total: r.photos.length }) }));
    r.photos.forEach((x, i) => {
      if (x.state === "rejected") {
        item.append(el("p", { class: "photo-rejected", text: t("photoRejected", { n: i + 1, reason: x.reason }) }));
      }
    });
  }
  if (outbox.pending(r) && r.nextAttemptAt > Date.now()) {
    const when = new Date(Math.max(r.nextAttemptAt, r.retryAfterUntil)).toLocaleTimeString();
    item.append(el("p", { class: "next-try", text: `${t("nextTry", { time: when })}${r.lastError ? ` (${r.lastError})` : ""}` }));
  }
  if (outbox.pending(r) && /^HTTP 40[13]\b/.test(r.lastError || "")) {
    const login = `${config.urls.login}?${new URLSearchParams({ next: config.urls.scope })}`;
    item.append(el("p", { class: "sign-in" }, el("a", { href: login, text: t("signIn") })));
  }
  return item;
}

// A rejected report: correct it in the form and send it again, or discard it (asked twice: it is gone for good).
const discarding = new Set(); // ids whose discard waits for the crew's confirmation (kept across redraws)

function rejectedActions(r) {
  const actions = el("div", { class: "report-actions" });
  if (discarding.has(r.id)) {
    const yes = el("button", { type: "button", class: "secondary danger discard-yes", text: t("discardYes") });
    const no = el("button", { type: "button", class: "secondary discard-no", text: t("discardNo") });
    yes.addEventListener("click", async () => {
      discarding.delete(r.id);
      if (correcting && correcting.fromId === r.id) { endCorrection(); clearForm(); }
      await outbox.discardRejected(r.id);
    });
    no.addEventListener("click", () => { discarding.delete(r.id); drawOutbox(); });
    actions.append(el("p", { class: "confirm", role: "alert", text: t("discardConfirm") }), yes, no);
    return actions;
  }
  const editing = Boolean(correcting && correcting.fromId === r.id);
  const fix = el("button", { type: "button", class: "secondary correct", disabled: editing,
                             text: editing ? t("beingCorrected") : t("correct") });
  fix.addEventListener("click", () => correct(r.id));
  const drop = el("button", { type: "button", class: "secondary discard", text: t("discard") });
  drop.addEventListener("click", async () => {
    discarding.add(r.id);
    await drawOutbox();
    $("outbox-list").querySelector(`li[data-id="${CSS.escape(r.id)}"] .discard-no`)?.focus();
  });
  actions.append(fix, drop);
  return actions;
}

// A sent report: a follow-up on the case the server put it in (the receipt's case id).
function sentActions(r) {
  const p = r.payload;
  const facilityId = p.facility_id ?? null;
  const known = r.facility && facilityId != null && String(r.facility.id) === String(facilityId) ? r.facility : null;
  const previous = r.followUp && Number(r.followUp.caseId) === Number(r.receipt.case_id) ? r.followUp : null;
  const target = {
    caseId: r.receipt.case_id, kind: p.kind, facilityId, lon: p.lon, lat: p.lat, severity: p.severity,
    name: (known && known.name) || (previous && previous.name)
      || (facilityId != null ? `#${facilityId}` : t("unregisteredSite")),
  };
  const button = el("button", { type: "button", class: "secondary follow-up-button", text: t("followUp") });
  button.addEventListener("click", () => startFollowUp(target));
  return el("div", { class: "report-actions" }, button);
}

let drawing = null;
async function drawOutbox() {
  if (drawing) { drawing.again = true; return; }
  drawing = { again: false };
  try {
    do {
      drawing.again = false;
      const all = await outbox.all();
      const records = all.filter(mine);
      const list = $("outbox-list");
      list.replaceChildren(...(records.length ? records.map(outboxItem) : [el("li", { class: "empty", text: t("noReports") })]));
      list.dataset.count = String(records.length);
      const waiting = records.filter(outbox.pending).length;
      list.dataset.waiting = String(waiting);
      const summary = $("outbox-summary");
      summary.dataset.waiting = String(waiting);
      summary.textContent = waiting ? t("outboxWaiting", { n: waiting }) : "";
      // Another account's reports on this phone: how many wait for it, nothing more (they are not this crew's).
      const others = all.filter((r) => !mine(r) && (outbox.pending(r) || r.state === "rejected")).length;
      const note = $("outbox-others");
      note.dataset.count = String(others);
      note.textContent = others ? t("otherAccounts", { n: others }) : "";
      note.hidden = !others;
    } while (drawing.again);
  } finally {
    drawing = null;
  }
}
outbox.changes.addEventListener("change", drawOutbox);

$("send-now").addEventListener("click", () => sync.sync({ force: true }));
$("clear-sent").addEventListener("click", async () => {
  const done = (await outbox.all()).filter((r) => mine(r) && r.state === "sent" && !outbox.pending(r));
  await outbox.remove(done.map((r) => r.id));
});
$("export-outbox").addEventListener("click", async () => {
  const link = $("export-link");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  const blob = await outbox.exportJson(user);
  link.href = URL.createObjectURL(blob);
  link.download = `gridtriage-outbox-${new Date().toISOString().slice(0, 19).replace(/:/g, "")}.json`;
  link.classList.remove("visually-hidden");
  link.click();
});

// ---- Network and service worker ------------------------------------------------------------------------------

function showNetwork() {
  const status = $("net-status");
  status.dataset.state = navigator.onLine ? "online" : "offline";
  status.textContent = navigator.onLine ? t("online") : t("offline");
}
addEventListener("online", showNetwork);
addEventListener("offline", showNetwork);

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const ready = () => { document.documentElement.dataset.offlineReady = "true"; };
  navigator.serviceWorker.addEventListener("controllerchange", ready);
  try {
    await navigator.serviceWorker.register(config.urls.serviceWorker, { scope: config.urls.scope });
    await navigator.serviceWorker.ready;
    if (navigator.serviceWorker.controller) ready();
  } catch (e) {
    console.warn("service worker not registered", e);
  }
}

showNetwork();
resetObservedAt();
showComponents();
showLocation();
// Whom the server says is signed in (the outbox's sync and "My work" ask it). Another account than the page's: this
// page was kept from the last shift; until it is reloaded from the network, it shows and stamps that account's
// reports only, and no "My work".
function signedIn(username) {
  if (username === user) return;
  user = username;
  myWork.hide();
  drawOutbox();
  account.check(username, config);
}

sync.configure({ reports: config.urls.reports, session: config.urls.session, user, onSession: signedIn });
drawOutbox().then(() => sync.start());
myWork.start({ config, t, el, formatTime, onReportProgress: startFollowUp, onSignedIn: signedIn });
registerServiceWorker();
document.documentElement.dataset.fieldReady = "true";
