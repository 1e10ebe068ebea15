// Names of things the API refers to by id, fetched in one request per list.

import { post } from "../lib/api.js";

/** Names of the `kind` records ("flows", "task_runs") with `ids`, as a Map from id to name. */
async function namesOf(kind, ids, signal) {
  const unique = [...new Set(ids.filter(Boolean))];
  if (!unique.length) return new Map();
  const found = await post(`/${kind}/filter`, { [kind]: { id: { any_: unique } }, limit: unique.length }, { signal });
  return new Map(found.map((r) => [r.id, r.name]));
}

/** Names of the flows `ids`, as a Map from id to name (one request). */
export const flowNames = (ids, signal) => namesOf("flows", ids, signal);

/** Names of the task runs `ids`, as a Map from id to name (one request). */
export const taskRunNames = (ids, signal) => namesOf("task_runs", ids, signal);

/** Names of the flow runs `ids`, as a Map from id to name (one request). */
export const flowRunNames = (ids, signal) => namesOf("flow_runs", ids, signal);
