// Artifacts: the latest artifact of every key (what runs reported under a key; each new
// report is a new version), with its type, when it last changed and the run that reported it.
// A key opens its page: the latest rendered and every version.

import { post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, count } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { pagedTable } from "../lib/table.js";

export default async function artifactsPage(ctx) {
  ctx.title("Artifacts");
  const total = h("span", { id: "artifact-count" });
  const latest = pagedTable({
    pageSize: 50,
    empty: "No artifacts yet. A flow that calls create_markdown_artifact(key=…) shows here.",
    rowAttrs: (a) => ({ dataset: { key: a.key } }),
    columns: [
      { label: "Key", cell: (a) => h("a", { href: `/artifacts/key/${encodeURIComponent(a.key)}` }, a.key) },
      { label: "Type", cell: (a) => a.type || "—" },
      { label: "Description", cell: (a) => h("span", { class: "muted" }, firstLine(a.description)) },
      { label: "Updated", cell: (a) => ago(a.updated) },
      { label: "Flow run", cell: (a) => (a.flow_run_id ? h("a", { href: `/runs/flow-run/${encodeURIComponent(a.flow_run_id)}` }, "open") : "—") },
    ],
    async load(offset, limit) {
      const [rows, n] = await Promise.all([post("/artifacts/latest/filter", { sort: "KEY_ASC", limit, offset }, ctx), post("/artifacts/latest/count", {}, ctx)]);
      total.textContent = `${count(n)} keys`;
      return { rows, total: n };
    },
  });
  mount(ctx.view, pageHeader({ title: "Artifacts", facts: [total] }), card({}, latest.element));
  await latest.refresh();
  ctx.every(5000, () => latest.refresh());
}

/** The first line of a markdown description, as plain text. */
function firstLine(text) {
  return String(text ?? "")
    .split("\n")
    .map((l) => l.replace(/^[#>*\-\s]+/, "").trim())
    .find(Boolean) ?? "";
}
