// Where the crew is: the phone's GPS, a pin on a small Leaflet map, and the nearest registered facilities.
// The map needs no online tiles: facilities are drawn as circle markers, tiles only when TILE_URL is set.
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

function featureDistanceM(feature, lon, lat) {
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

// The facility registry: fresh from the API when online (and kept on the phone), else the kept copy.
export async function loadFacilities(url) {
  try {
    const response = await fetch(url, { headers: { Accept: "application/geo+json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const collection = await response.json();
    await outbox.setMeta("facilities", collection).catch(() => {});
    return { collection, offline: false };
  } catch {
    return { collection: (await outbox.getMeta("facilities").catch(() => undefined)) || null, offline: true };
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

// The small pin map: the crew's GPS position with its accuracy circle, a draggable pin, facilities as circles.
export class PinMap {
  constructor(element, { tileUrl, tileAttribution, onPin, onFacility }) {
    this.map = L.map(element, { zoomControl: true, attributionControl: Boolean(tileUrl) });
    if (tileUrl) L.tileLayer(tileUrl, { attribution: tileAttribution, maxZoom: 19 }).addTo(this.map);
    this.map.setView([20, 0], 2);
    this.framed = false;
    this.onPin = onPin;
    this.onFacility = onFacility;
    this.facilities = L.layerGroup().addTo(this.map);
    this.byId = new Map();
    this.map.on("click", (e) => this.setPin(e.latlng.lat, e.latlng.lng, true));
  }

  showFacilities(collection) {
    this.facilities.clearLayers();
    this.byId.clear();
    if (!collection) return;
    const layer = L.geoJSON(collection, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 7, color: "#7a1c12", weight: 2,
                                                            fillColor: "#e74c3c", fillOpacity: 0.9 }),
      style: () => ({ color: "#7a1c12", weight: 4 }),
      onEachFeature: (f, l) => {
        const id = f.id ?? f.properties.id;
        this.byId.set(String(id), f);
        l.bindTooltip(() => { const s = document.createElement("span"); s.textContent = f.properties.name; return s; });
        l.on("click", (e) => { L.DomEvent.stop(e); this.onFacility(f); });
      },
    });
    layer.addTo(this.facilities);
    if (!this.framed && collection.features.length) this.map.fitBounds(layer.getBounds(), { padding: [10, 10] });
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
    if (!this.framed && !this.pin) { this.map.setView(at, 16); this.framed = true; }
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
    if (byHand) this.onPin({ lon, lat });
  }

  clearPin() {
    if (this.pin) { this.pin.remove(); this.pin = null; }
  }

  focus(lat, lon) { this.map.setView([lat, lon], Math.max(this.map.getZoom(), 15)); this.framed = true; }
}
