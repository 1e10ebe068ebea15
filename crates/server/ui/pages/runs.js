// Flow runs: a duration-by-start-time scatter above the table of runs, filtered by name,
// states, flow, tag, deployment and time window. Every filter and the page number live in the
// URL, so a view can be shared and survives a reload.

import { ApiError, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { count, duration, when } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { navigate } from "../lib/router.js";
import { pagedTable } from "../lib/table.js";
import { durationScatter } from "../components/charts.js";
import { flowNames } from "../components/names.js";
import { STATES, stateBadge, stateLabel } from "../components/state.js";

/** Time windows offered, in milliseconds ("" = all time). */
const WINDOWS = { "": 0, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
/** Most runs the scatter plots (the newest ones; the caption says how many there are in all). */
const SCATTER_POINTS = 500;

/** The API filter for the URL's query. */
function filterOf(q) {
  const runs = {};
  const states = (q.get("state") || "").split(",").filter(Boolean);
  if (states.length) runs.state = { type: { any_: states } };
  if (q.get("q")) runs.name = { like_: q.get("q") };
  if (q.get("tag")) runs.tags = { all_: [q.get("tag")] };
  if (q.get("deployment")) runs.deployment_id = { any_: [q.get("deployment")] };
  if (WINDOWS[q.get("window")]) runs.expected_start_time = { after_: new Date(Date.now() - WINDOWS[q.get("window")]).toISOString() };
  const body = { flow_runs: runs };
  if (q.get("flow")) body.flows = { name: { any_: [q.get("flow")] } };
  return body;
}

/** Deployments to filter by, or null while the server has none to offer. */
async function deployments(signal) {
  try {
    return await post("/deployments/filter", { limit: 200 }, { signal });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export default async function runsPage(ctx) {
  ctx.title("Flow runs");
  const q = ctx.query;
  const [flows, deps] = await Promise.all([post("/flows/filter", { sort: "NAME_ASC", limit: 1000 }, ctx), deployments(ctx.signal)]);
  const total = h("span", { id: "runs-total" });
  const chosen = new Set((q.get("state") || "").split(",").filter(Boolean));
  const search = h("input", { id: "search", type: "search", placeholder: "Search run names", value: q.get("q") || "" });
  const flow = h("select", { id: "flow", "aria-label": "Flow" }, h("option", { value: "" }, "All flows"), flows.map((f) => h("option", { value: f.name, selected: q.get("flow") === f.name }, f.name)));
  const tag = h("input", { id: "tag", type: "search", placeholder: "Tag", value: q.get("tag") || "", size: 12 });
  const deployment = deps
    ? h("select", { id: "deployment", "aria-label": "Deployment" }, h("option", { value: "" }, "All deployments"), deps.map((d) => h("option", { value: d.id, selected: q.get("deployment") === d.id }, d.name)))
    : null;
  const windowSelect = h("select", { id: "window", "aria-label": "Time window" }, Object.keys(WINDOWS).map((k) => h("option", { value: k, selected: (q.get("window") || "") === k }, k ? `Last ${k}` : "All time")));
  const chips = STATES.map((st) => h("button", { type: "button", class: ["chip", st, chosen.has(st) ? "active" : null], "aria-pressed": String(chosen.has(st)), dataset: { state: st }, onclick: () => toggle(st) }, stateLabel(st)));

  let page = Math.max(0, Number(q.get("page") || 1) - 1) || 0;
  const keepInUrl = () =>
    ctx.setQuery({ q: search.value, state: [...chosen].join(","), flow: flow.value, tag: tag.value, deployment: deployment ? deployment.value : q.get("deployment"), window: windowSelect.value, page: page ? page + 1 : "" });
  let names = new Map();
  const runs = pagedTable({
    page,
    onPage: (p) => {
      page = p;
      keepInUrl();
    },
    empty: "No flow runs match.",
    rowAttrs: (r) => ({ dataset: { run: r.id } }),
    columns: [
      { label: "State", cell: stateBadge },
      { label: "Run", cell: (r) => h("a", { href: `/runs/flow-run/${encodeURIComponent(r.id)}` }, r.name) },
      { label: "Flow", cell: (r) => names.get(r.flow_id) || "" },
      { label: "Tags", cell: (r) => r.tags.map((t) => h("span", { class: "tag" }, t)) },
      { label: "Started", cell: (r) => when(r.start_time) },
      { label: "Duration", class: "num", cell: (r) => duration(r.estimated_run_time) },
    ],
    async load(offset, limit) {
      const filter = filterOf(ctx.query);
      const [rows, n] = await Promise.all([post("/flow_runs/filter", { ...filter, sort: "EXPECTED_START_TIME_DESC", limit, offset }, ctx), post("/flow_runs/count", filter, ctx)]);
      names = await flowNames(rows.map((r) => r.flow_id), ctx.signal);
      total.textContent = `${count(n)} ${n === 1 ? "run" : "runs"}`;
      return { rows, total: n };
    },
  });

  const scatter = durationScatter({ onPoint: (p) => navigate(p.href) });
  const caption = h("span", { class: "count", id: "scatter-caption" });
  async function plot() {
    const filter = filterOf(ctx.query);
    const [points, n] = await Promise.all([post("/flow_runs/filter", { ...filter, sort: "START_TIME_DESC", limit: SCATTER_POINTS }, ctx), post("/flow_runs/count", filter, ctx)]);
    const started = points.filter((r) => r.start_time);
    const xs = started.map((r) => new Date(r.start_time).getTime());
    const span = WINDOWS[ctx.query.get("window")];
    const end = Date.now();
    const first = Math.min(end, ...xs);
    const start = span ? end - span : first - Math.max(1000, (end - first) * 0.05);
    scatter.update({ start, end, points: started.map((r, i) => ({ x: xs[i], y: r.estimated_run_time, state_type: r.state_type, label: r.name, href: `/runs/flow-run/${encodeURIComponent(r.id)}` })) });
    caption.textContent = n > points.length ? `the newest ${count(points.length)} of ${count(n)} runs` : `${count(started.length)} started runs`;
  }

  const apply = () => {
    page = 0;
    keepInUrl();
    return Promise.all([runs.restart(), plot()]);
  };
  function toggle(st) {
    if (chosen.has(st)) chosen.delete(st);
    else chosen.add(st);
    for (const c of chips) {
      const on = chosen.has(c.dataset.state);
      c.classList.toggle("active", on);
      c.setAttribute("aria-pressed", String(on));
    }
    apply();
  }
  let typing = null;
  for (const input of [search, tag]) {
    input.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(apply, 250);
    });
  }
  for (const select of [flow, deployment, windowSelect]) if (select) select.addEventListener("change", apply);

  mount(
    ctx.view,
    pageHeader({ title: "Flow runs", facts: [total] }),
    card({ title: ["Duration by start time ", caption], id: "scatter" }, scatter.element),
    card({ class: "flush" }, h("div", { class: "toolbar" }, search, flow, tag, deployment, windowSelect), h("div", { class: "toolbar chips" }, chips), runs.element),
  );
  await Promise.all([runs.refresh(), plot()]);
  ctx.every(3000, () => Promise.all([runs.refresh(), plot()]));
}
