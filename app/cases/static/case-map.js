// The case page's small map: the site, its reports and the service areas and boundary around it, drawn from the
// project's own layers (no tile server needed; the operator's base map when one is configured).
const box = document.getElementById("case-map");
const config = JSON.parse(document.getElementById("case-map-config").textContent);
const map = L.map(box, { preferCanvas: true, attributionControl: false, zoomControl: false });
L.control.zoom({ zoomInTitle: config.messages.zoomIn, zoomOutTitle: config.messages.zoomOut }).addTo(map);
if (config.baseMap && config.baseMap.url) {
  L.tileLayer(config.baseMap.url, { maxZoom: 19, minNativeZoom: config.baseMap.minNativeZoom,
    maxNativeZoom: config.baseMap.maxNativeZoom }).addTo(map);
}
const site = L.latLng(config.site[1], config.site[0]);
map.setView(site, 14);
L.control.scale({ imperial: false }).addTo(map);

function titled(layer, text) {
  // Names from data are text, never HTML.
  const span = document.createElement("span");
  span.textContent = text;
  layer.bindTooltip(span);
  return layer;
}

const drawn = { areas: 0, boundary: 0, reports: 0 };
async function geojson(url) {
  const response = await fetch(url, { headers: { Accept: "application/geo+json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

async function draw() {
  const [areas, boundary] = await Promise.all([geojson(config.areasUrl), geojson(config.boundaryUrl)]);
  L.geoJSON(boundary, { style: { color: "#555", weight: 1, dashArray: "4 4", fill: false }, interactive: false })
    .addTo(map);
  drawn.boundary = boundary.features.length;
  L.geoJSON(areas, {
    style: (f) => (f.properties.facility_id === config.facilityId
      ? { color: "#c0392b", weight: 2, fillOpacity: 0.15 } : { color: "#1f77b4", weight: 1, fillOpacity: 0.04 }),
    onEachFeature: (f, layer) => titled(layer, f.properties.facility ?? ""),
  }).addTo(map);
  drawn.areas = areas.features.length;
}

for (const r of config.reports) {
  titled(L.circleMarker([r.lat, r.lon], { radius: 5, color: "#333", weight: 1, fillColor: "#ff7f0e",
    fillOpacity: 0.9 }), r.label).addTo(map);
  drawn.reports += 1;
}
titled(L.circleMarker(site, { radius: 8, color: "#c0392b", weight: 3, fillOpacity: 0.3 }), config.siteLabel)
  .addTo(map);
draw()
  .catch((e) => { box.dataset.error = e.message; })
  .finally(() => { Object.assign(box.dataset, { areas: drawn.areas, boundary: drawn.boundary,
    reports: drawn.reports, drawn: "yes" }); });
