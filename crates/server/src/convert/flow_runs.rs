//! Flow runs between the wire and the store.

use flowgate_core::{Micros, StateType};
use flowgate_store::model::{FlowRun, NewFlowRun};
use flowgate_wire::flow_runs::{
    FlowRun as FlowRunOut, FlowRunCreate, FlowRunGraph, GraphEdge, GraphNode, HistoryInterval,
    HistoryState,
};
use serde_json::{Value, json};

use super::object_or_empty;
use super::states::{state_in, state_out};

/// The run a create request describes, its initial state stamped at `now`, or why it cannot
/// be stored.
pub fn new_flow_run(c: FlowRunCreate, now: Micros) -> Result<NewFlowRun, String> {
    super::plain_texts([
        ("name", c.name.as_deref()),
        ("flow_version", c.flow_version.as_deref()),
        ("idempotency_key", c.idempotency_key.as_deref()),
        ("work_queue_name", c.work_queue_name.as_deref()),
    ])?;
    Ok(NewFlowRun {
        flow_id: c.flow_id,
        name: c.name.filter(|n| !n.is_empty()),
        flow_version: c.flow_version,
        parameters: object_or_empty(c.parameters.unwrap_or_default()),
        idempotency_key: c.idempotency_key,
        context: object_or_empty(c.context.unwrap_or_default()),
        empirical_policy: object_or_empty(c.empirical_policy.unwrap_or_default()),
        tags: c.tags.unwrap_or_default(),
        labels: object_or_empty(c.labels.unwrap_or_default()),
        parent_task_run_id: c.parent_task_run_id,
        deployment_id: c.deployment_id,
        work_queue_name: c.work_queue_name,
        job_variables: object_or_empty(c.job_variables.unwrap_or_default()),
        state: c.state.map(|s| state_in(s, now)).transpose()?,
    })
}

/// Prefect's flow-run `empirical_policy` with its defaults, overlaid with what is stored.
fn policy(stored: &Value) -> Value {
    let defaults = json!({
        "max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0, "retry_delay": 0,
        "pause_keys": [], "resuming": false, "retry_type": null,
    });
    super::overlay(defaults, stored.as_object().unwrap_or(&Default::default()))
}

/// A stored run as the client reads it; `now` feeds the estimates of a run in progress.
pub fn flow_run_out(r: FlowRun, now: Micros) -> FlowRunOut {
    let running_since = r
        .state
        .as_ref()
        .filter(|s| s.state_type == StateType::Running)
        .map(|s| now.seconds_since(s.timestamp).max(0.0))
        .unwrap_or(0.0);
    let start_delta = match (r.clock.start_time, r.clock.expected_start_time) {
        (Some(start), Some(expected)) => start.seconds_since(expected).max(0.0),
        (None, Some(expected)) => now.seconds_since(expected).max(0.0),
        _ => 0.0,
    };
    FlowRunOut {
        id: r.id,
        created: r.created,
        updated: r.updated,
        name: r.name,
        flow_id: r.flow_id,
        state_id: r.state.as_ref().map(|s| s.id),
        deployment_id: r.deployment_id,
        deployment_version: None,
        work_queue_id: r.queue.as_ref().map(|q| q.work_queue_id),
        work_queue_name: r.work_queue_name,
        flow_version: r.flow_version,
        parameters: object_or_empty(r.parameters),
        idempotency_key: r.idempotency_key,
        context: object_or_empty(r.context),
        empirical_policy: policy(&r.empirical_policy),
        tags: r.tags,
        labels: object_or_empty(r.labels),
        parent_task_run_id: r.parent_task_run_id,
        state_type: r.state.as_ref().map(|s| s.state_type),
        state_name: r.state.as_ref().map(|s| s.name.clone()),
        run_count: r.clock.run_count,
        expected_start_time: r.clock.expected_start_time,
        next_scheduled_start_time: r.clock.next_scheduled_start_time,
        start_time: r.clock.start_time,
        end_time: r.clock.end_time,
        total_run_time: r.clock.total_run_time,
        estimated_run_time: r.clock.total_run_time + running_since,
        estimated_start_time_delta: start_delta,
        auto_scheduled: false,
        infrastructure_document_id: None,
        infrastructure_pid: r.infrastructure_pid,
        created_by: None,
        work_pool_id: r.queue.as_ref().map(|q| q.work_pool_id),
        work_pool_name: r.queue.map(|q| q.work_pool_name),
        state: r.state.as_ref().map(state_out),
        job_variables: object_or_empty(r.job_variables),
    }
}

/// One interval of a history as the API shows it.
pub fn history_interval(interval: flowgate_core::history::Interval) -> HistoryInterval {
    HistoryInterval {
        interval_start: interval.start,
        interval_end: interval.end,
        states: interval
            .states
            .into_iter()
            .map(|s| HistoryState {
                state_type: s.state_type,
                state_name: s.state_name,
                count_runs: s.runs,
                sum_estimated_run_time: s.run_time,
                sum_estimated_lateness: s.lateness,
            })
            .collect(),
    }
}

/// A flow run's graph in Prefect's shape: each node's id is its run's (a subflow's own), its
/// parents the nodes whose task runs it took inputs from, its children the inverse.
pub fn flow_run_graph(run: &FlowRun, nodes: Vec<flowgate_store::model::GraphNode>) -> FlowRunGraph {
    use std::collections::HashMap;
    let node_id: HashMap<uuid::Uuid, uuid::Uuid> = nodes
        .iter()
        .map(|n| (n.task_run_id, n.subflow_run_id.unwrap_or(n.task_run_id)))
        .collect();
    let mut children: HashMap<uuid::Uuid, Vec<GraphEdge>> = HashMap::new();
    let mut out: Vec<(uuid::Uuid, GraphNode)> = nodes
        .into_iter()
        .map(|n| {
            let id = node_id[&n.task_run_id];
            let parents: Vec<GraphEdge> = n
                .parents
                .iter()
                .filter_map(|p| node_id.get(p))
                .map(|&p| GraphEdge { id: p })
                .collect();
            for p in &parents {
                children.entry(p.id).or_default().push(GraphEdge { id });
            }
            let node = GraphNode {
                kind: if n.subflow_run_id.is_some() {
                    "flow-run"
                } else {
                    "task-run"
                }
                .to_owned(),
                id,
                label: n.label,
                state_type: n.state_type,
                state_name: n.state_name,
                start_time: n.start_time,
                end_time: n.end_time,
                parents,
                children: Vec::new(),
                encapsulating: Vec::new(),
                artifacts: Vec::new(),
            };
            (id, node)
        })
        .collect();
    for (id, node) in &mut out {
        node.children = children.remove(id).unwrap_or_default();
    }
    FlowRunGraph {
        start_time: run.clock.start_time,
        end_time: run.clock.end_time,
        root_node_ids: out
            .iter()
            .filter(|(_, n)| n.parents.is_empty())
            .map(|(id, _)| *id)
            .collect(),
        nodes: out,
        artifacts: Vec::new(),
        states: Vec::new(),
    }
}
