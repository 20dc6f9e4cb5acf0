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

// The page's language, in the phone's own variant of it when it has one (en-GB writes 13:49, en-US 1:49 PM).
const pageLang = document.documentElement.lang || "en";
export const LOCALE = (navigator.languages || []).find((l) => l.split("-")[0].toLowerCase() === pageLang) || pageLang;
const numberFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });
export function formatDistance(m) {
  return m < 1000 ? t("distance", { m: Math.round(m) }) : t("distanceKm", { km: numberFormat.format(m / 1000) });
}
const preciseFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 });
export const formatNumber = (n) => preciseFormat.format(n);
// Hours and minutes the locale's way ("07:13", "7:13 AM"), for a receipt of today.
export function formatClock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso ?? "")
    : d.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
}
export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(LOCALE);
}

// The status line above the send button: `state` is sent, sending, waiting or error (colours in field.css); `report`
// the outbox record it tells about, whose later progress may update it (none: the line tells about no report).
export function say(state, text, report = null) {
  const status = $("form-status");
  status.dataset.state = state;
  status.dataset.report = report || "";
  status.textContent = text;
}
