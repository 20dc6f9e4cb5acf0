// The sign-in page (where signing out lands): phones are shared between shifts, so what the field form kept of the
// last account goes — the page the service worker kept (it shows that account's work offline) and every "My work"
// list. The outbox's reports stay: each waits on the phone until its own account signs in and sends it.
(() => {
  const DB_NAME = "gridtriage-field"; // app/static/field/outbox.js
  const META = "meta";
  const fieldPage = new URL(document.currentScript.dataset.fieldPage || "/field", location.href).pathname;

  async function forgetPages() {
    if (!("caches" in self)) return;
    for (const name of await caches.keys()) {
      if (!name.startsWith("gridtriage-field-")) continue; // app/static/field/sw.js
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        if (new URL(request.url).pathname === fieldPage) await cache.delete(request);
      }
    }
  }

  function forgetMyWork() {
    return new Promise((resolve) => {
      if (!("indexedDB" in self)) { resolve(); return; }
      const request = indexedDB.open(DB_NAME);
      // No form was ever opened here: make no database (the form makes it, with its stores).
      request.onupgradeneeded = () => request.transaction.abort();
      request.onerror = () => resolve();
      request.onblocked = () => resolve();
      request.onsuccess = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(META)) { db.close(); resolve(); return; }
        const tx = db.transaction(META, "readwrite");
        // The keys "myWork:<account>" only; the outbox is another store and is not touched.
        tx.objectStore(META).delete(IDBKeyRange.bound("myWork:", "myWork:\uffff"));
        tx.oncomplete = tx.onerror = tx.onabort = () => { db.close(); resolve(); };
      };
    });
  }

  const done = Promise.allSettled([forgetPages(), forgetMyWork()]).then(() => {
    document.documentElement.dataset.fieldForgotten = "true";
  });

  // Leaving the page may cut the clean-up short: signing in waits for it (a few seconds at most).
  let finished = false;
  let held = false;
  done.then(() => { finished = true; });
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", (event) => {
      if (finished) return;
      event.preventDefault();
      if (held) return;
      held = true;
      Promise.race([done, new Promise((resolve) => setTimeout(resolve, 3000))]).then(() => form.submit());
    });
  }
})();
