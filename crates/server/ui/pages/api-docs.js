// The API's reference, drawn from the server's own OpenAPI document (/api/openapi.json, which
// the server generates from its routes and wire types): every route grouped by capability,
// each with its parameters, request body and answers, their shapes as field trees.

import { get } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { count } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { markdown } from "../lib/markdown.js";

/** Nesting shown before a shape is left as its name. */
const MAX_DEPTH = 4;

/** The schema a `$ref` names, and its name. */
function resolve(spec, schema) {
  const ref = schema && schema.$ref;
  if (!ref) return { schema, name: null };
  const name = ref.replace("#/components/schemas/", "");
  return { schema: spec.components.schemas[name] || {}, name };
}

/** A one-line type: `string (uuid)`, `array of FlowRun`, `"a" | "b"`, `X | null`. */
function typeText(spec, schema) {
  if (schema === true || !schema || Object.keys(schema).length === 0) return "any JSON";
  if (schema.$ref) return schema.$ref.replace("#/components/schemas/", "");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const alts = schema.anyOf || schema.oneOf;
  if (alts) return alts.map((s) => typeText(spec, s)).join(" | ");
  const types = [].concat(schema.type || []);
  const one = (t) => {
    if (t === "array") return `array of ${typeText(spec, schema.items)}`;
    if (t === "object" && schema.additionalProperties && !schema.properties) return `map of ${typeText(spec, schema.additionalProperties)}`;
    return schema.format && t !== "null" ? `${t} (${schema.format})` : t;
  };
  return types.length ? types.map(one).join(" | ") : "any JSON";
}

/** The object shape inside `schema` (through a `$ref`, an array's items, or `X | null`). */
function objectOf(spec, schema) {
  let { schema: s, name } = resolve(spec, schema);
  if (s && s.items) ({ schema: s, name } = resolve(spec, s.items));
  const alts = s && (s.anyOf || s.oneOf);
  if (alts) {
    const objects = alts.map((a) => resolve(spec, a)).filter((r) => r.schema && (r.schema.properties || r.schema.oneOf));
    if (objects.length === 1) ({ schema: s, name } = objects[0]);
  }
  return s && (s.properties || s.oneOf) ? { schema: s, name } : null;
}

/** A shape as a tree of fields: name, type, required, description; objects nest. */
function fieldTree(spec, schema, depth = 0, seen = new Set()) {
  const found = objectOf(spec, schema);
  if (!found) return null;
  const { schema: obj, name } = found;
  if (name && seen.has(name)) return h("div", { class: "muted" }, `(${name}, as above)`);
  const inner = new Set(seen);
  if (name) inner.add(name);
  if (obj.oneOf && !obj.properties) {
    return h("ul", { class: "fields" }, obj.oneOf.map((variant) => h("li", {}, h("span", { class: "muted" }, "one of: "), variant.description || typeText(spec, variant), depth < MAX_DEPTH ? fieldTree(spec, variant, depth + 1, inner) : null)));
  }
  const required = new Set(obj.required || []);
  return h(
    "ul",
    { class: "fields" },
    Object.entries(obj.properties).map(([field, prop]) =>
      h(
        "li",
        {},
        h("code", { class: "field-name" }, field),
        h("span", { class: "field-type" }, typeText(spec, prop)),
        required.has(field) ? h("span", { class: "required" }, "required") : null,
        prop.description ? h("div", { class: "field-doc" }, prop.description) : null,
        depth < MAX_DEPTH ? fieldTree(spec, prop, depth + 1, inner) : null,
      ),
    ),
  );
}

/** A body's shape: its type line and, for objects, its fields. */
function shape(spec, content) {
  const media = content && Object.keys(content)[0];
  if (!media) return null;
  const schema = content[media].schema;
  return h("div", { class: "shape" }, h("div", {}, h("span", { class: "muted" }, `${media}: `), h("code", {}, typeText(spec, schema))), fieldTree(spec, schema));
}

function operation(spec, method, path, op) {
  const params = op.parameters || [];
  const responses = Object.entries(op.responses || {});
  return h(
    "details",
    { class: "operation", dataset: { operation: `${method.toUpperCase()} ${path}` } },
    h("summary", {}, h("span", { class: ["method", method] }, method.toUpperCase()), h("code", { class: "path" }, path), h("span", { class: "op-summary" }, op.summary || "")),
    path.length > 1 && path.endsWith("/") ? h("p", { class: "muted twin" }, `Also answers at ${path.slice(0, -1)}.`) : null,
    h(
      "div",
      { class: "op-body" },
      op.description ? h("div", {}, markdown(op.description)) : null,
      params.length
        ? h("section", {}, h("h3", {}, "Parameters"), h("ul", { class: "fields" }, params.map((p) => h("li", {}, h("code", { class: "field-name" }, p.name), h("span", { class: "field-type" }, `${p.in}, ${typeText(spec, p.schema)}`), p.required ? h("span", { class: "required" }, "required") : null, p.description ? h("div", { class: "field-doc" }, p.description) : null))))
        : null,
      op.requestBody ? h("section", {}, h("h3", {}, op.requestBody.required ? "Request body" : "Request body (optional)"), shape(spec, op.requestBody.content)) : null,
      h(
        "section",
        {},
        h("h3", {}, "Answers"),
        h("ul", { class: "answers" }, responses.map(([status, r]) => h("li", { class: status[0] === "2" || status === "101" ? "ok" : "error" }, h("span", { class: "status" }, status), h("span", {}, r.description || ""), status[0] === "2" ? shape(spec, r.content) : null))),
      ),
    ),
  );
}

export default async function apiDocsPage(ctx) {
  ctx.title("API");
  const spec = await get("/openapi.json", ctx);
  const byTag = new Map();
  let total = 0;
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      // `/flow_runs` answers like `/flow_runs/`: list the twin once.
      if (spec.paths[`${path}/`] && spec.paths[`${path}/`][method]) continue;
      const tag = (op.tags && op.tags[0]) || "Other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ method, path, op });
      total += 1;
    }
  }
  const search = h("input", { type: "search", placeholder: "Filter routes (path or summary)", "aria-label": "Filter routes" });
  const cards = [...byTag].map(([tag, ops]) => card({ title: tag, class: "api-tag" }, h("div", { class: "operations" }, ops.map((o) => operation(spec, o.method, o.path, o.op)))));
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    for (const el of ctx.view.querySelectorAll("details.operation")) {
      el.hidden = q !== "" && !el.dataset.operation.toLowerCase().includes(q) && !el.querySelector(".op-summary").textContent.toLowerCase().includes(q);
    }
    for (const c of cards) c.hidden = !c.querySelector("details.operation:not([hidden])");
  });
  const wanted = ctx.query.get("route");
  mount(
    ctx.view,
    pageHeader({
      title: spec.info.title,
      facts: [`${count(total)} routes`, `version ${spec.info.version}`, h("a", { href: "/api/openapi.json", download: "openapi.json" }, "openapi.json")],
    }),
    h("div", { class: "api-intro" }, markdown(spec.info.description)),
    h("div", { class: "toolbar api-search" }, search),
    cards,
  );
  // `/docs?route=POST%20/flow_runs/` opens that route.
  const open = wanted && [...ctx.view.querySelectorAll("details.operation")].find((el) => el.dataset.operation === wanted);
  if (open) {
    open.open = true;
    open.scrollIntoView({ block: "start" });
  }
}
