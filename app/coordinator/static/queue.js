// The repair queue panel: one row per ranked case, linked both ways with the map.
import { code, el, localNumbers, number, people, t, when } from "./dom.js";

const list = document.getElementById("queue");

function row(r, onPick) {
  // Which figure the plan uses and why: a coordinator's override, the crew's estimate or a default.
  const hours = el("span", {}, t("repairHours", { hours: number.format(r.repair_hours),
    source: localNumbers(r.repair_hours_source) }));
  if (r.repair_hours_is_default) {
    hours.append(el("span", { className: "badge", title: r.repair_hours_source }, t("defaultBadge")));
  }
  const sites = r.critical_sites.length ? t("criticalSites", { list: r.critical_sites.map((s) =>
    `${code("site_kind", s.kind)} (${people(s.weight)})`).join(", ") }) : null;
  const access = r.access_state !== "cleared" || r.materials_until
    ? t("access", { state: code("access", r.access_state, { spaced: true }), source: r.access_source })
      + (r.access_expected_at ? t("accessExpected", { time: when(r.access_expected_at) }) : "")
      + (r.materials_until ? t("materials", { time: when(r.materials_until) }) : "") : null;
  const item = el("li", { dataset: { caseId: String(r.case_id), rank: String(r.rank) } },
    el("span", { className: "rank" }, `#${r.rank}`),
    el("a", { href: `/cases/${encodeURIComponent(r.case_id)}` }, t("caseNamed", { id: r.case_id,
      name: r.facility_name })),
    el("div", { className: "facts" }, t("serves", { served: people(r.population_served), now: people(r.gain_now),
      blockers: people(r.gain_with_blockers) }), hours),
    el("div", { className: "facts operational", dataset: { status: r.operational_status } },
      t("queueOperational", { status: code("operational", r.operational_status, { spaced: true }),
        source: localNumbers(r.operational_status_source), people: people(r.without_power_now) })),
    r.reports_disagree ? el("div", { className: "facts flag" }, localNumbers(r.reports_disagree)) : null,
    r.work ? el("div", { className: "facts work" }, localNumbers(r.work)) : null,
    access ? el("div", { className: "facts access" }, access) : null,
    r.repair_hours_flag ? el("div", { className: "facts flag" }, t("checkEstimate", {
      flag: localNumbers(r.repair_hours_flag) })) : null,
    r.blocked_by.length ? el("div", { className: "facts" }, t("blockedBy", {
      list: r.blocked_by_facilities.join(", ") })) : null,
    sites ? el("div", { className: "facts" }, sites) : null,
    r.hazards.length ? el("div", { className: "facts" }, t("hazards", {
      list: r.hazards.map((h) => code("hazard", h)).join(", ") })) : null,
    el("div", { className: "why" }, localNumbers(r.explanation)));
  item.addEventListener("click", (event) => {
    if (event.target.tagName === "A") return;
    selectRow(r.case_id, { scroll: false });
    onPick(r.case_id);
  });
  return item;
}

export function renderQueue(rows, { onPick }) {
  const selected = list.querySelector("li.selected")?.dataset.caseId;
  const items = rows.map((r) => row(r, onPick));
  // The cases whose facility still supplies everyone (reported operating) come last, in a group of their own.
  const first = rows.findIndex((r) => r.operational_status === "operating");
  if (first >= 0) {
    items[first].classList.add("supplying-group");
    items[first].dataset.group = t("supplyingGroup");
  }
  list.replaceChildren(...items);
  list.dataset.count = String(rows.length);
  if (selected) list.querySelector(`li[data-case-id="${CSS.escape(selected)}"]`)?.classList.add("selected");
}

export function selectRow(caseId, { scroll = true } = {}) {
  for (const li of list.querySelectorAll("li.selected")) li.classList.remove("selected");
  const li = list.querySelector(`li[data-case-id="${CSS.escape(String(caseId))}"]`);
  if (!li) return;
  li.classList.add("selected");
  if (scroll) li.scrollIntoView({ block: "nearest" });
}

// The proposed switching steps (GET /api/triage's `switching`), each with a Close button that records that the
// control room closed the switch (POST /api/switches/<id>/close); `onDone` then refreshes the queue and the map.
const panel = document.getElementById("switching");
export const switchingText = (key, values = {}) => (panel?.dataset[key] ?? key)
  .replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

// Record that the control room closed (or opened again) a switch: POST /api/switches/<id>/close or /open.
export async function setSwitch(id, action = "close") {
  const url = panel.dataset.closeUrl.replace(/\/0\/close$/, `/${encodeURIComponent(id)}/${action}`);
  const response = await fetch(url, { method: "POST", cache: "no-store", headers: { Accept: "application/json",
    "Content-Type": "application/json", "X-CSRFToken": csrfToken() }, body: "{}" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error((body.errors ? Object.values(body.errors).join("; ") : body.error) || `HTTP ${response.status}`);
  }
  return body;
}

function stepRow(step, onDone) {
  const status = document.getElementById("switching-status");
  const button = el("button", { type: "button", className: "close-switch",
    dataset: { switchId: String(step.switch_id) } }, switchingText("msgClose"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = switchingText("msgClosing");
    try {
      await setSwitch(step.switch_id, "close");
      status.textContent = "";
      await onDone();
    } catch (e) {
      status.textContent = switchingText("msgFailed", { reason: localNumbers(e.message) });
      button.disabled = false;
    }
  });
  const bridges = step.bridges.case_ids.length ? switchingText("msgBridges", {
    list: step.bridges.case_ids.map((id, i) => t("caseNamed", { id,
      name: step.bridges.case_facility_names[i] })).join(", ") }) : null;
  return el("li", { dataset: { switchId: String(step.switch_id) } },
    el("div", {}, el("strong", {}, step.name), " ",
      `(${switchingText(step.remote ? "msgRemote" : "msgManual")})`, " ", button),
    el("div", { className: "why" }, localNumbers(step.sentence)),
    bridges ? el("div", { className: "facts" }, bridges) : null,
    el("div", { className: "facts flow" }, localNumbers(step.flow.reason)));
}

export function renderSwitching(steps, { onDone }) {
  if (!panel) return;
  const list = document.getElementById("switching-steps");
  list.replaceChildren(...(steps ?? []).map((step) => stepRow(step, onDone)));
  list.dataset.count = String((steps ?? []).length);
  panel.hidden = !(steps ?? []).length;
}
