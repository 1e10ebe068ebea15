// Automations as the pages show them: a trigger and its actions in a phrase, a firing's
// outcome, the enabled switch, and the latest firing of each automation.

import { get, patch, post } from "../lib/api.js";
import { h } from "../lib/dom.js";
import { switchControl } from "../lib/layout.js";
import { toast } from "../lib/toast.js";
import { flowNames } from "./names.js";

const enc = encodeURIComponent;

/** The address of an automation's page. */
export function automationHref(id) {
  return `/automations/automation/${enc(id)}`;
}

/** 600 → "10m", 90 → "90s", 7200 → "2h" (a window's length in seconds). */
export function span(seconds) {
  const s = Number(seconds || 0);
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

const OPERATORS = { "<": "below", "<=": "at most", ">": "above", ">=": "at least" };
const METRICS = { successes: "success rate", duration: "mean duration", lateness: "mean lateness" };

/** A metric's value as people read it: a percentage for successes, a duration otherwise. */
export function metricValue(name, value) {
  if (value === null || value === undefined) return "—";
  return name === "successes" ? `${Math.round(value * 1000) / 10}%` : span(Math.round(value));
}

/** `["a", "b"]` → "a or b"; empty → `none`. */
function names(list, none) {
  return list && list.length ? list.join(" or ") : none;
}

/** What a trigger waits for, in a phrase ("3× test.thing within 5m"). */
export function triggerSummary(t) {
  if (!t) return "";
  if (t.type === "event") {
    const what = names(t.expect, "any event");
    const resource = t.match && t.match["prefect.resource.id"];
    const on = resource ? ` on ${[].concat(resource).join(" or ")}` : "";
    const times = t.threshold > 1 ? `${t.threshold}× ` : "";
    if (t.posture === "Proactive") {
      const after = t.after && t.after.length ? ` after ${names(t.after)}` : "";
      return `No ${times}${what}${on}${after} within ${span(t.within)}`;
    }
    return `${times}${what}${on}${t.within ? ` within ${span(t.within)}` : ""}`;
  }
  if (t.type === "metric") {
    const m = t.metric || {};
    return `${METRICS[m.name] || m.name} ${OPERATORS[m.operator] || m.operator} ${metricValue(m.name, m.threshold)} over the last ${span(m.range)} for ${span(m.firing_for)}`;
  }
  const parts = (t.triggers || []).length;
  const within = t.within ? ` within ${span(t.within)}` : "";
  if (t.type === "sequence") return `${parts} triggers in order${within}`;
  return `${t.require} of ${parts} triggers, any order${within}`;
}

/** The trigger's kind as a small label ("Event", "Compound", …; "Absence" for a proactive event). */
export function triggerKind(t) {
  if (!t) return "";
  if (t.type === "event" && t.posture === "Proactive") return "Absence";
  return t.type.charAt(0).toUpperCase() + t.type.slice(1);
}

/** "run-deployment" → "Run deployment". */
export function actionLabel(type) {
  const text = String(type || "").replace(/-/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Every action of an automation, in a phrase. */
export function actionsSummary(a) {
  const all = [...(a.actions || []), ...(a.actions_on_trigger || []), ...(a.actions_on_resolve || [])];
  return all.length ? all.map((x) => actionLabel(x.type)).join(", ") : "No actions";
}

/** The enabled switch of automation `a`; `changed(on)` runs after the server took it. */
export function enabledSwitch(a, { signal, changed = () => {} }) {
  return switchControl({
    checked: a.enabled,
    label: `${a.name} enabled`,
    title: a.enabled ? "Enabled: its trigger is evaluated" : "Disabled: its trigger is not evaluated",
    onchange: async (on) => {
      try {
        await patch(`/automations/${enc(a.id)}`, { enabled: on }, { signal });
        a.enabled = on;
        toast(`${a.name} ${on ? "enabled" : "disabled"}`, "success");
        changed(on);
      } catch (e) {
        toast(e.message, "error");
        changed(!on);
      }
    },
  });
}

/** A firing's state ("Triggered", "Resolved") as a badge. */
export function firingBadge(state) {
  return h("span", { class: ["badge", "firing", state] }, state);
}

/** Each action's outcome of a firing: ✓ or ✗ with its reason, or "running" while they run. */
export function outcomes(actions) {
  if (!Array.isArray(actions)) return h("span", { class: "muted" }, "running…");
  if (!actions.length) return h("span", { class: "muted" }, "no actions");
  return h(
    "span",
    { class: "outcomes" },
    actions.map((o) =>
      h("span", { class: ["outcome", o.ok ? "ok" : "failed"], title: o.reason || (o.ok ? "succeeded" : "failed") }, o.ok ? "✓ " : "✗ ", actionLabel(o.type), !o.ok && o.reason ? h("span", { class: "reason" }, `: ${o.reason}`) : null),
    ),
  );
}

/** `/automations/{id}/state`: the trigger's live report and the latest firings. */
export function automationState(id, signal) {
  return get(`/automations/${enc(id)}/state`, { signal });
}

/** When an automation last fired, from its state report (`null` if never). */
export function lastFired(report) {
  const first = report && report.firings && report.firings[0];
  return (first && first.decided) || (report && report.trigger_state && report.trigger_state.last_fired) || null;
}

/** Everything an action can name, as `[{id, name}]` lists (an unreadable list is empty). */
export async function actionTargets(signal) {
  const quiet = (p) => p.catch(() => []);
  const [deployments, pools, automations, blocks] = await Promise.all([
    quiet(post("/deployments/filter", { limit: 200 }, { signal })),
    quiet(post("/work_pools/filter", { limit: 200 }, { signal })),
    quiet(post("/automations/filter", { limit: 200 }, { signal })),
    quiet(post("/block_documents/filter", { limit: 200 }, { signal })),
  ]);
  const flows = await flowNames(deployments.map((d) => d.flow_id), signal).catch(() => new Map());
  const queues = await Promise.all(pools.map((p) => quiet(post(`/work_pools/${enc(p.name)}/queues/filter`, {}, { signal })).then((qs) => qs.map((q) => ({ id: q.id, name: `${p.name} / ${q.name}` })))));
  return {
    deployments: deployments.map((d) => ({ id: d.id, name: `${flows.get(d.flow_id) || "?"}/${d.name}` })),
    pools: pools.map((p) => ({ id: p.id, name: p.name })),
    queues: queues.flat(),
    automations: automations.map((a) => ({ id: a.id, name: a.name })),
    blocks: blocks.map((b) => ({ id: b.id, name: b.name || b.id })),
  };
}
