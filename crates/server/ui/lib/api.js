// The HTTP API, as the pages use it: JSON in and out, errors as `ApiError` carrying the
// server's `detail` sentence, cancellation through an AbortSignal (a page that is left aborts
// its requests). When the server requires an API key, the tab's key goes with every request;
// a 401 asks for it (lib/auth.js).

import { apiKey, askForKey, forgetKey } from "./auth.js";

const BASE = "/api";

/** A refused request: `status` is the HTTP status, `message` the server's explanation. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** `GET path` (relative to /api). */
export function get(path, { signal } = {}) {
  return call("GET", path, undefined, signal);
}

/** `POST path` with a JSON body. */
export function post(path, body, { signal } = {}) {
  return call("POST", path, body ?? {}, signal);
}

/** `PATCH path` with a JSON body (the answer is usually empty). */
export function patch(path, body, { signal } = {}) {
  return call("PATCH", path, body ?? {}, signal);
}

/** `PUT path` with a JSON body (a replacement; the answer is usually empty). */
export function put(path, body, { signal } = {}) {
  return call("PUT", path, body ?? {}, signal);
}

/** `DELETE path`. */
export function del(path, { signal } = {}) {
  return call("DELETE", path, undefined, signal);
}

/** Why the key dialog asks: the server's own 401 details are written for API clients. */
const REQUIRED = "Enter one of the API keys this server was started with to continue.";
const REFUSED = "That key is not valid for this server. Check it and enter it again.";

async function call(method, path, body, signal) {
  const init = { method, signal, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res = await send(path, init);
  // Refused for want of a (valid) key: ask for one, then try once more with it.
  while (res.status === 401) {
    const refused = apiKey() !== null;
    forgetKey();
    if (!(await askForKey(refused ? REFUSED : REQUIRED))) break;
    res = await send(path, init);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, `the server answered ${method} ${path} with something that is not JSON`);
    }
  }
  if (!res.ok) throw new ApiError(res.status, detail(data) || `${method} ${path}: ${res.status} ${res.statusText}`);
  return data;
}

/** `fetch` with the tab's API key, when it holds one. */
function send(path, init) {
  const key = apiKey();
  const headers = key ? { ...init.headers, authorization: `Bearer ${key}` } : init.headers;
  return fetch(BASE + path, { ...init, headers });
}

/** The server's explanation: a string, or Prefect's list of validation errors. */
function detail(data) {
  const d = data && data.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((e) => (e && e.msg) || JSON.stringify(e)).join("; ");
  return d ? JSON.stringify(d) : "";
}

/**
 * A 422's "path: what is wrong; path: …" as the `[{path, message}]` a schema form shows beside
 * its fields (`a[0].b` read as `a.0.b`; a body the server could not read names its path too).
 */
export function fieldFailures(message) {
  const text = String(message).replace(/^request body does not match the expected shape: /, "").replace(/ at line \d+ column \d+$/, "");
  // Failures are joined by "; ", which a message may also hold: split only before a path.
  return text.split(/; (?=[A-Za-z_][\w.[\]]*: )/).map((part) => {
    const m = part.match(/^([A-Za-z_][\w.[\]]*): ([\s\S]*)$/);
    return m ? { path: m[1].replace(/\[(\d+)\]/g, ".$1"), message: m[2] } : { path: "", message: part };
  });
}

/** Whether `error` only says the request was abandoned (its page was left). */
export function isAbort(error) {
  return error && error.name === "AbortError";
}
