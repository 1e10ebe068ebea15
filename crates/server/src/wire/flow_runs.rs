//! Flow runs on the wire.

use flowgate_core::{Micros, StateType};
use flowgate_store::model::{FlowRun, NewFlowRun};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::object_or_empty;
use super::state::{StateIn, StateOut};

/// `POST /flow_runs/`.
#[derive(Deserialize, Debug)]
pub struct FlowRunCreate {
    /// The flow to run.
    pub flow_id: Uuid,
    /// Initial state.
    pub state: Option<StateIn>,
    /// Name.
    pub name: Option<String>,
    /// Flow version.
    pub flow_version: Option<String>,
    /// Parameters.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// Context.
    #[serde(default)]
    pub context: Option<Value>,
    /// Parent task run (subflows).
    pub parent_task_run_id: Option<Uuid>,
    /// Retry policy.
    #[serde(default)]
    pub empirical_policy: Option<Value>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Value>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Deployment.
    pub deployment_id: Option<Uuid>,
    /// Work queue.
    pub work_queue_name: Option<String>,
    /// Job variables.
    #[serde(default)]
    pub job_variables: Option<Value>,
}

impl FlowRunCreate {
    /// The domain request, with the initial state stamped at `now`.
    pub fn into_new(self, now: Micros) -> NewFlowRun {
        NewFlowRun {
            flow_id: self.flow_id,
            name: self.name.filter(|n| !n.is_empty()),
            flow_version: self.flow_version,
            parameters: object_or_empty(self.parameters.unwrap_or_default()),
            idempotency_key: self.idempotency_key,
            context: object_or_empty(self.context.unwrap_or_default()),
            empirical_policy: object_or_empty(self.empirical_policy.unwrap_or_default()),
            tags: self.tags.unwrap_or_default(),
            labels: object_or_empty(self.labels.unwrap_or_default()),
            parent_task_run_id: self.parent_task_run_id,
            deployment_id: self.deployment_id,
            work_queue_name: self.work_queue_name,
            job_variables: object_or_empty(self.job_variables.unwrap_or_default()),
            state: self.state.map(|s| s.into_state(now)),
        }
    }
}

/// Prefect's flow-run `empirical_policy` with its defaults, overlaid with what is stored.
pub fn flow_run_policy(stored: &Value) -> Value {
    let defaults = json!({
        "max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0, "retry_delay": 0,
        "pause_keys": [], "resuming": false, "retry_type": null,
    });
    super::overlay(defaults, stored.as_object().unwrap_or(&Default::default()))
}

/// A flow run as the client reads it.
#[derive(Serialize, Debug)]
pub struct FlowRunOut {
    id: Uuid,
    created: Micros,
    updated: Micros,
    name: String,
    flow_id: Uuid,
    state_id: Option<Uuid>,
    deployment_id: Option<Uuid>,
    deployment_version: Option<String>,
    work_queue_id: Option<Uuid>,
    work_queue_name: Option<String>,
    flow_version: Option<String>,
    parameters: Value,
    idempotency_key: Option<String>,
    context: Value,
    empirical_policy: Value,
    tags: Vec<String>,
    labels: Value,
    parent_task_run_id: Option<Uuid>,
    state_type: Option<StateType>,
    state_name: Option<String>,
    run_count: i64,
    expected_start_time: Option<Micros>,
    next_scheduled_start_time: Option<Micros>,
    start_time: Option<Micros>,
    end_time: Option<Micros>,
    total_run_time: f64,
    estimated_run_time: f64,
    estimated_start_time_delta: f64,
    auto_scheduled: bool,
    infrastructure_document_id: Option<Uuid>,
    infrastructure_pid: Option<String>,
    created_by: Option<Value>,
    work_pool_id: Option<Uuid>,
    work_pool_name: Option<String>,
    state: Option<StateOut>,
    job_variables: Value,
}

impl FlowRunOut {
    /// Renders a run; `now` feeds the estimated fields of a run still in progress.
    pub fn new(r: FlowRun, now: Micros) -> Self {
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
            work_queue_id: None,
            work_queue_name: r.work_queue_name,
            flow_version: r.flow_version,
            parameters: object_or_empty(r.parameters),
            idempotency_key: r.idempotency_key,
            context: object_or_empty(r.context),
            empirical_policy: flow_run_policy(&r.empirical_policy),
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
            infrastructure_pid: None,
            created_by: None,
            work_pool_id: None,
            work_pool_name: None,
            state: r.state.as_ref().map(StateOut::from),
            job_variables: object_or_empty(r.job_variables),
        }
    }
}
