// Run states: their order, which are final, and the badge that shows one.

import { h } from "../lib/dom.js";

/** Every state type, in the order a run moves through them (charts stack them this way). */
export const STATES = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED"];

/** States a run does not leave. */
export const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]);

/** "COMPLETED" → "Completed". */
export function stateLabel(type) {
  const t = String(type || "");
  return t.charAt(0) + t.slice(1).toLowerCase();
}

/** The CSS colour of a state (a custom property of the stylesheet, so themes change it). */
export function stateColor(type) {
  return `var(--state-${String(type || "scheduled").toLowerCase()})`;
}

/**
 * A run's state as a coloured badge: its name (e.g. "AwaitingRetry"), coloured by its type. A
 * Late run (Scheduled, past its time with no worker taking it) is drawn to stand out.
 */
export function stateBadge(run) {
  const type = run.state_type || (run.state && run.state.type) || "";
  const name = run.state_name || (run.state && run.state.name) || stateLabel(type) || "—";
  const late = type === "SCHEDULED" && name === "Late";
  const title = late ? "Late: past its scheduled time, not yet taken by a worker" : stateLabel(type);
  return h("span", { class: ["badge", STATES.includes(type) ? type : null, late ? "late" : null], title }, name);
}
