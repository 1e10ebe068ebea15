// The Run dialog of a deployment: a form generated from the deployment's parameter schema
// (lib/schema-form.js), prefilled with its default parameters; the server checks what was
// entered against the schema and its verdict is shown beside each field it names.

import { ApiError, post } from "../lib/api.js";
import { openDialog } from "../lib/dialog.js";
import { h } from "../lib/dom.js";
import { schemaForm } from "../lib/schema-form.js";
import { validationFailures } from "./resume.js";

/** The create_flow_run refusal ("Error creating flow run: Validation failed for field …") as failures. */
function parameterFailures(message) {
  return validationFailures(String(message).replace(/^Error creating flow run: /, ""));
}

/**
 * Opens the Run dialog for `deployment` (as the API returns it); `onRun(run)` hears of the run
 * the server created. `signal` closes the dialog when the page is left.
 */
export function openRunDeployment(deployment, { label, signal, onRun = () => {} }) {
  const schema = deployment.parameter_openapi_schema || {};
  const form = schemaForm(schema, { values: deployment.parameters || {} });
  const error = h("p", { id: "run-error", class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { id: "run-submit", type: "button", class: "primary", onclick: send }, "Run");
  const dialog = openDialog({
    id: "run-dialog",
    title: `Run ${label}`,
    signal,
    body: [h("div", { id: "run-fields" }, form.empty ? h("p", { class: "muted" }, "This deployment takes no parameters.") : form.element), error],
    footer: [h("button", { id: "run-cancel", type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"), submit],
  });
  function showGeneral(messages) {
    error.textContent = messages.join(" ");
    error.hidden = messages.length === 0;
  }
  async function send() {
    showGeneral([]);
    form.clearErrors();
    const { value, failures } = form.read();
    if (failures.length) return showGeneral(form.showErrors(failures));
    submit.disabled = true;
    try {
      const run = await post(`/deployments/${encodeURIComponent(deployment.id)}/create_flow_run`, { parameters: value }, { signal });
      dialog.close();
      onRun(run);
    } catch (e) {
      showGeneral(form.showErrors(e instanceof ApiError && e.status === 422 ? parameterFailures(e.message) : [{ path: "", message: String(e.message) }]));
    } finally {
      submit.disabled = false;
    }
  }
}
