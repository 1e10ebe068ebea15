// Concurrency: the Global tab lists global concurrency limits and rate limits, the Task Run tab
// the limits by task-run tag (limits named "tag:<tag>"). Each row shows the limit, its slots
// taken now (refreshed every 2 s), its slot decay and an Active switch that takes effect at
// once (disabling a limit lets its waiters through); rows can be edited, reset (every slot
// freed) and deleted, and new limits created. A limit's name opens a panel below its row with
// who holds its slots, refreshed with the page: a tag limit's task runs, a global limit's leases
// (holder, slots, time to expiry) and the requests waiting. The tab is kept in the URL.

import { del, get, patch, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, plural } from "../lib/format.js";
import { icon } from "../lib/icons.js";
import { card, pageHeader, switchControl } from "../lib/layout.js";
import { reload } from "../lib/router.js";
import { table } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { confirmThen, openFormDialog } from "../components/form-dialog.js";
import { flowRunNames, taskRunNames } from "../components/names.js";

const TABS = { global: "Global", "task-run": "Task Run" };
const TAG = "tag:";

/** Every limit (the API pages them), global and tag limits alike. */
async function everyLimit(path, signal) {
  const all = [];
  for (;;) {
    const page = await post(path, { limit: 200, offset: all.length }, { signal });
    all.push(...page);
    if (page.length < 200) return all;
  }
}

const enc = encodeURIComponent;

/** Where a lease holder's page is, by its `type` (deployments have no page by id). */
const HOLDER_PAGES = { flow_run: "/runs/flow-run/", task_run: "/runs/task-run/" };

/** A run holding slots: its name (or id) linked to its page, or the holder as text. */
function holderLabel(holder, names) {
  if (!holder) return h("span", { class: "muted" }, "a holder that gave no name");
  const kind = holder.type.replace("_", " ");
  const name = names.get(holder.id) || holder.id;
  const page = HOLDER_PAGES[holder.type];
  return page ? h("a", { href: `${page}${enc(holder.id)}`, title: `${kind} ${holder.id}` }, `${kind} ${name}`) : `${kind} ${name}`;
}

/** A global limit's holders (`/holders`): each lease with its holder, slots and expiry. */
function leaseList(limit, info, names) {
  const leases = info?.leases || [];
  const items = leases.map((l) => h("li", { dataset: { lease: l.id } }, holderLabel(l.holder, names), ` · ${plural(l.slots, "slot")} · expires ${ago(l.expires_at)}`));
  const none = limit.active_slots > 0 ? "No lease holds its slots: they were taken without one (or are draining), so no holder is known." : "No one holds a slot.";
  return [items.length ? h("ul", { class: "holder-list" }, items) : h("p", { class: "muted" }, none), info?.waiting ? h("p", {}, `${plural(info.waiting, "request")} waiting for slots.`) : null];
}

/** A tag limit's holders: the task runs (by id) holding its slots. */
function runList(ids, names) {
  if (!ids.length) return h("p", { class: "muted" }, "No task run holds a slot.");
  return h("ul", { class: "holder-list" }, ids.map((id) => h("li", { dataset: { taskRun: id } }, holderLabel({ type: "task_run", id }, names))));
}

/** The form fields of a limit of `kind` ("global" or "task-run"). */
function limitSchema(kind) {
  const props =
    kind === "global"
      ? {
          name: { type: "string", title: "Name", minLength: 1 },
          limit: { type: "integer", title: "Limit", minimum: 0, description: "Slots that may be taken at once." },
          slot_decay_per_second: { type: "number", title: "Slot decay per second", minimum: 0, default: 0, description: "Above 0, a rate limit: taken slots drain at this rate." },
        }
      : {
          tag: { type: "string", title: "Tag", minLength: 1 },
          concurrency_limit: { type: "integer", title: "Limit", minimum: 0, description: "Task runs with the tag that may run at once." },
        };
  return { type: "object", properties: props, required: Object.keys(props).slice(0, 2) };
}

/** A dialog with a form for a new limit (`existing` absent) or changing one; `save(value)` sends it. */
function openLimitForm({ kind, existing, save, signal }) {
  openFormDialog({
    id: "limit-dialog",
    submitId: "limit-save",
    title: existing ? "Edit concurrency limit" : `New ${TABS[kind]} concurrency limit`,
    schema: limitSchema(kind),
    values: existing,
    submitLabel: existing ? "Save" : "Create",
    save,
    signal,
  });
}

/** What differs between the tabs: how rows are read, named, created, changed, reset, deleted. */
function tabOps(kind) {
  if (kind === "global") {
    return {
      label: (l) => l.name,
      form: (l) => ({ name: l.name, limit: l.limit, slot_decay_per_second: l.slot_decay_per_second }),
      create: (v) => post("/v2/concurrency_limits/", v),
      edit: (l, v) => patch(`/v2/concurrency_limits/${enc(l.id)}`, v),
      reset: (l) => patch(`/v2/concurrency_limits/${enc(l.id)}`, { active_slots: 0, denied_slots: 0 }),
      remove: (l) => del(`/v2/concurrency_limits/${enc(l.id)}`),
    };
  }
  const tag = (l) => l.name.slice(TAG.length);
  return {
    label: tag,
    form: (l) => ({ tag: tag(l), concurrency_limit: l.limit }),
    create: (v) => post("/concurrency_limits/", v),
    edit: (l, v) => (v.tag === tag(l) ? post("/concurrency_limits/", v) : Promise.reject(new Error("a tag limit cannot be renamed; create one for the new tag and delete this one"))),
    reset: (l) => post(`/concurrency_limits/tag/${enc(tag(l))}/reset`, {}),
    remove: (l) => del(`/concurrency_limits/tag/${enc(tag(l))}`),
  };
}

export default async function concurrencyPage(ctx) {
  ctx.title("Concurrency");
  const kind = TABS[ctx.query.get("tab")] ? ctx.query.get("tab") : "global";
  const ops = tabOps(kind);
  const total = h("span", { id: "limit-count" });
  const tabs = h(
    "div",
    { class: "segmented", role: "tablist", "aria-label": "Limits" },
    Object.entries(TABS).map(([k, label]) =>
      h("button", { type: "button", role: "tab", dataset: { tab: k }, class: k === kind ? "active" : null, "aria-selected": String(k === kind), onclick: () => (ctx.setQuery({ tab: k === "global" ? "" : k }), reload()) }, label),
    ),
  );
  // The limits whose holders are shown (by id) and what was last read about them: a tag's task
  // runs (the v1 API's view) or a global limit's `/holders`, and the holder runs' names.
  const open = new Set();
  let holders = new Map();
  let names = new Map();
  const act = (promise, done) =>
    promise.then(() => (done && toast(done, "success"), refresh())).catch((e) => toast(e.message, "error"));
  const active = (l) =>
    switchControl({
      checked: l.active,
      label: `${ops.label(l)} active`,
      title: l.active ? "Active: limits what runs" : "Inactive: limits nothing",
      onchange: (on) => act(patch(`/v2/concurrency_limits/${enc(l.id)}`, { active: on }), `${ops.label(l)} ${on ? "enabled" : "disabled"}`),
    });
  const toggle = (l) => {
    const shown = open.has(l.id);
    return h("button", { type: "button", class: "disclosure", dataset: { action: "holders" }, "aria-expanded": String(shown), title: shown ? "Hide who holds its slots" : "Show who holds its slots", onclick: () => (shown ? open.delete(l.id) : open.add(l.id), refresh()) }, icon("right"), ops.label(l));
  };
  const panel = (l) =>
    open.has(l.id) ? h("div", { class: "holders-panel", dataset: { holders: ops.label(l) } }, kind === "global" ? leaseList(l, holders.get(l.id), names) : runList(holders.get(l.id) || [], names)) : null;
  const buttons = (l) =>
    h("span", { class: "row-actions" },
      h("button", { type: "button", class: "secondary small", dataset: { action: "edit" }, onclick: () => openLimitForm({ kind, existing: ops.form(l), signal: ctx.signal, save: (v) => ops.edit(l, v).then(refresh) }) }, "Edit"),
      h("button", { type: "button", class: "secondary small", dataset: { action: "reset" }, onclick: () => confirmThen({ title: "Reset limit", text: `Free every slot of ${ops.label(l)}? Its holders keep running, unlimited.`, button: "Reset", signal: ctx.signal, action: () => act(ops.reset(l), `${ops.label(l)} reset`) }) }, "Reset"),
      h("button", { type: "button", class: "secondary small", dataset: { action: "delete" }, onclick: () => confirmThen({ title: "Delete limit", text: `Delete ${ops.label(l)}? What it limits runs unlimited.`, button: "Delete", signal: ctx.signal, action: () => act(ops.remove(l), `${ops.label(l)} deleted`) }) }, "Delete"));
  const columns = [
    { label: kind === "global" ? "Name" : "Tag", cell: toggle },
    { label: "Limit", class: "num", cell: (l) => String(l.limit) },
    { label: "Active Slots", class: "num", cell: (l) => String(l.active_slots) },
    ...(kind === "global" ? [{ label: "Slot Decay per Second", class: "num", cell: (l) => String(l.slot_decay_per_second) }] : []),
    { label: "Active", cell: active },
    { label: "", class: "num", cell: buttons },
  ];
  const limits = table({
    columns,
    empty: kind === "global" ? "No global concurrency limits. Create one, or with `flowgate global-concurrency-limit create NAME --limit N`." : "No task-run limits. Create one for a tag, or with `flowgate concurrency-limit create TAG N`.",
    rowAttrs: (l) => ({ dataset: { limit: ops.label(l) } }),
    detail: panel,
  });
  const create = h("button", { id: "limit-create", type: "button", class: "primary", onclick: () => openLimitForm({ kind, signal: ctx.signal, save: (v) => ops.create(v).then(refresh) }) }, "Create limit");
  mount(ctx.view, pageHeader({ title: "Concurrency", facts: [total], actions: [tabs, create] }), card({ class: "flush", id: "limits" }, limits.element));

  async function refresh() {
    const all = await everyLimit("/v2/concurrency_limits/filter", ctx.signal);
    const rows = all.filter((l) => l.name.startsWith(TAG) === (kind === "task-run"));
    const shown = rows.filter((l) => open.has(l.id));
    if (kind === "task-run") {
      const tags = await everyLimit("/concurrency_limits/filter", ctx.signal);
      holders = new Map(tags.map((t) => [t.id, t.active_slots]));
      names = await taskRunNames(shown.flatMap((l) => holders.get(l.id) || []), ctx.signal);
    } else {
      holders = new Map(await Promise.all(shown.map(async (l) => [l.id, await get(`/v2/concurrency_limits/${enc(l.id)}/holders`, ctx)])));
      const held = (type) => [...holders.values()].flatMap((i) => i.leases).filter((l) => l.holder?.type === type).map((l) => l.holder.id);
      const [flows, tasks] = await Promise.all([flowRunNames(held("flow_run"), ctx.signal), taskRunNames(held("task_run"), ctx.signal)]);
      names = new Map([...flows, ...tasks]);
    }
    limits.update(rows);
    total.textContent = plural(rows.length, kind === "global" ? "global limit" : "tag limit");
  }
  await refresh();
  ctx.every(2000, refresh);
}
