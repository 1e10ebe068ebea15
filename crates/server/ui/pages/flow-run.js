// One flow run: its state and facts, Resume and Cancel, its task runs (paged, with their true
// count), parameters, who resumed it with what, and its logs; refreshed every two seconds.

import { post, get } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { clock, count, duration, when } from "../lib/format.js";
import { card, emptyState, pageHeader } from "../lib/layout.js";
import { reload } from "../lib/router.js";
import { pagedTable, table } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { openResume } from "../components/resume.js";
import { TERMINAL, stateBadge } from "../components/state.js";

export default async function flowRunPage(ctx) {
  const id = ctx.params.id;
  const path = `/flow_runs/${encodeURIComponent(id)}`;
  const ofThisRun = { flow_runs: { id: { any_: [id] } } };
  const head = h("div");
  const taskCount = h("span", { class: "count" });
  const tasks = pagedTable({
    empty: "This flow run has not generated any task runs.",
    columns: [
      { label: "State", cell: stateBadge },
      { label: "Task run", cell: (t) => t.name },
      { label: "Started", cell: (t) => when(t.start_time) },
      { label: "Duration", class: "num", cell: (t) => duration(t.total_run_time) },
    ],
    async load(offset, limit) {
      const [rows, n] = await Promise.all([
        post("/task_runs/filter", { ...ofThisRun, sort: "EXPECTED_START_TIME_ASC", limit, offset }, ctx),
        post("/task_runs/count", ofThisRun, ctx),
      ]);
      taskCount.textContent = count(n);
      return { rows, total: n };
    },
  });
  const params = h("pre", { id: "params", class: "code-block" });
  const resumes = h("div", { id: "resumes" });
  const logs = h("div", { id: "logs", class: "log-lines" });
  mount(
    ctx.view,
    head,
    h(
      "div",
      { class: "columns" },
      h("div", { class: "stack" }, card({ title: ["Task runs ", taskCount] }, tasks.element), card({ title: "Parameters" }, params), resumes),
      card({ title: "Logs", class: "logs-card" }, logs),
    ),
  );

  async function load() {
    const run = await get(path, ctx);
    const [flow, taskTotal] = await Promise.all([get(`/flows/${encodeURIComponent(run.flow_id)}`, ctx), tasks.refresh()]);
    ctx.title(`${flow.name} / ${run.name}`);
    mount(head, header(run, flow, taskTotal));
    params.textContent = JSON.stringify(run.parameters || {}, null, 2);
    await Promise.all([showLogs(), showResumes()]);
  }

  function header(run, flow, taskTotal) {
    const paused = run.state_type === "PAUSED";
    const active = !TERMINAL.has(run.state_type);
    const resume = async () => {
      try {
        await openResume(run, { signal: ctx.signal, onResumed: load });
      } catch (e) {
        toast(e.message, "error");
      }
    };
    const cancel = async () => {
      try {
        await post(`${path}/set_state`, { state: { type: "CANCELLED", name: "Cancelled", message: "Cancelled from the UI" } }, ctx);
        reload();
      } catch (e) {
        toast(`Could not cancel: ${e.message}`, "error");
      }
    };
    return [
      pageHeader({
        crumbs: [{ label: "Runs", href: "/runs" }, { label: flow.name, href: `/runs?flow=${encodeURIComponent(flow.name)}` }],
        title: run.name,
        badge: stateBadge(run),
        facts: [when(run.start_time), duration(run.estimated_run_time), `${count(taskTotal)} task runs`, `${Object.keys(run.parameters || {}).length} parameters`],
        actions: [
          paused ? h("button", { id: "resume", type: "button", class: "primary", onclick: resume }, "Resume") : null,
          active ? h("button", { id: "cancel", type: "button", class: "secondary", onclick: cancel }, "Cancel") : null,
        ],
      }),
      run.state && run.state.message ? h("p", { class: "state-message" }, run.state.message) : null,
    ];
  }

  async function showLogs() {
    const lines = await post("/logs/filter", { logs: { flow_run_id: { any_: [id] } }, sort: "TIMESTAMP_ASC", limit: 1000 }, ctx);
    mount(
      logs,
      lines.length
        ? lines.map((l) => h("div", { class: ["log-line", `level-${l.level}`] }, h("time", {}, clock(l.timestamp)), h("span", { class: "message" }, l.message)))
        : emptyState("No logs yet."),
    );
  }

  async function showResumes() {
    const filter = { event: { name: ["prefect.flow-run.Resumed"] }, resource: { id: [`prefect.flow-run.${id}`] }, order: "ASC" };
    const found = await post("/events/filter", { filter, limit: 50 }, ctx);
    const events = found.events || [];
    if (!events.length) return mount(resumes);
    const rows = await Promise.all(
      events.map(async (e) => {
        const key = e.payload && e.payload.input_key;
        const inputs = key ? await post(`${path}/input/filter`, { prefix: key, limit: 1 }, ctx) : [];
        return { when: e.occurred, who: (e.payload && e.payload.resumed_by) || "someone", input: inputs[0] ? inputs[0].value : "" };
      }),
    );
    const t = table({
      columns: [
        { label: "When", cell: (r) => when(r.when) },
        { label: "Who", cell: (r) => r.who },
        { label: "Input", cell: (r) => h("code", {}, r.input) },
      ],
    });
    t.update(rows);
    mount(resumes, card({ title: "Resumes" }, t.element));
  }

  await load();
  ctx.every(2000, load);
}
