// Sending the outbox: each report first (POST, idempotent by its device-made id), then its photos (PUT each).
// Network errors, 5xx, 401, 403, 404, 408, 429 and CSRF failures leave a report waiting and retry with exponential backoff
// (capped at 60 s, Retry-After honoured); 400, 409, 413, 415 and 422 are final: the report is rejected with the
// server's reasons. A photo rejected with 400, 409, 413, 415 or 422 shows its reason; the report stays sent.
// A phone is shared between shifts: each run first asks the server who is signed in (GET /api/session, which also
// gives a fresh CSRF token) and sends only that account's reports; another account's wait, untouched, for its owner.
// When more than one report waits, they go together (POST /api/reports/batch, outboxbatch.js cuts the queue to the
// server's limits) and each report's result is handled exactly as the same status of its own request would be; an
// answer lost or refused whole (no network, 5xx, 401, 403, CSRF) leaves every report of it waiting, to be sent again
// with the same ids (the server answers 200 for what it stored). A server without the batch route (404, 405) gets
// one request per report from then on; a batch refused whole for its body (400, 413, 422) is sent report by report.
// While reports wait, reach.js asks the server every few seconds and starts a run as soon as it answers again (a page
// opened offline may never get an "online" event); every answer here, or its absence, tells reach.js too.
import * as outbox from "./outbox.js";
import * as batches from "./outboxbatch.js";
import * as reach from "./reach.js";

export const BASE_DELAY_MS = 2000;
export const MAX_DELAY_MS = 60000;
const REPORT_TIMEOUT_MS = 30000;
const PHOTO_TIMEOUT_MS = 120000;
const BATCH_TIMEOUT_MS = 60000;
const REJECTED = new Set([400, 409, 413, 415, 422]);
const LOCK = "gridtriage-outbox-sync";

// The URLs; user: the account the page was made for; onSession(username): told whom the server says is signed in;
// batch: the batch route (null: one request per report) and its limits, as the server gives them.
let options = { reports: "/api/reports", session: null, user: null, onSession: null,
                batch: null, batchMaxReports: 100, batchMaxBytes: 2 * 1024 * 1024 };
let batchMissing = false; // the server answered 404 or 405 for the batch route: an older server
let signedIn = null; // the account signed in at the last run's session check (null: not known)
let running = null;
let again = false;
let againForced = false;
let timer = null;

export function configure(settings) { options = { ...options, ...settings }; }

// Exponential backoff with jitter: about 2 s, 4 s, 8 s … never more than a minute.
export function backoff(attempts) {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
}

// Retry-After as milliseconds from now (seconds or an HTTP date); 0 when absent or unreadable.
export function retryAfterMs(value, now = Date.now()) {
  if (!value) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : 0;
}

// The page's CSRF token may be hours old (the page can come from the service worker's cache): on a CSRF failure
// a fresh one is fetched from the session endpoint and the request is made once more.
let csrfToken = null;

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  const token = csrfToken || document.querySelector('meta[name="csrf-token"]')?.content;
  if (token) h["X-CSRFToken"] = token;
  return h;
}

async function body(response) {
  try { return await response.json(); } catch { return {}; }
}

async function fetchWithin(url, init, timeoutMs) {
  const signal = "timeout" in AbortSignal ? AbortSignal.timeout(timeoutMs) : undefined;
  let response;
  try {
    response = await fetch(url, { ...init, credentials: "same-origin", cache: "no-store", signal });
  } catch (e) {
    reach.observed(null);
    throw e;
  }
  reach.observed(response);
  return response;
}

// Who is signed in, from the session endpoint (keeping its fresh CSRF token): {username, token}, or {reason, response}
// when the server did not say (no network, signed out, server trouble).
async function session() {
  if (!options.session) return { reason: "no session URL" };
  let response;
  try {
    response = await fetchWithin(options.session, { headers: { Accept: "application/json" } }, 10000);
  } catch (e) {
    return { reason: navigator.onLine ? `network: ${e.message}` : "offline" };
  }
  const data = response.ok ? await body(response) : {};
  if (data.csrf_token) csrfToken = data.csrf_token;
  if (!response.ok || typeof data.username !== "string") return { reason: `HTTP ${response.status}`, response };
  return { username: data.username, token: data.csrf_token };
}

// A fresh token, only while the account that the run sends for is still the one signed in.
async function refreshToken() {
  const who = await session();
  return Boolean(who.token) && who.username === signedIn;
}

function csrfFailure(response, data) {
  return response.status === 400 && /csrf/i.test(String((data && data.error) || ""));
}

// One request with its parsed JSON body; throws on network errors and time-outs.
async function call(url, { method, contentType, payload }, timeoutMs) {
  const send = () => fetchWithin(url, { method, headers: headers({ "Content-Type": contentType }), body: payload },
                                 timeoutMs);
  let response = await send();
  let data = await body(response);
  if (csrfFailure(response, data) && (await refreshToken())) {
    response = await send();
    data = await body(response);
  }
  // A CSRF failure is the session's fault, never the report's: retry later (after signing in) instead of rejecting.
  const retryable = csrfFailure(response, data);
  return { response, data, retryable };
}

// `hintMs`: the server's Retry-After for this report alone (a batch's result), else the response's header.
// `now`: the same for every report of a batch, so that they fall due together and go together again.
function retryLater(record, reason, response, hintMs = 0, now = Date.now()) {
  record.attempts += 1;
  const hinted = hintMs || (response && (response.status === 429 || response.status >= 500)
    ? retryAfterMs(response.headers.get("Retry-After")) : 0);
  record.retryAfterUntil = hinted ? now + hinted : 0;
  record.nextAttemptAt = now + Math.max(backoff(record.attempts), hinted);
  record.lastError = reason;
}

// The server's reason in one line: its message, then each field's reason.
function describe(response, data) {
  const reason = (data && data.error) || `HTTP ${response.status}`;
  const fields = data && data.errors && typeof data.errors === "object" ? Object.entries(data.errors) : [];
  return fields.length ? `${reason}: ${fields.map(([k, v]) => `${k} ${v}`).join("; ")}` : reason;
}

// One request for a record: its answer, or null when it failed in a way that is retried later (no network, a
// timeout, a retryable status), the retry being scheduled already.
async function attempt(record, url, init, timeoutMs) {
  let answer;
  try {
    answer = await call(url, init, timeoutMs);
  } catch (e) {
    retryLater(record, navigator.onLine ? `network: ${e.message}` : "offline");
    return null;
  }
  if (answer.retryable) {
    retryLater(record, `HTTP ${answer.response.status}: ${describe(answer.response, answer.data)}`, answer.response);
    return null;
  }
  return answer;
}

async function sendReport(record) {
  const answer = await attempt(record, options.reports, {
    method: "POST", contentType: "application/json", payload: JSON.stringify(record.payload),
  }, REPORT_TIMEOUT_MS);
  if (!answer) return false;
  const { response, data } = answer;
  if (response.ok) {
    markSent(record, data.report);
    return true;
  }
  if (REJECTED.has(response.status)) {
    markRejected(record, response.status, data);
    return false;
  }
  retryLater(record, `HTTP ${response.status}`, response);
  return false;
}

// The server stored the report (`stored`: the report as it answered it).
function markSent(record, stored) {
  const report = stored || {};
  record.state = "sent";
  record.receipt = { case_id: report.case_id ?? null, received_at: report.received_at ?? null };
  record.error = null;
  record.errors = null;
  record.lastError = null;
}

// The server refused the report for good (`data`: its reasons): kept for the crew to correct or discard.
function markRejected(record, status, data) {
  record.state = "rejected";
  record.error = (data && data.error) || `HTTP ${status}`;
  record.errors = data && data.errors && typeof data.errors === "object" ? data.errors : null;
  record.httpStatus = status;
}

// One report's result in a batch's answer, handled as the same answer to its own request would be.
function settle(record, result, user, now) {
  if (batches.stored(result)) {
    markSent(record, result.report);
    if (!record.user) record.user = user; // as after a request of its own (see process)
  } else if (REJECTED.has(result.status)) {
    markRejected(record, result.status, result);
  } else {
    const hint = result.status === 429 ? retryAfterMs(result.retry_after_s) : 0;
    retryLater(record, `HTTP ${result.status}`, null, hint, now);
  }
}

// Writes what became of a batch's records; `change(record, index, now)` is applied to each one still waiting.
function settleAll(chunk, change) {
  const now = Date.now();
  return outbox.updateAll(chunk.map((r) => r.id), (record, i) => {
    if (record.state === "waiting") change(record, i, now);
    record.sending = false;
  });
}

// Sends one batch: "done" when its answer was read (every record settled), "single" when its records are to be sent
// one by one, else the reason why nothing of it was acknowledged (all kept waiting, retried later with the same ids).
async function sendBatch(chunk, user) {
  await outbox.updateAll(chunk.map((r) => r.id), (record) => { record.sending = true; });
  let answer;
  try {
    answer = await call(options.batch, {
      method: "POST", contentType: "application/json",
      payload: JSON.stringify({ reports: chunk.map((r) => r.payload) }),
    }, BATCH_TIMEOUT_MS);
  } catch (e) {
    const reason = navigator.onLine ? `network: ${e.message}` : "offline";
    await settleAll(chunk, (record, i, now) => retryLater(record, reason, null, 0, now));
    return reason;
  }
  const { response, data } = answer;
  if (!answer.retryable && (response.status === 404 || response.status === 405
                            || [400, 413, 422].includes(response.status))) {
    batchMissing = batchMissing || response.status === 404 || response.status === 405;
    await settleAll(chunk, () => {});
    return "single";
  }
  const results = response.ok && !answer.retryable ? batches.results(chunk, data) : null;
  if (!results) {
    const reason = answer.retryable ? `HTTP ${response.status}: ${describe(response, data)}` : `HTTP ${response.status}`;
    await settleAll(chunk, (record, i, now) => retryLater(record, reason, response, 0, now));
    return reason;
  }
  await settleAll(chunk, (record, i, now) => settle(record, results[i], user, now));
  return "done";
}

// Sends the account's due waiting reports in batches when more than one waits; the ids whose report was dealt with
// (sent, refused or put off), which are not sent again one by one in this run.
async function sendBatches(records, force, user) {
  const dealt = new Set();
  if (!options.batch || batchMissing) return dealt;
  const waiting = records.filter((r) => r.state === "waiting" && outbox.belongsTo(r, user));
  if (!waiting.some((r) => isDue(r, force))) return dealt;
  // A request goes anyway: every report not held back by a Retry-After goes with it, whatever its backoff says.
  const due = waiting.filter((r) => isDue(r, true));
  if (due.length < 2) return dealt;
  let stopped = null; // why the server did not take the last batch
  for (const chunk of batches.chunks(due, { maxReports: options.batchMaxReports, maxBytes: options.batchMaxBytes })) {
    if (chunk.length < 2 || batchMissing) continue; // alone (too large to go with others), or no batch route
    if (stopped) {
      // The server did not answer the last batch: the rest wait for the next run rather than fail one by one.
      await settleAll(chunk, (record, i, now) => retryLater(record, stopped, null, 0, now));
    } else {
      const outcome = await sendBatch(chunk, user);
      if (outcome === "single") continue;
      if (outcome !== "done") stopped = outcome;
    }
    for (const record of chunk) dealt.add(record.id);
  }
  return dealt;
}

// Sends the photos still waiting; false when one must be retried later.
async function sendPhotos(record) {
  for (const photo of record.photos) {
    if (photo.state !== "waiting") continue;
    const url = `${options.reports}/${encodeURIComponent(record.id)}/photos/${encodeURIComponent(photo.id)}`;
    const answer = await attempt(record, url, { method: "PUT", contentType: photo.type, payload: photo.blob },
                                 PHOTO_TIMEOUT_MS);
    if (!answer) return false;
    const { response, data } = answer;
    if (response.ok) {
      photo.state = "sent";
      photo.blob = null; // acknowledged by the server: free the phone's storage
    } else if (REJECTED.has(response.status)) {
      photo.state = "rejected";
      photo.reason = describe(response, data);
    } else if (response.status === 404) {
      // The server does not know the report (e.g. restored from a backup): send the report again, then the photos.
      record.state = "waiting";
      retryLater(record, describe(response, data), response);
      return false;
    } else {
      retryLater(record, `HTTP ${response.status}`, response);
      return false;
    }
  }
  return true;
}

function isDue(record, force) {
  const now = Date.now();
  return !(now < record.retryAfterUntil || (!force && now < record.nextAttemptAt));
}

// Sends one record of the signed-in account `user`; `batched`: its report went in a batch this run (what is left
// is its photos, once the report is sent).
async function process(id, force, user, batched = false) {
  const record = await outbox.get(id);
  if (!record || !outbox.pending(record) || !outbox.belongsTo(record, user)) return;
  if (batched ? record.state !== "sent" : !isDue(record, force)) return;
  const sending = record.state === "waiting";
  if (sending) await outbox.update(id, (r) => { r.sending = true; });
  if (record.state === "waiting" && (await sendReport(record)) && !record.user) {
    record.user = user; // a record older than the accounts it keeps: now the sender's, like the report on the server
  }
  if (record.state === "sent" && (await sendPhotos(record))) {
    record.attempts = 0;
    record.nextAttemptAt = 0;
    record.lastError = null;
  }
  record.sending = false;
  await outbox.put(record);
}

// Nobody known to be signed in (no network, signed out): the page's account's records try again later.
async function postpone(id, force, why) {
  const record = await outbox.get(id);
  if (!record || !outbox.pending(record) || !isDue(record, force)) return;
  retryLater(record, why.reason, why.response);
  await outbox.put(record);
}

async function runOnce(force) {
  // Oldest first: the server should see reports in the order they were made.
  const records = (await outbox.all()).filter(outbox.pending).reverse();
  if (!records.length) return;
  const who = await session();
  signedIn = who.username || null;
  if (signedIn && options.onSession) options.onSession(signedIn);
  const batched = signedIn ? await sendBatches(records, force, signedIn) : new Set();
  for (const record of records) {
    if (signedIn) {
      if (outbox.belongsTo(record, signedIn)) await process(record.id, force, signedIn, batched.has(record.id));
    } else if (outbox.belongsTo(record, options.user)) {
      await postpone(record.id, force, who);
    }
  }
}

async function locked(work) {
  if (navigator.locks) return navigator.locks.request(LOCK, work); // one tab sends at a time
  return work();
}

// The earliest time something in the outbox is due; schedules the next run for then.
async function schedule() {
  clearTimeout(timer);
  // Only what the signed-in account (or, not known, the page's) can send: another account's records wait for it.
  const user = signedIn || options.user;
  const records = (await outbox.all()).filter((r) => outbox.pending(r) && outbox.belongsTo(r, user));
  reach.watch(records.length > 0);
  if (!records.length) return;
  const due = Math.min(...records.map((r) => Math.max(r.nextAttemptAt, r.retryAfterUntil)));
  timer = setTimeout(() => sync(), Math.min(MAX_DELAY_MS, Math.max(1000, due - Date.now())));
}

// Sends whatever is due (everything waiting when `force`, except what a Retry-After holds back).
export function sync({ force = false } = {}) {
  if (running) {
    // Another run is under way: go round once more when it ends, so nothing submitted meanwhile waits.
    again = true;
    againForced = againForced || force;
    return running;
  }
  running = (async () => {
    try {
      let forceThis = force;
      do {
        again = false;
        const f = forceThis;
        await locked(() => runOnce(f));
        forceThis = againForced;
        againForced = false;
      } while (again);
    } catch (e) {
      console.error("outbox sync failed", e);
    } finally {
      running = null;
      await schedule().catch(() => {});
    }
  })();
  return running;
}

// Sends now, then whenever the phone says it is online, the page is shown again, or the server at `probeUrl` answers
// again after it did not.
export function start({ probeUrl = null } = {}) {
  addEventListener("online", () => { reach.forget(); sync({ force: true }); });
  addEventListener("offline", () => reach.forget());
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") sync(); });
  sync({ force: true });
  if (probeUrl) reach.start(probeUrl, () => sync({ force: true }));
}
