// The coordinator map: layers clustered by the server for the current view, the repair queue and the plan.
// Every text from users or files goes into the page with textContent, never as HTML.
import { code, config, el, localNumbers, number, people, t, when } from "./dom.js";
import { CASE_CLUSTER_COLOUR, CREW_COLOURS, REPORT_COLOUR, SITE_COLOUR, STATUS_COLOURS, UNRANKED, caseRadius,
  clusterRadius, rankColour, setupLegend } from "./legend.js";
import { renderQueue, renderSwitching, selectRow, setSwitch, switchingText } from "./queue.js";
import { setupPlan } from "./plan.js";
import { setupDispatch } from "./dispatch.js";

const box = document.getElementById("map");
const status = document.getElementById("map-status");
const filters = document.getElementById("filters");
const urls = box.dataset;
const map = L.map(box, { zoomControl: false });
// Leaflet's own zoom titles and attribution link title are English: the page's language instead.
L.control.zoom({ zoomInTitle: t("zoomIn"), zoomOutTitle: t("zoomOut") }).addTo(map);
map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
// The base map: the operator's MBTiles/PMTiles file served at /tiles (works offline; Leaflet zooms its tiles past
// their native range), else FLASK_TILE_URL's tiles, else none: the project's own layers are drawn either way.
const base = config.baseMap ?? {};
if (base.url) {
  const options = { attribution: base.attribution, maxZoom: 19, className: base.offline ? "basemap-offline" : "" };
  if (base.offline) {
    Object.assign(options, { minNativeZoom: base.minNativeZoom, maxNativeZoom: base.maxNativeZoom });
    if (base.bounds) options.bounds = [[base.bounds[1], base.bounds[0]], [base.bounds[3], base.bounds[2]]];
  }
  L.tileLayer(base.url, options).addTo(map);
  box.dataset.baseMap = base.offline ? "file" : "url";
}

const layers = {
  cases: L.layerGroup().addTo(map),
  reports: L.layerGroup(),
  facilities: L.layerGroup(),
  serviceAreas: L.layerGroup(),
  criticalSites: L.layerGroup(),
  boundary: L.layerGroup().addTo(map),
  crews: L.layerGroup().addTo(map),
  switches: L.layerGroup().addTo(map),
};
L.control.layers(null, {
  [t("layerCases")]: layers.cases, [t("layerReports")]: layers.reports, [t("layerFacilities")]: layers.facilities,
  [t("layerServiceAreas")]: layers.serviceAreas, [t("layerCriticalSites")]: layers.criticalSites,
  [t("layerBoundary")]: layers.boundary, [t("layerCrews")]: layers.crews,
  [switchingText("msgLayer")]: layers.switches,
}, { collapsed: false }).addTo(map);
const highlight = L.layerGroup().addTo(map);
const legend = setupLegend(map);

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
const exportPanel = el("section", { className: "export-panel", id: "exports" }, el("h2", {}, t("export")));
for (const [layer, label] of [["cases", t("layerCases")], ["reports", t("layerReports")]]) {
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
  exportScope.textContent = t(inView ? "exportInView" : "exportEverywhere");
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
  const marker = L.circleMarker(latlng, { radius: clusterRadius(count), color: colour,
    weight: 2, fillOpacity: 0.35, className: `cluster-marker ${layer}-cluster` });
  marker.bindTooltip(el("span", { "data-count": String(count) }, number.format(count)), { permanent: true,
    direction: "center", className: `cluster-label ${layer}-label` });
  marker.on("click", () => map.setView(latlng, Math.min(map.getZoom() + 2, 18)));
  return marker;
}

function caseColour(p) {
  if (box.dataset.colour === "rank") {
    const rank = state.ranks.get(p.case_id);
    if (rank == null) return UNRANKED;
    return rankColour(Math.min(1, (rank - 1) / Math.max(1, state.ranks.size - 1)));
  }
  return STATUS_COLOURS[p.status] ?? "#555";
}

function casePopup(p) {
  const link = el("a", { href: `/cases/${encodeURIComponent(p.case_id)}` }, t("case", { id: p.case_id }));
  const rank = state.ranks.get(p.case_id);
  const row = state.rows?.get(p.case_id);
  return el("div", {}, el("strong", {}, p.facility ?? t("noFacility")), el("br"), link,
    el("div", {}, t("caseFacts", { kind: code("kind", p.kind), status: code("status", p.status),
      severity: code("severity", p.severity) })),
    row ? el("div", { className: "popup-operational" }, t("operational", {
      status: code("operational", row.operational_status, { spaced: true }),
      source: localNumbers(row.operational_status_source), people: people(row.without_power_now) })) : null,
    el("div", {}, t("affected", { people: people(p.population), reports: number.format(p.reports) })),
    el("div", {}, hazardText(p.hazards)),
    el("div", {}, rank == null ? t("notQueued") : t("queueRank", { rank: number.format(rank) })));
}

function hazardText(hazards) {
  return hazards?.length ? t("hazards", { list: hazards.map((h) => code("hazard", h)).join(", ") }) : t("noHazards");
}

function drawCases(fc) {
  state.casesFc = fc;
  layers.cases.clearLayers();
  state.caseMarkers.clear();
  for (const f of fc.features) {
    const [lon, lat] = f.geometry.coordinates;
    const p = f.properties;
    if (p.cluster) {
      layers.cases.addLayer(clusterMarker([lat, lon], p.count, CASE_CLUSTER_COLOUR, "cases"));
      continue;
    }
    const marker = L.circleMarker([lat, lon], {
      radius: caseRadius(p.population), color: "#222", weight: 1, fillOpacity: 0.8,
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
  return el("div", {}, el("strong", {}, t("report", { id: p.id })), el("br"),
    el("a", { href: `/cases/${encodeURIComponent(p.case_id)}` }, t("case", { id: p.case_id })),
    el("div", {}, t("reportFacts", { kind: code("kind", p.kind), severity: code("severity", p.severity),
      status: code("operational", p.status, { spaced: true }), time: when(p.received_at) })),
    el("div", {}, hazardText(p.hazards)),
    el("div", { className: "popup-notes" }, p.notes ?? ""));
}

function drawReports(fc) {
  layers.reports.clearLayers();
  for (const f of fc.features) {
    const [lon, lat] = f.geometry.coordinates;
    const p = f.properties;
    if (p.cluster) {
      layers.reports.addLayer(clusterMarker([lat, lon], p.count, REPORT_COLOUR, "reports"));
    } else {
      const marker = L.circleMarker([lat, lon], { radius: 5, color: REPORT_COLOUR, weight: 1, fillOpacity: 0.7,
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
        (p) => el("div", {}, el("strong", {}, p.name), el("div", {}, t("facilityFacts", { kind: code("kind", p.kind),
          people: p.population_served == null ? t("unknown") : people(p.population_served) }))))));
  }
  if (map.hasLayer(layers.serviceAreas)) {
    jobs.push(getJson("areas", `${urls.serviceAreasUrl}?${view}`).then((fc) =>
      drawGeoJson(layers.serviceAreas, fc, { color: "#2980b9", weight: 1, fillOpacity: 0.05 },
        (p) => el("div", {}, t("serviceArea", { facility: p.facility })))));
  }
  await Promise.all(jobs);
}

// Crews (GET /api/crews): each at its last reported position, or at its base when none, with name and status.
function crewPopup(c) {
  const where = c.position ? t("crewAt", { time: when(c.position.at) }) : t("crewAtBase");
  return el("div", { className: "crew-popup" }, el("strong", {}, c.name), el("br"),
    el("div", { className: "crew-popup-status" }, t("crewStatus", {
      status: code("crew_status", c.status, { spaced: true }) })),
    el("div", {}, where),
    el("div", {}, t("crewSkills", { skills: c.skills.length ? c.skills.map((s) => code("skill", s)).join(", ")
      : t("noSkills"), start: c.shift.start, end: c.shift.end, zone: c.shift.time_zone })
      + (c.shift.on_shift_now ? t("onShift") : "")),
    el("div", {}, c.members.length ? t("crewAccounts", { list: c.members.join(", ") }) : t("noAccounts")));
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

// Tie switches (GET /api/switches), drawn as their own layer whether or not there is a base map: a square per
// switch, filled when closed, outlined when open, thick when a step proposes closing it.
function switchPopup(p) {
  const closed = p.state === "closed";
  return el("div", { className: "switch-popup" }, el("strong", {}, p.name), el("br"),
    el("div", {}, `${switchingText(closed ? "msgStateClosed" : "msgStateOpen")} · `
      + switchingText(p.remote ? "msgRemote" : "msgManual")),
    closed && p.closed_at ? el("div", {}, switchingText("msgClosedBy", { who: p.closed_by ?? "?",
      time: when(p.closed_at) })) : null,
    p.proposed ? el("div", { className: "why" }, `${switchingText("msgProposed")}: ${localNumbers(p.sentence)}`)
      : null,
    closed ? reopenButton(p) : null);
}

// A switch recorded as closed by mistake (or opened again on site) is recorded as open from its popup.
function reopenButton(p) {
  const button = el("button", { type: "button", className: "open-switch", dataset: { switchId: String(p.id) } },
    switchingText("msgOpen"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await setSwitch(p.id, "open");
      map.closePopup();
      await refresh("all");
    } catch (e) {
      status.textContent = switchingText("msgFailed", { reason: localNumbers(e.message) });
      button.disabled = false;
    }
  });
  return el("div", {}, button);
}

async function loadSwitches() {
  if (!map.hasLayer(layers.switches)) return;
  const fc = await getJson("switches", document.getElementById("switching").dataset.switchesUrl);
  layers.switches.clearLayers();
  for (const f of fc.features) {
    const [lon, lat] = f.geometry.coordinates;
    const p = f.properties;
    const state = p.state === "closed" ? "closed" : p.proposed ? "proposed" : "open";
    const icon = L.divIcon({ className: `switch-marker switch-${p.id} switch-${state}`, iconSize: [14, 14],
      html: "" });
    const marker = L.marker([lat, lon], { icon, title: p.name, keyboard: true });
    marker.bindPopup(() => switchPopup(p));
    layers.switches.addLayer(marker);
  }
  box.dataset.switchCount = String(fc.features.length);
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
  renderSwitching(triage.switching, { onDone: () => refresh("all") });
  state.queue = triage.queue.filter((row) => state.index.has(row.case_id));
  renderQueue(state.queue, { onPick: flyToCase });
  if (state.casesFc) drawCases(state.casesFc);
}

// The live figures of /api/triage (the same the sitrep and the plan give) in the panel's header.
function showSummary(summary) {
  document.getElementById("without-power").textContent = people(summary.people_without_power);
  document.getElementById("partly-supplied").textContent = people(summary.people_partially_supplied);
  document.getElementById("live-summary").title = localNumbers(summary.method);
}

function flyToCase(caseId) {
  const c = state.index.get(caseId);
  if (!c) return;
  highlight.clearLayers();
  highlight.addLayer(L.circleMarker([c.lat, c.lon], { radius: 18, className: "highlight", interactive: false }));
  map.flyTo([c.lat, c.lon], Math.max(map.getZoom(), 15), { duration: 0.5 });
  box.dataset.selected = String(caseId);
}

// The map is usable (data-interactive) as soon as its layers are drawn; the queue, which waits for the triage of
// every open case, fills its panel when it comes.
async function refresh(what = "all") {
  updateExportLinks();
  try {
    // The switches do not depend on the view, and /api/switches works out the proposals: not on every move.
    const drawn = Promise.all([loadCases(), loadReports(), loadReference(), loadCrews(),
      what === "all" ? loadSwitches() : null]);
    const everything = Promise.all([drawn, what === "all" ? loadQueue() : null]);
    everything.catch(() => {}); // awaited below; when `drawn` fails first, its failure is handled there
    await drawn;
    box.dataset.interactive = "true";
    await everything;
    status.textContent = t("status", { cases: number.format(Number(box.dataset.caseCount)),
      queued: number.format(state.queue.length) });
    // The critical-sites layer switched on with nothing to draw says so.
    if (map.hasLayer(layers.criticalSites) && legend.siteCount === 0) status.append(" ", t("noCriticalSites"));
    box.dataset.refreshes = String(Number(box.dataset.refreshes ?? 0) + 1);
  } catch (e) {
    if (e.name !== "AbortError") status.textContent = t("loadFailed", { reason: e.message });
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
    status.textContent = t("offline", { reason: e.message });
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
  if (event.target.name === "colour") {
    legend.show(box.dataset.colour);
    if (state.casesFc) drawCases(state.casesFc);
    return;
  }
  refresh("all");
});
filters.addEventListener("submit", (event) => event.preventDefault());

async function start() {
  box.dataset.colour = "status";
  legend.show("status");
  const [boundary, sites] = await Promise.all([getJson("boundary", urls.boundaryUrl),
    getJson("sites", urls.criticalSitesUrl)]);
  drawGeoJson(layers.boundary, boundary, { color: "#444", weight: 2, fill: false, dashArray: "4 4" });
  drawGeoJson(layers.criticalSites, sites, { color: SITE_COLOUR, weight: 2, fillOpacity: 0.6 },
    (p) => el("div", {}, el("strong", {}, p.name), el("div", {}, t("siteFacts", { kind: code("site_kind", p.kind),
      weight: number.format(p.weight) }))));
  legend.sites(sites.features.length);
  const bounds = L.geoJSON(boundary).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { animate: false });
  else map.setView([53.35, -6.26], 10, { animate: false });
  await refresh("all");
  box.dataset.ready = "true";
  poll();
}

setupPlan({ planUrl: urls.planUrl });
const dispatch = setupDispatch({ crewsUrl: urls.crewsUrl, dispatchUrl: urls.dispatchUrl });
start().catch((e) => { status.textContent = t("loadFailed", { reason: e.message }); });
