// Work pools, queues and workers as the pages show them: a status badge and a concurrency cell.

import { h } from "../lib/dom.js";

/** READY / NOT_READY / PAUSED (pools, queues) or ONLINE / OFFLINE (workers) as a badge. */
export function statusBadge(status) {
  const label = String(status || "").replace("_", " ").toLowerCase();
  return h("span", { class: ["badge", "status", status], title: status }, label.charAt(0).toUpperCase() + label.slice(1));
}

/** "active / limit" (or "active / ∞" without a limit). */
export function concurrency(active, limit) {
  const used = active === null || active === undefined ? 0 : active;
  return h("span", { class: "num", title: limit === null || limit === undefined ? "no limit" : `at most ${limit} at once` }, `${used} / ${limit ?? "∞"}`);
}

/** The address of a pool's page. */
export function poolHref(name) {
  return `/work-pools/${encodeURIComponent(name)}`;
}
