// The API key, when the server requires one: asked for once in a dialog and kept for this tab
// only (sessionStorage: gone when the tab closes, never sent anywhere but this server's API,
// never put in an address).

import { openDialog } from "./dialog.js";
import { h } from "./dom.js";

const STORAGE = "flowgate.apiKey";

/** The key this tab holds, or null. */
export function apiKey() {
  try {
    return sessionStorage.getItem(STORAGE);
  } catch {
    return null;
  }
}

/** Forgets the key this tab holds. */
export function forgetKey() {
  try {
    sessionStorage.removeItem(STORAGE);
  } catch {
    // Storage refused (private mode): nothing was kept.
  }
}

let asking = null;

/**
 * Asks for the API key (once, however many requests were refused meanwhile), telling why
 * (`reason`, the server's explanation). Resolves true when a key was entered (and kept for the
 * tab), false when the person closed the dialog.
 */
export function askForKey(reason) {
  asking ??= new Promise((resolve) => {
    let entered = false;
    const input = h("input", { id: "api-key-input", type: "password", autocomplete: "current-password", required: true, spellcheck: false });
    const form = h(
      "form",
      { id: "api-key-form", onsubmit: (e) => { e.preventDefault(); keep(); } },
      h("p", { class: "muted" }, reason),
      h("div", { class: "field" }, h("label", { htmlFor: "api-key-input" }, "API key"), input),
      h("p", { class: "hint muted" }, "Kept for this tab only; closing the tab forgets it."),
    );
    const dialog = openDialog({
      id: "api-key-dialog",
      title: "This server requires an API key",
      body: [form],
      footer: [h("button", { id: "api-key-submit", type: "submit", class: "primary", form: "api-key-form" }, "Sign in")],
      onClose: () => {
        asking = null;
        resolve(entered);
      },
    });
    function keep() {
      const key = input.value.trim();
      if (!key) return;
      try {
        sessionStorage.setItem(STORAGE, key);
      } catch {
        // Storage refused: the key is not kept, and will be asked for again.
      }
      entered = true;
      dialog.close();
    }
    input.focus();
  });
  return asking;
}
