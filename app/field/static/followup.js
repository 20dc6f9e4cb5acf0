// A follow-up report on a case: from "My work" ("Report progress") or from a sent report in the outbox ("Follow up").
import { $, form, t, say } from "./page.js";
import { radio, setChecks, showComponents, showShareOut, statusWasChosen } from "./fields.js";
import { chooseFacility, focusMap, registryFacility, setCaseLocation, showLocation } from "./location.js";

// {caseId, name, kind, facilityId, lon, lat, severity} while the form holds a follow-up on that case.
let followUp = null;
// What the form's entry module hands in: emptying the form, and ending or asking about a correction.
let hooks = { clearForm: () => {}, endCorrection: () => {}, correcting: () => false };

export function configure(options) { hooks = { ...hooks, ...options }; }

export const current = () => followUp;

// What a chosen progress says about the facility, unless the crew chose its operational status themselves.
const PROGRESS_STATUS = { repair_started: "out_of_service", temporarily_restored: "degraded", restored: "operating" };

export function showFollowUp(target) {
  followUp = { caseId: Number(target.caseId), name: target.name, kind: target.kind, facilityId: target.facilityId ?? null,
               lon: Number(target.lon), lat: Number(target.lat), severity: target.severity || null };
  setCaseLocation({ lon: followUp.lon, lat: followUp.lat });
  $("follow-up-title").textContent = t("followUpOn", { case: followUp.caseId, name: followUp.name });
  $("follow-up").hidden = false;
}

// Fills the form for a follow-up on a case: its facility (or its place), its kind, the last known severity.
export function startFollowUp(target) {
  hooks.endCorrection();
  endFollowUp();
  hooks.clearForm();
  showFollowUp(target);
  if (target.kind) { $("kind").value = target.kind; showComponents(); }
  if (target.facilityId != null) {
    const fid = target.facilityId;
    chooseFacility(registryFacility(fid) || { id: fid, name: target.name, kind: target.kind });
  }
  if (target.severity) setChecks("severity", [target.severity]);
  if (Number.isFinite(followUp.lat) && Number.isFinite(followUp.lon)) focusMap(followUp.lat, followUp.lon);
  showLocation();
  $("follow-up").scrollIntoView({ block: "start" });
  const first = $("progress-set").querySelector("input:checked") || $("progress-set").querySelector("input");
  if (first) first.focus({ preventScroll: true });
}

export function endFollowUp() {
  if (!followUp) return;
  followUp = null;
  setCaseLocation(null);
  $("follow-up").hidden = true;
  setChecks("progress", [""]);
  showLocation();
}

// Without the follow-up, the form is a new report again; a correction keeps what the crew is fixing.
$("cancel-follow-up").addEventListener("click", () => {
  endFollowUp();
  if (hooks.correcting()) return;
  hooks.clearForm();
  say("", "");
});

for (const input of form.querySelectorAll('input[name="progress"]')) {
  input.addEventListener("change", () => {
    const suggested = PROGRESS_STATUS[radio("progress")];
    if (suggested && !statusWasChosen()) { setChecks("status", [suggested]); showShareOut(); }
  });
}
