//! Flow runs: `POST /flow_runs/`, what flow-run routes answer, and `POST /flow_runs/paginate`'s
//! page.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::states::{State, StateCreate};
use crate::{Micros, StateType};

/// `POST /flow_runs/`: creates a run of a flow (or, with an `idempotency_key` seen before for the
/// flow, returns that run).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct FlowRunCreate {
    /// The flow to run.
    pub flow_id: Uuid,
    /// The initial state; `PENDING` when absent.
    #[serde(default)]
    pub state: Option<StateCreate>,
    /// The run's name; a memorable one is generated when absent or empty.
    #[serde(default)]
    pub name: Option<String>,
    /// The flow's version string.
    #[serde(default)]
    pub flow_version: Option<String>,
    /// The arguments (a JSON object).
    #[serde(default)]
    pub parameters: Option<Value>,
    /// Free-form context (a JSON object).
    #[serde(default)]
    pub context: Option<Value>,
    /// The task run that represents this run in its parent flow run, for a subflow.
    #[serde(default)]
    pub parent_task_run_id: Option<Uuid>,
    /// Retry policy: `{"retries": n, "retry_delay": seconds}`.
    #[serde(default)]
    pub empirical_policy: Option<Value>,
    /// Tags, which filters (`tags.all_`) match and state events relate the run to.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Labels (a JSON object).
    #[serde(default)]
    pub labels: Option<Value>,
    /// Repeating a create with this key returns the first run.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The deployment it is created from.
    #[serde(default)]
    pub deployment_id: Option<Uuid>,
    /// The work queue it is assigned to.
    #[serde(default)]
    pub work_queue_name: Option<String>,
    /// Variables for the infrastructure that runs it (a JSON object).
    #[serde(default)]
    pub job_variables: Option<Value>,
}

/// `PATCH /flow_runs/{id}`: what a worker reports about a run it started.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct FlowRunUpdate {
    /// The flow's version string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_version: Option<String>,
    /// The retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empirical_policy: Option<Value>,
    /// The id of the process (or other infrastructure) running it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_pid: Option<String>,
    /// Variables for the infrastructure that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_variables: Option<Value>,
}

/// A flow run as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct FlowRun {
    /// The run's id.
    pub id: Uuid,
    /// When the server stored it.
    pub created: Micros,
    /// When the server last changed it.
    pub updated: Micros,
    /// Its display name.
    pub name: String,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// Its current state's id.
    pub state_id: Option<Uuid>,
    /// The deployment it was created from.
    pub deployment_id: Option<Uuid>,
    /// The deployment's version (not kept: always null).
    pub deployment_version: Option<String>,
    /// The work queue's id (not kept: always null).
    pub work_queue_id: Option<Uuid>,
    /// The work queue it is assigned to.
    pub work_queue_name: Option<String>,
    /// The flow's version string.
    pub flow_version: Option<String>,
    /// The arguments (a JSON object).
    pub parameters: Value,
    /// The idempotency key given at creation.
    pub idempotency_key: Option<String>,
    /// Free-form context (a JSON object).
    pub context: Value,
    /// Retry policy, pause keys and `resuming`, with Prefect's defaults filled in.
    pub empirical_policy: Value,
    /// Tags, which filters (`tags.all_`) match and state events relate the run to.
    pub tags: Vec<String>,
    /// Labels (a JSON object).
    pub labels: Value,
    /// The parent task run, for a subflow.
    pub parent_task_run_id: Option<Uuid>,
    /// The current state's type.
    pub state_type: Option<StateType>,
    /// The current state's name.
    pub state_name: Option<String>,
    /// How many times the run entered `RUNNING`.
    pub run_count: i64,
    /// When it was expected to start.
    pub expected_start_time: Option<Micros>,
    /// When it is scheduled to start, while `SCHEDULED`.
    pub next_scheduled_start_time: Option<Micros>,
    /// When it first started running.
    pub start_time: Option<Micros>,
    /// When it entered a terminal state.
    pub end_time: Option<Micros>,
    /// Seconds spent running, summed over attempts.
    pub total_run_time: f64,
    /// `total_run_time` plus the time running so far, for a run that is running.
    pub estimated_run_time: f64,
    /// Seconds it started late (0 before it starts on time).
    pub estimated_start_time_delta: f64,
    /// Whether a schedule created it (never, yet).
    pub auto_scheduled: bool,
    /// Prefect's infrastructure document (not kept: always null).
    pub infrastructure_document_id: Option<Uuid>,
    /// The process id of its infrastructure (not kept: always null).
    pub infrastructure_pid: Option<String>,
    /// Who created it (not kept: always null).
    pub created_by: Option<Value>,
    /// Its work pool's id (not kept: always null).
    pub work_pool_id: Option<Uuid>,
    /// Its work pool's name (not kept: always null).
    pub work_pool_name: Option<String>,
    /// The current state.
    pub state: Option<State>,
    /// Variables for the infrastructure that runs it (a JSON object).
    pub job_variables: Value,
}

/// One page of `POST /flow_runs/paginate`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct FlowRunPage {
    /// The runs on this page.
    pub results: Vec<FlowRun>,
    /// How many runs match in all.
    pub count: i64,
    /// Runs per page.
    pub limit: u32,
    /// How many pages there are.
    pub pages: i64,
    /// This page's number, from 1.
    pub page: i64,
}

/// Runs of one state in one interval of a history.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct HistoryState {
    /// The state type.
    pub state_type: StateType,
    /// The state name (`Late`, `AwaitingRetry`, …).
    pub state_name: String,
    /// How many runs.
    pub count_runs: i64,
    /// Their run time in seconds, summed (a running run counts its time so far).
    pub sum_estimated_run_time: f64,
    /// How late they started (or, not started yet, are), summed in seconds.
    pub sum_estimated_lateness: f64,
}

/// One interval of `POST /flow_runs/history`'s answer (every interval of the window is listed,
/// empty ones with no states).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct HistoryInterval {
    /// Where it starts.
    pub interval_start: Micros,
    /// Where it ends (exclusive).
    pub interval_end: Micros,
    /// Runs in it by state.
    pub states: Vec<HistoryState>,
}

/// An edge of a flow run's graph: the node at its other end.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct GraphEdge {
    /// That node's id.
    pub id: Uuid,
}

/// A node of `GET /flow_runs/{id}/graph-v2`: a task run, or a subflow run (its id then).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct GraphNode {
    /// `task-run` or `flow-run` (a subflow).
    pub kind: String,
    /// The run's id.
    pub id: Uuid,
    /// The run's name.
    pub label: String,
    /// Its state type.
    pub state_type: StateType,
    /// Its state name (a Flowgate extension).
    pub state_name: String,
    /// When it started (absent while it has not: a Flowgate extension, Prefect leaves such
    /// runs out).
    pub start_time: Option<Micros>,
    /// When it ended.
    pub end_time: Option<Micros>,
    /// The nodes whose results it took as inputs.
    pub parents: Vec<GraphEdge>,
    /// The nodes that took its result as an input.
    pub children: Vec<GraphEdge>,
    /// Always empty (Prefect's nesting of nodes; Flowgate draws subflows as nodes).
    pub encapsulating: Vec<GraphEdge>,
    /// Always empty (artifacts are not drawn yet).
    pub artifacts: Vec<Value>,
}

/// `GET /flow_runs/{id}/graph-v2`: a flow run's task runs and subflow runs as a graph, in
/// Prefect's shape, for a timeline (at most 10,000 nodes, the earliest expected first).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct FlowRunGraph {
    /// When the flow run started.
    pub start_time: Option<Micros>,
    /// When it ended.
    pub end_time: Option<Micros>,
    /// The nodes without parents.
    pub root_node_ids: Vec<Uuid>,
    /// Every node, by id.
    pub nodes: Vec<(Uuid, GraphNode)>,
    /// Always empty.
    pub artifacts: Vec<Value>,
    /// Always empty.
    pub states: Vec<Value>,
}
