// Concurrency: the Global tab lists global concurrency limits and rate limits, the Task Run tab
// the limits by task-run tag (limits named "tag:<tag>"). Each row shows the limit, its slots
// taken now (refreshed every 2 s), its slot decay and an Active switch that takes effect at
// once (disabling a limit lets its waiters through); rows can be edited, reset (every slot
// freed) and deleted, and new limits created. The tab is kept in the URL.

import { del, patch, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { plural } from "../lib/format.js";
import { card, pageHeader, switchControl } from "../lib/layout.js";
import { reload } from "../lib/router.js";
import { table } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { confirmThen, openFormDialog } from "../components/form-dialog.js";

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
  // Task runs holding each tag's slots (the v1 API's view), by limit id.
  let holders = new Map();
  const act = (promise, done) =>
    promise.then(() => (done && toast(done, "success"), refresh())).catch((e) => toast(e.message, "error"));
  const active = (l) =>
    switchControl({
      checked: l.active,
      label: `${ops.label(l)} active`,
      title: l.active ? "Active: limits what runs" : "Inactive: limits nothing",
      onchange: (on) => act(patch(`/v2/concurrency_limits/${enc(l.id)}`, { active: on }), `${ops.label(l)} ${on ? "enabled" : "disabled"}`),
    });
  const slots = (l) => {
    const runs = holders.get(l.id) || [];
    return h("span", { class: "slots" }, String(l.active_slots), runs.length ? h("span", { class: "holders" }, runs.map((id) => h("a", { href: `/runs/task-run/${enc(id)}`, title: `task run ${id}` }, "●"))) : null);
  };
  const buttons = (l) =>
    h("span", { class: "row-actions" },
      h("button", { type: "button", class: "secondary small", dataset: { action: "edit" }, onclick: () => openLimitForm({ kind, existing: ops.form(l), signal: ctx.signal, save: (v) => ops.edit(l, v).then(refresh) }) }, "Edit"),
      h("button", { type: "button", class: "secondary small", dataset: { action: "reset" }, onclick: () => confirmThen({ title: "Reset limit", text: `Free every slot of ${ops.label(l)}? Its holders keep running, unlimited.`, button: "Reset", signal: ctx.signal, action: () => act(ops.reset(l), `${ops.label(l)} reset`) }) }, "Reset"),
      h("button", { type: "button", class: "secondary small", dataset: { action: "delete" }, onclick: () => confirmThen({ title: "Delete limit", text: `Delete ${ops.label(l)}? What it limits runs unlimited.`, button: "Delete", signal: ctx.signal, action: () => act(ops.remove(l), `${ops.label(l)} deleted`) }) }, "Delete"));
  const columns = [
    { label: kind === "global" ? "Name" : "Tag", cell: ops.label },
    { label: "Limit", class: "num", cell: (l) => String(l.limit) },
    { label: "Active Slots", class: "num", cell: slots },
    ...(kind === "global" ? [{ label: "Slot Decay per Second", class: "num", cell: (l) => String(l.slot_decay_per_second) }] : []),
    { label: "Active", cell: active },
    { label: "", class: "num", cell: buttons },
  ];
  const limits = table({
    columns,
    empty: kind === "global" ? "No global concurrency limits. Create one, or with `flowgate global-concurrency-limit create NAME --limit N`." : "No task-run limits. Create one for a tag, or with `flowgate concurrency-limit create TAG N`.",
    rowAttrs: (l) => ({ dataset: { limit: ops.label(l) } }),
  });
  const create = h("button", { id: "limit-create", type: "button", class: "primary", onclick: () => openLimitForm({ kind, signal: ctx.signal, save: (v) => ops.create(v).then(refresh) }) }, "Create limit");
  mount(ctx.view, pageHeader({ title: "Concurrency", facts: [total], actions: [tabs, create] }), card({ class: "flush", id: "limits" }, limits.element));

  async function refresh() {
    const all = await everyLimit("/v2/concurrency_limits/filter", ctx.signal);
    const rows = all.filter((l) => l.name.startsWith(TAG) === (kind === "task-run"));
    if (kind === "task-run") {
      const tags = await everyLimit("/concurrency_limits/filter", ctx.signal);
      holders = new Map(tags.map((t) => [t.id, t.active_slots]));
    }
    limits.update(rows);
    total.textContent = plural(rows.length, kind === "global" ? "global limit" : "tag limit");
  }
  await refresh();
  ctx.every(2000, refresh);
}
