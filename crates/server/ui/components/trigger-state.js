// "Why did it (not) fire": an automation's trigger state (the report of
// /automations/{id}/state) drawn as a tree: an event trigger's counts and buckets, which parts
// of a compound or sequence have matched, a metric's current value against its threshold.

import { h } from "../lib/dom.js";
import { ago, count } from "../lib/format.js";
import { metricValue, span } from "./automations.js";
import { showEventById } from "./event.js";

/** Every trigger of a definition by its id (the report names triggers by id). */
export function triggersById(trigger, into = new Map()) {
  if (!trigger) return into;
  if (trigger.id) into.set(trigger.id, trigger);
  for (const part of trigger.triggers || []) triggersById(part, into);
  return into;
}

/** The report's trigger tree; `defs` maps trigger ids to their definitions. */
export function triggerState(node, defs, { signal } = {}) {
  const ctx = { defs, signal };
  return h("div", { class: "trigger-tree" }, nodeView(node, ctx));
}

function nodeView(node, ctx) {
  if (node.type === "event") return eventView(node, ctx);
  if (node.type === "metric") return metricView(node, ctx);
  return compositeView(node, ctx);
}

function stat(label, value, title) {
  return h("div", { class: "stat", title }, h("span", { class: "stat-value" }, value), h("span", { class: "stat-label" }, label));
}

/** An event link that opens the event's JSON. */
function eventLink(seen, ctx) {
  return h("a", { href: "#", class: "event-link", onclick: (e) => (e.preventDefault(), showEventById(seen.id, { signal: ctx.signal })) }, seen.event);
}

function eventView(node, ctx) {
  const def = ctx.defs.get(node.trigger_id) || {};
  const threshold = def.threshold || 1;
  const buckets = node.buckets.map((b) =>
    h(
      "tr",
      { dataset: { status: b.status } },
      h("td", {}, b.labels.length ? b.labels.map(([k, v]) => h("span", { class: "tag" }, `${k} = ${v}`)) : h("span", { class: "muted" }, "all events")),
      h("td", {}, h("span", { class: ["bucket-status", b.status] }, b.status)),
      h("td", { class: "num" }, h("span", { class: "count-bar", title: `${b.counted} of ${threshold}` }, h("span", { style: { width: `${Math.min(100, (b.counted / threshold) * 100)}%` } })), ` ${b.counted} / ${threshold}`),
      h("td", {}, b.window_start ? ago(b.window_start) : "—"),
      h("td", {}, b.deadline ? ago(b.deadline) : b.quiet_until ? `quiet ${ago(b.quiet_until)}` : b.fired_at ? `fired ${ago(b.fired_at)}` : "—"),
    ),
  );
  return h(
    "div",
    { class: "trigger-node event", dataset: { trigger: node.trigger_id } },
    h("div", { class: "node-head" }, h("span", { class: "kind" }, def.posture === "Proactive" ? "Absence" : "Event"), h("span", { class: "node-summary" }, node.summary)),
    h(
      "div",
      { class: "stats" },
      stat("seen", count(node.seen), "events with a name it looks at"),
      stat("matched", count(node.matched), "of those, the ones whose resources matched"),
      stat("counted", count(node.counted), "of those, the ones counted in a window"),
      stat("buckets", count(node.bucket_count), "independent evaluations (one per for_each value)"),
    ),
    node.buckets.length
      ? h(
          "div",
          { class: "table-wrap buckets" },
          h("table", { class: "data compact" }, h("thead", {}, h("tr", {}, ["Bucket", "Status", "In window", "Window opened", "Deadline"].map((c, i) => h("th", { class: i === 2 ? "num" : null }, c)))), h("tbody", {}, buckets)),
        )
      : null,
    h(
      "div",
      { class: "node-foot" },
      node.last_matched ? h("span", {}, "Last matched: ", eventLink(node.last_matched, ctx), ` ${ago(node.last_matched.occurred)}`) : h("span", { class: "muted" }, "No event has matched yet."),
      node.last_rejected ? h("span", { class: "near-miss" }, "Last near miss: ", eventLink(node.last_rejected.seen, ctx), ` failed `, h("code", {}, node.last_rejected.rule)) : null,
    ),
  );
}

function compositeView(node, ctx) {
  const matched = node.parts.filter((p) => p.satisfied).length;
  return h(
    "div",
    { class: "trigger-node composite", dataset: { trigger: node.trigger_id } },
    h(
      "div",
      { class: "node-head" },
      h("span", { class: "kind" }, node.kind),
      h("span", { class: "node-summary" }, node.summary),
      h("span", { class: "parts-count", title: `${node.needed} needed` }, `${matched} of ${node.needed} matched`),
    ),
    h(
      "ol",
      { class: ["parts", node.kind] },
      node.parts.map((p) =>
        h(
          "li",
          { class: ["part", p.satisfied ? "satisfied" : "waiting"], dataset: { satisfied: String(p.satisfied) } },
          h("div", { class: "part-mark", title: p.satisfied ? "matched" : "waiting" }, p.satisfied ? "✓" : ""),
          h("div", { class: "part-body" }, p.fired_at ? h("div", { class: "part-fired muted" }, `fired ${ago(p.fired_at)}`) : null, nodeView(p.trigger, ctx)),
        ),
      ),
    ),
  );
}

function metricView(node, ctx) {
  const def = ctx.defs.get(node.trigger_id) || {};
  const m = def.metric || {};
  // The value and the threshold on one scale: a fraction for successes, else up to the larger.
  const max = node.metric === "successes" ? 1 : Math.max(m.threshold || 0, node.value || 0) * 1.25 || 1;
  const pct = (v) => `${Math.max(0, Math.min(100, (v / max) * 100))}%`;
  return h(
    "div",
    { class: "trigger-node metric", dataset: { trigger: node.trigger_id } },
    h("div", { class: "node-head" }, h("span", { class: "kind" }, "Metric"), h("span", { class: "node-summary" }, node.summary)),
    h(
      "div",
      { class: "stats" },
      stat("now", metricValue(node.metric, node.value), `${node.metric} over the last ${span(m.range)}`),
      stat("threshold", `${m.operator || ""} ${metricValue(node.metric, m.threshold)}`, "breached when the value compares so"),
      stat("samples", count(node.samples), "flow runs in the range"),
      stat(
        "breached for",
        node.breached_since ? `${span(Math.max(0, Math.round((Date.now() - Date.parse(node.breached_since)) / 1000)))} of ${span(m.firing_for)}` : "—",
        node.breached_since ? `beyond the threshold since ${node.breached_since}; fires once it has been for ${span(m.firing_for)}` : "not beyond the threshold",
      ),
    ),
    h(
      "div",
      { class: ["gauge", node.breached_since ? "breached" : null], role: "img", "aria-label": `value ${metricValue(node.metric, node.value)}, threshold ${metricValue(node.metric, m.threshold)}` },
      node.value !== null && node.value !== undefined ? h("div", { class: "gauge-fill", style: { width: pct(node.value) } }) : null,
      typeof m.threshold === "number" ? h("div", { class: "gauge-mark", style: { left: pct(m.threshold) }, title: `threshold ${metricValue(node.metric, m.threshold)}` }) : null,
    ),
    node.fired ? h("p", { class: "node-foot" }, "Fired; resolves when the value is back within the threshold.") : null,
  );
}
