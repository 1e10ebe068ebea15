// The dialogs every page's create, edit and delete actions share: a form generated from a JSON
// Schema whose Save sends the value (the server's refusal is shown in the dialog), and a
// question asked before something is destroyed.

import { openDialog } from "../lib/dialog.js";
import { h } from "../lib/dom.js";
import { schemaForm } from "../lib/schema-form.js";
import { toast } from "../lib/toast.js";

/**
 * Opens `<dialog id={id}>` with the fields of `schema` prefilled from `values`; its submit
 * button (`id={submitId}`) reads the form and awaits `save(value)`, closing on success and
 * showing the error (the server's `detail`) otherwise.
 */
export function openFormDialog({ id, submitId, title, schema, values, submitLabel = "Save", save, signal }) {
  const form = schemaForm(schema, { values });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { id: submitId, type: "button", class: "primary", onclick: send }, submitLabel);
  const dialog = openDialog({
    id,
    title,
    signal,
    body: [form.element, error],
    footer: [h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"), submit],
  });
  async function send() {
    form.clearErrors();
    const { value, failures } = form.read();
    if (failures.length) return void (error.textContent = form.showErrors(failures).join(" "));
    submit.disabled = true;
    try {
      await save(value);
      dialog.close();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  }
  return dialog;
}

/**
 * Asks `text` before `action` runs (its failure is a toast); the confirming button is `#confirm-ok`,
 * the other one (`dismiss`, "Cancel" unless given) closes the question with nothing done.
 */
export function confirmThen({ title, text, button, dismiss = "Cancel", action, signal }) {
  const dialog = openDialog({
    id: "confirm-dialog",
    title,
    signal,
    body: [h("p", {}, text)],
    footer: [
      h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, dismiss),
      h("button", { id: "confirm-ok", type: "button", class: "danger", onclick: () => (dialog.close(), action().catch((e) => toast(e.message, "error"))) }, button),
    ],
  });
}
