// Charts drawn here in SVG: run activity as bars stacked by state, events counted per time
// bucket, duration by start time as a scatter, and a flow's recent runs as a sparkline. Colours come from the stylesheet's state
// colours, so both themes apply; hovering shows the numbers.

import { h, mount, s } from "../lib/dom.js";
import { count, duration, when } from "../lib/format.js";
import { clockLabel, linear, niceTicks, onWidth, timeStep, timeTicks } from "../lib/scale.js";
import { hideTip, showTip } from "../lib/tooltip.js";
import { STATES, stateLabel } from "./state.js";

const PAD = { left: 44, right: 12, top: 10, bottom: 24 };

/** A chart container that redraws at its width; returns `{element, update(data)}`. */
function chart(className, height, drawAt) {
  const svg = s("svg", { class: ["chart", className], height });
  const element = h("div", { class: "chart-wrap" }, svg);
  let width = 0;
  let data = null;
  const redraw = () => {
    if (width && data) {
      svg.setAttribute("width", width);
      mount(svg, drawAt(data, width, height));
    }
  };
  onWidth(element, (w) => {
    width = w;
    redraw();
  });
  return {
    element,
    update(next) {
      data = next;
      redraw();
    },
  };
}

function yAxis(ticks, y, width, format) {
  return ticks.map((v) => [
    s("line", { class: "grid", x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v) }),
    s("text", { class: "axis-label", x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)),
  ]);
}

function xTimeAxis(t0, t1, x, height) {
  const step = timeStep((t1 - t0) / Math.max(1, x(t1) - x(t0)), 90);
  return timeTicks(t0, t1, step).map((t) => s("text", { class: "axis-label", x: x(t), y: height - 6, "text-anchor": "middle" }, clockLabel(t, step)));
}

/**
 * Flow-run activity: `update({start, end, buckets: [{start, end, counts: {STATE: n}}]})` draws
 * one bar per bucket, stacked by state; `onBucket(bucket)` hears clicks.
 */
export function activityChart({ height = 180, onBucket = () => {} } = {}) {
  return chart("activity", height, ({ start, end, buckets }, width) => {
    const x = linear(start, end, PAD.left, width - PAD.right);
    const totals = buckets.map((b) => STATES.reduce((sum, st) => sum + (b.counts[st] || 0), 0));
    const ticks = niceTicks(Math.max(1, ...totals), 3);
    const y = linear(0, ticks[ticks.length - 1], height - PAD.bottom, PAD.top);
    const bars = buckets.map((b, i) => {
      const bx = x(b.start) + 1;
      const bw = Math.max(1, x(b.end) - x(b.start) - 2);
      let base = 0;
      const segments = STATES.filter((st) => b.counts[st]).map((st) => {
        const from = base;
        base += b.counts[st];
        return s("rect", { class: ["segment", st], x: bx, width: bw, y: y(base), height: Math.max(0, y(from) - y(base)) });
      });
      const lines = STATES.filter((st) => b.counts[st]).map((st) => [stateLabel(st), count(b.counts[st])]);
      return s(
        "g",
        {
          class: "bucket",
          dataset: { total: totals[i] },
          onpointermove: (e) => showTip(e, `${when(b.start)} – ${new Date(b.end).toLocaleTimeString()}`, totals[i] ? lines : ["No runs"]),
          onpointerleave: hideTip,
          onclick: () => onBucket(b),
        },
        s("rect", { class: "hit", x: bx, width: bw, y: PAD.top, height: height - PAD.top - PAD.bottom }),
        segments,
      );
    });
    return [yAxis(ticks, y, width, count), bars, xTimeAxis(start, end, x, height)];
  });
}

/**
 * Counts per time bucket (`/events/count-by/time`): `update({start, end, buckets: [{start, end,
 * count}]})` draws one bar per bucket; hovering shows its count and `noun`.
 */
export function countChart({ height = 120, noun = "events" } = {}) {
  return chart("counts", height, ({ start, end, buckets }, width) => {
    const x = linear(start, end, PAD.left, width - PAD.right);
    const ticks = niceTicks(Math.max(1, ...buckets.map((b) => b.count)), 2);
    const y = linear(0, ticks[ticks.length - 1], height - PAD.bottom, PAD.top);
    const bars = buckets.map((b) => {
      const bx = x(b.start) + 1;
      const bw = Math.max(1, x(b.end) - x(b.start) - 2);
      return s(
        "g",
        {
          class: "bucket",
          dataset: { count: b.count, start: new Date(b.start).toISOString() },
          onpointermove: (e) => showTip(e, `${when(b.start)} – ${new Date(b.end).toLocaleTimeString()}`, [[noun, count(b.count)]]),
          onpointerleave: hideTip,
        },
        s("rect", { class: "hit", x: bx, width: bw, y: PAD.top, height: height - PAD.top - PAD.bottom }),
        s("rect", { class: "events-bar", x: bx, width: bw, y: y(b.count), height: Math.max(0, y(0) - y(b.count)) }),
      );
    });
    return [yAxis(ticks, y, width, count), bars, xTimeAxis(start, end, x, height)];
  });
}

/**
 * Duration by start time: `update({start, end, points: [{x (ms), y (s), state_type, label,
 * href}]})`; clicking a point opens its `href`.
 */
export function durationScatter({ height = 200, onPoint = () => {} } = {}) {
  return chart("scatter", height, ({ start, end, points }, width) => {
    const x = linear(start, end, PAD.left, width - PAD.right);
    const ticks = niceTicks(Math.max(0.001, ...points.map((p) => p.y)), 3);
    const y = linear(0, ticks[ticks.length - 1], height - PAD.bottom, PAD.top);
    const dots = points.map((p) =>
      s("circle", {
        class: ["dot", p.state_type],
        cx: x(p.x),
        cy: y(p.y),
        r: 4,
        onpointermove: (e) => showTip(e, p.label, [["State", stateLabel(p.state_type)], ["Start", when(p.x)], ["Duration", duration(p.y)]]),
        onpointerleave: hideTip,
        onclick: () => onPoint(p),
      }),
    );
    return [yAxis(ticks, y, width, (v) => duration(v)), xTimeAxis(start, end, x, height), dots];
  });
}

/** A flow's recent runs, oldest first: one bar per run, its height the duration, its colour the state. */
export function sparkline(runs, { width = 140, height = 28 } = {}) {
  const max = Math.max(0.001, ...runs.map((r) => r.duration));
  const bw = width / Math.max(runs.length, 12);
  return s(
    "svg",
    { class: "sparkline", width, height, role: "img", "aria-label": `${runs.length} recent runs` },
    runs.map((r, i) => {
      const bh = Math.max(2, (r.duration / max) * (height - 2));
      return s("rect", { class: ["segment", r.state_type], x: i * bw + 1, y: height - bh, width: Math.max(1, bw - 2), height: bh, rx: 1 }, s("title", {}, `${r.name}: ${stateLabel(r.state_type)}, ${duration(r.duration)}`));
    }),
  );
}
