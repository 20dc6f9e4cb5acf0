// The map's freshness line: when the map's data comes from a streaming replica, how far behind the primary it may
// be (the X-Data-Source and X-Data-Staleness-S headers of the map's reads; see app/db.py read_connection).
const line = document.getElementById("data-freshness");
const EVERY_MS = 15000;

async function check() {
  try {
    const response = await fetch(line.dataset.changesUrl, { cache: "no-store", credentials: "same-origin" });
    const source = response.headers.get("X-Data-Source");
    const staleness = Number(response.headers.get("X-Data-Staleness-S"));
    await response.arrayBuffer(); // read to the end: an unread body keeps the request open
    if (source === "replica" && Number.isFinite(staleness)) {
      const seconds = Math.max(0.1, Math.ceil(staleness * 10) / 10); // an upper bound: round up, never "0 s"
      const shown = seconds.toLocaleString(document.documentElement.lang || undefined, { maximumFractionDigits: 1 });
      line.textContent = line.dataset.replica.replace("{seconds}", shown);
      line.hidden = false;
    } else {
      line.hidden = true; // read from the primary: current
    }
  } catch {
    // Offline or the server away: the map's own status line says so.
  }
}

if (line) {
  check();
  setInterval(check, EVERY_MS);
}
