// The repair queue panel: one row per ranked case, linked both ways with the map.
import { el, number } from "./dom.js";

const list = document.getElementById("queue");

function people(value) {
  return number.format(Math.round(value));
}

function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

function row(r, onPick) {
  // Which figure the plan uses and why: a coordinator's override, the crew's estimate or a default.
  const hours = el("span", {}, `${number.format(r.repair_hours)} h repair (${r.repair_hours_source})`);
  if (r.repair_hours_is_default) hours.append(el("span", { className: "badge", title: r.repair_hours_source }, "default"));
  const sites = r.critical_sites.length
    ? `critical sites: ${r.critical_sites.map((s) => `${s.kind} (${people(s.weight)})`).join(", ")}` : null;
  const item = el("li", { dataset: { caseId: String(r.case_id), rank: String(r.rank) } },
    el("span", { className: "rank" }, `#${r.rank}`),
    el("a", { href: `/cases/${encodeURIComponent(r.case_id)}` }, `Case ${r.case_id}: ${r.facility_name}`),
    el("div", { className: "facts" },
      `serves ${people(r.population_served)}; restored now ${people(r.gain_now)}, with blockers `
      + `${people(r.gain_with_blockers)}; `, hours),
    el("div", { className: "facts operational", dataset: { status: r.operational_status } },
      `${r.operational_status.replaceAll("_", " ")} (${r.operational_status_source}); without power now `
      + `${people(r.without_power_now)}`),
    r.reports_disagree ? el("div", { className: "facts flag" }, r.reports_disagree) : null,
    r.work ? el("div", { className: "facts work" }, r.work) : null,
    r.access_state !== "cleared" || r.materials_until ? el("div", { className: "facts access" },
      `access: ${r.access_state.replaceAll("_", " ")} (${r.access_source})`
      + (r.access_expected_at ? `, expected ${when(r.access_expected_at)}` : "")
      + (r.materials_until ? `; waiting for materials until ${when(r.materials_until)}` : "")) : null,
    r.repair_hours_flag ? el("div", { className: "facts flag" }, `check estimate: ${r.repair_hours_flag}`) : null,
    r.blocked_by.length ? el("div", { className: "facts" },
      `blocked by: ${r.blocked_by_facilities.join(", ")}`) : null,
    sites ? el("div", { className: "facts" }, sites) : null,
    r.hazards.length ? el("div", { className: "facts" }, `hazards: ${r.hazards.join(", ")}`) : null,
    el("div", { className: "why" }, r.explanation));
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
  if (first >= 0) items[first].classList.add("supplying-group");
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
