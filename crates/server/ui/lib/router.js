// The single page's router: finds the page for the address (patterns like
// "/runs/flow-run/:id"), loads its module on first use, and gives it a PageContext. Links to
// this origin navigate without a reload; the back button works. Leaving a page aborts its
// requests and stops its timers, so a page never has to clean up after itself.

import { h, mount } from "./dom.js";
import { isAbort } from "./api.js";
import { toast } from "./toast.js";

let pages = [];
let root = null;
let onShow = () => {};
let current = null;

/**
 * Starts routing. `pageList` is ui/pages.js's PAGES; `view` the element pages render into;
 * `shown(path)` is called on every navigation (the navigation highlights its entry).
 */
export function startRouter(pageList, view, shown) {
  pages = pageList.map((p) => ({ ...p, pattern: compile(p.path) }));
  root = view;
  onShow = shown;
  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest("a[href]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
    if (a.pathname.startsWith("/api/") || a.pathname.startsWith("/ui/")) return;
    e.preventDefault();
    navigate(a.pathname + a.search + a.hash);
  });
  window.addEventListener("popstate", show);
  show();
}

/** Goes to `url` (a path on this origin); `replace` keeps the back button where it was. */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  show();
  if (!replace) window.scrollTo(0, 0);
}

/** Shows the current address's page again (e.g. after an action changed what it shows). */
export function reload() {
  show();
}

function compile(path) {
  const names = [];
  const source = path
    .split("/")
    .map((part) => {
      if (!part.startsWith(":")) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(part.slice(1));
      return "([^/]+)";
    })
    .join("/");
  return { regex: new RegExp(`^${source}/?$`), names };
}

function find(pathname) {
  for (const page of pages) {
    const m = page.pattern.regex.exec(pathname);
    if (m) {
      const params = Object.fromEntries(page.pattern.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      return { page, params };
    }
  }
  return null;
}

async function show() {
  if (current) current.leave();
  const found = find(location.pathname);
  if (found && found.page.redirect) {
    history.replaceState(null, "", found.page.redirect + location.search);
    return show();
  }
  const view = h("div", { class: "page" });
  mount(root, view);
  const ctx = new PageContext(view, found ? found.params : {});
  current = ctx;
  onShow(location.pathname);
  if (!found) {
    ctx.title("Not found");
    mount(view, h("div", { class: "empty-state" }, h("h1", {}, "No such page"), h("p", {}, location.pathname), h("a", { href: "/" }, "Go to the start page")));
    return;
  }
  try {
    const module = await import(`../pages/${found.page.module}.js`);
    if (ctx.live) await module.default(ctx);
    // When the page first stood complete (ms since the navigation): what "interactive" is
    // measured by (the run-page benchmark reads it with the Performance API).
    if (ctx.live) performance.mark(`page:${found.page.module}`);
  } catch (error) {
    if (!ctx.live || isAbort(error)) return;
    console.error(error);
    mount(view, h("div", { class: "empty-state error-state" }, h("h1", {}, "This page could not be shown"), h("p", {}, error.message || String(error))));
  }
}

/** What a page gets: where to render, its address's parameters, and a lifetime. */
export class PageContext {
  constructor(view, params) {
    /** The element the page fills (with `mount(ctx.view, ...)`). */
    this.view = view;
    /** Path parameters, e.g. `{id}` for "/runs/flow-run/:id". */
    this.params = params;
    /** The address's query (filters kept in the URL). */
    this.query = new URLSearchParams(location.search);
    this.controller = new AbortController();
    this.leaving = [];
  }

  /** Aborted when the page is left: pass it to every request (`{signal: ctx.signal}`). */
  get signal() {
    return this.controller.signal;
  }

  /** Whether the page is still the one shown. */
  get live() {
    return !this.controller.signal.aborted;
  }

  /** Sets the window's title. */
  title(text) {
    document.title = text ? `${text} · Flowgate` : "Flowgate";
  }

  /**
   * Replaces the address's query with `params` (an object or URLSearchParams; empty values are
   * dropped) without showing the page again, so a view can be shared and survives a reload.
   */
  setQuery(params) {
    const q = new URLSearchParams();
    for (const [k, v] of params instanceof URLSearchParams ? params : Object.entries(params)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, v);
    }
    this.query = q;
    const search = q.toString();
    history.replaceState(null, "", location.pathname + (search ? `?${search}` : ""));
  }

  /**
   * Calls `fn` every `ms` while the page is shown and the tab visible, never twice at once. A
   * failure is reported once as a toast and retried on the next tick.
   */
  every(ms, fn) {
    let busy = false;
    let failing = false;
    const tick = async () => {
      if (busy || document.hidden || !this.live) return;
      busy = true;
      try {
        await fn();
        failing = false;
      } catch (error) {
        if (!isAbort(error) && !failing) toast(`Refreshing failed: ${error.message}`, "error");
        failing = true;
      } finally {
        busy = false;
      }
    };
    const id = setInterval(tick, ms);
    this.onLeave(() => clearInterval(id));
  }

  /** Runs `fn` when the page is left. */
  onLeave(fn) {
    this.leaving.push(fn);
  }

  leave() {
    this.controller.abort();
    for (const fn of this.leaving) fn();
    this.leaving = [];
  }
}
