// Short-lived messages in the corner: an action's outcome or a failed refresh.

import { h } from "./dom.js";

let stack = null;

/** Shows `message` (text) for a few seconds; `kind` is "info", "success" or "error". */
export function toast(message, kind = "info") {
  if (!stack) {
    stack = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(stack);
  }
  const item = h("div", { class: ["toast", kind] }, message);
  stack.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}
