// The crew plan: pick named crews (GET /api/crews), plan them (GET /api/dispatch) with clock-time ETRs, dispatch
// the plan (POST /api/dispatch), and re-plan as reports arrive, saying what changed since the plan before.
import { code, el, lang, localNumbers, number, oneDecimal, people, share, t } from "./dom.js";

const SLIP_HOURS = 1; // an ETR later than the previous plan's by more than this is reported as slipped
const MAX_CHANGES = 12;
const timeOnly = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const withDay = new Intl.DateTimeFormat(lang, { weekday: "short", day: "numeric", month: "short",
  hour: "2-digit", minute: "2-digit" });

// A clock time in the user's locale; with the day when it is not today.
export function clock(iso) {
  if (!iso) return t("never");
  const when = new Date(iso);
  return (when.toDateString() === new Date().toDateString() ? timeOnly : withDay).format(when);
}

const instant = (iso) => (iso ? Date.parse(iso) : Infinity); // no ETR: never energised in this plan

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

async function answer(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const why = body.errors ? Object.values(body.errors).join("; ") : body.error ?? body.message;
    throw new Error(why || `HTTP ${response.status}`);
  }
  return body;
}

// What changed from one plan to the next: a case now with another crew, an ETR later by more than an hour,
// a case new in the plan. Each {caseId, kind, text}.
export function planChanges(before, after) {
  const out = [];
  const name = facilityNames(after);
  for (const [caseId, now] of Object.entries(after.plan.cases)) {
    const was = before.plan.cases[caseId];
    const label = name.has(caseId) ? t("caseWithName", { id: caseId, name: name.get(caseId) })
      : t("case", { id: caseId });
    if (!was) { out.push({ caseId, kind: "new", text: t("newInPlan", { case: label, crew: now.crew }) }); continue; }
    if (was.crew !== now.crew) {
      out.push({ caseId, kind: "moved", text: t("moved", { case: label, from: was.crew, to: now.crew }) });
    }
    const slip = (instant(now.etr_at) - instant(was.etr_at)) / 3.6e6;
    if (slip > SLIP_HOURS) {
      out.push({ caseId, kind: "slipped", text: t("slipped", { case: label, from: clock(was.etr_at),
        to: clock(now.etr_at) }) + (Number.isFinite(slip) ? t("slippedBy", { h: oneDecimal(slip) }) : "") });
    }
  }
  return out;
}

function facilityNames(body) {
  const out = new Map();
  for (const route of body.plan.crews) for (const job of route.jobs) out.set(String(job.case_id), job.facility_name);
  return out;
}

function jobItem(job, etr) {
  const facts = [t("arrive", { time: clock(job.arrival_at) }), t("start", { time: clock(job.start_at) }),
    t("finish", { time: clock(job.finish_at) })];
  // overShift: a repair longer than a whole shift that runs past its shift's end (the plan's notes say which)
  const item = el("li", { className: "job", dataset: { caseId: String(job.case_id), arrivalAt: job.arrival_at ?? "",
    startAt: job.start_at ?? "", finishAt: job.finish_at ?? "", overShift: job.over_shift ? "true" : "false" } },
    el("a", { href: `/cases/${encodeURIComponent(job.case_id)}` }, t("caseNamed", { id: job.case_id,
      name: job.facility_name })),
    el("div", { className: "facts times" }, facts.join(" · ")));
  if (etr) {
    item.append(el("div", { className: "facts etr", dataset: { etrAt: etr.etr_at ?? "" } },
      t("etr", { etr: clock(etr.etr_at), p50: clock(etr.p50_at), p90: clock(etr.p90_at) })));
  }
  const waits = [];
  if (job.access_state && job.access_state !== "cleared") {
    waits.push(t("waitAccess", { state: code("access", job.access_state, { spaced: true }) }));
  }
  if (job.not_before) waits.push(t("notBefore", { time: clock(job.not_before) }));
  if (job.status && job.status !== "reported" && job.status !== "confirmed") {
    waits.push(t("nowStatus", { status: code("status", job.status, { spaced: true }) }));
  }
  if (waits.length) item.append(el("div", { className: "facts flag" }, waits.join("; ")));
  return item;
}

function routes(body, idOf) {
  return body.plan.crews.map((route) => el("div", { className: "crew dispatch-route",
    dataset: { crew: route.crew, crewId: String(idOf.get(route.crew) ?? ""), jobs: String(route.jobs.length) } },
    el("strong", {}, route.crew),
    route.jobs.length
      ? el("ol", {}, ...route.jobs.map((job) => jobItem(job, body.plan.cases[String(job.case_id)])))
      : el("p", { className: "facts" }, t("noWork"))));
}

function qualityText(q) {
  const gap = q.objective_gap ?? q.gap;
  return t("quality", { proven: t(q.optimal ? "optimal" : "notOptimal"),
    bound: gap == null ? "" : t("aboveBound", { share: share(gap) }), phu: q.phu == null ? "—" : people(q.phu),
    naive: q.naive_phu == null ? "" : t("naiveOrder", { phu: people(q.naive_phu) }) });
}

export function setupDispatch({ crewsUrl, dispatchUrl }) {
  const picker = document.getElementById("crew-picker");
  const planButton = document.getElementById("dispatch-plan");
  const assignButton = document.getElementById("dispatch-assign");
  const status = document.getElementById("dispatch-status");
  const quality = document.getElementById("dispatch-quality");
  const computed = document.getElementById("dispatch-computed");
  const changeList = document.getElementById("dispatch-changes");
  const routeBox = document.getElementById("dispatch-routes");
  const noteList = document.getElementById("dispatch-notes");
  const assignedBox = document.getElementById("dispatch-assigned");
  const state = { crews: [], touched: new Map(), crewIds: null, plan: null, runs: 0, seq: 0, busy: null,
    again: false };

  // The crews as checkboxes: off-shift ones unticked unless the coordinator ticked them; ticks survive a reload.
  function showCrews(crews) {
    const ticked = new Map([...picker.querySelectorAll("input[name=crew]")].map((box) => [box.value, box.checked]));
    state.crews = crews;
    picker.replaceChildren(...crews.map((c) => {
      const id = String(c.id);
      const checked = state.touched.has(id) ? state.touched.get(id) : ticked.get(id) ?? c.status !== "off_shift";
      const box = el("input", { type: "checkbox", name: "crew", value: id, checked });
      box.addEventListener("change", () => state.touched.set(id, box.checked));
      return el("label", { className: "check", dataset: { crewId: id, status: c.status } }, box,
        ` ${c.name} `, el("span", { className: "crew-status" }, `(${code("crew_status", c.status, { spaced: true })}${
          c.skills.length ? `; ${c.skills.map((s) => code("skill", s)).join(", ")}` : ""})`));
    }));
    picker.dataset.count = String(crews.length);
    if (!crews.length) picker.append(el("p", { className: "status" }, t("noCrews")));
  }

  function idOf() {
    return new Map(state.crews.map((c) => [c.name, c.id]));
  }

  function show(body, { previous }) {
    state.plan = body;
    state.runs += 1;
    quality.textContent = qualityText(body.quality);
    quality.dataset.optimal = String(Boolean(body.quality.optimal));
    computed.textContent = t("computed", { time: timeOnly.format(new Date()) });
    computed.dataset.runs = String(state.runs);
    computed.dataset.asOf = body.as_of ?? "";
    routeBox.replaceChildren(...routes(body, idOf()));
    routeBox.dataset.crews = String(body.plan.crews.length);
    noteList.replaceChildren(...(body.notes ?? []).map((note) => el("li", {}, localNumbers(note))));
    if (previous) {
      const found = planChanges(previous, body);
      const items = found.slice(0, MAX_CHANGES).map((c) => el("li", { dataset: { caseId: c.caseId, kind: c.kind } },
        c.text));
      if (found.length > MAX_CHANGES) items.push(el("li", {}, t("andMore", { n: number.format(found.length - MAX_CHANGES) })));
      changeList.replaceChildren(el("strong", {}, t("sincePrevious")), ...(items.length ? [el("ul", {},
        ...items)] : [t("noChanges")]));
      changeList.dataset.count = String(found.length);
    } else {
      changeList.replaceChildren();
      delete changeList.dataset.count;
    }
    assignButton.disabled = false;
  }

  async function plan(crewIds, { previous }) {
    const seq = ++state.seq;
    const query = new URLSearchParams(crewIds.map((id) => ["crew", id]));
    const body = await answer(await fetch(`${dispatchUrl}?${query}`, { headers: { Accept: "application/json" },
      cache: "no-store" }));
    if (seq !== state.seq) return; // a newer plan was asked for meanwhile
    state.crewIds = crewIds;
    show(body, { previous });
  }

  planButton.addEventListener("click", async () => {
    const crewIds = [...picker.querySelectorAll("input[name=crew]:checked")].map((box) => box.value);
    if (!crewIds.length) { status.textContent = t("tickCrew"); return; }
    status.textContent = t("planning");
    assignedBox.replaceChildren();
    try {
      await plan(crewIds, { previous: null });
      status.textContent = "";
    } catch (e) {
      status.textContent = t("planFailed", { reason: localNumbers(e.message) });
    }
  });

  assignButton.addEventListener("click", async () => {
    if (!state.crewIds) return;
    assignButton.disabled = true;
    status.textContent = t("dispatching");
    try {
      const previous = state.plan;
      const seq = ++state.seq;
      const body = await answer(await fetch(dispatchUrl, { method: "POST", cache: "no-store",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ crews: state.crewIds.map(Number) }) }));
      if (seq === state.seq) show(body.plan, { previous });
      showAssigned(body);
      status.textContent = "";
    } catch (e) {
      status.textContent = t("dispatchFailed", { reason: localNumbers(e.message) });
    } finally {
      assignButton.disabled = !state.plan;
    }
  });

  function showAssigned({ assigned, kept }) {
    const items = assigned.map((a) => el("li", { dataset: { caseId: String(a.case_id), crew: a.crew } },
      t("assigned", { id: a.case_id, crew: a.crew, order: a.order })
        + (a.crew_account ? t("withAccount", { account: a.crew_account }) : t("noAccount"))));
    const held = kept.map((k) => el("li", { dataset: { caseId: String(k.case_id), kept: "true" } },
      t("kept", { id: k.case_id, crew: k.crew ?? t("itsCrew"), status: code("status", k.status, { spaced: true }) })));
    assignedBox.replaceChildren(...[
      el("strong", {}, t("dispatched", { time: timeOnly.format(new Date()), n: number.format(assigned.length) })),
      items.length ? el("ul", { className: "assigned" }, ...items) : null,
      held.length ? el("p", {}, t("keptNote")) : null,
      held.length ? el("ul", { className: "kept" }, ...held) : null].filter(Boolean));
    assignedBox.dataset.assigned = String(assigned.length);
  }

  // Reports arrived: re-plan the shown crews (one run at a time; changes during a run give one more run after it).
  async function replan() {
    if (!state.crewIds) return;
    if (state.busy) { state.again = true; return; }
    state.busy = (async () => {
      do {
        state.again = false;
        try {
          await plan(state.crewIds, { previous: state.plan });
        } catch (e) {
          status.textContent = t("replanFailed", { reason: localNumbers(e.message) });
        }
      } while (state.again);
    })().finally(() => { state.busy = null; });
  }

  fetch(crewsUrl, { headers: { Accept: "application/json" } }).then(answer)
    .then((body) => showCrews(body.crews))
    .catch((e) => { status.textContent = t("crewsFailed", { reason: localNumbers(e.message) }); });

  return { showCrews, replan };
}
