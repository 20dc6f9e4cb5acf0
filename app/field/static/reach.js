// Whether the server can be reached, whatever navigator.onLine says: a page opened offline may get no "online" event
// when the network comes back. While reports wait (or nothing is known yet) the server's health check is asked every
// few seconds (no-store, a short time-out, never answered by the service worker); the answers to the outbox's own
// requests count too. The badge shows this state, and the outbox is sent as soon as the server answers again.
export const PROBE_INTERVAL_MS = 3000;
const PROBE_TIMEOUT_MS = 2500;
// Answers of a gateway or of a server that cannot take reports now (its database is down): not reachable.
const UNAVAILABLE = new Set([502, 503, 504]);

export const changes = new EventTarget();
let state = "unknown"; // online: the server answered | unreachable: no answer, or it cannot take reports | unknown
let url = null;
let onBack = () => {};
let wanted = false; // reports are waiting
let timer = null;
let probing = null;

export const current = () => state;

function set(next) {
  const was = state;
  if (next === was) return was;
  state = next;
  changes.dispatchEvent(new Event("change"));
  return was;
}

// The network changed as the phone sees it: what was known about the server no longer holds; ask it again now.
export function forget() {
  set("unknown");
  probe();
}

// What the server did with one of the outbox's requests: its response, or null when none came.
export function observed(response) {
  set(response && !UNAVAILABLE.has(response.status) ? "online" : "unreachable");
}

async function healthy() {
  try {
    const signal = "timeout" in AbortSignal ? AbortSignal.timeout(PROBE_TIMEOUT_MS) : undefined;
    const response = await fetch(url, { cache: "no-store", credentials: "same-origin", signal,
                                        headers: { Accept: "application/json" } });
    // A captive portal answers 200 too, after a redirect and with a page of its own.
    if (!response.ok || response.redirected) return false;
    const data = await response.json().catch(() => ({}));
    return data.status === "ok";
  } catch {
    return false;
  }
}

// One probe (one at a time); when the server answers after it did not, the outbox is told to send now.
export function probe() {
  if (!url) return Promise.resolve(false);
  if (!probing) {
    probing = (async () => {
      const up = await healthy();
      const was = set(up ? "online" : "unreachable");
      if (up && was !== "online") onBack();
      return up;
    })().finally(() => { probing = null; });
  }
  return probing;
}

function loop() {
  clearTimeout(timer);
  timer = null;
  if (!wanted && state !== "unknown") return; // nothing waits and the badge is right: no requests at all
  timer = setTimeout(async () => {
    await probe();
    loop();
  }, PROBE_INTERVAL_MS);
}

// Probe while `waiting` (reports are in the outbox); stop when they are not and the state is known.
export function watch(waiting) {
  const was = wanted;
  wanted = waiting;
  if (wanted !== was || !timer) loop();
}

// Starts asking `probeUrl`; `back()` is called each time the server answers again after it did not.
export function start(probeUrl, back) {
  url = probeUrl;
  onBack = back;
  probe().then(loop);
}
