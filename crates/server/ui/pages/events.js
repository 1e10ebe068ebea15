// The event feed: every stored event, newest first, filtered by name prefix, resource id (or
// its prefix) and time window, the filters kept in the URL, under a bar chart of the window's
// events per time bucket (/api/events/count-by/time). Pages are links following the API's
// next_page (its token in the URL: the server holds the pages still while new events arrive).
// On the first page new events arrive live over /api/events/out. Clicking an event shows its
// JSON, as text.

import { apiKey } from "../lib/auth.js";
import { get, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { clock, count, when } from "../lib/format.js";
import { card, pageHeader, switchControl } from "../lib/layout.js";
import { reload } from "../lib/router.js";
import { table } from "../lib/table.js";
import { countChart } from "../components/charts.js";
import { resourceLabel, showEvent } from "../components/event.js";

/** The windows offered, in milliseconds. */
const WINDOWS = { "15m": 900e3, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };
/** Each window's chart buckets (about 30 bars), as count-by/time's unit and interval. */
const BUCKETS = {
  "15m": { time_unit: "second", time_interval: 30 },
  "1h": { time_unit: "minute", time_interval: 2 },
  "24h": { time_unit: "hour", time_interval: 1 },
  "7d": { time_unit: "hour", time_interval: 6 },
};
const PAGE = 50;

/** The filter the URL's query describes (`until` given: the newest time a page shows). */
function filterOf(q, until) {
  const since = new Date((until ? Date.parse(until) : Date.now()) - WINDOWS[q.window]).toISOString();
  const filter = { occurred: { since, ...(until ? { until } : {}) }, order: "DESC" };
  if (q.prefix) filter.event = { prefix: [q.prefix] };
  if (q.resource) filter.resource = { id_prefix: [q.resource] };
  return filter;
}

/** The feed's address for `q` (empty values left out). */
function address(q) {
  const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined && v !== null && v !== "" && v !== 0));
  const search = params.toString();
  return `/events${search ? `?${search}` : ""}`;
}

/**
 * Follows new events matching `filter` over the /events/out websocket; `onEvent(event)` hears
 * each. Returns a function that stops following.
 */
function follow(filter, onEvent, onStatus) {
  let socket = null;
  let stopped = false;
  let retry = null;
  // Where the subscription starts: now, and after a lost connection a little before it was
  // lost (events shown twice are dropped by id), so nothing in the gap is missed.
  let since = new Date().toISOString();
  const open = () => {
    socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/events/out`, ["prefect"]);
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "auth", token: apiKey() || null }));
      socket.send(JSON.stringify({ type: "filter", filter: { ...filter, order: "ASC", occurred: { since } } }));
    });
    socket.addEventListener("message", (m) => {
      let frame;
      try {
        frame = JSON.parse(m.data);
      } catch {
        return;
      }
      if (frame.type === "auth_success") onStatus("live");
      else if (frame.type === "event" && frame.event) onEvent(frame.event);
    });
    socket.addEventListener("close", () => {
      if (stopped) return;
      since = new Date(Date.now() - 10e3).toISOString();
      onStatus("reconnecting");
      retry = setTimeout(open, 2000);
    });
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    if (socket) socket.close();
  };
}

/** A dotted name that may wrap after its dots (never inside a word). */
function dotted(name) {
  return String(name).split(/(?<=\.)/).flatMap((part, i) => (i ? [h("wbr"), part] : [part]));
}

export default async function eventsPage(ctx) {
  ctx.title("Event Feed");
  const q = {
    prefix: ctx.query.get("prefix") || "",
    resource: ctx.query.get("resource") || "",
    window: WINDOWS[ctx.query.get("window")] ? ctx.query.get("window") : "24h",
    until: ctx.query.get("until") || "",
    page: ctx.query.get("page") || "",
    from: Math.max(0, Number(ctx.query.get("from")) || 0),
    live: ctx.query.get("live") === "0" ? "0" : "",
  };
  const firstPage = !q.page;
  const following = firstPage && q.live !== "0";
  const total = h("span", { id: "event-count" });
  const status = h("span", { class: "live-status", id: "live-status" });
  const shown = new Set();
  let rows = [];

  const events = table({
    empty: "No events match. Widen the window or clear the filters.",
    rowAttrs: (e) => ({ class: ["event-row", e.fresh ? "fresh" : null], dataset: { event: e.event, id: e.id }, tabIndex: 0, onclick: () => showEvent(e, ctx), onkeydown: (k) => k.key === "Enter" && showEvent(e, ctx) }),
    columns: [
      { label: "Occurred", cell: (e) => h("time", { title: when(e.occurred), dateTime: e.occurred }, h("span", { class: "event-date" }, new Date(e.occurred).toLocaleDateString()), " ", clock(e.occurred)) },
      { label: "Event", cell: (e) => h("span", { class: "event-name" }, dotted(e.event)) },
      { label: "Resource", cell: (e) => h("span", { class: "event-resource" }, h("span", {}, resourceLabel(e)), e.resource["prefect.resource.name"] ? h("span", { class: "muted mono" }, e.resource["prefect.resource.id"]) : null) },
      { label: "Related", cell: (e) => (e.related || []).map((r) => h("span", { class: "tag", title: r["prefect.resource.id"] }, r["prefect.resource.role"] || "related", ": ", r["prefect.resource.name"] || r["prefect.resource.id"])) },
    ],
  });

  const go = (changes) => {
    ctx.setQuery({ ...q, ...changes });
    reload();
  };
  const prefix = h("input", { type: "search", id: "event-prefix", placeholder: "Event name starts with…", value: q.prefix, "aria-label": "Event name prefix" });
  const resource = h("input", { type: "search", id: "event-resource", placeholder: "Resource id or prefix…", value: q.resource, "aria-label": "Resource id" });
  const apply = () => go({ prefix: prefix.value.trim(), resource: resource.value.trim(), until: "", page: "", from: 0 });
  for (const input of [prefix, resource]) {
    input.addEventListener("keydown", (e) => e.key === "Enter" && apply());
    input.addEventListener("search", apply);
  }
  const windows = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "Window" },
    Object.keys(WINDOWS).map((k) => h("button", { type: "button", class: k === q.window ? "active" : null, "aria-pressed": String(k === q.window), dataset: { window: k }, onclick: () => go({ window: k, until: "", page: "", from: 0 }) }, k)),
  );
  const live = firstPage
    ? h("span", { class: "switch-label" }, switchControl({ checked: following, label: "Follow live", title: "Show new events as they arrive", onchange: (on) => go({ live: on ? "" : "0" }) }), "Live", status)
    : null;
  const pager = h("div", { class: "pager", id: "event-pager" });
  const chart = countChart();

  mount(
    ctx.view,
    pageHeader({ title: "Event Feed", facts: [total, "Newest first; click an event for its JSON."], actions: [windows] }),
    card({ id: "event-chart" }, chart.element),
    card({ class: "flush", id: "events" }, h("div", { class: "toolbar" }, prefix, resource, h("button", { type: "button", class: "secondary", id: "event-apply", onclick: apply }, "Filter"), h("span", { class: "spacer" }), live), events.element, pager),
  );

  // The newest time the chart shows: fixed once the reader pages, like the pages themselves.
  const anchor = q.until || new Date().toISOString();
  const counted = post("/events/count-by/time", { filter: filterOf(q, anchor), ...BUCKETS[q.window] }, ctx);
  const page = q.page
    ? await get(`/events/filter/next?page-token=${encodeURIComponent(q.page)}`, ctx)
    : await post("/events/filter", { filter: filterOf(q, null), limit: PAGE }, ctx);
  rows = page.events;
  for (const e of rows) shown.add(e.id);
  events.update(rows);
  let matching = page.total;
  const nextToken = page.next_page ? new URL(page.next_page).searchParams.get("page-token") : null;
  const showTotals = () => {
    total.textContent = `${count(matching)} events in the last ${q.window}`;
    const first = matching === 0 ? 0 : q.from + 1;
    mount(
      pager,
      h("span", { class: "pager-status" }, matching === 0 ? "None" : `${count(first)}–${count(q.from + rows.length)} of ${count(matching)}`),
      h(
        "div",
        { class: "pager-buttons" },
        q.page ? h("a", { class: "button secondary small", id: "events-newer", href: address({ ...q, page: "", from: 0, until: "" }) }, "Newest") : null,
        nextToken ? h("a", { class: "button secondary small", id: "events-older", href: address({ ...q, until: anchor, page: nextToken, from: q.from + rows.length }) }, "Older") : null,
      ),
    );
  };
  showTotals();
  const buckets = (await counted).map((b) => ({ start: Date.parse(b.start_time), end: Date.parse(b.end_time), count: b.count }));
  if (buckets.length) chart.update({ start: buckets[0].start, end: buckets[buckets.length - 1].end, buckets });

  /** The live feed's state ("connecting", "live", "reconnecting") on the status element. */
  function showStatus(state) {
    status.dataset.state = state;
    status.textContent = state === "live" ? "" : ` ${state}…`;
  }

  if (following) {
    showStatus("connecting");
    const filter = filterOf(q, null);
    const stop = follow(
      filter,
      (e) => {
        if (shown.has(e.id)) return;
        shown.add(e.id);
        matching += 1;
        rows = [{ ...e, fresh: true }, ...rows].slice(0, PAGE);
        events.update(rows);
        showTotals();
      },
      showStatus,
    );
    ctx.onLeave(stop);
  }
}
