// The outbox: reports (with their photos as Blobs) kept in IndexedDB until the server has acknowledged them.
// IndexedDB survives closing the tab and restarting the phone; nothing here needs the network.

const DB_NAME = "gridtriage-field";
const DB_VERSION = 1;
const OUTBOX = "outbox";
const META = "meta";

// Other modules (and other tabs, through the BroadcastChannel) listen for "change" to redraw the list.
export const changes = new EventTarget();
const channel = "BroadcastChannel" in self ? new BroadcastChannel("gridtriage-outbox") : null;
if (channel) channel.onmessage = () => changes.dispatchEvent(new Event("change"));

function notify() {
  changes.dispatchEvent(new Event("change"));
  if (channel) channel.postMessage("change");
}

let dbPromise = null;

export function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, { keyPath: "id" });
        if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, { keyPath: "key" });
      };
      request.onsuccess = () => {
        const db = request.result;
        // A newer version of the page wants to upgrade the schema: let it, and reopen next time.
        db.onversionchange = () => { db.close(); dbPromise = null; };
        resolve(db);
      };
      request.onerror = () => { dbPromise = null; reject(request.error); };
    });
  }
  return dbPromise;
}

// Runs `work(store)` in one transaction and resolves with its result once the transaction has committed.
async function transaction(storeName, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    let result;
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
    Promise.resolve(work(tx.objectStore(storeName))).then((value) => { result = value; }, (e) => {
      try { tx.abort(); } catch { /* already finished */ }
      reject(e);
    });
  });
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export async function put(record) {
  await transaction(OUTBOX, "readwrite", (store) => { store.put(record); });
  notify();
  return record;
}

export function get(id) {
  return transaction(OUTBOX, "readonly", (store) => request(store.get(id)));
}

// Every record, newest first.
export async function all() {
  const records = await transaction(OUTBOX, "readonly", (store) => request(store.getAll()));
  return records.sort((a, b) => b.createdAt - a.createdAt);
}

// Read, change and write one record in a single transaction; `change` gets the stored record and must be synchronous.
export async function update(id, change) {
  const updated = await transaction(OUTBOX, "readwrite", (store) => new Promise((resolve, reject) => {
    const req = store.get(id);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      if (!req.result) { resolve(null); return; }
      const record = change(req.result) || req.result;
      store.put(record);
      resolve(record);
    };
  }));
  notify();
  return updated;
}

// `update` of several records in one transaction (a batch's answer): `change(record, index)` for each of `ids` still
// stored, in order; the records as written.
export async function updateAll(ids, change) {
  const updated = await transaction(OUTBOX, "readwrite", (store) => Promise.all(ids.map((id, i) => new Promise(
    (resolve, reject) => {
      const req = store.get(id);
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        if (!req.result) { resolve(null); return; }
        const record = change(req.result, i) || req.result;
        store.put(record);
        resolve(record);
      };
    }))));
  notify();
  return updated;
}

export async function remove(ids) {
  await transaction(OUTBOX, "readwrite", (store) => { for (const id of ids) store.delete(id); });
  notify();
}

// Puts a crew's correction in place of the rejected record `oldId`, in one transaction: the report is never in the
// outbox twice, nor missing. False (and nothing changed) when that record is gone or no longer rejected, i.e. it was
// corrected or discarded meanwhile (in another tab): one rejected report yields at most one correction.
export async function replaceRejected(oldId, record) {
  const replaced = await transaction(OUTBOX, "readwrite", (store) => new Promise((resolve, reject) => {
    const req = store.get(oldId);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      if (!req.result || req.result.state !== "rejected") { resolve(false); return; }
      if (oldId !== record.id) store.delete(oldId);
      store.put(record);
      resolve(true);
    };
  }));
  if (replaced) notify();
  return replaced;
}

// Deletes a record only while it is still rejected (never one that waits to be sent or was sent meanwhile).
export async function discardRejected(id) {
  const discarded = await transaction(OUTBOX, "readwrite", (store) => new Promise((resolve, reject) => {
    const req = store.get(id);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      if (!req.result || req.result.state !== "rejected") { resolve(false); return; }
      store.delete(id);
      resolve(true);
    };
  }));
  notify();
  return discarded;
}

export async function getMeta(key) {
  const row = await transaction(META, "readonly", (store) => request(store.get(key)));
  return row ? row.value : undefined;
}

export function setMeta(key, value) {
  return transaction(META, "readwrite", (store) => { store.put({ key, value }); });
}

// A new outbox record for a report made on this device by the account `user`; photos are {id, blob}.
export function newRecord(payload, photos, user = null) {
  return {
    id: payload.id,
    createdAt: Date.now(),
    user,                    // who made it: only that account's session sends it (null: made before accounts were kept)
    payload,
    photos: photos.map((p) => ({ id: p.id, type: p.blob.type, size: p.blob.size, blob: p.blob,
                                 state: "waiting", reason: null })),
    state: "waiting",        // waiting | sent | rejected (the report itself)
    receipt: null,           // {case_id, received_at} from the server
    error: null,             // the server's one-line reason when rejected
    errors: null,            // the server's reasons field by field when rejected
    attempts: 0,
    nextAttemptAt: 0,
    retryAfterUntil: 0,
    lastError: null,
  };
}

// True when the record is the account's to see and send. A phone is shared between shifts: another account's reports
// wait for it. A record made before the outbox kept accounts belongs to whoever is signed in when it is sent.
export function belongsTo(record, user) {
  return !record.user || record.user === user;
}

// True while something of this record still has to go to the server.
export function pending(record) {
  return record.state === "waiting"
    || (record.state === "sent" && record.photos.some((p) => p.state === "waiting"));
}

function base64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// The account's part of the outbox as a JSON Blob (photos base64-encoded), for a crew to hand over when sending is
// impossible; another account's reports are not theirs to hand over.
export async function exportJson(user) {
  const records = (await all()).filter((r) => belongsTo(r, user));
  const reports = [];
  for (const record of records) {
    const photos = [];
    for (const photo of record.photos) {
      const { blob, ...rest } = photo;
      photos.push({ ...rest, data_base64: blob ? await base64(blob) : null });
    }
    reports.push({ ...record, photos });
  }
  const body = { format: "gridtriage-field-outbox", version: 1, exported_at: new Date().toISOString(), reports };
  return new Blob([JSON.stringify(body, null, 1)], { type: "application/json" });
}
