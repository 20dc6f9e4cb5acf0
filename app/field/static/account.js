// The account the page was made for against the one signed in. Phones are shared between shifts, and the service
// worker may answer with the page it kept for the last account (slow network): then the page is taken from the
// network again, so that it, its outbox and its "My work" are those of whoever is signed in.
const RELOADED_AT = "gridtriage-field-reloaded-at";
const RELOAD_PAUSE_MS = 30000; // at most one such reload in this time: never a loop, whatever the server answers
let reloading = false;

// Removes every copy of the page the service worker keeps, so that the next load comes from the network.
export async function forgetPage(scope) {
  if (!("caches" in self)) return;
  const path = new URL(scope, location.href).pathname;
  for (const name of await caches.keys()) {
    if (!name.startsWith("gridtriage-field-")) continue;
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      if (new URL(request.url).pathname === path) await cache.delete(request);
    }
  }
}

function lastReload() {
  try { return Number(sessionStorage.getItem(RELOADED_AT)) || 0; } catch { return 0; }
}

// Told who is signed in: true when it is the page's account; otherwise reloads the page from the network (unless
// it did so a moment ago) and answers false.
export function check(username, config) {
  if (username === config.user) return true;
  if (reloading || Date.now() - lastReload() < RELOAD_PAUSE_MS) return false;
  reloading = true;
  try { sessionStorage.setItem(RELOADED_AT, String(Date.now())); } catch { /* private mode: reload anyway */ }
  forgetPage(config.urls.scope).catch(() => {}).finally(() => location.reload());
  return false;
}
