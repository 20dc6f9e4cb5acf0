// The map's symbols and their legend (a Leaflet control): case colours by status or triage rank, case size by
// population affected, clusters, crews by status and critical sites. The markers and the legend read the same
// constants here, so that they cannot drift apart.
import { code, el, people, svg, t } from "./dom.js";

export const STATUS_COLOURS = {
  reported: "#d62728", confirmed: "#ff7f0e", assigned: "#9467bd", in_repair: "#1f77b4",
  temporarily_restored: "#bcbd22", repaired: "#2ca02c",
};
export const CREW_COLOURS = { available: "#2ca02c", en_route: "#ff7f0e", on_site: "#1f77b4", off_shift: "#7f7f7f" };
export const CASE_CLUSTER_COLOUR = "#c0392b";
export const REPORT_COLOUR = "#1f77b4";
export const SITE_COLOUR = "#8e44ad";
export const UNRANKED = "#999";
// Rank 1 red, the last rank yellow (hue 0 to 60).
export const rankColour = (share) => `hsl(${Math.round(60 * share)}, 85%, 45%)`;
export const caseRadius = (population) => Math.min(28, 6 + Math.sqrt(population) / 15);
export const clusterRadius = (count) => Math.min(30, 8 + 3 * Math.log2(count));
const SIZE_EXAMPLES = [0, 2_000, 20_000, 100_000]; // people affected
const CLUSTER_EXAMPLES = [2, 20, 200];

// A circle as the map draws it, in an SVG of its own (attributes, no inline style: the CSP allows none).
function swatch(radius, { fill = "none", stroke = "#222", opacity = 0.8 } = {}) {
  const size = 2 * radius + 4;
  const box = svg("svg", { width: size, height: size, viewBox: `0 0 ${size} ${size}`, "aria-hidden": "true" });
  box.append(svg("circle", { cx: size / 2, cy: size / 2, r: radius, fill, "fill-opacity": opacity, stroke,
    "stroke-width": 1.5 }));
  return box;
}

function entry(symbol, text, data = {}) {
  return el("li", { dataset: data }, symbol, el("span", {}, text));
}

function section(name, title, items) {
  return el("section", { className: `legend-section legend-${name}`, dataset: { legend: name } },
    el("h3", {}, title), el("ul", {}, ...items));
}

function rankRamp() {
  const ramp = svg("svg", { width: 90, height: 12, viewBox: "0 0 90 12", "aria-hidden": "true" });
  const gradient = svg("linearGradient", { id: "legend-rank-ramp" });
  for (const share of [0, 0.5, 1]) gradient.append(svg("stop", { offset: share, "stop-color": rankColour(share) }));
  ramp.append(svg("defs"), svg("rect", { x: 0, y: 1, width: 90, height: 10, fill: "url(#legend-rank-ramp)" }));
  ramp.firstChild.append(gradient);
  return ramp;
}

export function setupLegend(map) {
  const sitesList = el("ul", {});
  const body = el("div", { className: "legend-body" },
    section("status", t("legendStatus"), Object.entries(STATUS_COLOURS).map(([status, colour]) =>
      entry(swatch(6, { fill: colour }), code("status", status, { spaced: true }), { status }))),
    section("rank", t("legendRank"), [
      el("li", {}, el("span", {}, t("rankFirst")), rankRamp(), el("span", {}, t("rankLast"))),
      entry(swatch(6, { fill: UNRANKED }), t("notQueued"))]),
    section("size", t("legendSize"), SIZE_EXAMPLES.map((n) =>
      entry(swatch(caseRadius(n), { fill: "#bbb" }), people(n), { people: String(n) }))),
    section("clusters", t("legendClusters"), [
      ...CLUSTER_EXAMPLES.map((n) => entry(swatch(clusterRadius(n), { stroke: CASE_CLUSTER_COLOUR,
        fill: CASE_CLUSTER_COLOUR, opacity: 0.35 }), t("clusterCases", { n: people(n) }))),
      entry(swatch(clusterRadius(CLUSTER_EXAMPLES[1]), { stroke: REPORT_COLOUR, fill: REPORT_COLOUR, opacity: 0.35 }),
        t("clusterReports", { n: people(CLUSTER_EXAMPLES[1]) }))]),
    section("crews", t("legendCrews"), Object.entries(CREW_COLOURS).map(([status, colour]) =>
      entry(swatch(7, { fill: colour, stroke: "#000", opacity: 0.9 }), code("crew_status", status, { spaced: true }),
        { status }))),
    el("section", { className: "legend-section legend-sites", dataset: { legend: "sites" } },
      el("h3", {}, t("legendSites")), sitesList));
  const panel = el("details", { className: "map-legend", id: "map-legend", open: true },
    el("summary", {}, t("legend")), body);
  const Control = L.Control.extend({ onAdd: () => panel });
  new Control({ position: "bottomleft" }).addTo(map);
  L.DomEvent.disableClickPropagation(panel);
  L.DomEvent.disableScrollPropagation(panel);

  const legend = {
    siteCount: null,
    // Only the colour mode in use is listed: status or triage rank.
    show(mode) {
      panel.dataset.colour = mode;
      body.querySelector(".legend-status").hidden = mode !== "status";
      body.querySelector(".legend-rank").hidden = mode !== "rank";
    },
    // How many critical sites the layer has; it says so when there are none.
    sites(count) {
      legend.siteCount = count;
      panel.dataset.criticalSites = String(count);
      sitesList.replaceChildren(count ? entry(swatch(5, { fill: SITE_COLOUR, stroke: SITE_COLOUR, opacity: 0.6 }),
        t("criticalSitesCount", { n: people(count) })) : el("li", { className: "empty" }, t("noCriticalSites")));
    },
  };
  return legend;
}
