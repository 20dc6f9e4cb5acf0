// The outbox's queue in batches for POST /api/reports/batch: how the waiting reports are cut into requests, and
// how an answer's results are matched to its reports. No network and no storage here (sync.js does both).

const ENVELOPE_BYTES = 64; // `{"reports": [` … `]}` and the commas, with room to spare
const encoder = new TextEncoder();

// The records (oldest first) in consecutive chunks, none with more than `maxReports` reports or more than `maxBytes`
// bytes of JSON, the sizes balanced (101 reports go as 51 and 50, not 100 and 1). A report too large for any batch
// gets a chunk of its own, which sync.js sends alone (the server then says what is wrong with it).
export function chunks(records, { maxReports, maxBytes }) {
  const count = Math.ceil(records.length / Math.max(1, maxReports));
  const size = Math.ceil(records.length / Math.max(1, count));
  const cut = [];
  let current = [];
  let bytes = ENVELOPE_BYTES;
  for (const record of records) {
    const length = encoder.encode(JSON.stringify(record.payload)).length + 2;
    if (current.length && (current.length >= size || bytes + length > maxBytes)) {
      cut.push(current);
      current = [];
      bytes = ENVELOPE_BYTES;
    }
    current.push(record);
    bytes += length;
  }
  if (current.length) cut.push(current);
  return cut;
}

// The answer's results in the chunk's order, or null when the answer does not fit the chunk (another length, another
// report's id, a status that is not a number): then nothing in it is trusted and the whole chunk is sent again.
export function results(chunk, data) {
  const list = data && Array.isArray(data.results) ? data.results : null;
  if (!list || list.length !== chunk.length) return null;
  const fits = list.every((result, i) => result && typeof result === "object" && Number.isInteger(result.status)
                                         && (result.id == null ? !stored(result) : sameId(result.id, chunk[i].id)));
  return fits ? list : null;
}

// True when the result says the report is stored (which only a result naming that report's id may say).
export function stored(result) {
  return result.status === 200 || result.status === 201;
}

function sameId(a, b) {
  return String(a).toLowerCase() === String(b).toLowerCase();
}
