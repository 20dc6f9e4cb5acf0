// Where the crew is: the phone's GPS, a pin on a small Leaflet map, and the nearest registered facilities.
// The map needs no online tiles: the project's own layers (the region's boundary, the service areas, and the
// facilities of the registry kept on the phone, with their names) are drawn on it, with a scale. Base-map tiles:
// the operator's file served at /tiles (kept on the phone by offlinemap.js), else FLASK_TILE_URL's, else none.
import * as outbox from "./outbox.js";

const EARTH_RADIUS_M = 6371008.8;
const rad = (d) => (d * Math.PI) / 180;

export function distanceM(lon1, lat1, lon2, lat2) {
  const dLat = rad(lat2 - lat1);
  const dLon = rad(lon2 - lon1);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

// Distance from a point to a segment in metres, on a local equirectangular projection (fine over a few km).
function segmentDistanceM(lon, lat, [lon1, lat1], [lon2, lat2]) {
  const k = Math.cos(rad(lat));
  const ax = (lon1 - lon) * k, ay = lat1 - lat, bx = (lon2 - lon) * k, by = lat2 - lat;
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2)) : 0;
  const px = ax + t * dx, py = ay + t * dy;
  return rad(Math.hypot(px, py)) * EARTH_RADIUS_M;
}

export function featureDistanceM(feature, lon, lat) {
  const g = feature.geometry;
  if (!g) return Infinity;
  if (g.type === "Point") return distanceM(lon, lat, g.coordinates[0], g.coordinates[1]);
  const lines = g.type === "LineString" ? [g.coordinates] : g.type === "MultiLineString" ? g.coordinates : [];
  let best = Infinity;
  for (const line of lines) {
    for (let i = 1; i < line.length; i += 1) best = Math.min(best, segmentDistanceM(lon, lat, line[i - 1], line[i]));
  }
  return best;
}

// A representative position of a facility (its point, or the middle vertex of a line).
export function featurePosition(feature) {
  const g = feature && feature.geometry;
  if (!g) return null;
  if (g.type === "Point") return { lon: g.coordinates[0], lat: g.coordinates[1] };
  const line = g.type === "LineString" ? g.coordinates : g.type === "MultiLineString" ? g.coordinates[0] : null;
  if (!line || !line.length) return null;
  const [lon, lat] = line[Math.floor(line.length / 2)];
  return { lon, lat };
}

// The nearest facilities from a FeatureCollection, in the API's shape, for when the network is down.
export function nearestLocal(collection, lon, lat, limit = 5) {
  if (!collection || !Array.isArray(collection.features)) return [];
  return collection.features
    .map((f) => ({ id: f.id ?? f.properties.id, name: f.properties.name, kind: f.properties.kind,
                   distance_m: featureDistanceM(f, lon, lat) }))
    .filter((f) => Number.isFinite(f.distance_m))
    .sort((a, b) => a.distance_m - b.distance_m)
    .slice(0, limit);
}

// The facility registry kept on the phone (IndexedDB): a FeatureCollection with the API's `cursor` and when it was
// last synced. Kept copies from before the cursor have none and are fetched whole once.
const REGISTRY_KEY = "facilities";
const EPOCH = "1970-01-01T00:00:00Z";

// The kept copy with the changes merged in: a changed facility replaces the kept one of its id (none are deleted).
export function mergeFacilities(kept, changes) {
  const byId = new Map((kept && kept.cursor ? kept.features : []).map((f) => [String(f.id ?? f.properties.id), f]));
  for (const f of changes.features) byId.set(String(f.id ?? f.properties.id), f);
  const features = [...byId.values()].sort((a, b) => Number(a.id ?? a.properties.id) - Number(b.id ?? b.properties.id));
  return { type: "FeatureCollection", features, cursor: changes.cursor, syncedAt: new Date().toISOString() };
}

// The facility registry: the kept copy brought up to date by the changes since its cursor when the server answers,
// else the kept copy as it is. `changed`: how many facilities the server sent.
export async function loadFacilities(url) {
  const kept = await outbox.getMeta(REGISTRY_KEY).catch(() => undefined);
  try {
    const query = new URLSearchParams({ changed_since: (kept && kept.cursor) || EPOCH });
    const response = await fetch(`${url}?${query}`, { headers: { Accept: "application/geo+json" },
                                                     credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const changes = await response.json();
    if (!Array.isArray(changes.features) || typeof changes.cursor !== "string") throw new Error("not a registry");
    const collection = mergeFacilities(kept, changes);
    await outbox.setMeta(REGISTRY_KEY, collection).catch(() => {});
    return { collection, offline: false, changed: changes.features.length };
  } catch {
    return { collection: kept || null, offline: true, changed: 0 };
  }
}

// The boundary and service areas ({boundary, service_areas}): from the server, kept on the phone for when it cannot
// be reached; null when neither has them.
const LAYERS_KEY = "layers";
export async function loadLayers(url) {
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin",
                                        cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const layers = await response.json();
    await outbox.setMeta(LAYERS_KEY, layers).catch(() => {});
    return layers;
  } catch {
    return (await outbox.getMeta(LAYERS_KEY).catch(() => undefined)) || null;
  }
}

// Nearest facilities from the API, or from the kept registry when the API cannot be reached.
export async function nearest(url, collection, lon, lat, limit = 5) {
  try {
    const query = new URLSearchParams({ lon: String(lon), lat: String(lat), limit: String(limit) });
    const response = await fetch(`${url}?${query}`, { headers: { Accept: "application/json" },
                                                     credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    return { facilities: data.facilities || [], offline: false };
  } catch {
    return { facilities: nearestLocal(collection, lon, lat, limit), offline: true };
  }
}

export function watchGps(onFix, onError) {
  if (!("geolocation" in navigator)) {
    onError(new Error("no geolocation"));
    return () => {};
  }
  const id = navigator.geolocation.watchPosition(
    (p) => onFix({ lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy }),
    (e) => onError(e),
    { enableHighAccuracy: true, maximumAge: 10000, timeout: 60000 },
  );
  return () => navigator.geolocation.clearWatch(id);
}

// Facility names are shown once few enough facilities are in view to read them (else tap or zoom in).
const MAX_LABELS = 40;
// A GPS fix frames the map at this zoom, zoomed out to show the nearest facility when it is farther (up to 3 km).
const GPS_ZOOM = 16;
const FRAME_NEAREST_M = 3000;

function textNode(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

// Leaflet's metric scale with its units in the page's language ("30 км", not "30 km").
const LocalScale = L.Control.Scale.extend({
  _updateMetric(maxMeters) {
    const meters = this._getRoundNum(maxMeters);
    const { metres = (n) => `${n} m`, kilometres = (n) => `${n} km` } = this.options.words ?? {};
    this._updateScale(this._mScale, meters < 1000 ? metres(meters) : kilometres(meters / 1000), meters / maxMeters);
  },
});

// The small pin map: the crew's GPS position with its accuracy circle, a draggable pin, facilities as circles.
export class PinMap {
  constructor(element, { baseMap = {}, onPin, onFacility, noBaseMap = "", words = {} }) {
    this.element = element;
    this.map = L.map(element, { zoomControl: false, attributionControl: Boolean(baseMap.url) });
    L.control.zoom({ zoomInTitle: words.zoomIn, zoomOutTitle: words.zoomOut }).addTo(this.map);
    if (baseMap.url) {
      const options = { attribution: baseMap.attribution, maxZoom: 19 };
      if (baseMap.offline) {
        Object.assign(options, { minNativeZoom: baseMap.minNativeZoom, maxNativeZoom: baseMap.maxNativeZoom });
        const b = baseMap.bounds;
        if (b) options.bounds = [[b[1], b[0]], [b[3], b[2]]];
      }
      L.tileLayer(baseMap.url, options).addTo(this.map);
      element.dataset.baseMap = baseMap.offline ? "file" : "url";
    } else {
      // No base map: say so, so that the plain background is not taken for a map that failed to load.
      element.classList.add("no-base-map");
      const note = L.control({ position: "bottomright" });
      note.onAdd = () => { const div = textNode(noBaseMap); div.className = "no-base-map-note"; return div; };
      note.addTo(this.map);
    }
    new LocalScale({ imperial: false, position: "bottomleft", words }).addTo(this.map);
    this.map.setView([20, 0], 2);
    this.framed = false;
    this.framedOnGps = null; // the fix the map was framed on, until the crew moves the map or sets a pin
    this.onPin = onPin;
    this.onFacility = onFacility;
    this.areas = L.layerGroup().addTo(this.map); // under the facilities
    this.facilities = L.layerGroup().addTo(this.map);
    this.collection = null;
    this.byId = new Map();
    this.labelled = [];
    this.map.on("click", (e) => this.setPin(e.latlng.lat, e.latlng.lng, true));
    this.map.on("dragstart", () => { this.framedOnGps = null; });
    this.map.on("zoomend moveend", () => this.showLabels());
  }

  showFacilities(collection) {
    this.facilities.clearLayers();
    this.byId.clear();
    this.labelled = [];
    this.collection = collection;
    if (!collection) return;
    const layer = L.geoJSON(collection, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 7, color: "#7a1c12", weight: 2,
                                                            fillColor: "#e74c3c", fillOpacity: 0.9 }),
      style: () => ({ color: "#7a1c12", weight: 4 }),
      onEachFeature: (f, l) => {
        const id = f.id ?? f.properties.id;
        this.byId.set(String(id), f);
        // The name as text (never as HTML): it comes from the registry's files.
        l.bindTooltip(() => textNode(f.properties.name), { permanent: true, direction: "right", offset: [8, 0],
                                                            className: "facility-label" });
        const at = featurePosition(f);
        if (at) this.labelled.push(L.latLng(at.lat, at.lon));
        l.on("click", (e) => { L.DomEvent.stop(e); this.onFacility(f); });
      },
    });
    layer.addTo(this.facilities);
    if (this.framedOnGps && !this.pin) this.frameOnGps(this.framedOnGps);
    else if (!this.framed && collection.features.length) this.map.fitBounds(layer.getBounds(), { padding: [10, 10] });
    this.showLabels();
  }

  // The region's boundary (dashed) and the service areas (thin outlines), from the layers kept on the phone.
  showAreas(layers) {
    this.areas.clearLayers();
    if (!layers) return;
    L.geoJSON(layers.service_areas, { interactive: false,
                                      style: () => ({ color: "#5d6d7e", weight: 1, fillColor: "#aab7b8",
                                                      fillOpacity: 0.08 }) }).addTo(this.areas);
    L.geoJSON(layers.boundary, { interactive: false,
                                 style: () => ({ color: "#12263a", weight: 2, dashArray: "6 4", fill: false }) })
      .addTo(this.areas);
    this.element.dataset.serviceAreas = String(layers.service_areas.features.length);
    this.element.dataset.boundary = String(layers.boundary.features.length);
  }

  // Names only when they can be read: few enough facilities in view.
  showLabels() {
    const bounds = this.map.getBounds();
    let inView = 0;
    for (const at of this.labelled) if (bounds.contains(at)) inView += 1;
    this.element.classList.toggle("show-labels", inView <= MAX_LABELS);
    this.element.dataset.facilitiesInView = String(inView);
  }

  // Frames the fix, with the nearest facility in view when it is farther than the frame but within 3 km.
  frameOnGps(at) {
    this.map.setView(at, GPS_ZOOM);
    this.framedOnGps = at;
    const [nearestFacility] = nearestLocal(this.collection, at[1], at[0], 1);
    const position = nearestFacility && nearestFacility.distance_m <= FRAME_NEAREST_M
      ? featurePosition(this.feature(nearestFacility.id)) : null;
    if (position && !this.map.getBounds().pad(-0.1).contains([position.lat, position.lon])) {
      this.map.fitBounds(L.latLngBounds([at, [position.lat, position.lon]]), { padding: [24, 24], maxZoom: GPS_ZOOM });
    }
  }

  feature(id) { return this.byId.get(String(id)) || null; }

  showGps({ lon, lat, accuracy }) {
    const at = [lat, lon];
    if (!this.gps) {
      this.gps = L.circleMarker(at, { radius: 8, color: "#fff", weight: 3, fillColor: "#1565c0", fillOpacity: 1 });
      this.gpsCircle = L.circle(at, { radius: accuracy || 0, color: "#1565c0", weight: 1, fillOpacity: 0.1,
                                      interactive: false });
      this.gpsCircle.addTo(this.map);
      this.gps.addTo(this.map);
    }
    this.gps.setLatLng(at);
    this.gpsCircle.setLatLng(at).setRadius(accuracy || 0);
    if (!this.framed && !this.pin) { this.frameOnGps(at); this.framed = true; }
  }

  setPin(lat, lon, byHand) {
    if (!this.pin) {
      const icon = L.divIcon({ className: "pin-icon", iconSize: [32, 32], iconAnchor: [16, 32] });
      this.pin = L.marker([lat, lon], { icon, draggable: true, keyboard: true }).addTo(this.map);
      this.pin.on("dragend", () => { const p = this.pin.getLatLng(); this.onPin({ lon: p.lng, lat: p.lat }); });
    } else {
      this.pin.setLatLng([lat, lon]);
    }
    this.framed = true;
    this.framedOnGps = null;
    if (byHand) this.onPin({ lon, lat });
  }

  clearPin() {
    if (this.pin) { this.pin.remove(); this.pin = null; }
  }

  focus(lat, lon) {
    this.map.setView([lat, lon], Math.max(this.map.getZoom(), 15));
    this.framed = true;
    this.framedOnGps = null;
  }
}
