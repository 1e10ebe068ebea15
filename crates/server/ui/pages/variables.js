// Variables: every variable with its value (JSON) and tags; new ones are created, and each can
// be edited (name, value, tags) or deleted, through the shared form dialog.

import { del, patch, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, count } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { pagedTable } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { confirmThen, openFormDialog } from "../components/form-dialog.js";

/** A variable's fields: its value is any JSON, so the form edits it as JSON text. */
const SCHEMA = {
  type: "object",
  required: ["name", "value"],
  properties: {
    name: { type: "string", title: "Name", minLength: 1, maxLength: 255, pattern: "^[a-z0-9_-]+$", description: "Lowercase letters, numbers, dashes and underscores." },
    value: { title: "Value", description: "Any JSON: a string in quotes, a number, true, an object, a list." },
    tags: { type: "array", title: "Tags", items: { type: "string" } },
  },
};

const enc = encodeURIComponent;

export default async function variablesPage(ctx) {
  ctx.title("Variables");
  const total = h("span", { id: "variable-count" });
  const list = pagedTable({
    pageSize: 50,
    empty: "No variables yet. Create one here, or with Variable.set(…) in a flow.",
    rowAttrs: (v) => ({ dataset: { variable: v.name } }),
    columns: [
      { label: "Name", cell: (v) => v.name },
      { label: "Value", cell: (v) => h("code", { class: "variable-value" }, JSON.stringify(v.value)) },
      { label: "Tags", cell: (v) => (v.tags.length ? v.tags.map((t) => h("span", { class: "tag" }, t)) : h("span", { class: "muted" }, "—")) },
      { label: "Updated", cell: (v) => ago(v.updated) },
      {
        label: "",
        cell: (v) =>
          h(
            "div",
            { class: "row-actions" },
            h("button", { type: "button", class: "secondary small", dataset: { action: "edit" }, onclick: () => edit(v) }, "Edit"),
            h("button", { type: "button", class: "secondary small", dataset: { action: "delete" }, onclick: () => remove(v) }, "Delete"),
          ),
      },
    ],
    async load(offset, limit) {
      const [rows, n] = await Promise.all([post("/variables/filter", { sort: "NAME_ASC", limit, offset }, ctx), post("/variables/count", {}, ctx)]);
      total.textContent = `${count(n)} variables`;
      return { rows, total: n };
    },
  });
  const refresh = () => list.refresh().catch((e) => toast(e.message, "error"));
  const form = (title, values, save) =>
    openFormDialog({ id: "variable-dialog", submitId: "variable-save", title, schema: SCHEMA, values, save: async (v) => (await save({ ...v, tags: v.tags ?? [] }), refresh()), signal: ctx.signal });
  const create = () => form("New variable", undefined, (v) => post("/variables/", v, ctx));
  const edit = (v) => form(`Edit ${v.name}`, { name: v.name, value: v.value, tags: v.tags }, (changed) => patch(`/variables/name/${enc(v.name)}`, changed, ctx));
  const remove = (v) =>
    confirmThen({ title: "Delete variable", text: `Delete the variable ${v.name}? Flows that read it get their default.`, button: "Delete", signal: ctx.signal, action: async () => (await del(`/variables/name/${enc(v.name)}`, ctx), refresh()) });
  mount(
    ctx.view,
    pageHeader({ title: "Variables", facts: [total], actions: [h("button", { id: "new-variable", type: "button", class: "primary", onclick: create }, "New variable")] }),
    card({}, list.element),
  );
  await list.refresh();
}
