// The sidebar's links, made from the pages that have a `nav` label (ui/pages.js), highlighted
// by the longest path the current address starts with.

import { h } from "./dom.js";
import { icon } from "./icons.js";

/** `{element, highlight(path)}` for the pages with a `nav` entry, in their listed order. */
export function navigation(pages) {
  const entries = pages
    .filter((p) => p.nav)
    .map((p) => ({ path: p.path, link: h("a", { href: p.path, class: "nav-link" }, icon(p.icon), h("span", {}, p.nav)) }));
  return {
    element: h("div", { class: "nav-links" }, entries.map((e) => e.link)),
    highlight(path) {
      const within = (base) => base === "/" ? path === "/" : path === base || path.startsWith(`${base}/`);
      const best = entries.filter((e) => within(e.path)).sort((a, b) => b.path.length - a.path.length)[0];
      for (const e of entries) {
        e.link.classList.toggle("active", e === best);
        if (e === best) e.link.setAttribute("aria-current", "page");
        else e.link.removeAttribute("aria-current");
      }
    },
  };
}
