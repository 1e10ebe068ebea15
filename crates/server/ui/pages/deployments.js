// Deployments: each deployment with its flow, pool and queue, status, schedules and latest run,
// and a Run button opening a form generated from its parameter schema.

import { post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, plural } from "../lib/format.js";
import { icon } from "../lib/icons.js";
import { card, pageHeader } from "../lib/layout.js";
import { navigate } from "../lib/router.js";
import { table } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { deploymentHref, describeSchedule } from "../components/deployment.js";
import { poolHref, statusBadge } from "../components/pools.js";
import { openRunDeployment } from "../components/run-deployment.js";
import { stateBadge } from "../components/state.js";

/** The deployments with their flows' names and each one's latest run. */
async function load(signal) {
  const deployments = await post("/deployments/filter", { sort: "NAME_ASC", limit: 200 }, { signal });
  const flowIds = [...new Set(deployments.map((d) => d.flow_id))];
  const flows = flowIds.length ? await post("/flows/filter", { flows: { id: { any_: flowIds } } }, { signal }) : [];
  const names = new Map(flows.map((f) => [f.id, f.name]));
  const latest = await Promise.all(
    deployments.map((d) => post("/flow_runs/filter", { flow_runs: { deployment_id: { any_: [d.id] } }, sort: "EXPECTED_START_TIME_DESC", limit: 1 }, { signal })),
  );
  return deployments
    .map((d, i) => ({ d, flow: names.get(d.flow_id) || "?", last: latest[i][0] || null }))
    .sort((a, b) => `${a.flow}/${a.d.name}`.localeCompare(`${b.flow}/${b.d.name}`));
}

export default async function deploymentsPage(ctx) {
  ctx.title("Deployments");
  const total = h("span");
  const rows = table({
    empty: "No deployments yet. Deploy a flow (flow.deploy() or flow.serve()) and it appears here.",
    rowAttrs: (r) => ({ dataset: { deployment: `${r.flow}/${r.d.name}` } }),
    columns: [
      { label: "Deployment", cell: (r) => h("span", {}, h("a", { href: `/runs?flow=${encodeURIComponent(r.flow)}` }, r.flow), " / ", h("a", { href: deploymentHref(r.d.id) }, h("strong", {}, r.d.name))) },
      { label: "Pool", cell: (r) => (r.d.work_pool_name ? h("a", { href: poolHref(r.d.work_pool_name) }, r.d.work_pool_name) : h("span", { class: "muted" }, "served")) },
      { label: "Queue", cell: (r) => r.d.work_queue_name || "—" },
      { label: "Status", cell: (r) => statusBadge(r.d.paused ? "PAUSED" : r.d.status) },
      {
        label: "Schedules",
        cell: (r) => {
          const active = r.d.schedules.filter((s) => s.active);
          return active.length ? active.map((s) => h("div", {}, describeSchedule(s.schedule))) : h("span", { class: "muted" }, "none");
        },
      },
      {
        label: "Latest run",
        cell: (r) => (r.last ? h("span", { class: "last-run" }, stateBadge(r.last), h("a", { href: `/runs/flow-run/${encodeURIComponent(r.last.id)}` }, ago(r.last.start_time || r.last.expected_start_time))) : "—"),
      },
      {
        label: "",
        cell: (r) =>
          h(
            "button",
            {
              type: "button",
              class: "secondary small run-deployment",
              onclick: () =>
                openRunDeployment(r.d, {
                  label: `${r.flow}/${r.d.name}`,
                  signal: ctx.signal,
                  onRun: (run) => {
                    toast(`Created flow run ${run.name}.`, "success");
                    navigate(`/runs/flow-run/${encodeURIComponent(run.id)}`);
                  },
                }),
            },
            icon("play"),
            "Run",
          ),
      },
    ],
  });
  mount(ctx.view, pageHeader({ title: "Deployments", facts: [total] }), card({ class: "flush" }, rows.element));
  async function refresh() {
    const found = await load(ctx.signal);
    total.textContent = plural(found.length, "deployment");
    rows.update(found);
  }
  await refresh();
  ctx.every(5000, refresh);
}
