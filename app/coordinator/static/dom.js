// The map's DOM helpers: el is the shared one (/static/js/dom.js); SVG elements and number formatting here.
export { el } from "/static/js/dom.js";
export const number = new Intl.NumberFormat();

export function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text != null) node.textContent = text;
  return node;
}
