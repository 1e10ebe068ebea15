// The UI's one way to make elements. `h("a", {href, class: "x"}, "text", child)` creates the
// element, sets attributes as properties (or attributes where no property exists) and appends
// children, strings as text nodes. Nothing here parses a string as HTML: a name or message from
// the API is always text, whatever it contains. Keys that could carry markup or script
// (`innerHTML`, `outerHTML`, `srcdoc`, `on…` strings) are refused, and URLs must be http(s),
// mailto, blob or relative.

const SVG_NS = "http://www.w3.org/2000/svg";
const URL_KEYS = new Set(["href", "src", "action", "formAction", "formaction", "xlink:href", "poster"]);
const REFUSED = new Set(["innerHTML", "outerHTML", "srcdoc", "insertAdjacentHTML"]);
/** Properties that are read-only on elements: set as attributes instead. */
const ATTRIBUTE_ONLY = new Set(["list", "form", "role"]);

/** An HTML element. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), false, attrs, children);
}

/** An SVG element (charts, icons, the timeline). */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), true, attrs, children);
}

/** Replaces everything inside `root` with `children`. */
export function mount(root, ...children) {
  root.replaceChildren();
  append(root, children);
  return root;
}

/** A URL safe to put in a link: relative, http(s), mailto or blob; anything else becomes "#". */
export function safeUrl(url) {
  const text = String(url ?? "");
  try {
    const parsed = new URL(text, location.href);
    if (["http:", "https:", "mailto:", "blob:"].includes(parsed.protocol)) return text;
  } catch {
    // Not a URL at all: fall through.
  }
  console.warn("refused an unsafe URL", text);
  return "#";
}

function build(el, svg, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) set(el, svg, key, value);
  append(el, children);
  return el;
}

function set(el, svg, key, value) {
  if (value === undefined || value === null || value === false) return;
  if (REFUSED.has(key)) throw new Error(`h(): "${key}" would parse a string as HTML; pass children instead`);
  if (key.startsWith("on")) {
    if (typeof value !== "function") throw new Error(`h(): "${key}" must be a function`);
    el.addEventListener(key.slice(2).toLowerCase(), value);
  } else if (key === "class") {
    const names = Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value);
    if (svg) el.setAttribute("class", names);
    else el.className = names;
  } else if (key === "style" && typeof value === "object") {
    for (const [prop, v] of Object.entries(value)) {
      if (v === undefined || v === null) continue;
      if (prop.startsWith("--")) el.style.setProperty(prop, String(v));
      else el.style[prop] = v;
    }
  } else if (key === "dataset") {
    for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[k] = String(v);
  } else {
    const v = URL_KEYS.has(key) ? safeUrl(value) : value;
    if (!svg && key in el && !ATTRIBUTE_ONLY.has(key)) el[key] = v;
    else el.setAttribute(key, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false || child === true) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}
