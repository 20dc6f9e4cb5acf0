// "My work": the open cases assigned to the signed-in crew. Fetched when online and kept on the phone (IndexedDB,
// next to the outbox) so that the list, and a follow-up report on any of its cases, work with no network.
import * as outbox from "./outbox.js";

let ui = null; // {config, t, el, formatTime, onReportProgress, onSignedIn(username): told whom the server answered for}
let refreshing = null;
let problem = null; // why the last refresh failed (null: it did not; OFFLINE: no answer at all)
let otherAccount = false; // the server answered for another account than the page's (a page kept from the last shift)
const OFFLINE = "offline";
const accessSaved = new Map(); // case id -> the access state this page saved (said again after the list is redrawn)
// case id -> the access state and time the crew chose and has not saved yet: a redraw of the list (a refresh when
// the page is shown again, or after a report is sent) keeps them instead of the server's.
const accessDraft = new Map();

// Each account signed in on this phone has its own list, under the name the server gave with it.
const key = (user) => `myWork:${user}`;

// Fetches the list (when the phone thinks it is online) and keeps it; draws whatever is kept.
export function refresh() {
  if (!ui) return Promise.resolve();
  if (refreshing) return refreshing;
  refreshing = (async () => {
    if (navigator.onLine) {
      status(ui.t("myWorkRefreshing"));
      try {
        const signal = "timeout" in AbortSignal ? AbortSignal.timeout(20000) : undefined;
        const response = await fetch(ui.config.urls.myCases, { headers: { Accept: "application/json" },
                                                               credentials: "same-origin", cache: "no-store", signal });
        const body = response.ok ? await response.json().catch(() => null) : null;
        if (!body || !Array.isArray(body.cases) || typeof body.username !== "string") {
          problem = `HTTP ${response.status}`;
        } else if (body.username !== ui.config.user) {
          // Another account's work: neither kept under the page's account nor shown; the page is reloaded.
          otherAccount = true;
          problem = null;
          ui.onSignedIn(body.username);
        } else {
          await outbox.setMeta(key(body.username), { username: body.username, refreshedAt: new Date().toISOString(),
                                                     cases: body.cases });
          otherAccount = false;
          problem = null;
        }
      } catch {
        // No answer (no network, however the phone reports its connection, or a time-out).
        problem = OFFLINE;
      }
    }
    await draw();
  })().finally(() => { refreshing = null; });
  return refreshing;
}

function status(text) { document.getElementById("my-work-status").textContent = text; }

function label(group, code) { return (ui.config.labels[group] || {})[code] || String(code).replace(/_/g, " "); }

// The facility (or the place) a follow-up is about, for the form.
export function target(c) {
  return { caseId: c.id, name: c.facility_name || ui.t("unregisteredSite"), kind: c.facility_kind || c.kind,
           facilityId: c.facility_id, lon: c.lon, lat: c.lat, severity: c.worst_severity };
}

function item(c) {
  const { t, el, formatTime } = ui;
  const mine = (c.reports || []).filter((r) => r.reporter === ui.config.user);
  const lines = [t("workSeverity", { severity: c.worst_severity ? label("severity", c.worst_severity) : "—" })];
  if (c.hazards && c.hazards.length) lines.push(t("workHazards", { list: c.hazards.map((h) => label("hazard", h)).join(", ") }));
  const button = el("button", { type: "button", class: "secondary report-progress", text: t("reportProgress") });
  button.addEventListener("click", () => ui.onReportProgress(target(c)));
  if (c.access_state) lines.push(t("workAccess", { state: t(`access_${c.access_state}`) }));
  return el("li", { class: "work-case", "data-case-id": String(c.id), "data-status": c.status,
                    "data-next-job": c.next_job ? "true" : "false" },
    el("div", { class: "report-head" }, el("span", { class: "badge", text: label("caseStatus", c.status) }), " ",
       c.next_job ? el("span", { class: "badge next-job", text: t("workNext") }) : null, " ",
       el("strong", { text: t("workCase", { case: c.id, name: c.facility_name || t("unregisteredSite") }) })),
    el("p", { class: "work-detail", text: lines.join(" · ") }),
    c.map_url ? el("p", { class: "work-map" }, el("a", { href: c.map_url, text: t("workOpenMap") })) : null,
    c.assigned_crew ? el("p", { class: "work-crew", text: t("workCrew", { crew: c.assigned_crew }) }) : null,
    c.last_event_at ? el("p", { class: "work-time", text: t("workLastEvent", { time: formatTime(c.last_event_at) }) })
      : null,
    mine.length ? el("p", { class: "work-reports", text: t("workReports", {
      n: mine.length, time: formatTime(mine[mine.length - 1].observed_at) }) }) : null,
    accessForm(c),
    el("div", { class: "report-actions" }, button));
}

// "Site access": the crew on site says the site is cleared, blocked or needs clearance (and by when). Sent now,
// not kept for later: the coordinator's plan takes it from the next computation.
function accessForm(c) {
  const template = document.getElementById("work-access-template");
  if (!template) return null;
  const form = template.content.firstElementChild.cloneNode(true);
  const state = form.querySelector(".work-access-state");
  const when = form.querySelector(".work-access-expected");
  const whenLabel = form.querySelector(".work-access-when");
  const result = form.querySelector(".work-access-result");
  state.value = c.access_state || "cleared";
  if (c.access_expected_at) {
    const at = new Date(c.access_expected_at);
    const local = new Date(at.getTime() - at.getTimezoneOffset() * 60000);  // the phone's wall clock
    when.value = local.toISOString().slice(0, 16);
  }
  const draft = accessDraft.get(c.id);
  if (draft) {
    state.value = draft.state;
    when.value = draft.when;
  } else if (accessSaved.get(c.id) === c.access_state) {
    result.textContent = result.dataset.saved;
    result.dataset.state = c.access_state;
  }
  const sync = () => { whenLabel.hidden = state.value === "cleared"; };
  const keep = () => accessDraft.set(c.id, { state: state.value, when: when.value });
  state.addEventListener("change", () => { keep(); sync(); });
  when.addEventListener("input", keep);
  sync();
  form.querySelector(".work-access-save").addEventListener("click", () => saveAccess(c, form, state, when, result));
  return form;
}

async function saveAccess(c, form, state, when, result) {
  if (!navigator.onLine) { result.textContent = result.dataset.offline; return; }
  const body = { access_state: state.value };
  // A datetime-local value has no zone: read as the phone's local time, sent as UTC.
  if (state.value !== "cleared" && when.value) body.expected_at = new Date(when.value).toISOString();
  result.textContent = result.dataset.saving;
  form.disabled = true;
  try {
    const { response, body: answer } = await postJson(`${ui.config.urls.myCases}/${c.id}/access`, body);
    if (response.ok && answer.case) {
      result.textContent = result.dataset.saved;
      accessSaved.set(c.id, answer.case.access_state);
      accessDraft.delete(c.id);
      // The list (kept on the phone) is fetched again to show the new state; a fetch begun before the save
      // would not have it, so it is waited for first. The redrawn case says it was saved (data-state).
      if (refreshing) await refreshing;
      await refresh();
    } else {
      const errors = answer.errors ? Object.entries(answer.errors).map(([k, v]) => `${k}: ${v}`).join("; ") : "";
      result.textContent = `${result.dataset.failed} ${errors || answer.error || `HTTP ${response.status}`}`;
    }
  } catch {
    result.textContent = result.dataset.offline;
  } finally {
    form.disabled = false;
  }
}

// Draws the kept list with when it was refreshed, and why not when the last try failed.
export async function draw() {
  let kept = otherAccount ? undefined : await outbox.getMeta(key(ui.config.user)).catch(() => undefined);
  // Only a list the server gave for this very account (a list kept by an older page may be another account's).
  if (kept && kept.username !== ui.config.user) kept = undefined;
  const list = document.getElementById("my-work-list");
  const cases = kept ? kept.cases : [];
  list.replaceChildren(...cases.map(item));
  list.dataset.count = String(cases.length);
  // The form comes first on the page: a link at its top says how many cases are assigned and leads to them.
  const summary = document.getElementById("my-work-summary");
  summary.hidden = !cases.length;
  summary.textContent = cases.length ? ui.t("myWorkSummary", { n: cases.length }) : "";
  const section = document.getElementById("my-work");
  section.dataset.refreshedAt = kept ? kept.refreshedAt : "";
  const parts = [];
  const offline = !navigator.onLine || problem === OFFLINE;
  if (otherAccount) {
    parts.push(ui.t("myWorkOtherAccount"));
  } else if (!kept) {
    parts.push(ui.t("myWorkNever"));
    if (!offline && problem) parts.push(`(${problem})`);
  } else {
    parts.push(ui.t("myWorkUpdated", { time: ui.formatTime(kept.refreshedAt) }));
    if (offline) parts.push(ui.t("myWorkOffline"));
    else if (problem) parts.push(ui.t("myWorkFailed", { reason: problem }));
    if (!cases.length) parts.push(ui.t("myWorkEmpty"));
  }
  status(parts.join(" "));
}

// Another account than the page's is signed in: its list is not this page's to show, nor the page's account's list.
export function hide() {
  otherAccount = true;
  return ui ? draw() : Promise.resolve();
}

// A POST with the page's CSRF token, or a fresh one from the session endpoint when that one is stale: "My crew's
// status" (where the account's crew stands) and a case's site access. Not kept for later: they are news only now.
async function postJson(url, payload) {
  const send = (token) => fetch(url, {
    method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { Accept: "application/json", "Content-Type": "application/json", ...(token ? { "X-CSRFToken": token } : {}) },
    body: JSON.stringify(payload) });
  let response = await send(document.querySelector('meta[name="csrf-token"]')?.content);
  let body = await response.json().catch(() => ({}));
  if (response.status === 400 && /csrf/i.test(String(body.error || ""))) {
    const session = await fetch(ui.config.urls.session, { headers: { Accept: "application/json" },
                                                         credentials: "same-origin", cache: "no-store" });
    const fresh = session.ok ? await session.json().catch(() => ({})) : {};
    if (fresh.csrf_token) {
      response = await send(fresh.csrf_token);
      body = await response.json().catch(() => ({}));
    }
  }
  return { response, body };
}

async function setCrewStatus(select) {
  const result = document.getElementById("crew-status-result");
  const value = select.value;
  if (!value) return;
  if (!navigator.onLine) { result.textContent = ui.t("crewStatusOffline"); return; }
  result.textContent = ui.t("crewStatusSaving");
  select.disabled = true;
  try {
    const { response, body } = await postJson(ui.config.urls.crewStatus, { status: value });
    if (response.ok && body.crew) {
      result.textContent = ui.t("crewStatusSaved", { crew: body.crew.name, status: label("crewStatus", body.crew.status) });
      result.dataset.status = body.crew.status;
    } else if (response.status === 404) {
      result.textContent = ui.t("crewStatusNoCrew");
    } else {
      result.textContent = ui.t("crewStatusFailed", { reason: body.error || `HTTP ${response.status}` });
    }
  } catch {
    result.textContent = ui.t("crewStatusOffline");
  } finally {
    select.disabled = false;
  }
}

export function start(options) {
  ui = options;
  const crewStatus = document.getElementById("crew-status");
  crewStatus.addEventListener("change", () => setCrewStatus(crewStatus));
  document.getElementById("my-work-refresh").addEventListener("click", () => refresh());
  addEventListener("online", () => refresh());
  addEventListener("offline", () => draw());
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });
  return draw().then(() => refresh());
}
