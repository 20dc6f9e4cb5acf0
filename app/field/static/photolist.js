// The photos the form holds for the report: picked from the camera or the gallery, shown, and removable.
import { $, t, el } from "./page.js";
import { prepare, uuid } from "./photos.js";

let photos = []; // {id, blob, url, name}

export const current = () => photos;

function showPhotos() {
  $("photo-list").replaceChildren(...photos.map((p) => {
    const remove = el("button", { type: "button", class: "secondary small", text: "✕", "aria-label": t("removePhoto") });
    remove.addEventListener("click", () => {
      URL.revokeObjectURL(p.url);
      photos = photos.filter((x) => x !== p);
      showPhotos();
    });
    return el("li", { "data-photo-id": p.id }, el("img", { src: p.url, alt: p.name || "" }), remove);
  }));
  $("photo-list").dataset.count = String(photos.length);
}

$("photo-input").addEventListener("change", async (event) => {
  const files = [...event.target.files];
  event.target.value = "";
  $("photo-status").textContent = "";
  for (const file of files) {
    try {
      const photo = await prepare(file);
      photos.push({ ...photo, url: URL.createObjectURL(photo.blob) });
    } catch (e) {
      $("photo-status").textContent = t("photoFailed", { reason: e.message || String(e) });
    }
  }
  showPhotos();
});

// Puts a rejected report's photos back in the form.
export function restore(kept) {
  // Fresh photo ids: nothing of a rejected report reached the server, and new ids can never collide.
  photos = (kept || []).filter((x) => x.blob).map((x) => ({
    id: uuid(), blob: x.blob, url: URL.createObjectURL(x.blob), name: "" }));
  showPhotos();
}

export function clear() {
  for (const p of photos) URL.revokeObjectURL(p.url);
  photos = [];
  showPhotos();
}
