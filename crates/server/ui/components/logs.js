// Logs with context: each line names its task run (or the flow run), shows its level, and can
// be filtered by level and searched; "Follow" keeps the newest line in view as lines arrive, and
// "Download" saves every line of the run as text.

import { post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { clock, count } from "../lib/format.js";
import { icon } from "../lib/icons.js";
import { toast } from "../lib/toast.js";

const LEVELS = [
  [10, "DEBUG"],
  [20, "INFO"],
  [30, "WARNING"],
  [40, "ERROR"],
  [50, "CRITICAL"],
];
/** Lines fetched per request (the API's largest page is 10,000). */
const PAGE = 1000;
/** Lines kept in the document at once; the download has them all. */
const SHOWN = 3000;

/** "INFO" for 20; the nearest level below for numbers between. */
export function levelName(level) {
  let name = "NOTSET";
  for (const [n, label] of LEVELS) if (level >= n) name = label;
  return name;
}

/** Names of the task runs `ids`, fetched once each and remembered in `known`. */
async function nameTasks(ids, known, signal) {
  const missing = [...new Set(ids)].filter((id) => id && !known.has(id));
  for (let i = 0; i < missing.length; i += 1000) {
    const chunk = missing.slice(i, i + 1000);
    const runs = await post("/task_runs/filter", { task_runs: { id: { any_: chunk } }, limit: chunk.length }, { signal });
    for (const r of runs) known.set(r.id, r.name);
  }
}

/**
 * The log view of a flow run (`scope = {flow_run_id}`) or a task run (`{task_run_id}`);
 * `fileName` names the download. Returns `{element, refresh()}`; call `refresh()` on a timer
 * for live runs. `taskNames` may share a Map of task-run names the page already knows.
 */
export function logView({ scope, signal, fileName = "logs", taskNames = new Map() }) {
  let lines = [];
  let seen = new Set();
  let minLevel = 0;
  let query = "";
  let follow = false;
  const list = h("div", { class: "log-lines", role: "log" });
  const status = h("span", { class: "log-status" });
  const level = h("select", { class: "small", "aria-label": "Lowest level shown" }, h("option", { value: 0 }, "All levels"), LEVELS.map(([n, label]) => h("option", { value: n }, `${label} and above`)));
  const search = h("input", { type: "search", class: "small", placeholder: "Search logs", "aria-label": "Search logs" });
  const followButton = h("button", { type: "button", class: "secondary small", "aria-pressed": "false", onclick: toggleFollow }, icon("play"), "Follow");
  const download = h("button", { type: "button", class: "secondary small", onclick: save }, icon("download"), "Download");
  const element = h("div", { class: ["log-view", scope.task_run_id ? "one-task" : null] }, h("div", { class: "log-tools" }, level, search, followButton, download), list, h("div", { class: "log-foot" }, status));
  const filter = () => {
    const logs = {};
    if (scope.flow_run_id) logs.flow_run_id = { any_: [scope.flow_run_id] };
    if (scope.task_run_id) logs.task_run_id = { any_: [scope.task_run_id] };
    if (minLevel) logs.level = { ge_: minLevel };
    return logs;
  };

  level.addEventListener("change", () => {
    minLevel = Number(level.value);
    lines = [];
    seen = new Set();
    refresh();
  });
  search.addEventListener("input", () => {
    query = search.value.toLowerCase();
    render();
  });

  function toggleFollow() {
    follow = !follow;
    followButton.classList.toggle("active", follow);
    followButton.setAttribute("aria-pressed", String(follow));
    mount(followButton, icon(follow ? "pause" : "play"), follow ? "Following" : "Follow");
    if (follow) list.scrollTop = list.scrollHeight;
  }

  /**
   * Loads the next page of lines after the newest one held: a long log arrives a page per call
   * (the page calls this on its timer), so the first lines show at once.
   */
  async function refresh() {
    const logs = filter();
    const last = lines[lines.length - 1];
    if (last) logs.timestamp = { after_: last.timestamp };
    const page = await post("/logs/filter", { logs, sort: "TIMESTAMP_ASC", limit: PAGE }, { signal });
    const fresh = page.filter((l) => !seen.has(l.id));
    for (const l of fresh) seen.add(l.id);
    lines.push(...fresh);
    await nameTasks(fresh.map((l) => l.task_run_id), taskNames, signal);
    render();
  }

  function matches(l) {
    if (!query) return true;
    const task = l.task_run_id ? taskNames.get(l.task_run_id) || "" : "";
    return l.message.toLowerCase().includes(query) || task.toLowerCase().includes(query);
  }

  function render() {
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    const matching = query ? lines.filter(matches) : lines;
    const shown = matching.slice(-SHOWN);
    mount(list, shown.length ? shown.map(line) : h("div", { class: "empty" }, lines.length ? "No line matches." : "No logs yet."));
    const held = `${count(lines.length)} ${lines.length === 1 ? "line" : "lines"}`;
    status.textContent = query ? `${count(matching.length)} of ${held} match` : held;
    if (matching.length > shown.length) status.textContent += ` · the newest ${count(SHOWN)} shown; Download has them all`;
    if (follow || atBottom) list.scrollTop = list.scrollHeight;
  }

  function line(l) {
    const name = l.task_run_id ? taskNames.get(l.task_run_id) : null;
    const source = l.task_run_id
      ? h("a", { class: "log-source", href: `/runs/task-run/${encodeURIComponent(l.task_run_id)}`, title: name || l.task_run_id }, name || "task run")
      : h("span", { class: "log-source flow" }, "flow run");
    const label = levelName(l.level);
    return h("div", { class: ["log-line", `level-${label.toLowerCase()}`], dataset: { task: l.task_run_id || "" } }, h("time", { dateTime: l.timestamp, title: l.timestamp }, clock(l.timestamp)), h("span", { class: "log-level" }, label), source, h("span", { class: "message" }, highlight(l.message)));
  }

  function highlight(text) {
    if (!query) return text;
    const out = [];
    const lower = text.toLowerCase();
    let at = 0;
    for (let i = lower.indexOf(query); i !== -1; i = lower.indexOf(query, at)) {
      out.push(text.slice(at, i), h("mark", {}, text.slice(i, i + query.length)));
      at = i + query.length;
    }
    out.push(text.slice(at));
    return out;
  }

  async function save() {
    download.disabled = true;
    try {
      const all = [];
      const logs = filter();
      for (let offset = 0; ; offset += 10000) {
        const page = await post("/logs/filter", { logs, sort: "TIMESTAMP_ASC", limit: 10000, offset }, { signal });
        all.push(...page);
        if (page.length < 10000) break;
      }
      await nameTasks(all.map((l) => l.task_run_id), taskNames, signal);
      const text = all.map((l) => `${l.timestamp} | ${levelName(l.level).padEnd(8)} | ${l.task_run_id ? taskNames.get(l.task_run_id) || l.task_run_id : "flow run"} | ${l.message}`).join("\n");
      const url = URL.createObjectURL(new Blob([text + "\n"], { type: "text/plain" }));
      const a = h("a", { href: url, download: `${fileName}.log` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      toast(`Download failed: ${e.message}`, "error");
    } finally {
      download.disabled = false;
    }
  }

  return { element, refresh };
}
