// One artifact key: its latest version rendered, and every version (newest first) with when
// it was reported and by which run; a version's row shows it rendered below.

import { get, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, when } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { table } from "../lib/table.js";
import { artifactCard } from "../components/artifact.js";

export default async function artifactPage(ctx) {
  const key = ctx.params.key;
  ctx.title(`Artifact ${key}`);
  const shown = h("div", { id: "artifact-shown" });
  const versions = table({
    empty: "No versions.",
    rowAttrs: (a) => ({ dataset: { version: a.id } }),
    columns: [
      { label: "Reported", cell: (a) => h("button", { type: "button", class: "ghost small", onclick: () => mount(shown, artifactCard(a)) }, when(a.created)) },
      { label: "Type", cell: (a) => a.type || "—" },
      { label: "Changed", cell: (a) => ago(a.updated) },
      { label: "Flow run", cell: (a) => (a.flow_run_id ? h("a", { href: `/runs/flow-run/${encodeURIComponent(a.flow_run_id)}` }, "open") : "—") },
    ],
  });
  const latest = await get(`/artifacts/${encodeURIComponent(key)}/latest`, ctx);
  const all = await post("/artifacts/filter", { artifacts: { key: { any_: [key] } }, sort: "CREATED_DESC", limit: 200 }, ctx);
  versions.update(all);
  mount(shown, artifactCard(latest));
  mount(
    ctx.view,
    pageHeader({ crumbs: [{ label: "Artifacts", href: "/artifacts" }], title: key, facts: [`${all.length} versions`, `latest ${ago(latest.created)}`] }),
    shown,
    card({ title: "Versions" }, versions.element),
  );
}
