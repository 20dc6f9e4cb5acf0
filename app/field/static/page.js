// What every part of the field form shares: the page's settings, whose page it is, and small DOM and text helpers.
import * as outbox from "./outbox.js";
export { el } from "/static/js/dom.js";

export const config = JSON.parse(document.getElementById("field-config").textContent);
const msg = config.messages;
export const $ = (id) => document.getElementById(id);
export const form = $("field-form");
export const kindLabels = Object.fromEntries(config.kinds.map((k) => [k.code, k.label]));
// Whose reports the outbox shows and whose a new report is: the page's account, unless the server says another one
// is signed in (a page the service worker kept from the last shift; it is reloaded, see signedIn in form.js).
let user = config.user;
export const currentUser = () => user;
export function setUser(username) { user = username; }
export const mine = (record) => outbox.belongsTo(record, user);

// Fills "%(name)s" placeholders of a translated message.
export function t(key, values = {}) {
  return (msg[key] || key).replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}

const numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: 1 });
export function formatDistance(m) {
  return m < 1000 ? t("distance", { m: Math.round(m) }) : t("distanceKm", { km: numberFormat.format(m / 1000) });
}
export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(document.documentElement.lang || undefined);
}
