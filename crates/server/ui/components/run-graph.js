// What a flow run's timeline shows: its task runs and subflow runs as timeline nodes (see
// components/timeline.js), with dependencies from task inputs.

import { get, post } from "../lib/api.js";

/** Most task runs one timeline loads. */
export const MAX_NODES = 10000;

const ms = (t) => (t ? new Date(t).getTime() : null);

/**
 * The nodes of flow run `id`: `{nodes, total}` where `total` is the true number of task runs
 * (the server's graph holds at most MAX_NODES of them, with only what a timeline draws). A
 * task run standing for a subflow is the subflow run's node.
 */
export async function loadRunGraph(id, signal) {
  const [graph, total] = await Promise.all([
    get(`/flow_runs/${encodeURIComponent(id)}/graph-v2`, { signal }),
    post("/task_runs/count", { flow_runs: { id: { any_: [id] } } }, { signal }),
  ]);
  const nodes = graph.nodes.map(([nodeId, n]) => ({
    id: nodeId,
    kind: n.kind,
    runId: nodeId,
    label: n.label,
    state_type: n.state_type,
    state_name: n.state_name,
    start: ms(n.start_time),
    end: n.start_time ? ms(n.end_time) : null,
    parents: n.parents.map((p) => p.id),
    attempts: null,
  }));
  return { nodes, total };
}
