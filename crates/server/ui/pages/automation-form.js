// Creating or editing an automation in the seed's three steps: Trigger (event, compound,
// sequence or metric, with "Over the last" and "For"), Actions, Details; or as JSON, which
// round-trips with the form. The fields come from the wire types' JSON Schemas in the server's
// OpenAPI document (`AutomationCreate` and what it refers to) through the shared form builder;
// this module only adds how they read (titles, order, fields the server assigns left out) and
// the choices of deployments, pools, queues, automations and blocks the actions can name. The
// server's 422 is shown beside the fields it names, on the step that holds them.

import { ApiError, fieldFailures, get, post, put } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { card, pageHeader } from "../lib/layout.js";
import { navigate } from "../lib/router.js";
import { schemaForm } from "../lib/schema-form.js";
import { toast } from "../lib/toast.js";
import { actionTargets, automationHref, triggerKind, triggerSummary } from "../components/automations.js";

const enc = encodeURIComponent;

/**
 * How the wire schemas read here: titles, order, what one item of a list is called, and fields
 * the server assigns (hidden).
 */
const LOOK = {
  AutomationCreate: { titles: { trigger: "Trigger", name: "Name", description: "Description", enabled: "Enabled", tags: "Tags", actions: "Actions", actions_on_trigger: "Only when it fires", actions_on_resolve: "Only when it resolves" }, items: { actions: "Action", actions_on_trigger: "Action", actions_on_resolve: "Action" } },
  EventTrigger: {
    order: ["posture", "expect", "match", "match_related", "after", "for_each", "threshold", "within"],
    titles: { posture: "Posture", expect: "Expected events", match: "Resource labels", match_related: "Related resource labels", after: "After", for_each: "For each", threshold: "Threshold", within: "Within (seconds)" },
    hide: ["id"],
  },
  CompoundTrigger: { order: ["require", "within", "triggers"], titles: { require: "Require", within: "Within (seconds)", triggers: "Triggers" }, items: { triggers: "Trigger" }, hide: ["id"] },
  SequenceTrigger: { order: ["within", "triggers"], titles: { within: "Within (seconds)", triggers: "Triggers" }, items: { triggers: "Trigger" }, hide: ["id"] },
  MetricTrigger: { order: ["metric", "match", "match_related"], titles: { metric: "Metric", match: "Flow run labels", match_related: "Related resource labels" }, hide: ["id", "posture"] },
  RunDeployment: { titles: { source: "Source", deployment_id: "Deployment", parameters: "Parameters", job_variables: "Job variables", schedule_after: "Schedule after (seconds)" } },
  DeploymentTarget: { titles: { source: "Source", deployment_id: "Deployment" } },
  WorkPoolTarget: { titles: { source: "Source", work_pool_id: "Work pool" } },
  WorkQueueTarget: { titles: { source: "Source", work_queue_id: "Work queue" } },
  AutomationTarget: { titles: { source: "Source", automation_id: "Automation" } },
  ChangeFlowRunState: { titles: { state: "State", name: "Name", message: "Message", force: "Force" } },
  SendNotification: { titles: { block_document_id: "Notification block", subject: "Subject", body: "Body" } },
  CallWebhook: { titles: { block_document_id: "Webhook block", payload: "Payload" } },
  MetricQuery: {
    order: ["name", "operator", "threshold", "range", "firing_for"],
    titles: { name: "Measure", operator: "Operator", threshold: "Threshold", range: "Over the last (seconds)", firing_for: "For (seconds)" },
  },
};

/** Which action fields name a thing, and which list of things they choose from. */
const TARGETS = {
  DeploymentTarget: { deployment_id: "deployments" },
  RunDeployment: { deployment_id: "deployments" },
  WorkPoolTarget: { work_pool_id: "pools" },
  WorkQueueTarget: { work_queue_id: "queues" },
  AutomationTarget: { automation_id: "automations" },
  SendNotification: { block_document_id: "blocks" },
  CallWebhook: { block_document_id: "blocks" },
};

/** The three steps: the top-level fields each holds. */
const STEPS = [
  { id: "trigger", label: "Trigger", hint: "What it waits for", fields: ["trigger"] },
  { id: "actions", label: "Actions", hint: "What it does", fields: ["actions", "actions_on_trigger", "actions_on_resolve"] },
  { id: "details", label: "Details", hint: "What it is called", fields: ["name", "description", "enabled", "tags"] },
];

/** The OpenAPI document's schemas, dressed as LOOK and TARGETS say. */
function dressed(doc, lists) {
  const schemas = structuredClone(doc.components.schemas);
  for (const [name, look] of Object.entries(LOOK)) {
    const props = (schemas[name] || {}).properties || {};
    for (const hidden of look.hide || []) delete props[hidden];
    for (const [field, title] of Object.entries(look.titles || {})) if (props[field]) props[field].title = title;
    for (const [field, noun] of Object.entries(look.items || {})) if (props[field]) props[field].items = { ...props[field].items, title: noun };
    (look.order || []).forEach((field, i) => props[field] && (props[field].position = i));
  }
  for (const [name, fields] of Object.entries(TARGETS)) {
    const props = (schemas[name] || {}).properties || {};
    for (const [field, list] of Object.entries(fields)) {
      const options = lists[list];
      if (!props[field] || !options.length) continue;
      const { type, format, ...rest } = props[field];
      props[field] = { ...rest, oneOf: options.map((o) => ({ const: o.id, title: o.name })) };
    }
  }
  return schemas;
}

export default async function automationFormPage(ctx) {
  const id = ctx.params.id;
  ctx.title(id ? "Edit automation" : "New automation");
  const [doc, lists, existing] = await Promise.all([get("/openapi.json", ctx), actionTargets(ctx.signal), id ? get(`/automations/${enc(id)}`, ctx) : null]);
  const schemas = dressed(doc, lists);
  const create = schemas.AutomationCreate;
  const schemaOf = (step) => ({
    type: "object",
    properties: Object.fromEntries(step.fields.map((f) => [f, create.properties[f]])),
    required: (create.required || []).filter((f) => step.fields.includes(f)),
    components: { schemas },
  });

  let step = 0;
  let asJson = false;
  let forms = [];
  const panels = STEPS.map((s) => h("div", { id: `${s.id}-fields`, class: "step-panel" }));
  const stepButtons = STEPS.map((s, i) =>
    h("button", { type: "button", id: `step-${s.id}`, class: "step", onclick: () => go(i) }, h("span", { class: "step-number" }, String(i + 1)), h("span", { class: "step-text" }, h("span", { class: "step-label" }, s.label), h("span", { class: "step-hint" }, s.hint))),
  );
  const jsonText = h("textarea", { id: "automation-json", class: "code automation-json", rows: 24, spellcheck: false });
  const jsonCard = card({ title: "JSON", id: "json-view" }, h("p", { class: "hint" }, "The automation as the API takes it. Switching back to the form reads it."), jsonText);
  const error = h("p", { id: "automation-error", class: "form-error", role: "alert", hidden: true });
  const back = h("button", { id: "automation-back", type: "button", class: "secondary", onclick: () => go(step - 1) }, "Back");
  const next = h("button", { id: "automation-next", type: "button", class: "secondary", onclick: () => go(step + 1) }, "Next");
  const save = h("button", { id: "automation-save", type: "button", class: "primary", onclick: send }, id ? "Save" : "Create");
  const viewForm = h("button", { id: "view-form", type: "button", class: "active", onclick: () => toForm() }, "Form");
  const viewJson = h("button", { id: "view-json", type: "button", onclick: () => toJson() }, "JSON");
  // What the trigger as entered waits for, in the phrase the list will show.
  const preview = h("p", { id: "trigger-preview", class: "trigger-preview" });
  const stepCard = card({ id: "step-card" }, preview, panels);
  const stepsBar = h("ol", { class: "steps", "aria-label": "Steps" }, stepButtons.map((b) => h("li", {}, b)));

  mount(
    ctx.view,
    pageHeader({
      crumbs: [{ label: "Automations", href: "/automations" }, ...(existing ? [{ label: existing.name, href: automationHref(existing.id) }] : [])],
      title: existing ? `Edit ${existing.name}` : "New automation",
      actions: [h("div", { class: "segmented", role: "group", "aria-label": "View" }, viewForm, viewJson)],
    }),
    stepsBar,
    stepCard,
    jsonCard,
    error,
    h("div", { class: "form-foot" }, h("a", { class: "button secondary", href: existing ? automationHref(existing.id) : "/automations" }, "Cancel"), h("span", { class: "spacer" }), back, next, save),
  );

  /** Draws the three forms from `values` (an automation or a body). */
  function build(values) {
    forms = STEPS.map((s, i) => {
      const form = schemaForm(schemaOf(s), { values });
      mount(panels[i], form.element);
      return form;
    });
    showPreview();
  }

  function showPreview() {
    const { trigger } = forms[0].read().value;
    mount(preview, h("span", { class: "kind" }, triggerKind(trigger)), " ", triggerSummary(trigger));
  }
  for (const type of ["input", "change", "click"]) panels[0].addEventListener(type, () => queueMicrotask(showPreview));

  /** The body the forms make, or `null` after showing what could not be read. */
  function collect() {
    const body = {};
    let bad = -1;
    forms.forEach((form, i) => {
      form.clearErrors();
      const { value, failures } = form.read();
      if (failures.length) {
        form.showErrors(failures);
        if (bad < 0) bad = i;
      }
      Object.assign(body, value);
    });
    if (bad >= 0) return (go(bad), null);
    return body;
  }

  function showGeneral(messages) {
    error.textContent = messages.join(" ");
    error.hidden = messages.length === 0;
  }

  function layout() {
    stepsBar.hidden = asJson;
    stepCard.hidden = asJson;
    jsonCard.hidden = !asJson;
    viewForm.classList.toggle("active", !asJson);
    viewJson.classList.toggle("active", asJson);
    panels.forEach((p, i) => (p.hidden = i !== step));
    preview.hidden = step !== 0;
    stepButtons.forEach((b, i) => {
      b.classList.toggle("active", i === step);
      b.classList.toggle("done", i < step);
      b.setAttribute("aria-current", i === step ? "step" : "false");
    });
    back.hidden = asJson || step === 0;
    next.hidden = asJson || step === STEPS.length - 1;
    save.hidden = !asJson && !id && step < STEPS.length - 1;
  }

  function go(to) {
    step = Math.max(0, Math.min(STEPS.length - 1, to));
    layout();
  }

  function toJson() {
    if (asJson) return;
    const body = collect();
    if (!body) return;
    jsonText.value = JSON.stringify(body, null, 2);
    asJson = true;
    showGeneral([]);
    layout();
  }

  function toForm() {
    if (!asJson) return;
    let values;
    try {
      values = JSON.parse(jsonText.value);
    } catch (e) {
      return showGeneral([`The JSON cannot be read: ${e.message}`]);
    }
    build(values);
    asJson = false;
    showGeneral([]);
    layout();
  }

  /** Shows a refusal beside the fields it names, on the first step holding one. */
  function showRefusal(message) {
    const failures = fieldFailures(message);
    stepButtons.forEach((b) => b.classList.remove("has-error"));
    if (asJson) return showGeneral(failures.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)));
    const unplaced = [];
    let first = -1;
    for (const f of failures) {
      const top = f.path.split(".")[0];
      let i = STEPS.findIndex((s) => s.fields.includes(top));
      if (i < 0) i = 2;
      unplaced.push(...forms[i].showErrors([f]));
      stepButtons[i].classList.add("has-error");
      if (first < 0 || i < first) first = i;
    }
    showGeneral(unplaced);
    if (first >= 0) go(first);
    const invalid = panels[step].querySelector(".invalid");
    if (invalid) invalid.scrollIntoView({ block: "center" });
  }

  async function send() {
    showGeneral([]);
    let body;
    if (asJson) {
      try {
        body = JSON.parse(jsonText.value);
      } catch (e) {
        return showGeneral([`The JSON cannot be read: ${e.message}`]);
      }
    } else {
      body = collect();
      if (!body) return;
      if (!String(body.name || "").trim()) return showRefusal("name: give the automation a name");
    }
    save.disabled = true;
    try {
      if (id) await put(`/automations/${enc(id)}`, body, ctx);
      const saved = id ? { id } : await post("/automations/", body, ctx);
      toast(id ? `Saved ${body.name}.` : `Created ${body.name}.`, "success");
      navigate(automationHref(saved.id));
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) showRefusal(e.message);
      else showGeneral([e.message]);
    } finally {
      save.disabled = false;
    }
  }

  build(existing || {});
  layout();
}
