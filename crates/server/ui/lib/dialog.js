// Modal dialogs: a title, a body and a footer of buttons, closed by its ✕, Escape or the page
// being left (pass the page's AbortSignal).

import { h } from "./dom.js";
import { icon } from "./icons.js";

/**
 * Opens a modal `<dialog id={id}>` with `title`, `body` (nodes) and `footer` (buttons); returns
 * `{element, close}`. The dialog is removed from the document when closed.
 */
export function openDialog({ id, title, body = [], footer = [], signal, onClose = () => {} }) {
  const element = h(
    "dialog",
    { id, class: "modal", "aria-label": title },
    h("div", { class: "modal-head" }, h("h2", {}, title), h("button", { type: "button", class: "ghost icon-only", "aria-label": "Close", onclick: () => close() }, icon("close"))),
    h("div", { class: "modal-body" }, body),
    h("div", { class: "modal-foot" }, footer),
  );
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    if (element.open) element.close();
    element.remove();
    onClose();
  }
  element.addEventListener("close", close);
  if (signal) signal.addEventListener("abort", close, { once: true });
  document.body.append(element);
  element.showModal();
  return { element, close };
}
