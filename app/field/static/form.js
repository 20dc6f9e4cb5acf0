// The field form: location, damage, photos; a submitted report goes to the outbox and is sent when possible.
// This entry module wires the form's parts together: submitting, emptying the form, the network and the account.
import * as outbox from "./outbox.js";
import * as sync from "./sync.js";
import * as reach from "./reach.js";
import * as myWork from "./mywork.js";
import * as account from "./account.js";
import { $, config, currentUser, el, form, formatClock, formatTime, say, setUser, t } from "./page.js";
import { clearFields, collect, errorSummary, showComponents, resetObservedAt, showErrors } from "./fields.js";
import { chosenFacility, clearLocation, reportLocation, showLocation } from "./location.js";
import * as photoList from "./photolist.js";
import { uuid } from "./photos.js";
import * as followUp from "./followup.js";
import * as correction from "./correction.js";
import * as outboxList from "./outboxlist.js";

// ---- Submit --------------------------------------------------------------------------------------------------

let persistAsked = false;
let saving = false; // a second tap on "send" while the first is being saved must not save the report twice

// Empties the form for the next report (a pin set by hand stays: the next report is often of the same site).
function clearForm() {
  photoList.clear();
  clearFields();
  clearLocation();
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
  const correcting = correction.current();
  const { payload, errors } = collect({
    where: reportLocation(), facility: chosenFacility(), followUp: followUp.current(),
    reportId: () => (correcting ? correcting.reportId : uuid()),
  });
  showErrors(errors || {});
  if (errors) {
    say("error", errorSummary(errors));
    const first = form.querySelector(`[data-error-for]:not(:empty)`);
    if (first) first.scrollIntoView({ block: "center" });
    return;
  }
  const record = outbox.newRecord(payload, photoList.current(), currentUser());
  // Kept for a later correction: the payload holds only the facility's id.
  const facility = chosenFacility();
  record.facility = facility ? { id: facility.id, name: facility.name, kind: facility.kind } : null;
  // Kept for the outbox's list and for a correction: which case the follow-up is about.
  record.followUp = followUp.current() ? { ...followUp.current() } : null;
  try {
    if (!correcting) {
      await outbox.put(record);
    } else if (!(await outbox.replaceRejected(correcting.fromId, record))) {
      // Corrected or discarded in another tab meanwhile: keep what is in the form, as a new report if sent again.
      correction.endCorrection();
      say("error", t("alreadyCorrected"));
      return;
    }
  } catch (e) {
    say("error", t("storageFailed", { reason: e.message || String(e) }));
    return;
  }
  if (!persistAsked && navigator.storage && navigator.storage.persist) {
    persistAsked = true;
    navigator.storage.persist().catch(() => {});
  }
  correction.endCorrection();
  followUp.endFollowUp();
  clearForm();
  justSaved = { id: record.id, tried: false };
  say("sending", t("sendingReport"), record.id);
  // Once sent, a follow-up may have moved its case on (e.g. to "in repair"): show that under "My work".
  sync.sync({ force: true }).then(() => {
    if (justSaved && justSaved.id === record.id) justSaved.tried = true;
    showOutcome();
    myWork.refresh();
  });
}

// ---- What happened to the report just saved --------------------------------------------------------------------

// The report saved last, while the status line tells about it: its outcome is shown there, and updated when the
// outbox sends it later. `tried`: the send that followed the save is over (before, it is only being sent).
let justSaved = null;

function receiptLine(r) {
  const time = formatClock(r.receipt.received_at);
  const caseId = r.receipt.case_id;
  const name = outboxList.facilityName(r);
  if (caseId == null) return t("sentNoCase", { time });
  return name ? t("sentReceiptNamed", { case: caseId, name, time }) : t("sentReceipt", { case: caseId, time });
}

async function showOutcome() {
  if (!justSaved) return;
  const { id, tried } = justSaved;
  const r = await outbox.get(id).catch(() => null);
  // The line tells about something else now (a new error, another report): leave it.
  if (!justSaved || justSaved.id !== id || $("form-status").dataset.report !== id) return;
  if (!r) { justSaved = null; return; }
  if (r.state === "sent" && r.receipt) {
    const waiting = r.photos.filter((x) => x.state === "waiting").length;
    const sent = r.photos.filter((x) => x.state === "sent").length;
    say("sent", waiting ? `${receiptLine(r)} · ${t("photosProgress", { sent, total: r.photos.length })}`
                        : receiptLine(r), id);
    if (!waiting) justSaved = null;
  } else if (r.state === "rejected") {
    say("error", t("rejectedSaved"), id);
    justSaved = null;
  } else if (tried && !r.sending) {
    say("waiting", t("saved"), id); // it really waits: the send that followed the save did not get through
  }
}
outbox.changes.addEventListener("change", showOutcome);

// The send bar's height, so that what is scrolled or focused into view stops above it (scroll-padding in field.css).
new ResizeObserver(([entry]) => {
  document.documentElement.style.setProperty("--send-bar-height", `${Math.ceil(entry.borderBoxSize[0].blockSize)}px`);
}).observe($("send-bar"));

// ---- Network and service worker ------------------------------------------------------------------------------

// The badge says whether the server can be reached (reach.js), not what navigator.onLine says: "Online" only once
// the server has answered. Not reached: "Offline" when the phone has no network, else "Server not available".
function showNetwork() {
  const status = $("net-status");
  const server = reach.current();
  const state = server === "online" ? "online" : !navigator.onLine ? "offline" : server;
  status.dataset.state = state;
  status.textContent = { online: t("online"), offline: t("offline"), unreachable: status.dataset.unreachable,
                         unknown: "" }[state];
}
reach.changes.addEventListener("change", showNetwork);
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

// ---- Wiring and start ------------------------------------------------------------------------------------------

followUp.configure({ clearForm, endCorrection: correction.endCorrection, correcting: () => Boolean(correction.current()) });
correction.configure({ clearForm, drawOutbox: outboxList.drawOutbox });
outboxList.configure({ clearForm });

showNetwork();
resetObservedAt();
showComponents();
showLocation();
// Whom the server says is signed in (the outbox's sync and "My work" ask it). Another account than the page's: this
// page was kept from the last shift; until it is reloaded from the network, it shows and stamps that account's
// reports only, and no "My work".
function signedIn(username) {
  if (username === currentUser()) return;
  setUser(username);
  myWork.hide();
  outboxList.drawOutbox();
  account.check(username, config);
}

sync.configure({ reports: config.urls.reports, session: config.urls.session, user: currentUser(), onSession: signedIn,
                 batch: config.urls.reportsBatch || null, batchMaxReports: config.batchMaxReports,
                 batchMaxBytes: config.batchMaxBytes });
outboxList.drawOutbox().then(() => sync.start({ probeUrl: $("net-status").dataset.probeUrl }));
myWork.start({ config, t, el, formatTime, onReportProgress: followUp.startFollowUp, onSignedIn: signedIn });
registerServiceWorker();
document.documentElement.dataset.fieldReady = "true";
