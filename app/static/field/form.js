// The field form: location, damage, photos; a submitted report goes to the outbox and is sent when possible.
import * as outbox from "./outbox.js";
import * as sync from "./sync.js";
import { prepare, uuid } from "./photos.js";
import { PinMap, featurePosition, loadFacilities, nearest, watchGps } from "./geo.js";

const config = JSON.parse(document.getElementById("field-config").textContent);
const msg = config.messages;
const $ = (id) => document.getElementById(id);
const form = $("field-form");
const kindLabels = Object.fromEntries(config.kinds.map((k) => [k.code, k.label]));

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
let registry = null; // the facilities FeatureCollection (from the API, or the copy kept on the phone)
let nearestAsked = false;

function reportLocation() {
  if (place.pin) return { lon: place.pin.lon, lat: place.pin.lat, accuracy_m: null };
  if (place.gps) return { lon: place.gps.lon, lat: place.gps.lat, accuracy_m: place.gps.accuracy };
  const at = place.facility && place.facility.position;
  if (at) return { lon: at.lon, lat: at.lat, accuracy_m: null };
  return null;
}

function showLocation() {
  const summary = $("loc-summary");
  summary.replaceChildren();
  const where = reportLocation();
  const parts = [];
  if (place.facility) parts.push(t("facilityChosen", { name: place.facility.name }));
  if (place.pin) parts.push(t("pinSet"));
  if (where) parts.push(`${where.lat.toFixed(5)}, ${where.lon.toFixed(5)}`);
  summary.textContent = parts.join(" · ");
  if (place.pin && place.gps) {
    const back = el("button", { type: "button", class: "link-button", id: "clear-pin", text: "GPS" });
    back.addEventListener("click", () => { place.pin = null; map.clearPin(); showLocation(); });
    summary.append(" ", back);
  }
  summary.dataset.ready = where ? "true" : "false";
}

const map = new PinMap($("pin-map"), {
  tileUrl: config.tileUrl,
  tileAttribution: config.tileAttribution,
  onPin: (at) => { place.pin = at; showLocation(); findNearest(at); },
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
      id: uuid(),
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
    },
  };
}

let persistAsked = false;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const { payload, errors } = collect();
  showErrors(errors || {});
  if (errors) {
    $("form-status").textContent = errors.location || t("needField");
    const first = form.querySelector(`[data-error-for]:not(:empty)`);
    if (first) first.scrollIntoView({ block: "center" });
    return;
  }
  try {
    await outbox.put(outbox.newRecord(payload, photos));
  } catch (e) {
    $("form-status").textContent = t("storageFailed", { reason: e.message || String(e) });
    return;
  }
  if (!persistAsked && navigator.storage && navigator.storage.persist) {
    persistAsked = true;
    navigator.storage.persist().catch(() => {});
  }
  for (const p of photos) URL.revokeObjectURL(p.url);
  photos = [];
  form.reset();
  place.facility = null;
  showPhotos();
  showComponents();
  resetObservedAt();
  showLocation();
  $("form-status").textContent = t("saved");
  $("outbox-list").scrollIntoView({ block: "nearest" });
  sync.sync({ force: true });
});

// ---- Outbox list ---------------------------------------------------------------------------------------------

function fieldName(field) {
  const label = document.querySelector(`label[for="${CSS.escape(field)}"]`)
    || document.querySelector(`#${CSS.escape(field)}-set legend`);
  return label ? label.textContent.trim() : field;
}

function outboxItem(r) {
  const p = r.payload;
  const state = r.state === "waiting" && r.sending ? "sending" : r.state;
  const title = [kindLabels[p.kind] || p.kind, form.querySelector(`input[name="severity"][value="${p.severity}"]`)
    ?.parentElement.textContent.trim() || p.severity].join(" · ");
  const item = el("li", { class: `report state-${r.state}`, "data-id": r.id, "data-state": r.state,
                          "data-case-id": r.receipt && r.receipt.case_id != null ? String(r.receipt.case_id) : null },
    el("div", { class: "report-head" }, el("span", { class: "badge", text: t(state) }), " ",
       el("strong", { text: title }), " ", el("time", { datetime: p.observed_at, text: formatTime(p.observed_at) })));
  if (r.state === "sent" && r.receipt) {
    item.append(el("p", { class: "receipt", text: t("caseReceipt", { case: r.receipt.case_id,
                                                                    time: formatTime(r.receipt.received_at) }) }));
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
    item.append(el("p", { class: "reason", text: r.error || "" }), reasons);
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

let drawing = null;
async function drawOutbox() {
  if (drawing) { drawing.again = true; return; }
  drawing = { again: false };
  try {
    do {
      drawing.again = false;
      const records = await outbox.all();
      const list = $("outbox-list");
      list.replaceChildren(...(records.length ? records.map(outboxItem) : [el("li", { class: "empty", text: t("noReports") })]));
      list.dataset.count = String(records.length);
      const waiting = records.filter(outbox.pending).length;
      list.dataset.waiting = String(waiting);
      const summary = $("outbox-summary");
      summary.dataset.waiting = String(waiting);
      summary.textContent = waiting ? t("outboxWaiting", { n: waiting }) : "";
    } while (drawing.again);
  } finally {
    drawing = null;
  }
}
outbox.changes.addEventListener("change", drawOutbox);

$("send-now").addEventListener("click", () => sync.sync({ force: true }));
$("clear-sent").addEventListener("click", async () => {
  const done = (await outbox.all()).filter((r) => r.state === "sent" && !outbox.pending(r));
  await outbox.remove(done.map((r) => r.id));
});
$("export-outbox").addEventListener("click", async () => {
  const link = $("export-link");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  const blob = await outbox.exportJson();
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
sync.configure({ reports: config.urls.reports, session: config.urls.session });
drawOutbox().then(() => sync.start());
registerServiceWorker();
document.documentElement.dataset.fieldReady = "true";
