// Names of things the API refers to by id, fetched in one request per list.

import { post } from "../lib/api.js";

/** Names of the flows `ids`, as a Map from id to name (one request). */
export async function flowNames(ids, signal) {
  const unique = [...new Set(ids.filter(Boolean))];
  if (!unique.length) return new Map();
  const flows = await post("/flows/filter", { flows: { id: { any_: unique } }, limit: unique.length }, { signal });
  return new Map(flows.map((f) => [f.id, f.name]));
}
