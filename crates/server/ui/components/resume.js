// The Resume dialog of a paused flow run: the description the flow stored (markdown), a form
// generated from the input schema it stored (lib/schema-form.js), and the server's verdict on
// what was entered, shown beside each field it names.

import { ApiError, post } from "../lib/api.js";
import { openDialog } from "../lib/dialog.js";
import { h } from "../lib/dom.js";
import { markdown } from "../lib/markdown.js";
import { schemaForm } from "../lib/schema-form.js";

/** The JSON value a run stored under input `key`, or null when there is none. */
async function inputValue(runId, key, signal) {
  if (typeof key !== "string" || !key) return null;
  const found = await post(`/flow_runs/${encodeURIComponent(runId)}/input/filter`, { prefix: key, limit: 1 }, { signal });
  const input = Array.isArray(found) ? found.find((i) => i.key === key) : null;
  if (!input) return null;
  try {
    return JSON.parse(input.value);
  } catch {
    throw new ApiError(422, `the run's input ${key} is not valid JSON`);
  }
}

/** The server's "Validation failed for field 'a.b'. Failure reason: …; …" as `[{path, message}]`. */
export function validationFailures(reason) {
  return String(reason)
    .split(/; (?=Validation failed for )/)
    .map((failure) => {
      const m = failure.match(/^Validation failed for field '([\s\S]*)'\. Failure reason: ([\s\S]*)$/);
      return m ? { path: m[1], message: m[2] } : { path: "", message: failure };
    });
}

/**
 * Opens the Resume dialog for `run` (a paused flow run as the API returns it). `onResumed` is
 * called once the server accepted the resume; `signal` closes the dialog when the page is left.
 */
export async function openResume(run, { signal, onResumed = () => {} } = {}) {
  const keyset = (run.state && run.state.state_details && run.state.state_details.run_input_keyset) || null;
  const [schema, description] = keyset
    ? await Promise.all([inputValue(run.id, keyset.schema, signal), inputValue(run.id, keyset.description, signal)])
    : [null, null];
  const form = schema ? schemaForm(schema) : null;
  const error = h("p", { id: "resume-error", class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { id: "resume-submit", type: "button", class: "primary", onclick: send }, "Submit");
  const dialog = openDialog({
    id: "resume-dialog",
    title: "Resume flow run",
    signal,
    body: [
      h("div", { id: "resume-description" }, description !== null ? markdown(typeof description === "string" ? description : JSON.stringify(description), { headingOffset: 1 }) : null),
      h("div", { id: "resume-fields" }, form ? form.element : h("p", { class: "muted" }, "This flow run waits for a plain resume.")),
      error,
    ],
    footer: [h("button", { id: "resume-close", type: "button", class: "secondary", onclick: () => dialog.close() }, "Close"), submit],
  });

  function showGeneral(messages) {
    error.textContent = messages.join(" ");
    error.hidden = messages.length === 0;
  }

  async function send() {
    showGeneral([]);
    let body = { resumed_by: "the web UI" };
    if (form) {
      form.clearErrors();
      const { value, failures } = form.read();
      if (failures.length) return showGeneral(form.showErrors(failures));
      body = { run_input: value, resumed_by: "the web UI" };
    }
    submit.disabled = true;
    try {
      const answer = await post(`/flow_runs/${encodeURIComponent(run.id)}/resume`, body, { signal });
      if (answer && answer.status === "ACCEPT") {
        dialog.close();
        onResumed();
        return;
      }
      const reason = (answer && answer.details && answer.details.reason) || "The server did not accept the resume.";
      showGeneral(form ? form.showErrors(validationFailures(reason)) : [reason]);
    } catch (e) {
      showGeneral(form ? form.showErrors(validationFailures(e.message)) : [e.message]);
    } finally {
      submit.disabled = false;
    }
  }
}
