// Flow runs: every run, newest first, filtered by name, state and flow. The filters and the
// page number live in the URL, so a view can be shared and survives a reload.

import { post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { count, duration, when } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { pagedTable } from "../lib/table.js";
import { STATES, stateBadge, stateLabel } from "../components/state.js";

/** The API filter for the URL's query (`q`, `state`, `flow`). */
function filterOf(query) {
  const body = { flow_runs: {} };
  if (query.get("state")) body.flow_runs.state = { type: { any_: [query.get("state")] } };
  if (query.get("q")) body.flow_runs.name = { like_: query.get("q") };
  if (query.get("flow")) body.flows = { name: { any_: [query.get("flow")] } };
  return body;
}

/** Names of the flows `ids` (one request for the whole page of runs). */
export async function flowNames(ids, signal) {
  const unique = [...new Set(ids.filter(Boolean))];
  if (!unique.length) return new Map();
  const flows = await post("/flows/filter", { flows: { id: { any_: unique } }, limit: unique.length }, { signal });
  return new Map(flows.map((f) => [f.id, f.name]));
}

export default async function runsPage(ctx) {
  ctx.title("Flow runs");
  const flows = await post("/flows/filter", { sort: "NAME_ASC", limit: 1000 }, ctx);
  const q = ctx.query;
  const total = h("span");
  const search = h("input", { id: "search", type: "search", placeholder: "Search run names", value: q.get("q") || "" });
  const state = h("select", { id: "state", "aria-label": "State" }, h("option", { value: "" }, "All states"), STATES.map((s) => h("option", { value: s, selected: q.get("state") === s }, stateLabel(s))));
  const flow = h("select", { id: "flow", "aria-label": "Flow" }, h("option", { value: "" }, "All flows"), flows.map((f) => h("option", { value: f.name, selected: q.get("flow") === f.name }, f.name)));

  const keepInUrl = (page) => ctx.setQuery({ q: search.value, state: state.value, flow: flow.value, page: page ? page + 1 : "" });
  let names = new Map();
  const runs = pagedTable({
    page: Math.max(0, Number(q.get("page") || 1) - 1) || 0,
    onPage: keepInUrl,
    empty: "No flow runs match.",
    rowAttrs: (r) => ({ dataset: { run: r.id } }),
    columns: [
      { label: "State", cell: stateBadge },
      { label: "Run", cell: (r) => h("a", { href: `/runs/flow-run/${encodeURIComponent(r.id)}` }, r.name) },
      { label: "Flow", cell: (r) => names.get(r.flow_id) || "" },
      { label: "Started", cell: (r) => when(r.start_time) },
      { label: "Duration", class: "num", cell: (r) => duration(r.estimated_run_time) },
    ],
    async load(offset, limit) {
      const filter = filterOf(ctx.query);
      const [rows, n] = await Promise.all([
        post("/flow_runs/filter", { ...filter, sort: "CREATED_DESC", limit, offset }, ctx),
        post("/flow_runs/count", filter, ctx),
      ]);
      names = await flowNames(rows.map((r) => r.flow_id), ctx.signal);
      total.textContent = `${count(n)} ${n === 1 ? "run" : "runs"}`;
      return { rows, total: n };
    },
  });

  let typing = null;
  const apply = () => {
    keepInUrl(0);
    runs.restart();
  };
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(apply, 250);
  });
  state.addEventListener("change", apply);
  flow.addEventListener("change", apply);

  mount(
    ctx.view,
    pageHeader({ title: "Flow runs", facts: [total] }),
    card({ class: "flush" }, h("div", { class: "toolbar" }, search, state, flow), runs.element),
  );
  await runs.refresh();
  ctx.every(2000, runs.refresh);
}
