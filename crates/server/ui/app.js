// Flowgate's web UI: flow runs, one run's page, and the resume dialog generated from the input
// schema a paused flow stored. Plain JavaScript over the HTTP API; no build step.
"use strict";

const API = "/api";
const app = document.getElementById("app");
let refreshTimer = null;

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(API + path, init);
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error((data && data.detail) || res.statusText);
  return data;
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** Minimal markdown, escaped first: headings, bold, italics, code, lists, paragraphs. */
function markdown(src) {
  const inline = (t) => esc(t)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\*([^*]+)\*/g, "<em>$1</em>");
  const out = [];
  let list = false;
  for (const line of String(src ?? "").split("\n")) {
    const h = line.match(/^(#{1,3})\s+(.*)$/);
    const li = line.match(/^\s*[-*]\s+(.*)$/);
    if (li) { if (!list) { out.push("<ul>"); list = true; } out.push(`<li>${inline(li[1])}</li>`); continue; }
    if (list) { out.push("</ul>"); list = false; }
    if (h) out.push(`<h${h[1].length + 1}>${inline(h[2])}</h${h[1].length + 1}>`);
    else if (line.trim()) out.push(`<p>${inline(line)}</p>`);
  }
  if (list) out.push("</ul>");
  return out.join("");
}

const badge = (run) => `<span class="badge ${esc(run.state_type)}">${esc(run.state_name || run.state_type || "—")}</span>`;
const when = (t) => (t ? new Date(t).toLocaleString() : "—");
function duration(seconds) {
  const s = Number(seconds || 0);
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
}

function route() {
  clearInterval(refreshTimer);
  const m = location.pathname.match(/^\/runs\/flow-run\/([0-9a-f-]{36})$/);
  if (m) return runPage(m[1]);
  return runList();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a");
  if (a && a.origin === location.origin && !e.metaKey && !e.ctrlKey) {
    e.preventDefault();
    history.pushState(null, "", a.pathname + a.search);
    route();
  }
});
window.addEventListener("popstate", route);

// ---- flow runs list -------------------------------------------------------------------------
const STATES = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED"];

async function runList() {
  const params = new URLSearchParams(location.search);
  const flows = (await api("/flows/filter", { limit: 1000 })) || [];
  app.innerHTML = `
    <h1>Flow runs</h1>
    <div class="toolbar">
      <input id="search" type="search" placeholder="Search run names" value="${esc(params.get("q") || "")}">
      <select id="state"><option value="">All states</option>${STATES.map((s) => `<option ${params.get("state") === s ? "selected" : ""}>${s}</option>`).join("")}</select>
      <select id="flow"><option value="">All flows</option>${flows.map((f) => `<option ${params.get("flow") === f.name ? "selected" : ""}>${esc(f.name)}</option>`).join("")}</select>
    </div>
    <div class="panel"><table><thead><tr><th>State</th><th>Flow</th><th>Run</th><th>Started</th><th>Duration</th></tr></thead><tbody id="rows"></tbody></table></div>`;
  const flowName = Object.fromEntries(flows.map((f) => [f.id, f.name]));
  const apply = () => {
    const q = new URLSearchParams();
    for (const id of ["search", "state", "flow"]) { const v = document.getElementById(id).value; if (v) q.set(id === "search" ? "q" : id, v); }
    history.replaceState(null, "", "/runs" + (q.toString() ? "?" + q : ""));
    load();
  };
  for (const id of ["search", "state", "flow"]) document.getElementById(id).addEventListener(id === "search" ? "input" : "change", apply);
  async function load() {
    const p = new URLSearchParams(location.search);
    const body = { sort: "CREATED_DESC", limit: 50, flow_runs: {} };
    if (p.get("state")) body.flow_runs.state = { type: { any_: [p.get("state")] } };
    if (p.get("q")) body.flow_runs.name = { like_: p.get("q") };
    if (p.get("flow")) body.flows = { name: { any_: [p.get("flow")] } };
    const runs = (await api("/flow_runs/filter", body)) || [];
    const rows = document.getElementById("rows");
    if (!rows) return;
    rows.innerHTML = runs.length ? runs.map((r) => `<tr data-run="${esc(r.id)}">
        <td>${badge(r)}</td><td>${esc(flowName[r.flow_id] || "")}</td>
        <td><a href="/runs/flow-run/${esc(r.id)}">${esc(r.name)}</a></td>
        <td>${when(r.start_time)}</td><td>${duration(r.estimated_run_time)}</td></tr>`).join("")
      : `<tr><td colspan="5" class="empty">No flow runs match.</td></tr>`;
  }
  await load();
  refreshTimer = setInterval(load, 2000);
}

// ---- one flow run ---------------------------------------------------------------------------
async function runPage(id) {
  app.innerHTML = `<div id="head"></div>
    <div class="grid">
      <section><h2>Task runs</h2><div class="panel"><table><thead><tr><th>State</th><th>Task run</th><th>Duration</th></tr></thead><tbody id="tasks"></tbody></table></div>
        <h2>Parameters</h2><div class="panel"><pre id="params"></pre></div>
        <div id="resumes"></div></section>
      <section><h2>Logs</h2><div class="panel logs"><table><tbody id="logs"></tbody></table></div></section>
    </div>`;
  async function load() {
    const [run, tasks, logs] = await Promise.all([
      api(`/flow_runs/${id}`),
      api("/task_runs/filter", { flow_runs: { id: { any_: [id] } }, sort: "EXPECTED_START_TIME_ASC", limit: 200 }),
      api("/logs/filter", { logs: { flow_run_id: { any_: [id] } }, sort: "TIMESTAMP_ASC", limit: 1000 }),
    ]);
    const flow = await api(`/flows/${run.flow_id}`);
    const paused = run.state_type === "PAUSED";
    const active = !["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].includes(run.state_type);
    document.getElementById("head").innerHTML = `
      <div class="run-head">
        <h1><a href="/runs?flow=${encodeURIComponent(flow.name)}">${esc(flow.name)}</a> &gt; ${esc(run.name)}</h1>
        ${badge(run)}
        <div class="facts"><span>${when(run.start_time)}</span><span>${Object.keys(run.parameters || {}).length} Parameters</span>
          <span>${duration(run.estimated_run_time)}</span><span>${(tasks || []).length} Task runs</span></div>
        <div class="actions">
          ${paused ? `<button id="resume" class="primary" type="button">Resume</button>` : ""}
          ${active ? `<button id="cancel" class="secondary" type="button">Cancel</button>` : ""}
        </div>
      </div>
      ${run.state && run.state.message ? `<p class="muted">${esc(run.state.message)}</p>` : ""}`;
    if (paused) document.getElementById("resume").onclick = () => openResume(run);
    if (active) document.getElementById("cancel").onclick = async () => {
      await api(`/flow_runs/${id}/set_state`, { state: { type: "CANCELLED", name: "Cancelled", message: "Cancelled from the UI" } });
      load();
    };
    document.getElementById("params").textContent = JSON.stringify(run.parameters || {}, null, 2);
    document.getElementById("tasks").innerHTML = (tasks || []).map((t) => `<tr><td>${badge(t)}</td><td>${esc(t.name)}</td><td>${duration(t.total_run_time)}</td></tr>`).join("")
      || `<tr><td colspan="3" class="empty">This flow run has not generated any task runs.</td></tr>`;
    const logBox = document.getElementById("logs");
    logBox.innerHTML = (logs || []).map((l) => `<tr class="level-${l.level}"><td>${new Date(l.timestamp).toLocaleTimeString()}</td><td>${esc(l.message)}</td></tr>`).join("")
      || `<tr><td class="empty">No logs yet.</td></tr>`;
    const resumed = await api("/events/filter", { filter: { event: { name: ["prefect.flow-run.Resumed"] }, resource: { id: [`prefect.flow-run.${id}`] }, order: "ASC" }, limit: 50 });
    const items = await Promise.all((resumed.events || []).map(async (e) => {
      let value = "";
      if (e.payload.input_key) {
        const found = await api(`/flow_runs/${id}/input/filter`, { prefix: e.payload.input_key, limit: 1 });
        value = found && found[0] ? found[0].value : "";
      }
      return `<tr><td>${when(e.occurred)}</td><td>${esc(e.payload.resumed_by || "someone")}</td><td><code>${esc(value)}</code></td></tr>`;
    }));
    document.getElementById("resumes").innerHTML = items.length
      ? `<h2>Resumes</h2><div class="panel"><table><thead><tr><th>When</th><th>Who</th><th>Input</th></tr></thead><tbody>${items.join("")}</tbody></table></div>` : "";
  }
  await load();
  refreshTimer = setInterval(() => { if (!document.getElementById("resume-dialog").open) load(); }, 2000);
}

// ---- resume dialog --------------------------------------------------------------------------
async function inputValue(runId, key) {
  if (!key) return null;
  const found = await api(`/flow_runs/${runId}/input/filter`, { prefix: key, limit: 1 });
  return found && found[0] && found[0].key === key ? JSON.parse(found[0].value) : null;
}

/** The property's own schema: `$ref`s into `$defs` followed, the non-null branch of unions. */
function resolve(schema, prop) {
  let p = prop || {};
  for (let i = 0; i < 5; i++) {
    if (p.$ref) { p = { ...(schema.$defs || schema.definitions || {})[p.$ref.split("/").pop()], ...p, $ref: undefined }; continue; }
    const union = p.anyOf || p.oneOf || p.allOf;
    const choices = union && union.filter((b) => b.type !== "null");
    if (choices && choices.length && choices.every((b) => b.const !== undefined || (b.enum && b.enum.length === 1))) {
      // An enum whose variants are documented: one branch per value.
      p = { ...p, enum: choices.map((b) => (b.const !== undefined ? b.const : b.enum[0])), type: "string", anyOf: undefined, oneOf: undefined, allOf: undefined };
      break;
    }
    if (union) { p = { ...union.find((b) => b.type !== "null") || {}, ...p, anyOf: undefined, oneOf: undefined, allOf: undefined }; continue; }
    break;
  }
  const type = Array.isArray(p.type) ? p.type.find((t) => t !== "null") : p.type;
  return { ...p, type };
}

function field(schema, name, prop, required) {
  const p = resolve(schema, prop);
  const label = esc(p.title || name) + (required ? "" : ` <span class="muted">(Optional)</span>`);
  const id = `field-${name}`;
  const def = p.default;
  let control;
  if (p.enum) {
    control = `<select id="${id}" name="${esc(name)}">${required ? "" : `<option value=""></option>`}${p.enum.map((v) => `<option ${v === def ? "selected" : ""} value="${esc(JSON.stringify(v))}">${esc(v)}</option>`).join("")}</select>`;
  } else if (p.type === "boolean") {
    return `<div class="field checkbox" data-field="${esc(name)}"><input id="${id}" name="${esc(name)}" type="checkbox" ${def ? "checked" : ""}><label for="${id}">${label}</label><span class="field-error"></span></div>`;
  } else if (p.type === "integer" || p.type === "number") {
    const bounds = `${p.minimum !== undefined ? `min="${p.minimum}"` : ""} ${p.maximum !== undefined ? `max="${p.maximum}"` : ""}`;
    control = `<input id="${id}" name="${esc(name)}" type="number" step="${p.type === "integer" ? 1 : "any"}" ${bounds} value="${def ?? ""}">`;
  } else {
    control = `<input id="${id}" name="${esc(name)}" type="text" value="${esc(def ?? "")}">`;
  }
  return `<div class="field" data-field="${esc(name)}" data-type="${esc(p.type || "")}"><label for="${id}">${label}</label>${control}
    ${p.description ? `<span class="hint">${esc(p.description)}</span>` : ""}<span class="field-error"></span></div>`;
}

function collect(schema) {
  const out = {};
  for (const el of document.querySelectorAll("#resume-fields [name]")) {
    const name = el.name;
    if (el.type === "checkbox") out[name] = el.checked;
    else if (el.tagName === "SELECT") { if (el.value !== "") out[name] = JSON.parse(el.value); }
    else if (el.type === "number") { if (el.value !== "") out[name] = Number(el.value); }
    else if (el.value !== "" || (schema.required || []).includes(name)) out[name] = el.value;
  }
  return out;
}

function showErrors(reason) {
  const general = [];
  for (const failure of String(reason).split("; ")) {
    const m = failure.match(/field '([^']+)'\. Failure reason: (.*)$/);
    const box = m && document.querySelector(`#resume-fields [data-field="${CSS.escape(m[1].split(".")[0])}"]`);
    if (box) { box.classList.add("invalid"); box.querySelector(".field-error").textContent = m[2]; }
    else general.push(failure);
  }
  const err = document.getElementById("resume-error");
  err.textContent = general.join(" ");
  err.hidden = general.length === 0;
}

async function openResume(run) {
  const dialog = document.getElementById("resume-dialog");
  const keyset = (run.state.state_details || {}).run_input_keyset;
  const schema = keyset ? (await inputValue(run.id, keyset.schema)) || {} : null;
  const description = keyset ? await inputValue(run.id, keyset.description) : null;
  document.getElementById("resume-description").innerHTML = description ? markdown(description) : "";
  const props = (schema && schema.properties) || {};
  document.getElementById("resume-fields").innerHTML = schema
    ? Object.entries(props).map(([k, p]) => field(schema, k, p, (schema.required || []).includes(k))).join("")
    : `<p class="muted">This flow run waits for a plain resume.</p>`;
  document.getElementById("resume-error").hidden = true;
  document.getElementById("resume-submit").onclick = async () => {
    for (const f of document.querySelectorAll("#resume-fields .field")) { f.classList.remove("invalid"); f.querySelector(".field-error").textContent = ""; }
    const body = schema ? { run_input: collect(schema), resumed_by: "the web UI" } : { resumed_by: "the web UI" };
    let answer;
    try { answer = await api(`/flow_runs/${run.id}/resume`, body); }
    catch (e) { showErrors(e.message); return; }
    if (answer.status === "ACCEPT") { dialog.close(); route(); }
    else showErrors(answer.details.reason);
  };
  dialog.showModal();
}

// ---- theme ----------------------------------------------------------------------------------
const savedTheme = localStorage.getItem("flowgate-theme");
if (savedTheme) document.documentElement.dataset.theme = savedTheme;
document.getElementById("theme").onclick = () => {
  const dark = document.documentElement.dataset.theme === "dark" || (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "light" : "dark";
  localStorage.setItem("flowgate-theme", document.documentElement.dataset.theme);
};

route();
