// The coordinator map: layers clustered by the server for the current view, the repair queue and the plan.
// Every text from users or files goes into the page with textContent, never as HTML.
import { el, number } from "./dom.js";
import { renderQueue, selectRow } from "./queue.js";
import { setupPlan } from "./plan.js";
import { setupDispatch } from "./dispatch.js";

const box = document.getElementById("map");
const status = document.getElementById("map-status");
const filters = document.getElementById("filters");
const urls = box.dataset;
const map = L.map(box);
if (urls.tileUrl) L.tileLayer(urls.tileUrl, { attribution: urls.tileAttribution, maxZoom: 19 }).addTo(map);

const STATUS_COLOURS = {
  reported: "#d62728", confirmed: "#ff7f0e", assigned: "#9467bd", in_repair: "#1f77b4",
  temporarily_restored: "#bcbd22", repaired: "#2ca02c",
};
const layers = {
  cases: L.layerGroup().addTo(map),
  reports: L.layerGroup(),
  facilities: L.layerGroup(),
  serviceAreas: L.layerGroup(),
  criticalSites: L.layerGroup(),
  boundary: L.layerGroup().addTo(map),
  crews: L.layerGroup().addTo(map),
};
L.control.layers(null, {
  "Damage cases": layers.cases, "Reports": layers.reports, "Facilities": layers.facilities,
  "Service areas": layers.serviceAreas, "Critical sites": layers.criticalSites, "Study boundary": layers.boundary,
  "Crews": layers.crews,
}, { collapsed: false }).addTo(map);
const highlight = L.layerGroup().addTo(map);

const state = { ranks: new Map(), queue: [], index: new Map(), caseMarkers: new Map(), casesFc: null };

function filterParams() {
  const form = new FormData(filters);
  const params = new URLSearchParams();
  for (const name of ["status", "kind", "severity", "hazard"]) if (form.get(name)) params.set(name, form.get(name));
  for (const name of ["since", "until"]) {
    if (form.get(name)) params.set(name, new Date(form.get(name)).toISOString());
  }
  return params;
}

function viewParams(params = filterParams()) {
  const b = map.getBounds();
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  params.set("bbox", [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180),
    clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(6)).join(","));
  params.set("zoom", String(Math.round(map.getZoom())));
  box.dataset.bbox = params.get("bbox");
  return params;
}

// Download links for exactly what the map selects: the filter form's values (as sent to /api/map/*) and, with
// "Only cases in the map view", the view's bbox. Rebuilt on every refresh (filter change, map move, poll).
const EXPORT_FORMATS = { geojson: "GeoJSON", csv: "CSV", gpkg: "GeoPackage" };
const exportLinks = [];
const exportScope = el("p", { className: "status", id: "export-scope" });
const exportPanel = el("section", { className: "export-panel", id: "exports" }, el("h2", {}, "Export"));
for (const [layer, label] of [["cases", "Damage cases"], ["reports", "Reports"]]) {
  const row = el("p", {}, `${label}: `);
  for (const [fmt, name] of Object.entries(EXPORT_FORMATS)) {
    const link = el("a", { id: `export-${layer}-${fmt}`, href: "#", download: "", dataset: { layer, fmt } }, name);
    exportLinks.push(link);
    row.append(link, " ");
  }
  exportPanel.append(row);
}
exportPanel.append(exportScope);
filters.closest("aside").append(exportPanel);

function updateExportLinks() {
  const params = filterParams();
  const inView = Boolean(new FormData(filters).get("in_view"));
  if (inView) params.set("bbox", viewParams(new URLSearchParams()).get("bbox"));
  const query = params.toString();
  for (const link of exportLinks) {
    link.href = `/api/export/${link.dataset.layer}.${link.dataset.fmt}${query ? `?${query}` : ""}`;
  }
  exportScope.textContent = inView ? "The filtered cases and reports in the map view."
    : "The filtered cases and reports everywhere (tick “Only cases in the map view” for the view only).";
}

const pending = new Map();
async function getJson(key, url) {
  pending.get(key)?.abort();
  const controller = new AbortController();
  pending.set(key, controller);
  const response = await fetch(url, { signal: controller.signal, headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url.split("?")[0]}: HTTP ${response.status}`);
  return response.json();
}

function clusterMarker(latlng, count, colour, layer) {
  const marker = L.circleMarker(latlng, { radius: Math.min(30, 8 + 3 * Math.log2(count)), color: colour,
    weight: 2, fillOpacity: 0.35, className: `cluster-marker ${layer}-cluster` });
  marker.bindTooltip(el("span", { "data-count": String(count) }, number.format(count)), { permanent: true,
    direction: "center", className: `cluster-label ${layer}-label` });
  marker.on("click", () => map.setView(latlng, Math.min(map.getZoom() + 2, 18)));
  return marker;
}

function caseColour(p) {
  if (box.dataset.colour === "rank") {
    const rank = state.ranks.get(p.case_id);
    if (rank == null) return "#999";
    const t = Math.min(1, (rank - 1) / Math.max(1, state.ranks.size - 1));
    return `hsl(${Math.round(60 * t)}, 85%, 45%)`;
  }
  return STATUS_COLOURS[p.status] ?? "#555";
}

function casePopup(p) {
  const link = el("a", { href: `/cases/${encodeURIComponent(p.case_id)}` }, `Case ${p.case_id}`);
  const rank = state.ranks.get(p.case_id);
  const row = state.rows?.get(p.case_id);
  return el("div", {}, el("strong", {}, p.facility ?? "(no registered facility)"), el("br"), link,
    el("div", {}, `${p.kind}, ${p.status}, worst severity ${p.severity}`),
    row ? el("div", { className: "popup-operational" },
      `${row.operational_status.replaceAll("_", " ")}: ${row.operational_status_source}; `
      + `without power now ${number.format(Math.round(row.without_power_now))}`) : null,
    el("div", {}, `population affected ${number.format(Math.round(p.population))}; ${p.reports} report(s)`),
    el("div", {}, p.hazards.length ? `hazards: ${p.hazards.join(", ")}` : "no hazards reported"),
    el("div", {}, rank == null ? "not in the queue" : `queue rank ${rank}`));
}

function drawCases(fc) {
  state.casesFc = fc;
  layers.cases.clearLayers();
  state.caseMarkers.clear();
  for (const f of fc.features) {
    const [lon, lat] = f.geometry.coordinates;
    const p = f.properties;
    if (p.cluster) {
      layers.cases.addLayer(clusterMarker([lat, lon], p.count, "#c0392b", "cases"));
      continue;
    }
    const marker = L.circleMarker([lat, lon], {
      radius: Math.min(28, 6 + Math.sqrt(p.population) / 15), color: "#222", weight: 1, fillOpacity: 0.8,
      fillColor: caseColour(p), className: `case-marker case-${p.case_id}`,
    });
    marker.bindPopup(() => casePopup(p));
    marker.on("click", () => selectRow(p.case_id));
    state.caseMarkers.set(p.case_id, marker);
    layers.cases.addLayer(marker);
  }
  box.dataset.caseCount = String(fc.numberMatched);
  box.dataset.caseFeatures = String(fc.features.length);
}

function reportPopup(p) {
  return el("div", {}, el("strong", {}, `Report ${p.id}`), el("br"),
    el("a", { href: `/cases/${encodeURIComponent(p.case_id)}` }, `Case ${p.case_id}`),
    el("div", {}, `${p.kind}, ${p.severity}, ${p.status}; received ${p.received_at}`),
    el("div", {}, p.hazards?.length ? `hazards: ${p.hazards.join(", ")}` : "no hazards reported"),
    el("div", { className: "popup-notes" }, p.notes ?? ""));
}

function drawReports(fc) {
  layers.reports.clearLayers();
  for (const f of fc.features) {
    const [lon, lat] = f.geometry.coordinates;
    const p = f.properties;
    if (p.cluster) {
      layers.reports.addLayer(clusterMarker([lat, lon], p.count, "#1f77b4", "reports"));
    } else {
      const marker = L.circleMarker([lat, lon], { radius: 5, color: "#1f77b4", weight: 1, fillOpacity: 0.7,
        className: `report-marker report-${p.id}` });
      marker.bindPopup(() => reportPopup(p));
      layers.reports.addLayer(marker);
    }
  }
  box.dataset.reportCount = String(fc.numberMatched);
  box.dataset.reportFeatures = String(fc.features.length);
}

function drawGeoJson(layer, fc, style, popup) {
  layer.clearLayers();
  layer.addLayer(L.geoJSON(fc, {
    style: () => style,
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 5, ...style }),
    onEachFeature: (f, l) => { if (popup) l.bindPopup(() => popup(f.properties)); },
  }));
}

async function loadCases() {
  drawCases(await getJson("cases", `${urls.casesUrl}?${viewParams()}`));
}

async function loadReports() {
  if (!map.hasLayer(layers.reports)) return;
  drawReports(await getJson("reports", `${urls.reportsUrl}?${viewParams()}`));
}

async function loadReference() {
  const view = viewParams(new URLSearchParams());
  const jobs = [];
  if (map.hasLayer(layers.facilities)) {
    jobs.push(getJson("facilities", `${urls.facilitiesUrl}?bbox=${view.get("bbox")}`).then((fc) =>
      drawGeoJson(layers.facilities, fc, { color: "#333", weight: 1, fillOpacity: 0.5 },
        (p) => el("div", {}, el("strong", {}, p.name), el("div", {}, `${p.kind}; population served ${
          p.population_served == null ? "unknown" : number.format(Math.round(p.population_served))}`)))));
  }
  if (map.hasLayer(layers.serviceAreas)) {
    jobs.push(getJson("areas", `${urls.serviceAreasUrl}?${view}`).then((fc) =>
      drawGeoJson(layers.serviceAreas, fc, { color: "#2980b9", weight: 1, fillOpacity: 0.05 },
        (p) => el("div", {}, `Service area of ${p.facility}`))));
  }
  await Promise.all(jobs);
}

// Crews (GET /api/crews): each at its last reported position, or at its base when none, with name and status.
const CREW_COLOURS = { available: "#2ca02c", en_route: "#ff7f0e", on_site: "#1f77b4", off_shift: "#7f7f7f" };
function crewPopup(c) {
  const where = c.position ? `last reported at ${new Date(c.position.at).toLocaleString()}` : "at base (no report yet)";
  return el("div", { className: "crew-popup" }, el("strong", {}, c.name), el("br"),
    el("div", { className: "crew-popup-status" }, `status: ${c.status.replaceAll("_", " ")}`),
    el("div", {}, where),
    el("div", {}, `skills: ${c.skills.length ? c.skills.join(", ") : "none given"}; shift ${c.shift.start}–${
      c.shift.end} ${c.shift.time_zone}${c.shift.on_shift_now ? " (on shift now)" : ""}`),
    el("div", {}, c.members.length ? `accounts: ${c.members.join(", ")}` : "no accounts"));
}

async function loadCrews() {
  if (!map.hasLayer(layers.crews)) return;
  const body = await getJson("crews", urls.crewsUrl);
  layers.crews.clearLayers();
  for (const c of body.crews) {
    const at = c.position ?? c.base;
    const marker = L.circleMarker([at.lat, at.lon], { radius: 9, color: "#000", weight: 2, dashArray: c.position ? null : "3 3",
      fillColor: CREW_COLOURS[c.status] ?? "#555", fillOpacity: 0.9, className: `crew-marker crew-${c.id}` });
    marker.bindTooltip(c.name, { direction: "top", offset: [0, -8], className: "crew-label" });
    marker.bindPopup(() => crewPopup(c));
    layers.crews.addLayer(marker);
  }
  dispatch.showCrews(body.crews);
  box.dataset.crewCount = String(body.crews.length);
}

async function loadQueue() {
  const params = filterParams();
  const inView = new FormData(filters).get("in_view");
  if (inView) viewParams(params);
  else params.set("zoom", "0");
  const [triage, index] = await Promise.all([
    getJson("triage", urls.triageUrl), getJson("index", `${urls.caseIndexUrl}?${params}`)]);
  state.index = new Map(index.cases.map((c) => [c.case_id, c]));
  state.ranks = new Map(triage.queue.map((row) => [row.case_id, row.rank]));
  state.rows = new Map(triage.queue.map((row) => [row.case_id, row]));
  showSummary(triage.summary);
  state.queue = triage.queue.filter((row) => state.index.has(row.case_id));
  renderQueue(state.queue, { onPick: flyToCase });
  if (state.casesFc) drawCases(state.casesFc);
}

// The live figures of /api/triage (the same the sitrep and the plan give) in the panel's header.
function showSummary(summary) {
  document.getElementById("without-power").textContent = number.format(Math.round(summary.people_without_power));
  document.getElementById("partly-supplied").textContent = number.format(Math.round(summary.people_partially_supplied));
  document.getElementById("live-summary").title = summary.method;
}

function flyToCase(caseId) {
  const c = state.index.get(caseId);
  if (!c) return;
  highlight.clearLayers();
  highlight.addLayer(L.circleMarker([c.lat, c.lon], { radius: 18, className: "highlight", interactive: false }));
  map.flyTo([c.lat, c.lon], Math.max(map.getZoom(), 15), { duration: 0.5 });
  box.dataset.selected = String(caseId);
}

async function refresh(what = "all") {
  updateExportLinks();
  try {
    const jobs = [loadCases(), loadReports(), loadReference(), loadCrews()];
    if (what === "all") jobs.push(loadQueue());
    await Promise.all(jobs);
    status.textContent = `${box.dataset.caseCount} cases, ${state.queue.length} in the queue`;
    box.dataset.refreshes = String(Number(box.dataset.refreshes ?? 0) + 1);
  } catch (e) {
    if (e.name !== "AbortError") status.textContent = `Could not load the map: ${e.message}`;
  }
}

// Polling every 3 s with ETag/If-None-Match: one tiny query, 304 when nothing changed; robust behind any proxy.
let etag = null;
async function poll() {
  try {
    const headers = etag ? { "If-None-Match": etag } : {};
    const response = await fetch(urls.changesUrl, { headers, cache: "no-store" });
    if (response.status === 200) {
      const first = etag === null;
      etag = response.headers.get("ETag");
      box.dataset.cursor = (await response.json()).cursor;
      if (!first) {
        dispatch.replan(); // a crew plan on show is recomputed alongside (not awaited: it may take seconds)
        await refresh();
      }
    }
  } catch (e) {
    status.textContent = `Offline? ${e.message}`;
  }
  setTimeout(poll, 3000);
}

// A crew's status set from My work changes no case, so the change cursor does not see it: look every 20 s too.
setInterval(() => loadCrews().catch(() => {}), 20000);

let moveTimer = null;
map.on("moveend", () => {
  clearTimeout(moveTimer);
  const inView = new FormData(filters).get("in_view");
  moveTimer = setTimeout(() => refresh(inView ? "all" : "view"), 150);
});
map.on("overlayadd", () => refresh("all"));
filters.addEventListener("change", (event) => {
  box.dataset.colour = filters.elements.colour.value;
  if (event.target.name === "colour") { if (state.casesFc) drawCases(state.casesFc); return; }
  refresh("all");
});
filters.addEventListener("submit", (event) => event.preventDefault());

async function start() {
  box.dataset.colour = "status";
  const boundary = await getJson("boundary", urls.boundaryUrl);
  drawGeoJson(layers.boundary, boundary, { color: "#444", weight: 2, fill: false, dashArray: "4 4" });
  const sites = await getJson("sites", urls.criticalSitesUrl);
  drawGeoJson(layers.criticalSites, sites, { color: "#8e44ad", weight: 2, fillOpacity: 0.6 },
    (p) => el("div", {}, el("strong", {}, p.name), el("div", {}, `${p.kind}, weight ${p.weight} people-equivalents`)));
  const bounds = L.geoJSON(boundary).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { animate: false });
  else map.setView([53.35, -6.26], 10, { animate: false });
  await refresh("all");
  box.dataset.ready = "true";
  poll();
}

setupPlan({ planUrl: urls.planUrl });
const dispatch = setupDispatch({ crewsUrl: urls.crewsUrl, dispatchUrl: urls.dispatchUrl });
start().catch((e) => { status.textContent = `Could not load the map: ${e.message}`; });
