// A run's timeline (Gantt): one row per task run or subflow run, a bar from its start to its
// end coloured by state, retries as separate attempts on the row, dependencies as links. Only
// the rows in view are in the document (10,000 rows cost what 20 do), and a frame is drawn at
// most once per animation frame. Zoom with the buttons, +/- or Ctrl+wheel; pan by dragging,
// Shift+wheel or the arrow keys; hover for details; click to select.

import { h, mount, s } from "../lib/dom.js";
import { count, duration, when } from "../lib/format.js";
import { elapsedLabel, timeStep, timeTicks } from "../lib/scale.js";
import { hideTip, showTip } from "../lib/tooltip.js";
import { stateLabel } from "./state.js";

const ROW = 24;
const BAR = 14;
const MAX_HEIGHT = 440;
const AXIS = 26;
/** About how wide `text` is drawn at the timeline's label size (11–12 px), in px. */
const textWidth = (text) => text.length * 6.6;
/** The width of the axis's "now" label, in px. */
const NOW_LABEL = 24;
/** Finest zoom: a tenth of a millisecond per pixel. */
const MIN_MS_PER_PX = 0.1;

/**
 * A node: `{id, kind ("task-run" | "flow-run"), label, state_type, state_name, start, end,
 * attempts?: [{start, end, state_type}], parents?: [id]}` with times in epoch milliseconds
 * (`end` null while running). `onSelect(node)` hears clicks. Returns `{element, update(nodes,
 * {now, live, origin}), select(id)}`.
 */
export function timeline({ onSelect = () => {} } = {}) {
  let nodes = [];
  let index = new Map();
  let now = Date.now();
  let live = false;
  let origin = 0;
  let width = 0;
  let t0 = 0;
  let msPerPx = 1;
  let userMoved = false;
  let selected = null;
  let frame = 0;

  const axis = s("svg", { class: "tl-axis", height: AXIS });
  const rows = s("svg", { class: "tl-rows" });
  const spacer = h("div", { class: "tl-spacer" }, rows);
  const scroller = h("div", { class: "tl-scroll", tabIndex: 0, "aria-label": "Timeline: drag or use arrow keys to pan, + and - to zoom" }, spacer);
  const summary = h("span", { class: "tl-summary" });
  const button = (title, text, onclick) => h("button", { type: "button", class: "secondary small icon-only", title, "aria-label": title, onclick }, text);
  const element = h(
    "div",
    { class: "timeline" },
    h("div", { class: "tl-toolbar" }, summary, h("div", { class: "tl-buttons" }, button("Zoom out", "−", () => zoom(1.6)), button("Zoom in", "+", () => zoom(1 / 1.6)), h("button", { type: "button", class: "secondary small", onclick: () => fit(true) }, "Fit"))),
    axis,
    scroller,
  );

  const x = (t) => (t - t0) / msPerPx;
  const endOf = (n) => (n.end ?? now);

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function span() {
    let lo = Infinity;
    let hi = -Infinity;
    for (const n of nodes) {
      if (n.start == null) continue;
      lo = Math.min(lo, n.start);
      hi = Math.max(hi, endOf(n));
    }
    if (lo === Infinity) return [origin || now - 1000, now];
    return [lo, Math.max(hi, lo + 1)];
  }

  function fit(byUser = false) {
    if (byUser) userMoved = false;
    if (!width) return;
    const [lo, hi] = span();
    const pad = (hi - lo) * 0.04;
    msPerPx = Math.max(MIN_MS_PER_PX, (hi - lo + 2 * pad) / Math.max(1, width - 160));
    t0 = lo - pad;
    schedule();
  }

  function zoom(factor, px = width / 2) {
    const [lo, hi] = span();
    const at = t0 + px * msPerPx;
    msPerPx = Math.min(Math.max(MIN_MS_PER_PX, msPerPx * factor), ((hi - lo) * 20) / Math.max(1, width));
    t0 = at - px * msPerPx;
    userMoved = true;
    schedule();
  }

  function pan(px) {
    t0 += px * msPerPx;
    userMoved = true;
    schedule();
  }

  function draw() {
    frame = 0;
    if (!width) return;
    const viewHeight = scroller.clientHeight;
    const top = scroller.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW) - 1);
    const last = Math.min(nodes.length, Math.ceil((top + viewHeight) / ROW) + 1);
    const y = (i) => i * ROW - top;
    const step = timeStep(msPerPx, 90);
    const ticks = timeTicks(t0 - origin, t0 - origin + width * msPerPx, step);

    const grid = ticks.map((t) => s("line", { class: "tl-grid", x1: x(t + origin), x2: x(t + origin), y1: 0, y2: viewHeight }));
    const links = [];
    const bars = [];
    for (let i = first; i < last; i++) {
      const n = nodes[i];
      const cy = y(i) + ROW / 2;
      if (n.start == null) {
        bars.push(s("text", { class: "bar-label pending", x: 8, y: cy + 4 }, `${n.label} (not started)`));
        continue;
      }
      const x0 = x(n.start);
      const x1 = Math.max(x0 + 2, x(endOf(n)));
      for (const parent of n.parents || []) {
        const j = index.get(parent);
        const p = j === undefined ? null : nodes[j];
        if (!p || p.start == null) continue;
        const px = x(endOf(p));
        const py = y(j) + ROW / 2;
        const bend = Math.max(12, (x0 - px) / 2);
        links.push(s("path", { class: "tl-link", d: `M${px},${py} C${px + bend},${py} ${x0 - bend},${cy} ${x0},${cy}` }));
      }
      const attempts = n.attempts && n.attempts.length > 1 ? n.attempts : [{ start: n.start, end: n.end, state_type: n.state_type }];
      for (const a of attempts) {
        const a0 = x(a.start);
        const a1 = Math.max(a0 + 2, x(a.end ?? now));
        bars.push(
          s("rect", {
            class: ["bar", a.state_type, n.kind === "flow-run" ? "subflow" : null, n.id === selected ? "selected" : null, a.end == null ? "open" : null, attempts.length > 1 ? "attempt" : null],
            x: a0,
            y: cy - BAR / 2,
            width: a1 - a0,
            height: BAR,
            rx: 3,
            dataset: { id: n.id },
          }),
        );
      }
      const labelWidth = textWidth(n.label);
      const outside = x1 + 6 + labelWidth < width;
      bars.push(s("text", { class: ["bar-label", n.kind === "flow-run" ? "subflow" : null], x: outside ? x1 + 6 : Math.max(4, x0 - 6), y: cy + 4, "text-anchor": outside || x0 - 6 < labelWidth ? "start" : "end" }, n.label));
    }
    const nowLine = live ? s("line", { class: "tl-now", x1: x(now), x2: x(now), y1: 0, y2: viewHeight }) : null;
    rows.setAttribute("width", width);
    rows.setAttribute("height", viewHeight);
    mount(rows, grid, links, bars, nowLine);
    axis.setAttribute("width", width);
    // "now" stands beside its line (left of it near the right edge); a tick label it would
    // cover is left out, its tick kept.
    const nowX = x(now);
    const nowLeft = nowX + 4 + NOW_LABEL > width;
    const nowSpan = nowLeft ? [nowX - 4 - NOW_LABEL, nowX - 4] : [nowX + 4, nowX + 4 + NOW_LABEL];
    const clearOfNow = (from, label) => !live || from + textWidth(label) + 4 < nowSpan[0] || from > nowSpan[1] + 4;
    mount(
      axis,
      ticks.map((t) => {
        const tx = x(t + origin);
        const label = elapsedLabel(t, step);
        return [
          s("line", { class: "tl-tick", x1: tx, x2: tx, y1: AXIS - 6, y2: AXIS }),
          clearOfNow(tx + 4, label) ? s("text", { class: "tl-tick-label", x: tx + 4, y: AXIS - 10 }, label) : null,
        ];
      }),
      live ? s("text", { class: "tl-now-label", x: nowLeft ? nowX - 4 : nowX + 4, y: 11, "text-anchor": nowLeft ? "end" : "start" }, "now") : null,
    );
  }

  /** The node under a pointer event, if its bar (or label) is there. */
  function hit(e) {
    const rect = rows.getBoundingClientRect();
    const i = Math.floor((e.clientY - rect.top + scroller.scrollTop) / ROW);
    const n = nodes[i];
    if (!n) return null;
    if (n.start == null) return n;
    const px = e.clientX - rect.left;
    const x0 = x(n.start);
    const x1 = Math.max(x0 + 2, x(endOf(n)));
    return px >= x0 - 4 && px <= x1 + 6 + textWidth(n.label) ? n : null;
  }

  let drag = null;
  rows.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, t0, top: scroller.scrollTop, moved: false };
    rows.setPointerCapture(e.pointerId);
  });
  rows.addEventListener("pointermove", (e) => {
    if (drag) {
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        hideTip();
        t0 = drag.t0 - dx * msPerPx;
        scroller.scrollTop = drag.top - dy;
        userMoved = true;
        schedule();
      }
      return;
    }
    const n = hit(e);
    rows.style.cursor = n ? "pointer" : "grab";
    if (!n) return hideTip();
    const lines = [["State", n.state_name || stateLabel(n.state_type)]];
    if (n.start != null) lines.push(["Start", when(n.start)], ["Duration", n.end == null ? `${duration((now - n.start) / 1000)} so far` : duration((n.end - n.start) / 1000)]);
    if (n.attempts && n.attempts.length > 1) lines.push(["Attempts", String(n.attempts.length)]);
    if (n.kind === "flow-run") lines.push(["Kind", "subflow run"]);
    showTip(e, n.label, lines);
  });
  rows.addEventListener("pointerup", (e) => {
    const click = drag && !drag.moved;
    drag = null;
    if (!click) return;
    const n = hit(e);
    if (n) {
      select(n.id);
      onSelect(n);
    }
  });
  rows.addEventListener("pointerleave", hideTip);
  scroller.addEventListener("scroll", schedule, { passive: true });
  scroller.addEventListener(
    "wheel",
    (e) => {
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        zoom(Math.exp(e.deltaY * 0.0025), e.clientX - rows.getBoundingClientRect().left);
      } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
        e.preventDefault();
        pan(e.deltaX || e.deltaY);
      }
    },
    { passive: false },
  );
  scroller.addEventListener("keydown", (e) => {
    const keys = { "+": () => zoom(1 / 1.6), "=": () => zoom(1 / 1.6), "-": () => zoom(1.6), ArrowLeft: () => pan(-width / 8), ArrowRight: () => pan(width / 8), 0: () => fit(true) };
    if (keys[e.key]) {
      e.preventDefault();
      keys[e.key]();
    }
  });
  new ResizeObserver(() => {
    const w = Math.floor(scroller.clientWidth);
    if (w > 0 && w !== width) {
      width = w;
      if (!userMoved) fit();
      schedule();
    }
  }).observe(scroller);

  function select(id) {
    selected = id;
    schedule();
  }

  return {
    element,
    select,
    /**
     * Shows `list` (nodes, any order). `origin` is where the axis counts from (the run's start);
     * `total` is how many task runs there are when `list` holds fewer.
     */
    update(list, { now: at = Date.now(), live: running = false, origin: from, total } = {}) {
      now = at;
      live = running;
      nodes = list.slice().sort((a, b) => (a.start ?? Infinity) - (b.start ?? Infinity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      index = new Map(nodes.map((n, i) => [n.id, i]));
      origin = from ?? span()[0];
      spacer.style.height = `${nodes.length * ROW}px`;
      scroller.style.height = `${Math.min(MAX_HEIGHT, Math.max(ROW * 3, nodes.length * ROW)) + 2}px`;
      const subflows = nodes.filter((n) => n.kind === "flow-run").length;
      const tasks = nodes.length - subflows;
      const shown = total !== undefined && total > tasks ? `${count(tasks)} of ${count(total)}` : count(tasks);
      summary.textContent = `${shown} task runs${subflows ? `, ${count(subflows)} subflow runs` : ""}`;
      if (!userMoved) fit();
      schedule();
    },
  };
}
