// Flows: every flow with its recent runs as a sparkline (duration and state), its success rate
// over its finished runs, its last run and how many runs it has, linked to its runs.

import { post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, count } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { pagedTable } from "../lib/table.js";
import { sparkline } from "../components/charts.js";
import { stateBadge } from "../components/state.js";

/** Runs shown in each flow's sparkline. */
const RECENT = 20;

/** For each flow id: its newest runs and its run counts (all, finished, completed). */
async function flowStats(ids, signal) {
  const ofFlow = (id, extra = {}) => ({ flows: { id: { any_: [id] } }, flow_runs: extra });
  const finished = { state: { type: { any_: ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"] } } };
  const completed = { state: { type: { any_: ["COMPLETED"] } } };
  const stats = await Promise.all(
    ids.map(async (id) => {
      const [recent, all, done, ok] = await Promise.all([
        post("/flow_runs/filter", { ...ofFlow(id), sort: "EXPECTED_START_TIME_DESC", limit: RECENT }, { signal }),
        post("/flow_runs/count", ofFlow(id), { signal }),
        post("/flow_runs/count", ofFlow(id, finished), { signal }),
        post("/flow_runs/count", ofFlow(id, completed), { signal }),
      ]);
      return [id, { recent, all, finished: done, completed: ok }];
    }),
  );
  return new Map(stats);
}

export default async function flowsPage(ctx) {
  ctx.title("Flows");
  const total = h("span");
  let stats = new Map();
  const flows = pagedTable({
    pageSize: 20,
    page: Math.max(0, Number(ctx.query.get("page") || 1) - 1) || 0,
    onPage: (page) => ctx.setQuery({ page: page ? page + 1 : "" }),
    empty: "No flows yet. Run one (see the README) and it appears here.",
    rowAttrs: (f) => ({ dataset: { flow: f.name } }),
    columns: [
      { label: "Flow", cell: (f) => h("a", { href: `/runs?flow=${encodeURIComponent(f.name)}` }, f.name) },
      {
        label: "Recent runs",
        cell: (f) => {
          const recent = stats.get(f.id).recent.slice().reverse();
          return recent.length ? sparkline(recent.map((r) => ({ name: r.name, state_type: r.state_type, duration: r.estimated_run_time }))) : h("span", { class: "muted" }, "none yet");
        },
      },
      {
        label: "Success",
        class: "num",
        cell: (f) => {
          const st = stats.get(f.id);
          if (!st.finished) return h("span", { class: "muted" }, "—");
          const rate = Math.round((100 * st.completed) / st.finished);
          return h("span", { class: ["rate", rate >= 90 ? "good" : rate >= 60 ? "fair" : "poor"], title: `${count(st.completed)} of ${count(st.finished)} finished runs completed` }, `${rate}%`);
        },
      },
      {
        label: "Last run",
        cell: (f) => {
          const last = stats.get(f.id).recent[0];
          return last ? h("span", { class: "last-run" }, stateBadge(last), h("a", { href: `/runs/flow-run/${encodeURIComponent(last.id)}` }, ago(last.start_time || last.expected_start_time))) : "—";
        },
      },
      { label: "Runs", class: "num", cell: (f) => h("a", { href: `/runs?flow=${encodeURIComponent(f.name)}` }, count(stats.get(f.id).all)) },
    ],
    async load(offset, limit) {
      const [rows, n] = await Promise.all([post("/flows/filter", { sort: "NAME_ASC", limit, offset }, ctx), post("/flows/count", {}, ctx)]);
      stats = await flowStats(rows.map((f) => f.id), ctx.signal);
      total.textContent = `${count(n)} ${n === 1 ? "flow" : "flows"}`;
      return { rows, total: n };
    },
  });
  mount(ctx.view, pageHeader({ title: "Flows", facts: [total] }), card({ class: "flush" }, flows.element));
  await flows.refresh();
  ctx.every(5000, flows.refresh);
}
