// Photos are made smaller on the phone before they are stored and sent: longest side 1600 px, JPEG quality 0.8.
// Re-encoding also drops the camera's metadata (EXIF), which may hold the crew's own position and device.

export const MAX_SIDE_PX = 1600;
export const QUALITY = 0.8;

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Fallback for browsers without randomUUID: an RFC 4122 version 4 UUID from getRandomValues.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

async function decode(file) {
  try {
    return await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    // Some browsers decode only through an <img> (e.g. HEIC on Safari).
    const url = URL.createObjectURL(file);
    try {
      const img = new Image();
      img.src = url;
      await img.decode();
      return img;
    } finally {
      URL.revokeObjectURL(url);
    }
  }
}

function encode(source, width, height) {
  if (typeof OffscreenCanvas !== "undefined") {
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext("2d").drawImage(source, 0, 0, width, height);
    return canvas.convertToBlob({ type: "image/jpeg", quality: QUALITY });
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(source, 0, 0, width, height);
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("could not encode JPEG"))), "image/jpeg", QUALITY));
}

// The photo as a JPEG Blob no larger than MAX_SIDE_PX on its longest side, with a fresh id.
export async function prepare(file) {
  const image = await decode(file);
  const w = image.width || image.naturalWidth;
  const h = image.height || image.naturalHeight;
  if (!w || !h) throw new Error("not an image");
  const scale = Math.min(1, MAX_SIDE_PX / Math.max(w, h));
  const width = Math.max(1, Math.round(w * scale));
  const height = Math.max(1, Math.round(h * scale));
  const blob = await encode(image, width, height);
  if (image.close) image.close();
  return { id: uuid(), blob, width, height, name: file.name };
}
