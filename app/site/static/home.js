// Overview map: the registered facilities with their population, drawn without any online base map.
const el = document.getElementById("map");
const status = document.getElementById("map-status");
const config = JSON.parse(document.getElementById("home-config").textContent);
const words = config.messages;
// The page's messages are gettext's "%(name)s" templates, filled here.
const say = (template, values) => template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
const map = L.map(el, { preferCanvas: true, zoomControl: false });
L.control.zoom({ zoomInTitle: words.zoomIn, zoomOutTitle: words.zoomOut }).addTo(map);
// Leaflet's credit without its English link title.
map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
// The base map: the operator's MBTiles/PMTiles file served at /tiles (works with no internet), else
// FLASK_TILE_URL's tiles, else none (the facilities are drawn either way).
const base = el.dataset.baseMap ? JSON.parse(el.dataset.baseMap) : { url: el.dataset.tileUrl };
if (base.url) {
  const options = { attribution: base.attribution ?? el.dataset.tileAttribution, maxZoom: 19,
                    className: base.offline ? "basemap-offline" : "" };
  if (base.offline) {
    Object.assign(options, { minNativeZoom: base.minNativeZoom, maxNativeZoom: base.maxNativeZoom });
    if (base.bounds) options.bounds = [[base.bounds[1], base.bounds[0]], [base.bounds[3], base.bounds[2]]];
  }
  L.tileLayer(base.url, options).addTo(map);
  el.dataset.baseMapDrawn = base.offline ? "file" : "url";
}
map.setView([53.35, -6.26], 10);

const number = new Intl.NumberFormat(document.documentElement.lang || undefined);

function popup(props) {
  // Built from DOM nodes with textContent so that names from files are never parsed as HTML.
  const box = document.createElement("div");
  const title = document.createElement("strong");
  title.textContent = props.name;
  const line = document.createElement("div");
  const people = props.population == null ? words.unknown : number.format(Math.round(props.population));
  line.textContent = say(words.popup, { kind: config.kinds[props.kind] ?? props.kind, people,
    method: props.population_method ? (config.methods[props.population_method] ?? props.population_method)
      : words.noLayer });
  box.append(title, line);
  return box;
}

fetch(el.dataset.facilitiesUrl, { headers: { Accept: "application/geo+json" } })
  .then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); })
  .then((fc) => {
    const layer = L.geoJSON(fc, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 5, color: "#c0392b", weight: 1 }),
      onEachFeature: (f, l) => l.bindPopup(() => popup(f.properties)),
    }).addTo(map);
    if (fc.features.length) map.fitBounds(layer.getBounds(), { padding: [20, 20] });
    el.dataset.count = String(fc.features.length);
    status.textContent = say(words.count, { n: number.format(fc.features.length) });
  })
  .catch((e) => { status.textContent = say(words.failed, { reason: e.message }); });
