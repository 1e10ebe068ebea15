// Suspending a flow run from the UI: which runs may be suspended (the server's rules in
// core/orchestration/pauses.rs: a Running, top-level run of a deployment, since a worker must
// run it again after the resume), and the dialog that says what a suspension does, takes an
// optional timeout and proposes the state the CLI's `flowgate flow-run suspend` proposes.

import { post } from "../lib/api.js";
import { openDialog } from "../lib/dialog.js";
import { h } from "../lib/dom.js";
import { toast } from "../lib/toast.js";

/** Whether the server would let `run` (as the API returns it) be suspended. */
export function canSuspend(run) {
  return run.state_type === "RUNNING" && Boolean(run.deployment_id) && !run.parent_task_run_id;
}

/**
 * The Paused state named "Suspended" the server expects: a pause key of its own (a suspension
 * fires once), `pause_reschedule` (a worker runs the run again when resumed) and, when given,
 * the time after which an unresumed run fails.
 */
function suspendedState(timeoutHours, now = Date.now()) {
  const details = { pause_key: pauseKey(), pause_reschedule: true };
  if (timeoutHours !== null) details.pause_timeout = new Date(now + timeoutHours * 3600_000).toISOString();
  return { type: "PAUSED", name: "Suspended", message: "Suspended from the web UI", state_details: details };
}

/**
 * A fresh pause key: 128 random bits in hex (`crypto.randomUUID` needs a secure context, which a
 * server opened over plain http by its address is not).
 */
function pauseKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Asks before suspending `run`; once confirmed, proposes the suspension and calls
 * `onSuspended`. A refusal (the run moved on, or is not suspendable) is a toast with the
 * server's reason. `signal` closes the dialog when the page is left.
 */
export function openSuspend(run, { signal, onSuspended = () => {} } = {}) {
  const timeout = h("input", { id: "suspend-timeout", name: "timeout", type: "number", min: "0", step: "any", placeholder: "no limit" });
  const error = h("p", { id: "suspend-error", class: "form-error", role: "alert", hidden: true });
  const confirm = h("button", { id: "suspend-confirm", type: "button", class: "danger", onclick: send }, "Suspend");
  const dialog = openDialog({
    id: "suspend-dialog",
    title: "Suspend flow run",
    signal,
    body: [
      h("p", {}, `Suspend ${run.name}? It stops at its next task call (a task already running finishes first) and its process exits, holding nothing while it waits.`),
      h("p", {}, "Resuming it schedules it again: a worker runs the flow from the start, and the tasks that completed are not run again where their results were recorded."),
      h(
        "div",
        { class: "field" },
        h("label", { htmlFor: "suspend-timeout" }, "Fail it if not resumed within (hours) ", h("span", { class: "optional" }, "optional")),
        timeout,
        h("span", { class: "hint" }, "Leave empty to wait until someone resumes or cancels it."),
      ),
      error,
    ],
    footer: [h("button", { id: "suspend-cancel", type: "button", class: "secondary", onclick: () => dialog.close() }, "Keep running"), confirm],
  });

  async function send() {
    const text = timeout.value.trim();
    const hours = text === "" ? null : Number(text);
    // Text that is not a number reads as "" from a number input: badInput tells them apart.
    if (timeout.validity.badInput || (hours !== null && !(hours > 0))) {
      error.textContent = "Enter a number of hours above 0, or leave it empty.";
      error.hidden = false;
      return;
    }
    confirm.disabled = true;
    try {
      const answer = await post(`/flow_runs/${encodeURIComponent(run.id)}/set_state`, { state: suspendedState(hours) }, { signal });
      dialog.close();
      if (answer && answer.status === "ACCEPT") {
        toast(`${run.name} suspended`, "success");
        onSuspended();
      } else {
        const reason = (answer && answer.details && answer.details.reason) || "the server did not accept it.";
        toast(`Could not suspend: ${reason}`, "error");
      }
    } catch (e) {
      dialog.close();
      toast(`Could not suspend: ${e.message}`, "error");
    }
  }
}
