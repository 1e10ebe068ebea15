// One event as the pages show it: its resource in a phrase, and its whole JSON in a dialog
// (as text: nothing an emitter wrote is parsed as HTML).

import { post } from "../lib/api.js";
import { openDialog } from "../lib/dialog.js";
import { h } from "../lib/dom.js";
import { when } from "../lib/format.js";
import { toast } from "../lib/toast.js";

/** The resource an event is about: its name when it has one, else its id. */
export function resourceLabel(event) {
  const r = event.resource || {};
  return r["prefect.resource.name"] || r["prefect.resource.id"] || "—";
}

/** Opens a dialog with `event`'s JSON, pretty-printed, as text. */
export function showEvent(event, { signal } = {}) {
  const dialog = openDialog({
    id: "event-dialog",
    title: event.event,
    signal,
    body: [
      h("p", { class: "muted event-when" }, `Occurred ${when(event.occurred)}`, event.received ? ` · received ${when(event.received)}` : ""),
      h("pre", { class: "code-block event-json" }, JSON.stringify(event, null, 2)),
    ],
    footer: [h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Close")],
  });
}

/** Reads event `id` and opens its dialog (a toast when it is gone, e.g. pruned). */
export async function showEventById(id, { signal } = {}) {
  try {
    const page = await post("/events/filter", { filter: { id: { id: [id] } }, limit: 1 }, { signal });
    if (page.events.length) showEvent(page.events[0], { signal });
    else toast(`Event ${id} is no longer stored.`, "error");
  } catch (e) {
    toast(e.message, "error");
  }
}
