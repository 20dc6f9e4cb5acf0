// The outbox's list on the form: each report's state and reasons, and what the crew can do with it.
import * as outbox from "./outbox.js";
import * as sync from "./sync.js";
import { $, LOCALE, config, currentUser, el, form, formatTime, kindLabels, mine, t } from "./page.js";
import * as correction from "./correction.js";
import { startFollowUp } from "./followup.js";
import { registryFacility } from "./location.js";

// What the form's entry module hands in: emptying the form (a discarded report may be the one being corrected).
let hooks = { clearForm: () => {} };

export function configure(options) { hooks = { ...hooks, ...options }; }

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
       el("strong", { text: title }), " ", el("time", { datetime: p.observed_at, text: formatTime(p.observed_at) })),
    el("p", { class: "report-facility", text: rowFacility(r) }));
  if (r.state === "sent" && r.receipt) {
    // The case number is the server's case id; the facility appears by its name beside it, never as a number.
    const name = r.receipt.case_id != null ? caseFacilityName(r) : null;
    const time = formatTime(r.receipt.received_at);
    item.append(el("p", { class: "receipt", text: name ? t("caseReceiptNamed", { case: r.receipt.case_id, name, time })
                                                       : t("caseReceipt", { case: r.receipt.case_id, time }) }));
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
    const when = new Date(Math.max(r.nextAttemptAt, r.retryAfterUntil)).toLocaleTimeString(LOCALE);
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
  const correcting = correction.current();
  if (discarding.has(r.id)) {
    const yes = el("button", { type: "button", class: "secondary danger discard-yes", text: t("discardYes") });
    const no = el("button", { type: "button", class: "secondary discard-no", text: t("discardNo") });
    yes.addEventListener("click", async () => {
      discarding.delete(r.id);
      const now = correction.current();
      if (now && now.fromId === r.id) { correction.endCorrection(); hooks.clearForm(); }
      await outbox.discardRejected(r.id);
    });
    no.addEventListener("click", () => { discarding.delete(r.id); drawOutbox(); });
    actions.append(el("p", { class: "confirm", role: "alert", text: t("discardConfirm") }), yes, no);
    return actions;
  }
  const editing = Boolean(correcting && correcting.fromId === r.id);
  const fix = el("button", { type: "button", class: "secondary correct", disabled: editing,
                             text: editing ? t("beingCorrected") : t("correct") });
  fix.addEventListener("click", () => correction.correct(r.id));
  const drop = el("button", { type: "button", class: "secondary discard", text: t("discard") });
  drop.addEventListener("click", async () => {
    discarding.add(r.id);
    await drawOutbox();
    $("outbox-list").querySelector(`li[data-id="${CSS.escape(r.id)}"] .discard-no`)?.focus();
  });
  actions.append(fix, drop);
  return actions;
}

// The name of the facility of a sent report's case, where the phone knows it: the facility the crew chose (the server
// keeps a report on the chosen facility's case), else the name the follow-up's case was shown with; else null.
function caseFacilityName(r) {
  const facilityId = r.payload.facility_id ?? null;
  const known = r.facility && facilityId != null && String(r.facility.id) === String(facilityId) ? r.facility : null;
  const previous = r.followUp && Number(r.followUp.caseId) === Number(r.receipt.case_id) ? r.followUp : null;
  return (known && known.name) || (previous && previous.name) || null;
}

// The facility a report is about, for anyone's record: its name where the phone knows it, else its number; a
// report of a place only says so.
export function facilityName(r) {
  const facilityId = r.payload.facility_id ?? null;
  const known = r.facility && facilityId != null && String(r.facility.id) === String(facilityId) ? r.facility : null;
  const registered = facilityId != null ? registryFacility(facilityId) : null;
  const followed = r.followUp && r.followUp.name ? r.followUp.name : null;
  return (known && known.name) || (registered && registered.name) || followed
    || (facilityId != null ? t("facilityNumber", { id: facilityId }) : null);
}

function rowFacility(r) {
  return facilityName(r) || t("noFacility");
}

// A sent report: a follow-up on the case the server put it in (the receipt's case id).
function sentActions(r) {
  const p = r.payload;
  const facilityId = p.facility_id ?? null;
  const target = {
    caseId: r.receipt.case_id, kind: p.kind, facilityId, lon: p.lon, lat: p.lat, severity: p.severity,
    name: caseFacilityName(r)
      || (facilityId != null ? t("facilityNumber", { id: facilityId }) : t("unregisteredSite")),
  };
  const button = el("button", { type: "button", class: "secondary follow-up-button", text: t("followUp") });
  button.addEventListener("click", () => startFollowUp(target));
  return el("div", { class: "report-actions" }, button);
}

let drawing = null;
export async function drawOutbox() {
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
  const blob = await outbox.exportJson(currentUser());
  link.href = URL.createObjectURL(blob);
  link.download = `gridtriage-outbox-${new Date().toISOString().slice(0, 19).replace(/:/g, "")}.json`;
  link.classList.remove("visually-hidden");
  link.click();
});
