// One flow run: its state and facts (with its deployment, pool and queue as links), Resume,
// Suspend (a running run of a deployment: components/suspend.js) and Cancel, the timeline of
// its task runs and subflow runs (click a bar for that task run's details and logs), the task
// runs as a paged table with their true count, parameters, who resumed it with what, the
// artifacts it reported (rendered: components/artifact.js), and its logs. While the run is
// going, everything refreshes every two seconds.

import { get, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { count, duration, when } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { reload } from "../lib/router.js";
import { pagedTable, table } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { artifactCard } from "../components/artifact.js";
import { deploymentHref } from "../components/deployment.js";
import { confirmThen } from "../components/form-dialog.js";
import { logView } from "../components/logs.js";
import { poolHref } from "../components/pools.js";
import { openResume } from "../components/resume.js";
import { loadRunGraph } from "../components/run-graph.js";
import { TERMINAL, stateBadge, stateLabel } from "../components/state.js";
import { canSuspend, openSuspend } from "../components/suspend.js";
import { timeline } from "../components/timeline.js";

export default async function flowRunPage(ctx) {
  const id = ctx.params.id;
  const path = `/flow_runs/${encodeURIComponent(id)}`;
  const ofThisRun = { flow_runs: { id: { any_: [id] } } };
  const taskNames = new Map();
  const head = h("div");
  const detail = h("div", { id: "selected-task" });
  const gantt = timeline({ onSelect: (node) => showNode(node) });
  const taskCount = h("span", { class: "count" });
  const tasks = pagedTable({
    empty: "This flow run has not generated any task runs.",
    columns: [
      { label: "State", cell: stateBadge },
      { label: "Task run", cell: (t) => h("a", { href: `/runs/task-run/${encodeURIComponent(t.id)}` }, t.name) },
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
  const artifacts = h("div", { id: "artifacts", class: "stack" });
  const logs = logView({ scope: { flow_run_id: id }, signal: ctx.signal, fileName: `flow-run-${id}`, taskNames });
  mount(
    ctx.view,
    head,
    card({ title: "Timeline", id: "timeline", class: "timeline-card" }, gantt.element),
    detail,
    h("div", { class: "columns" }, card({ title: ["Task runs ", taskCount] }, tasks.element), h("div", { class: "stack" }, card({ title: "Parameters" }, params), resumes)),
    artifacts,
    card({ title: "Logs", id: "logs" }, logs.element),
  );

  let finished = false;
  async function load() {
    const run = await get(path, ctx);
    const [flow, graph, taskTotal, deployment] = await Promise.all([
      get(`/flows/${encodeURIComponent(run.flow_id)}`, ctx),
      loadRunGraph(id, ctx.signal),
      tasks.refresh(),
      // A deleted deployment leaves its runs: they show its id only.
      run.deployment_id ? get(`/deployments/${encodeURIComponent(run.deployment_id)}`, ctx).catch(() => null) : null,
    ]);
    for (const n of graph.nodes) taskNames.set(n.id, n.label);
    // After the graph: its nodes name the log lines' task runs.
    await logs.refresh();
    ctx.title(`${flow.name} / ${run.name}`);
    mount(head, header(run, flow, taskTotal), placement(run, deployment));
    params.textContent = JSON.stringify(run.parameters || {}, null, 2);
    finished = TERMINAL.has(run.state_type);
    gantt.update(graph.nodes, { now: Date.now(), live: !finished, origin: run.start_time ? new Date(run.start_time).getTime() : undefined, total: graph.total });
    await Promise.all([showResumes(), showArtifacts()]);
  }

  /** The run's artifacts, newest first, each rendered in its own card. */
  async function showArtifacts() {
    const found = await post("/artifacts/filter", { artifacts: { flow_run_id: { any_: [id] } }, sort: "CREATED_DESC", limit: 50 }, ctx);
    mount(artifacts, found.map(artifactCard));
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
    const type = cancellationState(run);
    const cancelRun = async () => {
      const answer = await post(`${path}/set_state`, { state: { type, name: stateLabel(type), message: "Cancelled from the UI" } }, ctx);
      if (!answer || answer.status !== "ACCEPT") throw new Error(`Could not cancel: ${(answer && answer.details && answer.details.reason) || "the server did not accept it."}`);
      reload();
    };
    const cancel = () =>
      confirmThen({
        title: "Cancel this run?",
        text: type === "CANCELLING"
          ? `${run.name} is asked to stop: the process running it ends it, and it is Cancelled then. This cannot be undone.`
          : `${run.name} is Cancelled now: no process holds it, so nothing runs it further. This cannot be undone.`,
        button: "Cancel run",
        // Not "Cancel" beside "Cancel run": which of the two stops the run must be plain.
        dismiss: "Keep running",
        action: cancelRun,
        signal: ctx.signal,
      });
    return [
      pageHeader({
        crumbs: [{ label: "Runs", href: "/runs" }, { label: flow.name, href: `/runs?flow=${encodeURIComponent(flow.name)}` }],
        title: run.name,
        badge: stateBadge(run),
        facts: [when(run.start_time), duration(run.estimated_run_time), `${count(taskTotal)} task runs`, `${Object.keys(run.parameters || {}).length} parameters`],
        actions: [
          paused ? h("button", { id: "resume", type: "button", class: "primary", onclick: resume }, "Resume") : null,
          canSuspend(run) ? h("button", { id: "suspend", type: "button", class: "secondary", onclick: () => openSuspend(run, { signal: ctx.signal, onSuspended: load }) }, "Suspend") : null,
          active ? h("button", { id: "cancel", type: "button", class: "secondary", onclick: cancel }, "Cancel") : null,
        ],
      }),
      run.state && run.state.message ? h("p", { class: "state-message" }, run.state.message) : null,
    ];
  }

  /** Where the run came from and waits: its deployment, work pool and queue, as links. */
  function placement(run, deployment) {
    if (!run.deployment_id && !run.work_pool_name) return null;
    const parts = [];
    if (run.deployment_id) {
      const name = deployment ? deployment.name : run.deployment_id;
      parts.push(h("span", {}, "Deployment ", h("a", { id: "run-deployment-link", href: deploymentHref(run.deployment_id) }, name)));
    }
    if (run.work_pool_name) parts.push(h("span", {}, "Work pool ", h("a", { id: "run-pool-link", href: poolHref(run.work_pool_name) }, run.work_pool_name)));
    if (run.work_queue_name) {
      const queue = run.work_pool_name ? h("a", { id: "run-queue-link", href: `${poolHref(run.work_pool_name)}#queues` }, run.work_queue_name) : run.work_queue_name;
      parts.push(h("span", {}, "Queue ", queue));
    }
    return h("p", { class: "run-placement" }, parts);
  }

  /** The clicked bar's run: its facts and (for a task run) its logs, below the timeline. */
  function showNode(node) {
    const href = node.kind === "flow-run" ? `/runs/flow-run/${encodeURIComponent(node.runId)}` : `/runs/task-run/${encodeURIComponent(node.id)}`;
    const close = h("button", { type: "button", class: "ghost small", onclick: () => (mount(detail), gantt.select(null)) }, "Close");
    const facts = h(
      "dl",
      { class: "facts-grid" },
      h("dt", {}, "State"),
      h("dd", {}, stateBadge(node)),
      h("dt", {}, "Start"),
      h("dd", {}, node.start ? when(node.start) : "not started"),
      h("dt", {}, "Duration"),
      h("dd", {}, node.start ? duration(((node.end ?? Date.now()) - node.start) / 1000) : "—"),
    );
    const parts = [facts];
    if (node.kind === "task-run") {
      const nodeLogs = logView({ scope: { task_run_id: node.id }, signal: ctx.signal, fileName: `task-run-${node.id}`, taskNames });
      parts.push(nodeLogs.element);
      nodeLogs.refresh().catch((e) => toast(e.message, "error"));
    }
    mount(detail, card({ title: [node.kind === "flow-run" ? "Subflow run " : "Task run ", h("a", { href }, node.label)], class: "selected-card", tools: [close] }, parts));
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
  ctx.every(2000, () => (finished ? logs.refresh() : load()));
}

/**
 * What cancelling `run` proposes, as the CLI's (core `orchestration::cancellation_state`): a
 * started run a worker or serving process holds is asked to stop (`CANCELLING`: its holder
 * stops the process, runs the `on_cancellation` hooks and ends it), any other is `CANCELLED`.
 */
function cancellationState(run) {
  const held = Boolean(run.deployment_id || run.infrastructure_pid);
  return held && ["PENDING", "RUNNING", "CANCELLING"].includes(run.state_type) ? "CANCELLING" : "CANCELLED";
}
