// What a flow run's timeline shows: its task runs and subflow runs as timeline nodes (see
// components/timeline.js), with dependencies from task inputs.

import { post } from "../lib/api.js";

/** Most task runs one timeline loads. */
export const MAX_NODES = 10000;

const ms = (t) => (t ? new Date(t).getTime() : null);

/** Task-run ids this task run's inputs came from (futures passed as arguments). */
function upstream(taskInputs) {
  const ids = [];
  for (const inputs of Object.values(taskInputs || {})) {
    for (const input of Array.isArray(inputs) ? inputs : []) {
      if (input && input.input_type === "task_run" && input.id) ids.push(input.id);
    }
  }
  return ids;
}

/**
 * The nodes of flow run `id`: `{nodes, total}` where `total` is the true number of task runs
 * (the nodes hold at most MAX_NODES of them). A task run standing for a subflow becomes the
 * subflow run's node.
 */
export async function loadRunGraph(id, signal) {
  const ofRun = { flow_runs: { id: { any_: [id] } } };
  const [tasks, total] = await Promise.all([
    post("/task_runs/filter", { ...ofRun, sort: "EXPECTED_START_TIME_ASC", limit: MAX_NODES }, { signal }),
    post("/task_runs/count", ofRun, { signal }),
  ]);
  const subflows = tasks.length
    ? await post("/flow_runs/filter", { flow_runs: { parent_task_run_id: { any_: tasks.map((t) => t.id) } }, limit: MAX_NODES }, { signal })
    : [];
  const childOf = new Map(subflows.map((r) => [r.parent_task_run_id, r]));
  const nodes = tasks.map((t) => {
    const child = childOf.get(t.id);
    const run = child || t;
    return {
      id: t.id,
      kind: child ? "flow-run" : "task-run",
      runId: run.id,
      label: run.name,
      state_type: run.state_type,
      state_name: run.state_name,
      start: ms(run.start_time),
      end: run.start_time ? ms(run.end_time) : null,
      parents: upstream(t.task_inputs),
      attempts: null,
    };
  });
  return { nodes, total };
}
