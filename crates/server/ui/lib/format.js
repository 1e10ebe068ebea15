// Numbers, times and durations as people read them.

/** "0.4s", "12.0s", "3m 4s", "2h 5m". */
export function duration(seconds) {
  const s = Number(seconds || 0);
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

/** A timestamp in the reader's locale, or "—". */
export function when(t) {
  return t ? new Date(t).toLocaleString() : "—";
}

/** A timestamp's time of day with milliseconds (log lines). */
export function clock(t) {
  const d = new Date(t);
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** "5s ago", "3m ago", "2h ago", "4d ago" (or "in 5s" for the future). */
export function ago(t) {
  if (!t) return "—";
  const diff = (Date.now() - new Date(t).getTime()) / 1000;
  const abs = Math.abs(diff);
  const text = abs < 60 ? `${Math.round(abs)}s` : abs < 3600 ? `${Math.round(abs / 60)}m` : abs < 86400 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86400)}d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** 10000 → "10,000". */
export function count(n) {
  return Number(n || 0).toLocaleString("en-US");
}

/** "1 task run", "3 task runs". */
export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${n === 1 ? one : many}`;
}
