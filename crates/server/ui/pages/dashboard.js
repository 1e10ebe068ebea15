// The home page: flow-run activity over a chosen window (a bar chart stacked by state and the
// counts by state, both from one aggregate query, /flow_runs/history), the failed and late runs
// that need attention, the paused runs waiting for input, each with its Resume button, the work
// pools' status and the automations' recent firings. The window is kept in the URL.

import { post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, count } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { reload } from "../lib/router.js";
import { pagedTable } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { openResume } from "../components/resume.js";
import { activityChart } from "../components/charts.js";
import { STATES, stateBadge, stateLabel } from "../components/state.js";
import { flowNames } from "../components/names.js";
import { concurrency, poolHref, statusBadge } from "../components/pools.js";
import { automationHref, firingBadge } from "../components/automations.js";
import { table } from "../lib/table.js";

/** Rows in the pools and firings cards. */
const SHORT = 8;

/** The first pools (by name) with their workers online, and how many pools there are. */
async function poolRows(signal) {
  const [pools, total] = await Promise.all([post("/work_pools/filter", { limit: SHORT }, { signal }), post("/work_pools/count", {}, { signal })]);
  const workers = await Promise.all(pools.map((p) => post(`/work_pools/${encodeURIComponent(p.name)}/workers/filter`, {}, { signal })));
  return { total, rows: pools.map((p, i) => ({ ...p, online: workers[i].filter((w) => w.status === "ONLINE").length, workers: workers[i].length })) };
}

/** The automations' latest firings in the window (their `prefect.automation.*` events). */
async function firingRows(span, signal) {
  const filter = { occurred: { since: new Date(Date.now() - span).toISOString() }, event: { name: ["prefect.automation.triggered", "prefect.automation.resolved"] }, order: "DESC" };
  const page = await post("/events/filter", { filter, limit: SHORT }, { signal });
  return { total: page.total, rows: page.events };
}

/** The windows offered, in milliseconds. */
export const WINDOWS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };

/** Bars in the activity chart. */
const BARS = 60;

/** `{flow_runs: {...}}` for runs expected to start within the last `ms`, plus `extra`. */
function within(ms, extra = {}) {
  return { flow_runs: { expected_start_time: { after_: new Date(Date.now() - ms).toISOString() }, ...extra } };
}

export default async function dashboardPage(ctx) {
  ctx.title("Dashboard");
  const key = WINDOWS[ctx.query.get("window")] ? ctx.query.get("window") : "24h";
  const span = WINDOWS[key];
  const picker = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "Window" },
    Object.keys(WINDOWS).map((k) => h("button", { type: "button", class: k === key ? "active" : null, "aria-pressed": String(k === key), onclick: () => (ctx.setQuery({ window: k }), reload()) }, k)),
  );
  const tiles = h("div", { class: "state-tiles", id: "state-counts" });
  const activity = activityChart();
  const runTable = (extra, empty, actions) =>
    pagedTable({
      pageSize: 8,
      empty,
      rowAttrs: (r) => ({ dataset: { run: r.id } }),
      columns: [
        { label: "State", cell: stateBadge },
        { label: "Run", cell: (r) => h("a", { href: `/runs/flow-run/${encodeURIComponent(r.id)}` }, r.name) },
        { label: "Flow", cell: (r) => r.flowName },
        { label: "When", cell: (r) => ago(r.start_time || r.expected_start_time) },
        ...(actions ? [{ label: "", class: "num", cell: actions }] : []),
      ],
      async load(offset, limit) {
        const filter = within(span, extra);
        const [rows, total] = await Promise.all([post("/flow_runs/filter", { ...filter, sort: "EXPECTED_START_TIME_DESC", limit, offset }, ctx), post("/flow_runs/count", filter, ctx)]);
        const names = await flowNames(rows.map((r) => r.flow_id), ctx.signal);
        for (const r of rows) r.flowName = names.get(r.flow_id) || "";
        return { rows, total };
      },
    });
  const failing = runTable({ state: { type: { any_: ["FAILED", "CRASHED"] } } }, "No failed runs in this window.");
  const late = runTable({ state: { name: { any_: ["Late"] } } }, "No late runs.");
  const resume = (r) =>
    h("button", {
      type: "button",
      class: "primary small",
      onclick: () => openResume(r, { signal: ctx.signal, onResumed: refresh }).catch((e) => toast(e.message, "error")),
    }, "Resume");
  const paused = runTable({ state: { type: { any_: ["PAUSED"] } } }, "No run is waiting for input.", resume);

  const poolCount = h("span", { class: "count" });
  const pools = table({
    empty: "No work pools yet. Start a worker: flowgate worker start --pool NAME",
    rowAttrs: (p) => ({ dataset: { pool: p.name } }),
    columns: [
      { label: "Pool", cell: (p) => h("a", { href: poolHref(p.name) }, p.name) },
      { label: "Status", cell: (p) => statusBadge(p.status) },
      { label: "Workers", class: "num", cell: (p) => `${p.online} / ${p.workers} online` },
      { label: "Slots", class: "num", cell: (p) => concurrency(p.active_slots, p.concurrency_limit) },
    ],
  });
  const firingCount = h("span", { class: "count" });
  const firings = table({
    empty: "No automation fired in this window.",
    rowAttrs: (e) => ({ dataset: { firing: e.id } }),
    columns: [
      { label: "Firing", cell: (e) => firingBadge(e.event.endsWith(".resolved") ? "Resolved" : "Triggered") },
      {
        label: "Automation",
        cell: (e) => {
          const id = String(e.resource["prefect.resource.id"] || "").replace(/^prefect\.automation\./, "");
          return h("a", { href: automationHref(id) }, e.resource["prefect.resource.name"] || id);
        },
      },
      { label: "When", cell: (e) => ago(e.occurred) },
    ],
  });

  mount(
    ctx.view,
    pageHeader({ title: "Dashboard", facts: [`Flow runs expected to start in the last ${key}`], actions: [picker] }),
    card({ title: "Flow runs by state", id: "activity" }, tiles, activity.element),
    h(
      "div",
      { class: "columns" },
      card({ title: "Failed runs", id: "failing" }, failing.element),
      h("div", { class: "stack" }, card({ title: "Waiting for input", id: "paused" }, paused.element), card({ title: "Late runs", id: "late" }, late.element)),
    ),
    h(
      "div",
      { class: "columns" },
      card({ title: ["Work pools", poolCount], tools: [h("a", { href: "/work-pools" }, "All pools")], id: "pools" }, pools.element),
      card({ title: ["Automation firings", firingCount], tools: [h("a", { href: "/automations" }, "Automations")], id: "firings" }, firings.element),
    ),
  );

  async function showPools() {
    const { total, rows } = await poolRows(ctx.signal);
    poolCount.textContent = total > rows.length ? `${rows.length} of ${count(total)}` : count(total);
    pools.update(rows);
  }

  async function showFirings() {
    const { total, rows } = await firingRows(span, ctx.signal);
    firingCount.textContent = `${count(total)} in the last ${key}`;
    firings.update(rows);
  }

  /** The window's history in one query: the chart's bars and the tiles' counts. */
  async function showActivity() {
    const end = Date.now();
    const start = end - span;
    const history = await post(
      "/flow_runs/history",
      { history_start: new Date(start).toISOString(), history_end: new Date(end).toISOString(), history_interval_seconds: span / BARS / 1000 },
      ctx,
    );
    const totals = Object.fromEntries(STATES.map((st) => [st, 0]));
    const buckets = history.map((interval) => {
      const counts = {};
      for (const st of interval.states) {
        counts[st.state_type] = (counts[st.state_type] || 0) + st.count_runs;
        totals[st.state_type] += st.count_runs;
      }
      return { start: Date.parse(interval.interval_start), end: Date.parse(interval.interval_end), counts };
    });
    activity.update({ start, end, buckets });
    const total = STATES.reduce((sum, st) => sum + totals[st], 0);
    mount(
      tiles,
      h("a", { class: "tile total", href: "/runs", dataset: { state: "ALL", count: total } }, h("span", { class: "tile-count" }, count(total)), h("span", { class: "tile-label" }, "All runs")),
      STATES.map((st) =>
        h(
          "a",
          { class: ["tile", st], href: `/runs?state=${st}`, dataset: { state: st, count: totals[st] } },
          h("span", { class: "tile-count" }, count(totals[st])),
          h("span", { class: "tile-label" }, stateLabel(st)),
        ),
      ),
    );
  }

  async function refresh() {
    await Promise.all([showActivity(), failing.refresh(), late.refresh(), paused.refresh(), showPools(), showFirings()]);
  }
  await refresh();
  ctx.every(5000, refresh);
}
