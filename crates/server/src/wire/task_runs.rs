//! Task runs on the wire.

use flowgate_core::task_run::TaskRunRecord;
use flowgate_core::{Micros, StateType};
use flowgate_store::model::TaskRun;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::object_or_empty;
use super::state::{StateIn, StateOut};

/// `POST /task_runs/`: the client creates a subflow's parent task run this way.
#[derive(Deserialize, Debug)]
pub struct TaskRunCreate {
    /// Id, when the client chose one.
    pub id: Option<Uuid>,
    /// Name.
    pub name: Option<String>,
    /// Owning flow run.
    pub flow_run_id: Option<Uuid>,
    /// Task key.
    pub task_key: String,
    /// Dynamic key.
    #[serde(default)]
    pub dynamic_key: String,
    /// Cache key.
    pub cache_key: Option<String>,
    /// Task version.
    pub task_version: Option<String>,
    /// Retry policy.
    #[serde(default)]
    pub empirical_policy: Option<Value>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Value>,
    /// Upstream inputs.
    #[serde(default)]
    pub task_inputs: Option<Value>,
    /// Initial state.
    pub state: Option<StateIn>,
}

impl TaskRunCreate {
    /// The record to store, stamped at `now`.
    pub fn into_record(self, now: Micros) -> TaskRunRecord {
        let state = self
            .state
            .map(|s| s.into_state(now))
            .unwrap_or_else(|| flowgate_core::State::new(Uuid::now_v7(), StateType::Pending, now));
        TaskRunRecord {
            id: self.id.unwrap_or_else(Uuid::now_v7),
            flow_run_id: self.flow_run_id,
            name: self.name.unwrap_or_else(|| self.task_key.clone()),
            task_key: self.task_key,
            dynamic_key: self.dynamic_key,
            cache_key: self.cache_key,
            task_version: self.task_version,
            empirical_policy: object_or_empty(self.empirical_policy.unwrap_or_default()),
            tags: self.tags.unwrap_or_default(),
            labels: object_or_empty(self.labels.unwrap_or_default()),
            task_inputs: object_or_empty(self.task_inputs.unwrap_or_default()),
            parameters: serde_json::Value::Object(Default::default()),
            run_count: i64::from(state.state_type == StateType::Running),
            flow_run_run_count: 0,
            expected_start_time: Some(now),
            start_time: (state.state_type == StateType::Running).then_some(now),
            end_time: state.state_type.is_terminal().then_some(now),
            total_run_time: 0.0,
            created: now,
            state,
        }
    }
}

/// A task run as the client reads it.
#[derive(Serialize, Debug)]
pub struct TaskRunOut {
    id: Uuid,
    created: Micros,
    updated: Micros,
    name: String,
    flow_run_id: Option<Uuid>,
    task_key: String,
    dynamic_key: String,
    cache_key: Option<String>,
    cache_expiration: Option<Micros>,
    task_version: Option<String>,
    empirical_policy: Value,
    tags: Vec<String>,
    labels: Value,
    state_id: Uuid,
    task_inputs: Value,
    parameters: Value,
    state_type: StateType,
    state_name: String,
    run_count: i64,
    flow_run_run_count: i64,
    expected_start_time: Option<Micros>,
    next_scheduled_start_time: Option<Micros>,
    start_time: Option<Micros>,
    end_time: Option<Micros>,
    total_run_time: f64,
    estimated_run_time: f64,
    estimated_start_time_delta: f64,
    state: StateOut,
}

impl From<TaskRun> for TaskRunOut {
    fn from(t: TaskRun) -> Self {
        let r = t.record;
        let defaults = json!({
            "max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0, "retry_delay": 0,
            "retry_jitter_factor": null,
        });
        let policy = super::overlay(
            defaults,
            r.empirical_policy
                .as_object()
                .unwrap_or(&Default::default()),
        );
        TaskRunOut {
            id: r.id,
            created: r.created,
            updated: t.updated,
            name: r.name,
            flow_run_id: r.flow_run_id,
            task_key: r.task_key,
            dynamic_key: r.dynamic_key,
            cache_key: r.cache_key,
            cache_expiration: None,
            task_version: r.task_version,
            empirical_policy: policy,
            tags: r.tags,
            labels: object_or_empty(r.labels),
            state_id: r.state.id,
            task_inputs: object_or_empty(r.task_inputs),
            parameters: object_or_empty(r.parameters),
            state_type: r.state.state_type,
            state_name: r.state.name.clone(),
            run_count: r.run_count,
            flow_run_run_count: r.flow_run_run_count,
            expected_start_time: r.expected_start_time,
            next_scheduled_start_time: None,
            start_time: r.start_time,
            end_time: r.end_time,
            total_run_time: r.total_run_time,
            estimated_run_time: r.total_run_time,
            estimated_start_time_delta: match (r.start_time, r.expected_start_time) {
                (Some(s), Some(e)) => s.seconds_since(e).max(0.0),
                _ => 0.0,
            },
            state: StateOut::from(&r.state),
        }
    }
}
