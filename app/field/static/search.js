// Facility search in the registry kept on the phone (no network needed): by name, by id ("12", "#12", "№ 12") or by
// the utility's external id, best matches first. Case, accents and apostrophe variants do not matter.

// Lower case without diacritics, one kind of apostrophe, single spaces.
export function fold(text) {
  return String(text ?? "").normalize("NFD").replace(/\p{M}/gu, "").toLowerCase()
    .replace(/[’ʼ`´‘]/g, "'").replace(/\s+/g, " ").trim();
}

// How well a facility matches the folded query (lower is better), or null when it does not.
function score(f, q, terms) {
  const p = f.properties || {};
  const id = String(f.id ?? p.id);
  const number = q.replace(/^(#|№|no\.?)\s*/, "");
  if (/^\d+$/.test(number) && number === id) return 0;
  const external = fold(p.external_id);
  const name = fold(p.name);
  if (external && external === q) return 0;
  if (name === q) return 1;
  if (name.startsWith(q) || (external && external.startsWith(q))) return 2;
  if (name.split(/[\s\-–—/,.()]+/).some((word) => word.startsWith(q))) return 3;
  if (name.includes(q) || (external && external.includes(q))) return 4;
  if (terms.length > 1 && terms.every((term) => name.includes(term) || external.includes(term))) return 5;
  return null;
}

// The facilities of the collection that match `query`, best first: [{id, name, kind, external_id, feature}].
export function searchFacilities(collection, query, limit = 8) {
  const q = fold(query);
  if (!q || !collection || !Array.isArray(collection.features)) return [];
  const terms = q.split(" ");
  const found = [];
  for (const f of collection.features) {
    const s = score(f, q, terms);
    if (s !== null) found.push({ s, f });
  }
  found.sort((a, b) => a.s - b.s || String(a.f.properties.name).localeCompare(String(b.f.properties.name)));
  return found.slice(0, limit).map(({ f }) => ({ id: f.id ?? f.properties.id, name: f.properties.name,
                                                kind: f.properties.kind, external_id: f.properties.external_id,
                                                feature: f }));
}
