// Line icons drawn here (24×24, stroked with the text colour), built as SVG elements.

import { s } from "./dom.js";

const PATHS = {
  dashboard: ["M4 4h7v9H4z", "M13 4h7v5h-7z", "M13 11h7v9h-7z", "M4 15h7v5H4z"],
  runs: ["M5 6h14", "M5 12h14", "M5 18h9", "M18 16l3 2-3 2z"],
  api: ["M8 7l-5 5 5 5", "M16 7l5 5-5 5", "M14 4l-4 16"],
  flows: ["M6 4v8a4 4 0 0 0 4 4h8", "M15 13l3 3-3 3", "M6 4a2 2 0 1 0 0 .01"],
  deployments: ["M12 3l8 4.5v9L12 21l-8-4.5v-9z", "M12 12l8-4.5", "M12 12v9", "M12 12L4 7.5"],
  pools: ["M4 6h16v4H4z", "M4 14h16v4H4z", "M8 8h.01", "M8 16h.01"],
  artifacts: ["M6 3h9l4 4v14H6z", "M14 3v5h5", "M9 13h7", "M9 17h5"],
  variables: ["M8 4c-2 0-2 2-2 4s-1 4-3 4c2 0 3 2 3 4s0 4 2 4", "M16 4c2 0 2 2 2 4s1 4 3 4c-2 0-3 2-3 4s0 4-2 4", "M10 10l4 4", "M14 10l-4 4"],
  concurrency: ["M4 7h16", "M4 12h16", "M4 17h16", "M9 5v4", "M15 10v4", "M7 15v4"],
  automations: ["M13 3L5 13h6l-1 8 8-10h-6z"],
  events: ["M3 12h4l3-7 4 14 3-7h4"],
  sun: ["M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8", "M12 2v2", "M12 20v2", "M4.9 4.9l1.4 1.4", "M17.7 17.7l1.4 1.4", "M2 12h2", "M20 12h2", "M4.9 19.1l1.4-1.4", "M17.7 6.3l1.4-1.4"],
  moon: ["M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5z"],
  left: ["M15 6l-6 6 6 6"],
  right: ["M9 6l6 6-6 6"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
  search: ["M11 5a6 6 0 1 0 0 12a6 6 0 1 0 0-12", "M20 20l-4.5-4.5"],
  pause: ["M9 6v12", "M15 6v12"],
  play: ["M8 5l11 7-11 7z"],
};

/** The icon `name` (see PATHS) as an `<svg class="icon">`. */
export function icon(name) {
  return s(
    "svg",
    { class: "icon", viewBox: "0 0 24 24", "aria-hidden": "true", fill: "none", stroke: "currentColor", "stroke-width": 1.8, "stroke-linecap": "round", "stroke-linejoin": "round" },
    (PATHS[name] || []).map((d) => s("path", { d })),
  );
}
