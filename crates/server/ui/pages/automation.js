// One automation: why it did or did not fire (its trigger's live state from
// /automations/{id}/state), its latest firings with each action's outcome, what it does, and
// its controls: the Enabled switch, Edit, and Delete (after a question). Refreshed every 2 s.

import { del, get } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { ago, when } from "../lib/format.js";
import { card, emptyState, pageHeader } from "../lib/layout.js";
import { navigate } from "../lib/router.js";
import { table } from "../lib/table.js";
import { toast } from "../lib/toast.js";
import { confirmThen } from "../components/form-dialog.js";
import { actionLabel, actionTargets, automationState, enabledSwitch, firingBadge, lastFired, outcomes, triggerKind, triggerSummary } from "../components/automations.js";
import { showEventById } from "../components/event.js";
import { triggerState, triggersById } from "../components/trigger-state.js";

const enc = encodeURIComponent;

/** An action's target (by name, from `names`) or message in a phrase, beside its label. */
function actionDetail(a, names) {
  const target = a.deployment_id || a.work_pool_id || a.work_queue_id || a.automation_id || a.block_document_id;
  if (target) return names.get(target) || target;
  if (a.source === "inferred") return "from the triggering event";
  if (a.type === "change-flow-run-state") return a.state;
  if (a.type === "send-notification") return a.subject;
  return "";
}

/** One list of actions (`actions`, `actions_on_trigger`, `actions_on_resolve`). */
function actionList(title, actions, names) {
  if (!actions || !actions.length) return null;
  return h(
    "div",
    { class: "action-list" },
    h("h3", {}, title),
    h("ol", {}, actions.map((a) => h("li", {}, h("strong", {}, actionLabel(a.type)), actionDetail(a, names) ? h("span", { class: "muted" }, ` — ${actionDetail(a, names)}`) : null))),
  );
}

export default async function automationPage(ctx) {
  const id = ctx.params.id;
  const path = `/automations/${enc(id)}`;
  const header = h("div");
  const state = h("div", { id: "trigger-state" });
  const definition = h("div", { id: "definition" });
  const firings = table({
    empty: "It has not fired yet.",
    rowAttrs: (f) => ({ dataset: { firing: f.id } }),
    columns: [
      { label: "Firing", cell: (f) => firingBadge(f.state) },
      { label: "About", cell: (f) => h("span", { title: when(f.occurred) }, ago(f.occurred)) },
      {
        label: "Triggering event",
        cell: (f) =>
          f.triggering_event
            ? h("a", { href: "#", class: "event-link", onclick: (e) => (e.preventDefault(), showEventById(f.triggering_event, { signal: ctx.signal })) }, "Show event")
            : h("span", { class: "muted" }, "—"),
      },
      { label: "Actions", cell: (f) => outcomes(f.actions) },
    ],
  });
  mount(
    ctx.view,
    header,
    h("div", { class: "columns automation-columns" }, card({ title: "Trigger state", id: "state" }, state), card({ title: "What it does", id: "does" }, definition)),
    card({ title: "Latest firings", id: "firings", class: "flush" }, firings.element),
  );

  const remove = (a) =>
    confirmThen({
      title: "Delete automation",
      text: `Delete ${a.name}? Its trigger stops being evaluated and its history goes with it.`,
      button: "Delete",
      signal: ctx.signal,
      action: async () => {
        await del(path, ctx);
        toast(`Deleted ${a.name}.`, "success");
        navigate("/automations");
      },
    });

  // What the actions name (pools, deployments, …), by id.
  const lists = await actionTargets(ctx.signal);
  const names = new Map(Object.values(lists).flat().map((t) => [t.id, t.name]));
  let shownHeader = "";
  async function refresh() {
    const [a, report] = await Promise.all([get(path, ctx), automationState(id, ctx.signal)]);
    ctx.title(a.name);
    // The header holds the switch: rebuilt only when what it shows changed, not under a click.
    const key = JSON.stringify([a.name, a.enabled, a.updated, lastFired(report)]);
    if (key !== shownHeader) {
      shownHeader = key;
      const fired = lastFired(report);
      mount(
        header,
        pageHeader({
          crumbs: [{ label: "Automations", href: "/automations" }],
          title: a.name,
          badge: h("span", { class: ["badge", "enabled", a.enabled ? "ENABLED" : "DISABLED"], id: "enabled-badge" }, a.enabled ? "Enabled" : "Disabled"),
          facts: [h("span", { class: "trigger-cell" }, h("span", { class: "kind" }, triggerKind(a.trigger)), triggerSummary(a.trigger)), fired ? `Last fired ${ago(fired)}` : "Never fired", `Created ${when(a.created)}`],
          actions: [
            h("span", { class: "switch-label" }, enabledSwitch(a, { signal: ctx.signal, changed: refresh }), "Enabled"),
            h("a", { id: "edit-automation", class: "button secondary", href: `/automations/automation/${enc(id)}/edit` }, "Edit"),
            h("button", { id: "delete-automation", type: "button", class: "secondary", onclick: () => remove(a) }, "Delete"),
          ],
        }),
      );
      mount(
        definition,
        a.description ? h("p", { class: "description" }, a.description) : null,
        a.tags.length ? h("p", {}, a.tags.map((t) => h("span", { class: "tag" }, t))) : null,
        actionList("When it fires or resolves", a.actions, names),
        actionList("Only when it fires", a.actions_on_trigger, names),
        actionList("Only when it resolves", a.actions_on_resolve, names),
        a.actions.length + a.actions_on_trigger.length + a.actions_on_resolve.length === 0 ? emptyState("No actions: firings are recorded only.") : null,
      );
    }
    mount(
      state,
      report.trigger_state
        ? triggerState(report.trigger_state.trigger, triggersById(a.trigger), { signal: ctx.signal })
        : emptyState("Disabled: its trigger is not evaluated. Enable it to watch events again."),
    );
    firings.update(report.firings);
  }
  await refresh();
  ctx.every(2000, refresh);
}
