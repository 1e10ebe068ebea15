// The building blocks every page is laid out with: a header, cards, empty states.

import { h } from "./dom.js";

/**
 * A page's header: breadcrumbs (`[{label, href}]`), a title, an optional badge beside it, a
 * line of facts (strings or nodes) and action buttons on the right.
 */
export function pageHeader({ crumbs = [], title, badge = null, facts = [], actions = [] }) {
  return h(
    "header",
    { class: "page-head" },
    crumbs.length
      ? h("nav", { class: "crumbs", "aria-label": "Breadcrumbs" }, crumbs.map((c) => [c.href ? h("a", { href: c.href }, c.label) : h("span", {}, c.label), h("span", { class: "sep" }, "/")]))
      : null,
    h("div", { class: "page-title" }, h("h1", {}, title), badge, h("div", { class: "actions" }, actions)),
    facts.length ? h("div", { class: "facts" }, facts.filter((f) => f !== null && f !== undefined).map((f) => h("span", {}, f))) : null,
  );
}

/** A card: a titled panel (`title` may be text or nodes; `tools` sit at the title's right). */
export function card({ title, tools = [], id, class: extra } = {}, ...body) {
  return h(
    "section",
    { class: ["card", extra], id },
    title !== undefined ? h("div", { class: "card-head" }, h("h2", {}, title), h("div", { class: "tools" }, tools)) : null,
    body,
  );
}

/**
 * An on/off switch (a checkbox with role="switch", drawn as a sliding knob); `onchange(on)`
 * hears the reader's choice.
 */
export function switchControl({ checked, label, title, onchange }) {
  return h(
    "label",
    { class: "switch", title },
    h("input", { type: "checkbox", role: "switch", checked, "aria-label": label, onchange: (e) => onchange(e.target.checked) }),
    h("span", { class: "slider", "aria-hidden": "true" }),
  );
}

/** A quiet line saying there is nothing to show. */
export function emptyState(text) {
  return h("div", { class: "empty" }, text);
}
