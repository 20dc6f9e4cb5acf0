// The map's DOM and text helpers: el is the shared one (/static/js/dom.js); SVG elements, the page's translated
// messages and code labels (the #map-config JSON the server renders with gettext), numbers and times the way the
// page's language writes them (document.documentElement.lang), so that one line never mixes "29 754" and "29,754".
export { el } from "/static/js/dom.js";

const node = document.getElementById("map-config");
export const config = node ? JSON.parse(node.textContent) : { messages: {}, labels: {}, baseMap: {} };
export const lang = document.documentElement.lang || undefined;
export const number = new Intl.NumberFormat(lang);
const percentFormat = new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: 1,
  maximumFractionDigits: 1 });
const decimalFormat = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" });

// A translated message with its "%(name)s" placeholders filled in.
export function t(key, values = {}) {
  return (config.messages[key] ?? key).replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}

// A code of a vocabulary as the page shows it: its label (in English the code itself, spaced when asked).
export function code(vocabulary, value, { spaced = false } = {}) {
  const text = config.labels[vocabulary]?.[value] ?? String(value);
  return spaced ? text.replaceAll("_", " ") : text;
}

export const people = (value) => number.format(Math.round(value));
export const share = (fraction) => percentFormat.format(fraction);
export const oneDecimal = (value) => decimalFormat.format(value);
export function when(iso) {
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? String(iso) : dateTime.format(moment);
}

// The server's sentences (the triage's explanations, sources and notes) write numbers the English way: in another
// language their digit groups and decimals are rewritten the page's way, so a row never mixes the two.
const ENGLISH_NUMBER = /\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b|\b\d+\.\d+\b/g;
export function localNumbers(text) {
  if (!text || !lang || lang.startsWith("en")) return text;
  return String(text).replace(ENGLISH_NUMBER, (found) => {
    const value = Number(found.replaceAll(",", ""));
    const digits = found.includes(".") ? found.split(".")[1].length : 0;
    return new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits })
      .format(value);
  });
}

export function svg(tag, attrs = {}, text = null) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  if (text != null) element.textContent = text;
  return element;
}
