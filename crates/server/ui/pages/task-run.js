// One task run: its state history (from its events), its parameters, inputs and result
// reference, and its logs.

import { get, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { duration, when } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { table } from "../lib/table.js";
import { logView } from "../components/logs.js";
import { TERMINAL, stateBadge } from "../components/state.js";

/** A JSON value as an indented block. */
function json(value, id) {
  return h("pre", { class: "code-block", id }, JSON.stringify(value ?? null, null, 2));
}

export default async function taskRunPage(ctx) {
  const id = ctx.params.id;
  const path = `/task_runs/${encodeURIComponent(id)}`;
  const head = h("div");
  const history = table({
    empty: "No state changes recorded.",
    columns: [
      { label: "When", cell: (e) => when(e.occurred) },
      { label: "State", cell: (e) => stateBadge({ state_type: e.state.type, state_name: e.state.name }) },
      { label: "Message", cell: (e) => e.state.message || "" },
    ],
  });
  const details = h("div", { class: "stack" });
  const logs = logView({ scope: { task_run_id: id }, signal: ctx.signal, fileName: `task-run-${id}` });
  mount(
    ctx.view,
    head,
    h("div", { class: "columns" }, h("div", { class: "stack" }, card({ title: "State history", id: "state-history" }, history.element), details), card({ title: "Logs", id: "logs" }, logs.element)),
  );

  let finished = false;
  async function load() {
    const task = await get(path, ctx);
    const run = task.flow_run_id ? await get(`/flow_runs/${encodeURIComponent(task.flow_run_id)}`, ctx) : null;
    const flow = run ? await get(`/flows/${encodeURIComponent(run.flow_id)}`, ctx) : null;
    const filter = { resource: { id: [`prefect.task-run.${id}`] }, event: { prefix: ["prefect.task-run."] }, order: "ASC" };
    const [found] = await Promise.all([post("/events/filter", { filter, limit: 200 }, ctx), logs.refresh()]);
    ctx.title(task.name);
    const crumbs = [{ label: "Runs", href: "/runs" }];
    if (flow) crumbs.push({ label: flow.name, href: `/runs?flow=${encodeURIComponent(flow.name)}` });
    if (run) crumbs.push({ label: run.name, href: `/runs/flow-run/${encodeURIComponent(run.id)}` });
    const attempts = task.run_count > 1 ? `${task.run_count} attempts` : null;
    mount(
      head,
      pageHeader({ crumbs, title: task.name, badge: stateBadge(task), facts: [when(task.start_time), duration(task.total_run_time), attempts, `key ${task.task_key}`, task.tags.length ? `tags: ${task.tags.join(", ")}` : null] }),
      task.state && task.state.message ? h("p", { class: "state-message" }, task.state.message) : null,
    );
    history.update((found.events || []).filter((e) => e.payload && e.payload.validated_state).map((e) => ({ occurred: e.occurred, state: e.payload.validated_state })));
    mount(
      details,
      card({ title: "Parameters" }, json(task.parameters, "task-parameters")),
      card({ title: "Inputs" }, json(task.task_inputs, "task-inputs")),
      card({ title: "Result" }, task.state && task.state.data != null ? json(task.state.data, "task-result") : h("p", { class: "muted" }, "No result recorded.")),
    );
    finished = TERMINAL.has(task.state_type);
  }

  await load();
  ctx.every(2000, () => (finished ? logs.refresh() : load()));
}
