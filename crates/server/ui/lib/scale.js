// Scales and ticks for charts and the timeline.

/** A linear map from [d0, d1] onto [r0, r1]; `.invert(r)` maps back. */
export function linear(d0, d1, r0, r1) {
  const k = (r1 - r0) / (d1 - d0 || 1);
  const f = (v) => r0 + (v - d0) * k;
  f.invert = (r) => d0 + (r - r0) / k;
  return f;
}

/** A round step (1, 2 or 5 × a power of ten) near `raw`. */
export function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** About `count` round values from 0 up to the first at or above `max` (so nothing drawn overflows the axis). */
export function niceTicks(max, count = 4) {
  const step = niceStep(max / count);
  const ticks = [0];
  while (ticks[ticks.length - 1] < max - step * 0.001 || ticks.length < 2) ticks.push(ticks.length * step);
  return ticks;
}

const TIME_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  1e3, 2e3, 5e3, 10e3, 15e3, 30e3,
  60e3, 120e3, 300e3, 600e3, 900e3, 1800e3,
  3600e3, 7200e3, 10800e3, 21600e3, 43200e3,
  86400e3, 2 * 86400e3, 7 * 86400e3, 30 * 86400e3,
];

/** The smallest time step (ms) whose ticks are at least `minPx` apart at `msPerPx`. */
export function timeStep(msPerPx, minPx = 80) {
  return TIME_STEPS.find((s) => s / msPerPx >= minPx) ?? TIME_STEPS[TIME_STEPS.length - 1];
}

/** Multiples of `step` between `t0` and `t1`. */
export function timeTicks(t0, t1, step) {
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
  return ticks;
}

/** An elapsed time (ms) as a tick label at this step: "250ms", "1.5s", "3m", "2h", "1d". */
export function elapsedLabel(ms, step) {
  const sign = ms < 0 ? "-" : "";
  const a = Math.abs(ms);
  if (step < 1000) return `${sign}${a >= 1000 ? (a / 1000).toFixed(step < 100 ? 2 : 1) + "s" : Math.round(a) + "ms"}`;
  if (step < 60e3) return `${sign}${+(a / 1000).toFixed(1)}s`;
  if (step < 3600e3) return `${sign}${Math.floor(a / 60e3)}m${a % 60e3 ? ` ${Math.round((a % 60e3) / 1000)}s` : ""}`;
  if (step < 86400e3) return `${sign}${Math.floor(a / 3600e3)}h${a % 3600e3 ? ` ${Math.round((a % 3600e3) / 60e3)}m` : ""}`;
  return `${sign}${Math.round(a / 86400e3)}d`;
}

/** A wall-clock time as a tick label at this step: "14:05", "14:05:30", "Mar 3". */
export function clockLabel(t, step) {
  const d = new Date(t);
  if (step >= 86400e3) return d.toLocaleDateString([], { month: "short", day: "numeric" });
  if (step >= 60e3) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  return d.toLocaleTimeString([], { hour12: false });
}

/** Calls `draw(width)` now and whenever `element`'s width changes. */
export function onWidth(element, draw) {
  let last = -1;
  const observer = new ResizeObserver(() => {
    const w = Math.floor(element.clientWidth);
    if (w > 0 && w !== last) {
      last = w;
      draw(w);
    }
  });
  observer.observe(element);
  return () => observer.disconnect();
}
