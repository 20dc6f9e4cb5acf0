// Correcting a rejected report: put back into the form, photos included, for the crew to fix and send again.
import * as outbox from "./outbox.js";
import { $, form, mine, t, say } from "./page.js";
import { localInputValue, setChecks, setShareOut, setStatusChosen, showComponents, showServerErrors } from "./fields.js";
import { chooseFacility, registryFacility, restorePin, showLocation } from "./location.js";
import * as photoList from "./photolist.js";
import { uuid } from "./photos.js";
import { endFollowUp, showFollowUp } from "./followup.js";

let correcting = null; // {fromId, reportId} while the form holds a rejected report for the crew to fix
// What the form's entry module hands in: emptying the form, and redrawing the outbox (it shows what is corrected).
let hooks = { clearForm: () => {}, drawOutbox: () => {} };

export function configure(options) { hooks = { ...hooks, ...options }; }

export const current = () => correcting;

// The id the correction is sent under. A 4xx means the server stored nothing (validation runs before the insert,
// and the insert's transaction rolls back on any error), so the rejected id is still free; reusing it means a
// server that somehow did keep the first version answers 409 rather than storing a second copy. A 409, or an id
// the server refused, means the id itself cannot be used: then a new one.
function correctionId(record) {
  const idRefused = record.httpStatus === 409 || Boolean(record.errors && "id" in record.errors);
  return idRefused ? uuid() : record.id;
}

// Puts a rejected report back into the form, photos included, for the crew to fix and send again.
export async function correct(id) {
  const record = await outbox.get(id);
  if (!record || record.state !== "rejected" || !mine(record)) return;
  endCorrection();
  endFollowUp();
  hooks.clearForm();
  const p = record.payload || {};
  const fid = p.facility_id;
  const known = fid != null && record.facility && String(record.facility.id) === String(fid) ? record.facility : null;
  // A facility's name, or words that say it is a facility's number: never a bare "#12" that reads as a case.
  const facility = fid == null ? null
    : known || registryFacility(fid) || { id: fid, name: t("facilityNumber", { id: fid }), kind: p.kind };
  if (p.case_id != null) {
    showFollowUp(record.followUp || { caseId: p.case_id, name: facility ? facility.name : t("unregisteredSite"),
                                      kind: p.kind, facilityId: fid, lon: p.lon, lat: p.lat });
    setChecks("progress", [p.progress || ""]);
  }
  $("kind").value = p.kind || "";
  showComponents(); // the kind decides which components there are to tick
  setChecks("severity", [p.severity]);
  setChecks("status", [p.status]);
  setStatusChosen(Boolean(p.status)); // the crew's choice: a progress chosen now must not change it
  setShareOut(p.share_out);
  setChecks("components", p.components);
  setChecks("hazards", p.hazards);
  for (const name of ["repair_hours", "crew_size", "materials", "notes"]) $(name).value = p[name] ?? "";
  const observed = new Date(p.observed_at);
  if (!Number.isNaN(observed.getTime())) {
    $("observed_at").value = localInputValue(observed);
    $("observed_at").dataset.touched = "true"; // the time of the observation, not of the correction
  }
  if (Number.isFinite(p.lon) && Number.isFinite(p.lat)) restorePin(p);
  if (facility) chooseFacility(facility);
  photoList.restore(record.photos);
  correcting = { fromId: record.id, reportId: correctionId(record) };
  $("correction").hidden = false;
  showLocation();
  showServerErrors(record);
  hooks.drawOutbox();
  const first = form.querySelector("[data-flagged]") || $("correction");
  first.scrollIntoView({ block: "center" });
  if (first.matches("input, select, textarea")) first.focus({ preventScroll: true });
}

export function endCorrection() {
  if (!correcting) return;
  correcting = null;
  $("correction").hidden = true;
  hooks.drawOutbox();
}

$("cancel-correction").addEventListener("click", () => {
  endCorrection();
  endFollowUp();
  hooks.clearForm();
  say("", "");
});
