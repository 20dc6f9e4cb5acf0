// The plan panel: k crews' sequences with ETRs, and population restored over time next to the naive order.
import { el, number, svg } from "./dom.js";

const W = 420, H = 220, LEFT = 48, BOTTOM = 28, TOP = 10, RIGHT = 10;

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
  chart.replaceChildren(
    svg("path", { class: "axis", d: `M${LEFT},${TOP} V${H - BOTTOM} H${W - RIGHT}` }),
    svg("path", { class: "naive", d: path(naive, x, y).d + end(naive) }),
    svg("path", { class: "plan", d: path(ours, x, y).d + end(ours) }),
    svg("text", { x: LEFT, y: H - 8 }, "0 h"),
    svg("text", { x: W - RIGHT - 40, y: H - 8 }, `${maxT.toFixed(1)} h`),
    svg("text", { x: 2, y: TOP + 8 }, number.format(Math.round(maxP))),
    svg("text", { x: 2, y: H - BOTTOM }, "0"),
    svg("text", { x: LEFT + 8, y: TOP + 12, class: "legend-plan" }, "plan"),
    svg("text", { x: LEFT + 50, y: TOP + 12, class: "legend-naive" }, "naive (by population served)"),
  );
  chart.dataset.planPoints = String(ours.length);
  chart.dataset.naivePoints = String(naive.length);
}

function crewList(plan) {
  const etr = plan.etr_by_case;
  // Work a crew holds stays first in its sequence: "in repair" (started in the past) or "assigned".
  const held = { in_progress: " · in repair", assigned: " · assigned" };
  return plan.crews.map((jobs, i) => el("div", { className: "crew" },
    el("strong", {}, plan.crew_labels?.[i] ?? `Crew ${i + 1}`),
    el("ol", {}, ...jobs.map((job) => el("li", { dataset: { caseId: String(job.case_id), commitment: job.commitment ?? "" } },
      el("a", { href: `/cases/${encodeURIComponent(job.case_id)}` }, `Case ${job.case_id}: ${job.facility_name}`),
      ` ${job.start_hours.toFixed(1)}–${job.finish_hours.toFixed(1)} h, ETR ${
        (etr[String(job.case_id)] ?? job.finish_hours).toFixed(1)} h${held[job.commitment] ?? ""}`)))));
}

export function setupPlan({ planUrl }) {
  const form = document.getElementById("plan-form");
  const summary = document.getElementById("plan-summary");
  const chart = document.getElementById("plan-chart");
  const crewsBox = document.getElementById("plan-crews");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const k = form.elements.crews.value;
    summary.textContent = "Planning…";
    try {
      const response = await fetch(`${planUrl}?crews=${encodeURIComponent(k)}`, { headers: { Accept: "application/json" } });
      const plan = await response.json();
      if (!response.ok) throw new Error(plan.errors ? Object.values(plan.errors).join("; ") : `HTTP ${response.status}`);
      const q = plan.quality;
      // The plan minimises the weighted figure (critical sites, priority bumps); plain people-hours are shown too,
      // and with weights the plan may be worse than the naive order on them, so the comparison says which it is.
      const weighted = q.objective !== q.phu || q.naive_objective !== q.naive_phu;
      const better = q.objective_improvement_vs_naive;
      summary.textContent = `People-hours without power: plan ${number.format(Math.round(q.phu))}, naive ${
        number.format(Math.round(q.naive_phu))}, lower bound ${number.format(Math.round(q.phu_lower_bound))}.` + (
        better === null ? "" : ` ${weighted ? "Weighted by critical sites and priority bumps, the" : "The"} plan is ${
          (100 * better).toFixed(1)}% better than the naive order.`);
      drawChart(chart, plan);
      crewsBox.replaceChildren(...crewList(plan));
      crewsBox.dataset.crews = String(plan.crews.length);
    } catch (e) {
      summary.textContent = `Could not plan: ${e.message}`;
    }
  });
}
