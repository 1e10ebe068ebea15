// Automations: each with its trigger and actions in a phrase, an Enabled switch (takes effect
// at once), when it last fired (from its state report) and a link to its page. With none yet,
// the page says what an automation is and how to make one.

import { post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, plural } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { table } from "../lib/table.js";
import { actionsSummary, automationHref, automationState, enabledSwitch, lastFired, triggerKind, triggerSummary } from "../components/automations.js";

/** Every automation (the API pages them) with its state report. */
async function load(signal) {
  const all = [];
  for (;;) {
    const page = await post("/automations/filter", { sort: "NAME_ASC", limit: 200, offset: all.length }, { signal });
    all.push(...page);
    if (page.length < 200) break;
  }
  const reports = await Promise.all(all.map((a) => automationState(a.id, signal).catch(() => null)));
  return all.map((a, i) => ({ ...a, report: reports[i] }));
}

/** What the page shows before the first automation exists. */
function introduction() {
  return card(
    { class: "intro", id: "automations-intro" },
    h("h2", {}, "Automate what happens next"),
    h(
      "p",
      {},
      "An automation watches events: a flow run failing, a deployment's run not starting, three events in a row, ",
      "or a measure such as the success rate of your flows dropping below 70% over the last 10 minutes. ",
      "When its trigger fires it acts: it runs a deployment, pauses a work pool, resumes a paused run, ",
      "calls a webhook or sends a notification, and records what each action did.",
    ),
    h(
      "ul",
      { class: "intro-kinds" },
      h("li", {}, h("strong", {}, "Event"), " — events happen (or fail to happen) within a window."),
      h("li", {}, h("strong", {}, "Compound"), " — several triggers fire within a window, in any order."),
      h("li", {}, h("strong", {}, "Sequence"), " — triggers fire in a prescribed order."),
      h("li", {}, h("strong", {}, "Metric"), " — a measure of flow runs stays beyond a threshold."),
    ),
    h("div", { class: "intro-actions" }, h("a", { class: "button primary", href: "/automations/create" }, "Create your first automation"), h("a", { class: "button secondary", href: "/events" }, "See the event feed")),
  );
}

export default async function automationsPage(ctx) {
  ctx.title("Automations");
  const total = h("span", { id: "automation-count" });
  const list = table({
    empty: "No automations.",
    rowAttrs: (a) => ({ dataset: { automation: a.name } }),
    columns: [
      { label: "Name", cell: (a) => h("a", { href: automationHref(a.id) }, a.name) },
      { label: "Trigger", cell: (a) => h("span", { class: "trigger-cell" }, h("span", { class: "kind" }, triggerKind(a.trigger)), h("span", {}, triggerSummary(a.trigger))) },
      { label: "Actions", cell: (a) => actionsSummary(a) },
      {
        label: "Last fired",
        cell: (a) => {
          const t = lastFired(a.report);
          return h("span", { class: t ? "last-fired" : "muted", title: t || "never" }, t ? ago(t) : "Never");
        },
      },
      { label: "Enabled", cell: (a) => enabledSwitch(a, { signal: ctx.signal, changed: () => refresh() }) },
    ],
  });
  const create = h("a", { id: "new-automation", class: "button primary", href: "/automations/create" }, "New automation");
  const body = h("div");
  mount(ctx.view, pageHeader({ title: "Automations", facts: [total], actions: [create] }), body);

  async function refresh() {
    const rows = await load(ctx.signal);
    total.textContent = plural(rows.length, "automation");
    if (!rows.length) return void mount(body, introduction());
    list.update(rows);
    if (!body.contains(list.element)) mount(body, card({ class: "flush", id: "automations" }, list.element));
  }
  await refresh();
  ctx.every(5000, refresh);
}
