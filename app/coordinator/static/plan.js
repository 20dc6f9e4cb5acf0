// The plan panel: k crews' sequences with ETRs, and population restored over time next to the naive order.
import { el, localNumbers, number, oneDecimal, people, share, svg, t } from "./dom.js";

const W = 420, H = 220, LEFT = 48, BOTTOM = 34, TOP = 10, RIGHT = 10;

function curve(areas) {
  // Step curve of population with power back by each hour (areas sorted by their ETR).
  const sorted = [...areas].sort((a, b) => a.etr_hours - b.etr_hours);
  let total = 0;
  const points = [[0, 0]];
  for (const a of sorted) { total += a.population; points.push([a.etr_hours, total]); }
  return points;
}

function path(points, x, y) {
  let d = `M${x(0)},${y(0)}`;
  let last = 0;
  for (const [t, p] of points) { d += ` H${x(t)} V${y(p)}`; last = p; }
  return { d, last };
}

function drawChart(chart, plan) {
  const ours = curve(plan.etr_by_area), naive = curve(plan.naive_etr_by_area ?? []);
  const maxT = Math.max(1, ...ours.map((p) => p[0]), ...naive.map((p) => p[0]));
  const maxP = Math.max(1, ...ours.map((p) => p[1]), ...naive.map((p) => p[1]));
  const x = (t) => (LEFT + (t / maxT) * (W - LEFT - RIGHT)).toFixed(1);
  const y = (p) => (H - BOTTOM - (p / maxP) * (H - BOTTOM - TOP)).toFixed(1);
  const end = (pts) => ` H${x(maxT)}`;
  // Time ticks at whole hours (about five), and the axes named.
  const step = [1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 168].find((h) => maxT / h <= 6) ?? Math.ceil(maxT / 6);
  const ticks = [];
  for (let h = 0; h <= maxT + 1e-9; h += step) {
    ticks.push(svg("path", { class: "tick", d: `M${x(h)},${H - BOTTOM} v4` }),
      svg("text", { x: x(h), y: H - BOTTOM + 13, "text-anchor": "middle", class: "tick-label" },
        t("hours", { h: number.format(h) })));
  }
  chart.replaceChildren(
    svg("path", { class: "axis", d: `M${LEFT},${TOP} V${H - BOTTOM} H${W - RIGHT}` }),
    svg("path", { class: "naive", d: path(naive, x, y).d + end(naive) }),
    svg("path", { class: "plan", d: path(ours, x, y).d + end(ours) }),
    ...ticks,
    svg("text", { x: W - RIGHT, y: H - 4, "text-anchor": "end", class: "axis-title" }, t("chartHours")),
    svg("text", { x: 2, y: TOP + 8 }, people(maxP)),
    svg("text", { x: 2, y: H - BOTTOM }, "0"),
    svg("text", { x: 12, y: (TOP + H - BOTTOM) / 2, class: "axis-title", "text-anchor": "middle",
      transform: `rotate(-90 12 ${(TOP + H - BOTTOM) / 2})` }, t("chartPeople")),
    svg("text", { x: LEFT + 8, y: TOP + 12, class: "legend-plan" }, t("chartPlan")),
    svg("text", { x: LEFT + 50, y: TOP + 12, class: "legend-naive" }, t("chartNaive")),
  );
  chart.dataset.planPoints = String(ours.length);
  chart.dataset.naivePoints = String(naive.length);
}

function crewList(plan) {
  const etr = plan.etr_by_case;
  // Work a crew holds stays first in its sequence: "in repair" (started in the past) or "assigned".
  const held = { in_progress: t("heldInRepair"), assigned: t("heldAssigned") };
  return plan.crews.map((jobs, i) => el("div", { className: "crew" },
    el("strong", {}, plan.crew_labels?.[i] ?? t("crewNumber", { n: i + 1 })),
    el("ol", {}, ...jobs.map((job) => el("li", { dataset: { caseId: String(job.case_id), commitment: job.commitment ?? "" } },
      el("a", { href: `/cases/${encodeURIComponent(job.case_id)}` }, t("caseNamed", { id: job.case_id,
        name: job.facility_name })),
      ` ${t("planJob", { start: oneDecimal(job.start_hours), finish: oneDecimal(job.finish_hours),
        etr: oneDecimal(etr[String(job.case_id)] ?? job.finish_hours) })}${held[job.commitment] ?? ""}`)))));
}

function switchingBlock(summary, block) {
  // The plan's switching block (issue 15): both objectives, each proposed step with its power-flow verdict, and
  // who does the steps. Every sentence comes from the API, already in the page's language.
  let box = document.getElementById("plan-switching");
  if (!block) { box?.remove(); return; }
  if (!box) { box = el("div", { id: "plan-switching", className: "plan-switching" }); summary.after(box); }
  box.replaceChildren(
    el("p", { className: "switching-summary" }, block.summary),
    el("ol", {}, ...block.steps.map((step) => el("li", { dataset: { switchId: String(step.switch_id),
      flow: step.flow.status } }, `${step.sentence}; ${step.flow.reason}`))),
    el("p", { className: "status" }, block.done_by));
  box.dataset.objectiveWithSwitching = String(block.objective_with_switching);
  box.dataset.objectiveRepairsOnly = String(block.objective_repairs_only);
}

export function setupPlan({ planUrl }) {
  const form = document.getElementById("plan-form");
  const summary = document.getElementById("plan-summary");
  const chart = document.getElementById("plan-chart");
  const crewsBox = document.getElementById("plan-crews");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const k = form.elements.crews.value;
    summary.textContent = t("planning");
    try {
      const response = await fetch(`${planUrl}?crews=${encodeURIComponent(k)}`, { headers: { Accept: "application/json" } });
      const plan = await response.json();
      if (!response.ok) throw new Error(plan.errors ? Object.values(plan.errors).join("; ") : `HTTP ${response.status}`);
      const q = plan.quality;
      // The plan minimises the weighted figure (critical sites, priority bumps); plain people-hours are shown too,
      // and with weights the plan may be worse than the naive order on them, so the comparison says which it is.
      const weighted = q.objective !== q.phu || q.naive_objective !== q.naive_phu;
      const better = q.objective_improvement_vs_naive;
      summary.textContent = t("planSummary", { plan: people(q.phu), naive: people(q.naive_phu),
        bound: people(q.phu_lower_bound) }) + (better === null ? "" : ` ${t(weighted ? "planBetterWeighted"
        : "planBetter", { share: share(better) })}`);
      switchingBlock(summary, plan.switching);
      drawChart(chart, plan);
      crewsBox.replaceChildren(...crewList(plan));
      crewsBox.dataset.crews = String(plan.crews.length);
    } catch (e) {
      summary.textContent = t("planFailed", { reason: localNumbers(e.message) });
    }
  });
}
