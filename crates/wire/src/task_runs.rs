//! Task runs: `POST /task_runs/` (how a subflow's parent task run is created), what task-run
//! routes answer, and the payload of a `prefect.task-run.<State>` event, which is how clients
//! report every other task run.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::states::{State, StateCreate};
use crate::{Micros, StateType};

/// `POST /task_runs/`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct TaskRunCreate {
    /// The task run's id, when the client chose one.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Display name; the task key when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The flow run it belongs to.
    #[serde(default)]
    pub flow_run_id: Option<Uuid>,
    /// Identifies the task function.
    pub task_key: String,
    /// Distinguishes calls of one task within a flow run.
    #[serde(default)]
    pub dynamic_key: String,
    /// Cache key, when the task caches.
    #[serde(default)]
    pub cache_key: Option<String>,
    /// The task's version string.
    #[serde(default)]
    pub task_version: Option<String>,
    /// Retry policy (a JSON object).
    #[serde(default)]
    pub empirical_policy: Option<Value>,
    /// Tags, which filters (`tags.all_`) and tag concurrency limits match.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Labels (a JSON object).
    #[serde(default)]
    pub labels: Option<Value>,
    /// Upstream inputs per parameter (a JSON object).
    #[serde(default)]
    pub task_inputs: Option<Value>,
    /// The initial state; `PENDING` when absent.
    #[serde(default)]
    pub state: Option<StateCreate>,
}

/// A task run as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TaskRun {
    /// The task run's id.
    pub id: Uuid,
    /// When its first report was made.
    pub created: Micros,
    /// When the server last changed it.
    pub updated: Micros,
    /// Display name, e.g. `add-a3d`.
    pub name: String,
    /// The flow run it belongs to.
    pub flow_run_id: Option<Uuid>,
    /// Identifies the task function.
    pub task_key: String,
    /// Distinguishes calls of one task within a flow run.
    pub dynamic_key: String,
    /// Cache key, when the task caches.
    pub cache_key: Option<String>,
    /// When the cached result expires (not kept: always null).
    pub cache_expiration: Option<Micros>,
    /// The task's version string.
    pub task_version: Option<String>,
    /// Retry policy, with Prefect's defaults filled in.
    pub empirical_policy: Value,
    /// Tags, which filters (`tags.all_`) and tag concurrency limits match.
    pub tags: Vec<String>,
    /// Labels (a JSON object).
    pub labels: Value,
    /// Its current state's id.
    pub state_id: Uuid,
    /// Upstream inputs per parameter (a JSON object).
    pub task_inputs: Value,
    /// The call's arguments, when the client reported them (the Rust SDK does).
    pub parameters: Value,
    /// The current state's type.
    pub state_type: StateType,
    /// The current state's name.
    pub state_name: String,
    /// Attempts started.
    pub run_count: i64,
    /// The flow run's attempt it belongs to.
    pub flow_run_run_count: i64,
    /// When it was expected to start.
    pub expected_start_time: Option<Micros>,
    /// When it is scheduled to start (not kept: always null).
    pub next_scheduled_start_time: Option<Micros>,
    /// When it first started running.
    pub start_time: Option<Micros>,
    /// When it finished.
    pub end_time: Option<Micros>,
    /// Seconds spent running.
    pub total_run_time: f64,
    /// Seconds spent running (Prefect's estimate; the same here).
    pub estimated_run_time: f64,
    /// Seconds it started late.
    pub estimated_start_time_delta: f64,
    /// The current state.
    pub state: State,
}

/// The payload of a `prefect.task-run.<State>` event: the state the client moved the task run
/// into and what it knows about the task run. The server folds these, in any order, into the
/// task run's record.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TaskRunEventPayload {
    /// The transition, by state type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended: Option<Transition>,
    /// The state before, when the client reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<ReportedState>,
    /// The state entered.
    pub validated_state: ReportedState,
    /// What the client knows about the task run.
    pub task_run: TaskRunReport,
}

/// A transition by state type (`{"from": "PENDING", "to": "RUNNING"}`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Transition {
    /// The type before (null for a first report).
    pub from: Option<StateType>,
    /// The type after.
    pub to: StateType,
}

/// A state as a task-run event reports it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct ReportedState {
    /// The state's kind.
    #[serde(rename = "type")]
    pub state_type: StateType,
    /// Display name (`AwaitingRetry` for a `SCHEDULED` retry).
    pub name: String,
    /// Why (empty when nothing to say).
    #[serde(default)]
    pub message: String,
    /// Prefect's `state_details` (e.g. `scheduled_time` for `AwaitingRetry`).
    #[serde(default)]
    pub state_details: Map<String, Value>,
    /// A result reference or inline result.
    #[serde(default)]
    pub data: Option<Value>,
}

/// What a task-run event says about its task run. A client may describe the task run once, in
/// its first event, and send only the changing fields (counts, times) afterwards: the server
/// fills each report's gaps from earlier ones.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct TaskRunReport {
    /// Display name, e.g. `add-a3d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Identifies the task function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_key: Option<String>,
    /// Distinguishes calls of one task within a flow run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_key: Option<String>,
    /// The key the task's result is cached under, when it caches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    /// The task's version string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_version: Option<String>,
    /// Retry policy (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empirical_policy: Option<Value>,
    /// Tags, which filters and tag concurrency limits match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Labels (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Value>,
    /// Upstream inputs per parameter (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_inputs: Option<Value>,
    /// The call's arguments (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Attempts started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_count: Option<i64>,
    /// The flow run's attempt it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_run_run_count: Option<i64>,
    /// When it was expected to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_start_time: Option<Micros>,
    /// When it first started running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Micros>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Micros>,
    /// Seconds spent running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_run_time: Option<f64>,
}
