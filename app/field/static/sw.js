// The field form's service worker. The server prepends `const SETTINGS = {version, shell, page, api}`.
// The page: network first (so crews get updates), the cached copy when the network is down or slow. The sign-in
// page removes the kept page (it is the last account's): with none kept, the network is waited for, however slow.
// The shell's scripts, styles and Leaflet: from the cache of this version (a new version means a new worker).
// The API and the server's health check (the outbox's probe of whether the server can be reached): never touched
// here, so never answered from a cache; the page's outbox decides what to retry.
// Base-map tiles (SETTINGS.tiles): from the tiles the crew chose to keep on the phone (offlinemap.js fills that
// cache, which outlives new versions of the shell), else from the network.
const CACHE = `gridtriage-field-${SETTINGS.version}`;
const TILE_CACHE = "gridtriage-tiles";
const PAGE_TIMEOUT_MS = 4000;
const shellPaths = new Set(SETTINGS.shell.map((u) => new URL(u, self.location.href).pathname));
const pagePath = new URL(SETTINGS.page, self.location.href).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SETTINGS.shell.map((u) => new Request(u, { cache: "reload", credentials: "same-origin" })));
    // The page only when it really is the form (a signed-out crew would be redirected to the sign-in page).
    const page = await fetch(new Request(SETTINGS.page, { cache: "reload", credentials: "same-origin" }));
    if (page.ok && !page.redirected) await cache.put(SETTINGS.page, page);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith("gridtriage-field-") && n !== CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

function timeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), ms));
}

async function pageNetworkFirst(request) {
  const cache = await caches.open(CACHE);
  const network = fetch(request);
  try {
    // Nothing to fall back on (none kept yet, or removed at sign-out): no time-out, or the page would not open at all.
    const kept = await cache.match(SETTINGS.page);
    const response = await (kept ? Promise.race([network, timeout(PAGE_TIMEOUT_MS)]) : network);
    if (response.ok && !response.redirected) {
      await cache.put(SETTINGS.page, response.clone());
      return response;
    }
    if (response.status >= 500) {
      const cached = await cache.match(SETTINGS.page);
      if (cached) return cached;
    }
    return response;
  } catch (error) {
    const cached = await cache.match(SETTINGS.page); // looked up again: it may have been removed meanwhile
    if (cached) return cached;
    throw error;
  }
}

async function tileFromPhone(request) {
  const kept = await (await caches.open(TILE_CACHE)).match(request, { ignoreSearch: true });
  return kept || fetch(request);
}

async function shellCacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith(SETTINGS.api)) return;
  if (url.pathname === pagePath && request.mode === "navigate") event.respondWith(pageNetworkFirst(request));
  else if (url.pathname.startsWith(SETTINGS.tiles) && url.pathname !== SETTINGS.tileArea) {
    event.respondWith(tileFromPhone(request));
  }
  else if (shellPaths.has(url.pathname)) event.respondWith(shellCacheFirst(request));
});
