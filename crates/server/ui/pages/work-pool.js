// One work pool: its status and limit (paused and resumed from here), its queues as the seed
// shows them (Name, Concurrency Limit, Priority, Status) each with an edit form, and its
// workers with their last heartbeat.

import { ApiError, fieldFailures, get, patch, post } from "../lib/api.js";
import { openDialog } from "../lib/dialog.js";
import { h, mount } from "../lib/dom.js";
import { ago, plural } from "../lib/format.js";
import { icon } from "../lib/icons.js";
import { card, pageHeader } from "../lib/layout.js";
import { schemaForm } from "../lib/schema-form.js";
import { table } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { concurrency, statusBadge } from "../components/pools.js";

/** The queue edit form's fields, as JSON Schema for the shared form builder. */
const QUEUE_SCHEMA = {
  type: "object",
  required: ["name", "priority"],
  properties: {
    name: { type: "string", title: "Name", minLength: 1, position: 0 },
    description: { type: "string", title: "Description", position: 1 },
    concurrency_limit: {
      anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }],
      title: "Flow Run Concurrency",
      description: "Runs from this queue at once, at most; leave empty for no limit.",
      position: 2,
    },
    priority: { type: "integer", minimum: 1, title: "Priority", description: "1 is highest; other queues shift to make room.", position: 3 },
  },
};

/** Opens the edit form of `queue` in pool `pool`; `onSaved` runs after the server took it. */
function editQueue(pool, queue, { signal, onSaved }) {
  const form = schemaForm(QUEUE_SCHEMA, {
    values: { name: queue.name, description: queue.description || undefined, concurrency_limit: queue.concurrency_limit ?? undefined, priority: queue.priority },
  });
  const error = h("p", { id: "queue-error", class: "form-error", role: "alert", hidden: true });
  const save = h("button", { id: "queue-save", type: "button", class: "primary", onclick: send }, "Save");
  const dialog = openDialog({
    id: "queue-dialog",
    title: `Edit queue ${queue.name}`,
    signal,
    body: [h("div", { id: "queue-fields" }, form.element), error],
    footer: [h("button", { id: "queue-cancel", type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"), save],
  });
  function showGeneral(messages) {
    error.textContent = messages.join(" ");
    error.hidden = messages.length === 0;
  }
  async function send() {
    showGeneral([]);
    form.clearErrors();
    const { value, failures } = form.read();
    if (failures.length) return showGeneral(form.showErrors(failures));
    const body = { name: value.name ?? "", description: value.description ?? "", concurrency_limit: value.concurrency_limit ?? null };
    if (value.priority !== undefined) body.priority = value.priority;
    save.disabled = true;
    try {
      await patch(`/work_queues/${encodeURIComponent(queue.id)}`, body, { signal });
      dialog.close();
      toast(`Saved queue ${body.name}.`, "success");
      onSaved();
    } catch (e) {
      showGeneral(form.showErrors(e instanceof ApiError ? fieldFailures(e.message) : [{ path: "", message: String(e.message) }]));
    } finally {
      save.disabled = false;
    }
  }
}

export default async function workPoolPage(ctx) {
  const name = ctx.params.name;
  const path = `/work_pools/${encodeURIComponent(name)}`;
  ctx.title(`Work pool ${name}`);
  const header = h("div");
  const queues = table({
    empty: "No queues.",
    rowAttrs: (q) => ({ dataset: { queue: q.name } }),
    columns: [
      { label: "Name", cell: (q) => h("span", { class: "queue-name" }, q.name, q.description ? h("span", { class: "muted" }, ` — ${q.description}`) : null) },
      { label: "Concurrency Limit", class: "num", cell: (q) => concurrency(q.active_slots, q.concurrency_limit) },
      { label: "Priority", class: "num", cell: (q) => String(q.priority) },
      { label: "Status", cell: (q) => statusBadge(q.status) },
      {
        label: "",
        cell: (q) =>
          h(
            "div",
            { class: "row-actions" },
            h("button", { type: "button", class: "secondary small edit-queue", title: `Edit ${q.name}`, onclick: () => editQueue(name, q, { signal: ctx.signal, onSaved: refresh }) }, "Edit"),
          h("button", { type: "button", class: "secondary small pause-queue", title: q.is_paused ? "Resume" : "Pause", onclick: () => setPaused(`/work_queues/${encodeURIComponent(q.id)}`, !q.is_paused) }, icon(q.is_paused ? "play" : "pause")),
          ),
      },
    ],
  });
  const workers = table({
    empty: `No workers yet. Start one: flowgate worker start --pool ${name}`,
    rowAttrs: (w) => ({ dataset: { worker: w.name } }),
    columns: [
      { label: "Name", cell: (w) => w.name },
      { label: "Status", cell: (w) => statusBadge(w.status) },
      { label: "Last heartbeat", cell: (w) => h("span", { title: w.last_heartbeat_time }, ago(w.last_heartbeat_time)) },
    ],
  });
  mount(ctx.view, header, card({ title: "Work queues", id: "queues", class: "flush" }, queues.element), card({ title: "Workers", id: "workers", class: "flush" }, workers.element));

  async function setPaused(target, paused) {
    try {
      await patch(target, { is_paused: paused }, ctx);
      await refresh();
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function refresh() {
    const [pool, qs, ws] = await Promise.all([get(path, ctx), post(`${path}/queues/filter`, {}, ctx), post(`${path}/workers/filter`, {}, ctx)]);
    const toggle = h("button", { id: "pool-pause", type: "button", class: "secondary", onclick: () => setPaused(path, !pool.is_paused) }, icon(pool.is_paused ? "play" : "pause"), pool.is_paused ? "Resume" : "Pause");
    mount(
      header,
      pageHeader({
        crumbs: [{ label: "Work Pools", href: "/work-pools" }],
        title: pool.name,
        badge: statusBadge(pool.status),
        facts: [pool.type, h("span", {}, "Concurrency ", concurrency(pool.active_slots, pool.concurrency_limit)), plural(qs.length, "queue"), pool.description || null],
        actions: [toggle],
      }),
    );
    queues.update(qs);
    workers.update(ws);
  }
  await refresh();
  ctx.every(5000, refresh);
}
