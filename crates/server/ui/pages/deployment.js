// One deployment: its flow, pool and queue, status, schedules, default parameters and their
// schema, its recent runs, and a Run button opening the form generated from the schema.

import { get, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, when } from "../lib/format.js";
import { icon } from "../lib/icons.js";
import { card, pageHeader } from "../lib/layout.js";
import { navigate } from "../lib/router.js";
import { table } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { describeSchedule } from "../components/deployment.js";
import { poolHref, statusBadge } from "../components/pools.js";
import { openRunDeployment } from "../components/run-deployment.js";
import { stateBadge } from "../components/state.js";

export default async function deploymentPage(ctx) {
  const id = ctx.params.id;
  const header = h("div");
  const schedules = table({
    empty: "No schedules: runs only when asked for.",
    columns: [
      { label: "Schedule", cell: (s) => describeSchedule(s.schedule) },
      { label: "Active", cell: (s) => (s.active ? "yes" : "no") },
    ],
  });
  const params = h("pre", { id: "deployment-params", class: "code-block" });
  const runs = table({
    empty: "No runs yet.",
    rowAttrs: (r) => ({ dataset: { run: r.name } }),
    columns: [
      { label: "State", cell: stateBadge },
      { label: "Run", cell: (r) => h("a", { href: `/runs/flow-run/${encodeURIComponent(r.id)}` }, r.name) },
      { label: "Queue", cell: (r) => r.work_queue_name || "—" },
      { label: "Scheduled", cell: (r) => when(r.expected_start_time) },
      { label: "Started", cell: (r) => (r.start_time ? ago(r.start_time) : "—") },
    ],
  });
  mount(
    ctx.view,
    header,
    h("div", { class: "columns" }, card({ title: "Schedules", id: "schedules", class: "flush" }, schedules.element), card({ title: "Parameters", id: "parameters" }, params)),
    card({ title: "Recent runs", id: "recent-runs", class: "flush" }, runs.element),
  );

  async function refresh() {
    const d = await get(`/deployments/${encodeURIComponent(id)}`, ctx);
    const [flow, recent] = await Promise.all([
      get(`/flows/${encodeURIComponent(d.flow_id)}`, ctx),
      post("/flow_runs/filter", { flow_runs: { deployment_id: { any_: [id] } }, sort: "EXPECTED_START_TIME_DESC", limit: 20 }, ctx),
    ]);
    const label = `${flow.name}/${d.name}`;
    ctx.title(`Deployment ${label}`);
    const run = () =>
      openRunDeployment(d, {
        label,
        signal: ctx.signal,
        onRun: (created) => {
          toast(`Created flow run ${created.name}.`, "success");
          navigate(`/runs/flow-run/${encodeURIComponent(created.id)}`);
        },
      });
    mount(
      header,
      pageHeader({
        crumbs: [{ label: "Deployments", href: "/deployments" }, { label: flow.name, href: `/runs?flow=${encodeURIComponent(flow.name)}` }],
        title: d.name,
        badge: statusBadge(d.paused ? "PAUSED" : d.status),
        facts: [
          d.work_pool_name ? h("span", {}, "Pool ", h("a", { href: poolHref(d.work_pool_name) }, d.work_pool_name)) : "served",
          d.work_queue_name ? `Queue ${d.work_queue_name}` : null,
          (d.tags || []).length ? `Tags ${d.tags.join(", ")}` : null,
          d.description || null,
        ],
        actions: [h("button", { id: "run-deployment", type: "button", class: "primary", onclick: run }, icon("play"), "Run")],
      }),
    );
    schedules.update(d.schedules || []);
    params.textContent = JSON.stringify(d.parameters || {}, null, 2);
    runs.update(recent);
  }
  await refresh();
  ctx.every(5000, refresh);
}
