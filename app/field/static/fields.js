// The form's damage fields: what they hold, their validation, and the marks on the ones the server rejected.
import { $, form, config, t, el, formatNumber, say } from "./page.js";

export function showComponents() {
  const box = $("components");
  const ticked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  const list = config.components[$("kind").value] || [];
  box.replaceChildren(...list.map((c) => el("label", { class: "choice" },
    el("input", { type: "checkbox", name: "components", value: c.code, checked: ticked.has(c.code) }), " ", c.label)));
  box.dataset.kind = $("kind").value;
}
$("kind").addEventListener("change", showComponents);

function pad(n) { return String(n).padStart(2, "0"); }
export function localInputValue(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function resetObservedAt() {
  $("observed_at").value = localInputValue(new Date());
  delete $("observed_at").dataset.touched;
}
$("observed_at").addEventListener("input", () => { $("observed_at").dataset.touched = "true"; });

// The crew chose the operational status (a chosen progress no longer suggests one).
let statusChosen = false;
export const statusWasChosen = () => statusChosen;
export function setStatusChosen(chosen) { statusChosen = chosen; }
for (const input of form.querySelectorAll('input[name="status"]')) {
  input.addEventListener("change", () => { statusChosen = true; showShareOut(); });
}

// The share of customers without supply is asked only of a degraded facility (and sent only with that status).
export function showShareOut() {
  $("share-out-box").hidden = radio("status") !== "degraded";
}
function shareOut() {
  const value = radio("share_out");
  return radio("status") === "degraded" && value ? { share_out: Number(value) } : {};
}
export function setShareOut(value) {
  setChecks("share_out", [value == null ? "" : String(value)]);
  if (!radio("share_out")) setChecks("share_out", [""]);
  showShareOut();
}

function numberOrNull(id, integer = false) {
  const raw = $(id).value.trim();
  if (raw === "") return null;
  const n = Number(raw.replace(",", "."));
  if (!Number.isFinite(n)) return NaN;
  return integer ? Math.trunc(n) : n;
}
function textOrNull(id) { const v = $(id).value.trim(); return v === "" ? null : v; }
function checked(name) { return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value); }
export function radio(name) { const i = form.querySelector(`input[name="${name}"]:checked`); return i ? i.value : null; }

export function setChecks(name, values) {
  const wanted = new Set(values || []);
  for (const input of form.querySelectorAll(`input[name="${name}"]`)) input.checked = wanted.has(input.value);
}

export function showErrors(errors) {
  for (const p of document.querySelectorAll("[data-error-for]")) {
    p.textContent = errors[p.dataset.errorFor] || "";
  }
}

// The form's fields in the order they appear: the first invalid one is named in the status line.
const ERROR_ORDER = ["location", "kind", "severity", "status", "repair_hours", "crew_size", "observed_at"];

// One line for the status above the send button: what is wrong first, and that there is more when there is.
export function errorSummary(errors) {
  const keys = Object.keys(errors).sort((a, b) => ERROR_ORDER.indexOf(a) - ERROR_ORDER.indexOf(b));
  return keys.length > 1 ? `${errors[keys[0]]} ${t("moreToFix")}` : errors[keys[0]] || "";
}

// A field's message goes once the crew changes that field (the send checks everything again).
form.addEventListener("change", (event) => {
  const key = { facility: "location" }[event.target.name] || event.target.name;
  const error = key && form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
  if (error && !$(FLAG_TARGETS[key] || "")?.dataset.flagged) error.textContent = "";
});

// The report's payload, or the errors that keep it from being one. `where` is the report's location (or null),
// `facility` the chosen facility (or null), `followUp` the case a follow-up is about (or null); `reportId()` gives
// the id the report goes under, asked only for a valid report.
export function collect({ where, facility, followUp, reportId }) {
  const errors = {};
  if (!where) errors.location = t("needLocation");
  if (!$("kind").value) errors.kind = t("needKind");
  if (!radio("severity")) errors.severity = t("needSeverity");
  if (!radio("status")) errors.status = t("needStatus");
  const repairHours = numberOrNull("repair_hours");
  const MIN_REPAIR_HOURS = Number($("repair_hours").min);  // the server's minimum, written into the page
  if (Number.isNaN(repairHours) || (repairHours !== null && repairHours < MIN_REPAIR_HOURS)) {
    errors.repair_hours = t("needRepairHours", { h: formatNumber(MIN_REPAIR_HOURS) });
  }
  const crewSize = numberOrNull("crew_size", true);
  if (Number.isNaN(crewSize) || (crewSize !== null && crewSize < 1)) errors.crew_size = t("needCrewSize");
  if (!$("observed_at").dataset.touched) $("observed_at").value = localInputValue(new Date());
  const observed = new Date($("observed_at").value);
  if (Number.isNaN(observed.getTime())) errors.observed_at = t("needObservedAt");
  else if (observed.getTime() > Date.now() + 5 * 60000) errors.observed_at = t("observedInFuture");
  if (Object.keys(errors).length) return { errors };
  const facilityId = facility ? Number(facility.id) : null;
  return {
    payload: {
      id: reportId(),
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
      ...shareOut(),
      ...(followUp ? { case_id: followUp.caseId, progress: radio("progress") || null } : {}),
    },
  };
}

// Empties the fields for the next report (the location and the photos are emptied by their own modules).
export function clearFields() {
  form.reset();
  statusChosen = false;
  showErrors({});
  clearFlags();
  showComponents();
  showShareOut();
  resetObservedAt();
}

// ---- Marks on the fields the server rejected --------------------------------------------------------------------

// Where the server's field names are shown and marked in the form.
const SERVER_FIELDS = {
  lon: "location", lat: "location", accuracy_m: "location", facility_id: "facility_id", case_id: "facility_id",
  kind: "kind", severity: "severity", status: "status", components: "components", hazards: "hazards",
  repair_hours: "repair_hours", crew_size: "crew_size", materials: "materials", notes: "notes",
  observed_at: "observed_at", progress: "progress", share_out: "share_out",
};
const FLAG_TARGETS = {
  location: "pin-map", facility_id: "facility-set", kind: "kind", severity: "severity-set", status: "status-set",
  components: "components-set", hazards: "hazards-set", repair_hours: "repair_hours", crew_size: "crew_size",
  materials: "materials", notes: "notes", observed_at: "observed_at", progress: "progress-set",
  share_out: "share_out-set",
};

function flag(key) {
  const target = $(FLAG_TARGETS[key]);
  target.dataset.flagged = key;
  if (target.matches("input, select, textarea")) target.setAttribute("aria-invalid", "true");
}

export function unflag(key) {
  const target = $(FLAG_TARGETS[key]);
  if (!target || !target.dataset.flagged) return;
  delete target.dataset.flagged;
  target.removeAttribute("aria-invalid");
  const error = form.querySelector(`[data-error-for="${key}"]`);
  if (error) error.textContent = "";
}

function clearFlags() { for (const key of Object.keys(FLAG_TARGETS)) unflag(key); }

// Marks the fields the server named, with its reasons; what fits no field goes to the form's status line.
export function showServerErrors(record) {
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
  say("error", other.filter(Boolean).join("; "));
}

// A change to a marked field takes its mark away: what is left marked is what still needs looking at.
function unflagChanged(event) {
  const target = event.target.closest("[data-flagged]");
  if (target) unflag(target.dataset.flagged);
}
form.addEventListener("input", unflagChanged);
form.addEventListener("change", unflagChanged);
