// One floating tooltip for charts and the timeline: lines of text near the pointer.

import { h, mount } from "./dom.js";

let tip = null;

/** Shows `lines` (strings or [label, value] pairs) near the pointer event `e`. */
export function showTip(e, title, lines = []) {
  if (!tip) {
    tip = h("div", { class: "tooltip", role: "tooltip" });
    document.body.append(tip);
  }
  mount(
    tip,
    h("div", { class: "tooltip-title" }, title),
    lines.map((l) => (Array.isArray(l) ? h("div", { class: "tooltip-row" }, h("span", {}, l[0]), h("span", {}, l[1])) : h("div", {}, l))),
  );
  tip.hidden = false;
  const pad = 14;
  const { innerWidth: w, innerHeight: hgt } = window;
  const rect = tip.getBoundingClientRect();
  const x = e.clientX + pad + rect.width > w ? e.clientX - pad - rect.width : e.clientX + pad;
  const y = e.clientY + pad + rect.height > hgt ? e.clientY - pad - rect.height : e.clientY + pad;
  tip.style.transform = `translate(${Math.max(4, x)}px, ${Math.max(4, y)}px)`;
}

/** Hides the tooltip. */
export function hideTip() {
  if (tip) tip.hidden = true;
}
