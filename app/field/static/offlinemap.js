// The base map kept on the phone for offline use: the tiles of the area (the facilities kept on the phone, or what
// the map shows) over the zoom range the operator chooses, stored in the Cache Storage the service worker answers
// /tiles from. Before downloading it says how many tiles and bytes it would take; after, what is stored and how much
// of the phone's storage the site uses (navigator.storage.estimate).
import { $, config, t, formatNumber, formatTime } from "./page.js";
import * as outbox from "./outbox.js";

export const TILE_CACHE = "gridtriage-tiles"; // the service worker reads this cache (sw.js)
const KEPT_KEY = "offlineTiles";
const PARALLEL = 4;

function formatBytes(n) {
  if (n < 1024) return t("bytes", { n: formatNumber(n) });
  if (n < 1024 * 1024) return t("kilobytes", { n: formatNumber(n / 1024) });
  return t("megabytes", { n: formatNumber(n / (1024 * 1024)) });
}

// The lon/lat box around the features of a FeatureCollection, padded by a tenth of its size (or 0.01°).
export function collectionBbox(collection) {
  let west = Infinity, south = Infinity, east = -Infinity, north = -Infinity;
  const visit = (c) => {
    if (typeof c[0] === "number") {
      west = Math.min(west, c[0]); east = Math.max(east, c[0]);
      south = Math.min(south, c[1]); north = Math.max(north, c[1]);
    } else c.forEach(visit);
  };
  for (const f of (collection && collection.features) || []) if (f.geometry) visit(f.geometry.coordinates);
  if (!Number.isFinite(west)) return null;
  const padX = Math.max((east - west) / 10, 0.01), padY = Math.max((north - south) / 10, 0.01);
  return [Math.max(west - padX, -180), Math.max(south - padY, -85), Math.min(east + padX, 180),
          Math.min(north + padY, 85)];
}

async function showStored() {
  const status = $("offline-map-stored");
  const kept = await outbox.getMeta(KEPT_KEY).catch(() => undefined);
  const parts = [];
  if (kept && kept.tiles) {
    parts.push(t("tilesStored", { n: formatNumber(kept.tiles), size: formatBytes(kept.bytes),
                                  from: kept.minZoom, to: kept.maxZoom, time: formatTime(kept.at) }));
  } else {
    parts.push(t("tilesNone"));
  }
  if (navigator.storage && navigator.storage.estimate) {
    const { usage = 0, quota = 0 } = await navigator.storage.estimate();
    parts.push(t("storageUsed", { used: formatBytes(usage), quota: formatBytes(quota) }));
  }
  status.textContent = parts.join(" ");
  status.dataset.tiles = String((kept && kept.tiles) || 0);
  status.dataset.bytes = String((kept && kept.bytes) || 0);
  $("offline-map-delete").disabled = !(kept && kept.tiles);
}

// The tiles the server's file holds over the chosen area and zoom range, and their bytes (GET /tiles/area.json).
async function plan(area) {
  const query = new URLSearchParams({ bbox: area.map((v) => v.toFixed(5)).join(","),
                                      min_zoom: $("offline-map-from").value, max_zoom: $("offline-map-to").value });
  const response = await fetch(`${config.urls.tileArea}?${query}`, { credentials: "same-origin", cache: "no-store" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const reasons = body.errors ? Object.values(body.errors).join("; ") : `HTTP ${response.status}`;
    throw new Error(reasons);
  }
  return body;
}

async function download(found, progress) {
  const cache = await caches.open(TILE_CACHE);
  const urls = found.tiles.map(([z, x, y]) => found.template.replace("{z}", z).replace("{x}", x).replace("{y}", y));
  let next = 0, done = 0, bytes = 0;
  async function worker() {
    while (next < urls.length) {
      const url = urls[next++];
      const response = await fetch(url, { credentials: "same-origin", cache: "no-cache" });
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      const blob = await response.clone().blob();
      await cache.put(url, response);
      bytes += blob.size;
      done += 1;
      progress(done, urls.length);
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return bytes;
}

export function init({ area }) {
  const base = config.baseMap || {};
  const panel = $("offline-map");
  if (!base.offline || !("caches" in window)) {
    panel.dataset.state = "unavailable";
    $("offline-map-result").textContent = t(base.offline ? "tilesNoStorage" : "tilesNoFile");
    panel.querySelectorAll("button, input, select").forEach((c) => { c.disabled = true; });
    return;
  }
  const from = $("offline-map-from"), to = $("offline-map-to");
  for (const input of [from, to]) { input.min = base.minNativeZoom; input.max = base.maxNativeZoom; }
  from.value = String(Math.max(base.minNativeZoom, Math.min(base.maxNativeZoom, config.offlineZoom[0])));
  to.value = String(Math.max(Number(from.value), Math.min(base.maxNativeZoom, config.offlineZoom[1])));
  const result = $("offline-map-result");
  let found = null;
  const say = (state, text) => { panel.dataset.state = state; result.textContent = text; };

  // A changed area or zoom range needs a new check before a download.
  for (const input of [from, to, $("offline-map-area")]) {
    input.addEventListener("change", () => { found = null; $("offline-map-download").disabled = true; });
  }
  $("offline-map-check").addEventListener("click", async () => {
    const box = area($("offline-map-area").value);
    if (!box) { say("error", t("tilesNoArea")); return; }
    say("checking", t("tilesChecking"));
    try {
      found = await plan(box);
      say("planned", t("tilesPlanned", { n: formatNumber(found.tiles.length), size: formatBytes(found.bytes),
                                         from: found.min_zoom, to: found.max_zoom }));
      $("offline-map-download").disabled = !found.tiles.length;
      result.dataset.tiles = String(found.tiles.length);
      result.dataset.bytes = String(found.bytes);
    } catch (error) {
      say("error", t("tilesFailed", { reason: error.message }));
    }
  });
  $("offline-map-download").addEventListener("click", async () => {
    if (!found) return;
    $("offline-map-download").disabled = true;
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
    try {
      const bytes = await download(found, (done, total) => say("downloading", t("tilesProgress", { done, total })));
      await outbox.setMeta(KEPT_KEY, { tiles: found.tiles.length, bytes, minZoom: found.min_zoom,
                                       maxZoom: found.max_zoom, bbox: found.bbox, at: new Date().toISOString() });
      say("stored", t("tilesDone", { n: formatNumber(found.tiles.length), size: formatBytes(bytes) }));
    } catch (error) {
      say("error", t("tilesFailed", { reason: error.message }));
    }
    await showStored();
  });
  $("offline-map-delete").addEventListener("click", async () => {
    await caches.delete(TILE_CACHE);
    await outbox.setMeta(KEPT_KEY, null);
    say("deleted", t("tilesDeleted"));
    await showStored();
  });
  panel.dataset.state = "ready";
  showStored();
}
