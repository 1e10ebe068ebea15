// An artifact as people read it: markdown (and link artifacts, which are markdown) as formatted
// text, a table as a table, progress as a bar, an image as a picture, anything else as JSON.
// Every part is built with h(): a table cell or a markdown line is text, never HTML.

import { h } from "../lib/dom.js";
import { ago } from "../lib/format.js";
import { markdown } from "../lib/markdown.js";
import { card } from "../lib/layout.js";
import { table } from "../lib/table.js";

/** What `a.data` shows as, by `a.type`. */
export function artifactBody(a) {
  switch (a.type) {
    case "markdown":
      return markdown(a.data, { headingOffset: 1 });
    case "table":
      return tableOf(a.data);
    case "progress":
      return progressBar(a.data);
    case "image":
      return h("img", { class: "artifact-image", src: String(a.data ?? ""), alt: a.description || a.key || "image artifact", loading: "lazy" });
    default:
      return h("pre", { class: "code-block" }, JSON.stringify(a.data, null, 2));
  }
}

/** A card for one artifact: its key (or type), when it was made, its description and its body. */
export function artifactCard(a) {
  const title = a.key ? h("a", { href: `/artifacts/key/${encodeURIComponent(a.key)}` }, a.key) : `${a.type || "artifact"}`;
  return card(
    { title, class: "artifact-card", tools: [h("span", { class: "muted" }, a.type || "", " · ", ago(a.updated))] },
    h("div", { class: "artifact", dataset: { artifact: a.id, type: a.type || "" } }, a.description ? markdown(a.description, { headingOffset: 2 }) : null, artifactBody(a)),
  );
}

/**
 * A table artifact's data (JSON text, or the value itself): a list of rows as objects (columns
 * are every key seen, in order), an object of columns as lists, or a list of lists.
 */
function tableOf(data) {
  let value = data;
  if (typeof data === "string") {
    try {
      value = JSON.parse(data);
    } catch {
      return h("pre", { class: "code-block" }, data);
    }
  }
  let columns = [];
  let rows = [];
  if (Array.isArray(value) && value.every((r) => r && typeof r === "object" && !Array.isArray(r))) {
    columns = [...new Set(value.flatMap((r) => Object.keys(r)))];
    rows = value.map((r) => columns.map((c) => r[c]));
  } else if (value && typeof value === "object" && !Array.isArray(value)) {
    columns = Object.keys(value);
    const height = Math.max(0, ...columns.map((c) => (Array.isArray(value[c]) ? value[c].length : 0)));
    rows = Array.from({ length: height }, (_, i) => columns.map((c) => (Array.isArray(value[c]) ? value[c][i] : undefined)));
  } else if (Array.isArray(value)) {
    rows = value.map((r) => (Array.isArray(r) ? r : [r]));
    columns = Array.from({ length: Math.max(0, ...rows.map((r) => r.length)) }, (_, i) => String(i + 1));
  }
  const t = table({ columns: columns.map((label, i) => ({ label, cell: (row) => cellText(row[i]) })), empty: "An empty table." });
  t.update(rows);
  return t.element;
}

function cellText(v) {
  if (v === null || v === undefined) return h("span", { class: "muted" }, "—");
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** A progress artifact: a bar and its percentage. */
function progressBar(data) {
  const percent = Math.max(0, Math.min(100, Number(data) || 0));
  return h(
    "div",
    { class: "artifact-progress" },
    h("progress", { max: 100, value: percent, "aria-label": "Progress" }),
    h("span", { class: "num" }, `${Math.round(percent * 10) / 10}%`),
  );
}
