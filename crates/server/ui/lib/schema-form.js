// One form builder for every form generated from a JSON Schema: a paused run's input, a
// deployment's parameters, a queue, a variable, an automation's trigger and actions. It
// understands what Rust's schemars and Python's pydantic emit: `$ref`s into `$defs`,
// `definitions` or an OpenAPI document's `components`, optional fields (`anyOf` with null),
// enums (plain or documented one branch per value, shown by their branch `title`), nested
// objects, discriminated unions (`oneOf` whose branches each fix a tag such as `type`: a choice
// of kind, then that kind's fields), arrays of scalars and of objects or unions, maps of
// strings (`additionalProperties`), unions of scalars (`2` or `"all"`), numbers with bounds,
// strings with formats, and Prefect's `position` ordering. A shape it does not understand
// becomes a JSON text field rather than being dropped. Every name, title, description, enum
// value and default from the schema is set as text or as a property.

import { h, mount } from "./dom.js";

/** Nesting depth beyond which a value is edited as JSON text (also ends `$ref` cycles). */
const MAX_DEPTH = 8;

/**
 * Builds the fields for `schema` (an object schema), prefilled from `values` (over the
 * schema's defaults). Returns:
 * - `element`: the fields, to place inside a dialog or page;
 * - `empty`: whether the schema has no fields at all;
 * - `read()`: `{value, failures}`, the entered value as JSON (empty optional fields left out)
 *   and the fields that could not be read (bad JSON text);
 * - `showErrors(failures)`: shows `[{path: "a.b", message}]` beside their fields and returns
 *   the messages no field owns;
 * - `clearErrors()`.
 */
export function schemaForm(schema, { values } = {}) {
  const ctx = { root: isObject(schema) ? schema : {}, fields: new Map(), seq: 0 };
  const top = objectEditor(ctx, ctx.root, [], isObject(values) ? values : undefined, 0);
  const element = h("div", { class: "schema-form" }, top.nodes);
  return {
    element,
    empty: top.nodes.length === 0,
    read() {
      const failures = [];
      const value = top.read(failures) ?? {};
      return { value, failures };
    },
    showErrors(failures) {
      const unplaced = [];
      for (const { path, message } of failures) {
        const field = owner(ctx.fields, path);
        if (!field) {
          unplaced.push(message);
          continue;
        }
        field.element.classList.add("invalid");
        field.error.textContent = field.error.textContent ? `${field.error.textContent} ${message}` : message;
      }
      return unplaced;
    },
    clearErrors() {
      for (const field of ctx.fields.values()) {
        field.element.classList.remove("invalid");
        field.error.textContent = "";
      }
    },
  };
}

/** The field for `path` ("a.b.c"), or the nearest enclosing one. */
function owner(fields, path) {
  const parts = String(path || "").split(".").filter(Boolean);
  for (let n = parts.length; n > 0; n--) {
    const field = fields.get(parts.slice(0, n).join("."));
    if (field) return field;
  }
  return null;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function own(obj, key) {
  return isObject(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Sets `out[key] = value` even for keys like "__proto__" (a field may be called anything). */
function put(out, key, value) {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

function objectEditor(ctx, schema, path, values, depth) {
  const props = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  const entries = Object.entries(props).sort(([, a], [, b]) => position(a) - position(b));
  const editors = entries.map(([name, prop]) => [name, field(ctx, name, prop, [...path, name], required.has(name), own(values, name), depth)]);
  return {
    nodes: editors.map(([, e]) => e.element),
    read(failures) {
      const out = {};
      for (const [name, editor] of editors) {
        const v = editor.read(failures);
        if (v !== undefined) put(out, name, v);
      }
      return out;
    },
  };
}

function position(prop) {
  return isObject(prop) && typeof prop.position === "number" ? prop.position : Infinity;
}

/** The property's own schema: `$ref`s followed, unions and `allOf` merged, nullability noted. */
export function resolve(root, prop) {
  let p = isObject(prop) ? prop : {};
  let nullable = false;
  for (let step = 0; step < 8; step++) {
    if (typeof p.$ref === "string") {
      const { $ref, ...rest } = p;
      const target = pointer(root, $ref);
      p = { ...(isObject(target) ? target : {}), ...rest };
      continue;
    }
    const union = Array.isArray(p.anyOf) ? p.anyOf : Array.isArray(p.oneOf) ? p.oneOf : null;
    if (union) {
      const { anyOf, oneOf, ...rest } = p;
      const branches = union.filter((b) => isObject(b) && b.type !== "null");
      nullable ||= branches.length < union.length;
      if (branches.length > 0 && branches.every((b) => b.const !== undefined || (Array.isArray(b.enum) && b.enum.length === 1))) {
        // An enum documented one branch per value (a branch's `title` is how it is shown).
        const titles = branches.map((b) => (typeof b.title === "string" ? b.title : undefined));
        p = { ...rest, enum: branches.map((b) => (b.const !== undefined ? b.const : b.enum[0])), enumTitles: titles.some(Boolean) ? titles : undefined };
        break;
      }
      p = { ...(branches[0] || {}), ...rest };
      continue;
    }
    if (Array.isArray(p.allOf) && p.allOf.length > 0) {
      const { allOf, ...rest } = p;
      p = Object.assign({}, ...allOf.filter(isObject), rest);
      continue;
    }
    break;
  }
  let type = p.type;
  if (Array.isArray(type)) {
    nullable ||= type.includes("null");
    type = type.find((t) => t !== "null");
  }
  const values = Array.isArray(p.enum) ? p.enum.filter((v) => v !== null) : p.const !== undefined ? [p.const] : undefined;
  return { ...p, type: typeof type === "string" ? type : undefined, enum: values && values.length ? values : undefined, nullable };
}

/** `#/$defs/Name` (JSON Pointer, `~0`/`~1` escapes) inside the root schema. */
function pointer(root, ref) {
  if (!ref.startsWith("#")) return undefined;
  let node = root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    node = own(node, decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~"));
    if (node === undefined) return undefined;
  }
  return node;
}

function kindOf(root, p, depth, initial) {
  if (p.enum) return "enum";
  if (p.type === "boolean") return "boolean";
  if (p.type === "integer" || p.type === "number") return "number";
  if (p.type === "string") return "string";
  if (depth >= MAX_DEPTH) return "json";
  if (p.type === "object" && isObject(p.properties)) return "object";
  if (p.type === "object" && isStringMap(root, p) && (initial === undefined || (isObject(initial) && Object.values(initial).every((v) => typeof v === "string")))) return "map";
  if (p.type === "array") {
    const items = p.items;
    if (items.enum) return "choices";
    if (["string", "integer", "number"].includes(items.type)) return "list";
    if (p.itemUnion || (items.type === "object" && isObject(items.properties))) return "objects";
  }
  return "json";
}

/** An object whose properties are free names, each holding a string (a map of labels). */
function isStringMap(root, p) {
  const extra = p.additionalProperties;
  return !isObject(p.properties) && isObject(extra) && resolve(root, extra).type === "string";
}

const SCALARS = ["string", "integer", "number"];

/**
 * A discriminated union: `oneOf`/`anyOf` branches that are all objects fixing one property (the
 * tag, e.g. `type`) to a constant. Returns `{tag, branches: [{value, label, description,
 * schema}]}` (each branch's own schema without the tag) or `null`.
 */
export function discriminated(root, prop) {
  let p = isObject(prop) ? prop : {};
  for (let step = 0; step < 8 && typeof p.$ref === "string"; step++) {
    const { $ref, ...rest } = p;
    p = { ...(pointer(root, $ref) || {}), ...rest };
  }
  const union = Array.isArray(p.oneOf) ? p.oneOf : Array.isArray(p.anyOf) ? p.anyOf : null;
  if (!union) return null;
  const branches = union.filter((b) => isObject(b) && b.type !== "null").map((b) => objectBranch(root, b));
  if (branches.length < 2 || branches.some((b) => !b)) return null;
  const tag = Object.keys(branches[0].properties).find((name) => branches.every((b) => constOf(b.properties[name]) !== undefined));
  if (tag === undefined) return null;
  return {
    tag,
    branches: branches.map((b) => {
      const { [tag]: fixed, ...properties } = b.properties;
      const value = constOf(fixed);
      const label = typeof b.title === "string" ? b.title : String(value).replace(/[-_]/g, " ").replace(/^./, (c) => c.toUpperCase());
      return { value, label, description: b.description, schema: { ...b, properties, required: (b.required || []).filter((r) => r !== tag) } };
    }),
  };
}

/** A union branch as one object schema: its `$ref` target with the branch's own properties merged in. */
function objectBranch(root, branch) {
  let b = branch;
  const own = { properties: {}, required: [] };
  for (let step = 0; step < 8; step++) {
    Object.assign(own.properties, isObject(b.properties) ? b.properties : {});
    own.required.push(...(Array.isArray(b.required) ? b.required : []));
    if (typeof b.$ref !== "string") break;
    const { $ref, properties, required, ...rest } = b;
    b = { ...(pointer(root, $ref) || {}), ...rest };
  }
  if (b.type !== undefined && b.type !== "object") return null;
  const properties = { ...(isObject(b.properties) ? b.properties : {}), ...own.properties };
  return { ...b, type: "object", properties, required: [...new Set([...(Array.isArray(b.required) ? b.required : []), ...own.required])] };
}

function constOf(p) {
  if (!isObject(p)) return undefined;
  if (p.const !== undefined) return p.const;
  return Array.isArray(p.enum) && p.enum.length === 1 ? p.enum[0] : undefined;
}

/** A union of scalars (`2` or `"all"`): the words it allows, or `null` if it is not one. */
function scalarUnion(root, prop) {
  let p = isObject(prop) ? prop : {};
  for (let step = 0; step < 8 && typeof p.$ref === "string"; step++) p = pointer(root, p.$ref) || {};
  const union = Array.isArray(p.anyOf) ? p.anyOf : Array.isArray(p.oneOf) ? p.oneOf : null;
  if (!union) return null;
  const branches = union.filter((b) => isObject(b) && b.type !== "null").map((b) => resolve(root, b));
  const numeric = branches.some((b) => b.type === "integer" || b.type === "number");
  if (branches.length < 2 || !numeric || !branches.every((b) => b.enum || SCALARS.includes(b.type))) return null;
  return { words: branches.flatMap((b) => b.enum || []), integer: branches.some((b) => b.type === "integer") };
}

function field(ctx, name, rawProp, path, required, value, depth) {
  const p = resolve(ctx.root, rawProp);
  const key = path.join(".");
  const id = `fg-field-${++ctx.seq}`;
  const initial = value !== undefined ? value : p.default;
  if (p.type === "array") {
    p.itemUnion = discriminated(ctx.root, p.items);
    p.items = resolve(ctx.root, p.items);
  }
  p.union = depth < MAX_DEPTH ? discriminated(ctx.root, rawProp) : null;
  p.scalars = scalarUnion(ctx.root, rawProp);
  const kind = p.union ? "union" : p.scalars ? "mixed" : kindOf(ctx.root, p, depth, initial);
  const title = own(rawProp, "title") ?? p.title ?? name;
  const spec = { ctx, p, id, key, path, required, depth, initial, title: String(title) };
  const control = CONTROLS[kind](spec);
  const label = h("label", { for: id }, String(title), required ? null : h("span", { class: "optional" }, " (Optional)"));
  const hint = p.description !== undefined ? h("span", { class: "hint" }, codeSpans(p.description)) : null;
  const error = h("span", { class: "field-error", role: "alert" });
  let element;
  if (kind === "boolean") {
    element = h("div", { class: "field checkbox", dataset: { field: key, type: kind } }, control.node, h("div", {}, label, hint), error);
  } else if (kind === "object" || kind === "union") {
    element = h("fieldset", { class: "field group", dataset: { field: key, type: kind } }, h("legend", {}, String(title)), hint, control.node, error);
  } else {
    element = h("div", { class: "field", dataset: { field: key, type: kind } }, label, control.node, hint, error);
  }
  ctx.fields.set(key, { element, error });
  return { element, read: control.read };
}

/** Each kind of field: its control element and how to read it (`undefined` = left out). */
const CONTROLS = {
  enum({ p, id, key, required, initial }) {
    const chosen = initial === undefined || initial === null ? undefined : JSON.stringify(initial);
    const blank = !required || chosen === undefined;
    // A value the schema does not list (e.g. a pool deleted since) is kept, shown as it is.
    const unlisted = chosen !== undefined && !p.enum.some((v) => JSON.stringify(v) === chosen);
    const select = h(
      "select",
      { id, name: key },
      blank ? h("option", { value: "" }, required ? "Choose…" : "") : null,
      p.enum.map((v, i) => h("option", { value: JSON.stringify(v), selected: JSON.stringify(v) === chosen }, (p.enumTitles && p.enumTitles[i]) || (typeof v === "string" ? v : JSON.stringify(v)))),
      unlisted ? h("option", { value: chosen, selected: true }, typeof initial === "string" ? initial : chosen) : null,
    );
    return { node: select, read: () => (select.value === "" ? undefined : JSON.parse(select.value)) };
  },

  boolean({ id, key, initial }) {
    const box = h("input", { id, name: key, type: "checkbox", checked: initial === true });
    return { node: box, read: () => box.checked };
  },

  number({ p, id, key, initial }) {
    const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    const input = h("input", {
      id,
      name: key,
      type: "number",
      step: p.type === "integer" ? 1 : "any",
      min: num(p.minimum) ?? num(p.exclusiveMinimum),
      max: num(p.maximum) ?? num(p.exclusiveMaximum),
      value: num(initial) ?? "",
    });
    return { node: input, read: () => (input.value === "" ? undefined : Number(input.value)) };
  },

  string({ p, id, key, required, initial }) {
    const format = { "date-time": "datetime-local", date: "date", email: "email", uri: "url", password: "password" }[p.format] || (p.writeOnly ? "password" : "text");
    const text = typeof initial === "string" ? initial : "";
    const input = h("input", {
      id,
      name: key,
      type: format,
      value: format === "datetime-local" ? toLocalInput(text) : text,
      maxLength: typeof p.maxLength === "number" ? p.maxLength : undefined,
    });
    if (format === "datetime-local") input.step = 1;
    return {
      node: input,
      read() {
        if (input.value === "") return required ? "" : undefined;
        return format === "datetime-local" ? new Date(input.value).toISOString() : input.value;
      },
    };
  },

  object({ ctx, p, path, required, initial, depth }) {
    const inner = objectEditor(ctx, p, path, isObject(initial) ? initial : undefined, depth + 1);
    return {
      node: h("div", { class: "group-fields" }, inner.nodes),
      read(failures) {
        const v = inner.read(failures);
        return required || Object.keys(v).length > 0 ? v : undefined;
      },
    };
  },

  choices({ p, id, key, required, initial }) {
    const chosen = new Set((Array.isArray(initial) ? initial : []).map((v) => JSON.stringify(v)));
    const boxes = p.items.enum.map((v, i) => {
      const box = h("input", { id: `${id}-${i}`, name: key, type: "checkbox", value: JSON.stringify(v), checked: chosen.has(JSON.stringify(v)) });
      return h("label", { class: "choice" }, box, typeof v === "string" ? v : JSON.stringify(v));
    });
    const node = h("div", { id, class: "choices" }, boxes);
    return {
      node,
      read() {
        const picked = [...node.querySelectorAll("input:checked")].map((b) => JSON.parse(b.value));
        return picked.length || required ? picked : undefined;
      },
    };
  },

  list({ p, id, key, required, initial }) {
    const numeric = p.items.type !== "string";
    const rows = h("div", { class: "list-rows" });
    const addRow = (v) => {
      const input = h("input", { name: key, type: numeric ? "number" : "text", step: p.items.type === "integer" ? 1 : "any", value: v ?? "" });
      const row = h("div", { class: "list-row" }, input, h("button", { type: "button", class: "ghost small", title: "Remove", onclick: () => row.remove() }, "✕"));
      rows.append(row);
      return input;
    };
    for (const v of Array.isArray(initial) ? initial : []) addRow(v);
    const node = h("div", { id, class: "list-editor" }, rows, h("button", { type: "button", class: "secondary small", onclick: () => addRow().focus() }, "Add item"));
    return {
      node,
      read() {
        const items = [...rows.querySelectorAll("input")].filter((i) => i.value !== "").map((i) => (numeric ? Number(i.value) : i.value));
        return items.length || required ? items : undefined;
      },
    };
  },

  union({ ctx, p, id, key, path, required, initial, depth, title = "" }) {
    const { tag, branches } = p.union;
    const start = isObject(initial) ? branches.find((b) => JSON.stringify(b.value) === JSON.stringify(initial[tag])) : undefined;
    let branch = start || (required ? branches[0] : undefined);
    const select = h(
      "select",
      { id, name: `${key}.${tag}`, class: "union-kind", "aria-label": `${title}: kind` },
      required ? null : h("option", { value: "" }, ""),
      branches.map((b, i) => h("option", { value: String(i), selected: b === branch }, b.label)),
    );
    const hint = h("span", { class: "hint" });
    const fields = h("div", { class: "group-fields" });
    let inner = null;
    const show = (values) => {
      forget(ctx, key);
      mount(hint, branch && branch.description ? codeSpans(branch.description) : []);
      inner = branch ? objectEditor(ctx, branch.schema, path, values, depth + 1) : null;
      mount(fields, inner ? inner.nodes : []);
    };
    select.addEventListener("change", () => {
      branch = select.value === "" ? undefined : branches[Number(select.value)];
      show(undefined);
    });
    show(start ? initial : undefined);
    return {
      node: h("div", { class: "union" }, h("div", { class: "union-choice" }, select, hint), fields),
      read(failures) {
        if (!branch) return undefined;
        const out = {};
        put(out, tag, branch.value);
        for (const [k, v] of Object.entries(inner.read(failures))) put(out, k, v);
        return out;
      },
    };
  },

  objects({ ctx, p, id, key, path, required, initial, depth, title }) {
    const noun = typeof p.items.title === "string" ? p.items.title : title.replace(/s$/, "");
    const list = h("div", { class: "object-items" });
    let items = [];
    const current = () => items.map((item) => item.read([]));
    const render = (values) => {
      forget(ctx, key);
      items = values.map((value, i) => {
        const itemPath = [...path, String(i)];
        const itemKey = itemPath.join(".");
        const spec = { ctx, id: `fg-field-${++ctx.seq}`, key: itemKey, path: itemPath, required: true, initial: value, depth: depth + 1, title: `${noun} ${i + 1}` };
        const editor = p.itemUnion ? CONTROLS.union({ ...spec, p: { union: p.itemUnion } }) : CONTROLS.object({ ...spec, p: p.items });
        const error = h("span", { class: "field-error", role: "alert" });
        const remove = () => render(current().filter((_, j) => j !== i));
        const node = h(
          "div",
          { class: "object-item", dataset: { field: itemKey } },
          h("div", { class: "object-item-head" }, h("span", { class: "object-item-title" }, `${noun} ${i + 1}`), h("button", { type: "button", class: "ghost small remove-item", title: `Remove ${noun} ${i + 1}`, onclick: remove }, "Remove")),
          error,
          editor.node,
        );
        ctx.fields.set(itemKey, { element: node, error });
        return { node, read: editor.read };
      });
      mount(list, items.length ? items.map((item) => item.node) : h("p", { class: "hint object-none" }, `No ${noun.toLowerCase()} yet.`));
    };
    render(Array.isArray(initial) ? initial : []);
    const add = h("button", { type: "button", class: "secondary small add-item", dataset: { add: key }, onclick: () => render([...current(), undefined]) }, `Add ${noun.toLowerCase()}`);
    return {
      node: h("div", { id, class: "objects-editor" }, list, add),
      read(failures) {
        const values = items.map((item) => item.read(failures));
        return values.length || required ? values : undefined;
      },
    };
  },

  map({ id, key, required, initial }) {
    const rows = h("div", { class: "list-rows" });
    const addRow = (k = "", v = "") => {
      const name = h("input", { type: "text", class: "map-key", name: `${key}.label`, placeholder: "label", value: k, "aria-label": "Label" });
      const value = h("input", { type: "text", class: "map-value", name: `${key}.value`, placeholder: "value", value: v, "aria-label": "Value" });
      const row = h("div", { class: "list-row map-row" }, name, h("span", { class: "map-eq" }, "="), value, h("button", { type: "button", class: "ghost small", title: "Remove", onclick: () => row.remove() }, "✕"));
      rows.append(row);
      return name;
    };
    for (const [k, v] of Object.entries(isObject(initial) ? initial : {})) addRow(k, v);
    return {
      node: h("div", { id, class: "list-editor" }, rows, h("button", { type: "button", class: "secondary small", onclick: () => addRow().focus() }, "Add label")),
      read() {
        const out = {};
        for (const row of rows.children) {
          const [k, v] = row.querySelectorAll("input");
          if (k.value !== "") put(out, k.value, v.value);
        }
        return Object.keys(out).length || required ? out : undefined;
      },
    };
  },

  mixed({ p, id, key, initial }) {
    const words = p.scalars.words.map(String);
    const input = h("input", { id, name: key, type: "text", list: `${id}-words`, value: initial === undefined || initial === null ? "" : String(initial), placeholder: [...words, p.scalars.integer ? "or a whole number" : "or a number"].join(", ") });
    return {
      node: h("div", { class: "mixed" }, input, h("datalist", { id: `${id}-words` }, words.map((w) => h("option", { value: w })))),
      read() {
        const text = input.value.trim();
        if (text === "") return undefined;
        return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
      },
    };
  },

  json({ id, key, required, initial }) {
    const area = h("textarea", { id, name: key, rows: 4, spellcheck: false, class: "code", value: initial === undefined ? "" : JSON.stringify(initial, null, 2) });
    return {
      node: area,
      read(failures) {
        if (area.value.trim() === "") return required ? null : undefined;
        try {
          return JSON.parse(area.value);
        } catch (e) {
          failures.push({ path: key, message: `Not valid JSON: ${e.message}` });
          return undefined;
        }
      },
    };
  },
};

/** A description with its `code` spans (as Rust's and Python's doc comments write them) as code. */
function codeSpans(text) {
  return String(text)
    .split(/`([^`]+)`/)
    .map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

/** Forgets the fields under `key` (a union's other kind, an array's items before they are redrawn). */
function forget(ctx, key) {
  for (const k of [...ctx.fields.keys()]) if (k.startsWith(`${key}.`)) ctx.fields.delete(k);
}

/** An ISO timestamp as a `datetime-local` input's value (the reader's time zone). */
function toLocalInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
