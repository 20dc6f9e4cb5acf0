// The one DOM helper of every page: elements are built from nodes and text, never from HTML strings.
// el(tag, attrs, ...children): "class"/"className" set the class, "text" the text, "dataset" data-* values;
// a non-string value of a property the element has (onclick, checked, value…) is set as that property;
// null, undefined and false are left out, true is an empty attribute; children may be nodes or text.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class" || key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && typeof value !== "string" && typeof value !== "number") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
