//! The distributed task queue (`/flowgate/task_queue`, a Flowgate extension, not part of
//! Prefect's API): a flow enqueues a task call; task workers claim calls by task key under a
//! lease they renew, and report each outcome; the flow long-polls the call until it is done.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Micros;
pub use flowgate_core::task_queue::QueueStatus;

/// `POST /flowgate/task_queue/`: puts a task call on the queue (again: a no-op).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TaskEnqueue {
    /// The task run's id, which names the call.
    pub id: Uuid,
    /// Which task function runs it; workers claim by key.
    pub task_key: String,
    /// The flow run it belongs to.
    #[serde(default)]
    pub flow_run_id: Option<Uuid>,
    /// The call's arguments (a JSON object).
    #[serde(default)]
    pub parameters: Value,
}

/// `POST /flowgate/task_queue/claim`: takes up to `limit` calls, oldest first, waiting up to
/// `wait_seconds` for one to arrive.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TaskClaim {
    /// Task keys this worker runs.
    pub task_keys: Vec<String>,
    /// The worker's name (unique per process).
    pub worker: String,
    /// How many calls at most (1–100).
    #[serde(default = "TaskClaim::default_limit")]
    pub limit: u32,
    /// How long a claim holds without renewal (1–3600 s).
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: f64,
    /// How long to wait for a call when none is queued (0–60 s).
    #[serde(default)]
    pub wait_seconds: f64,
    /// Claims of a call whose workers were lost before it is given up and its task run
    /// Crashed (at least 1).
    #[serde(default = "TaskClaim::default_max_attempts")]
    pub max_attempts: i64,
}

impl TaskClaim {
    fn default_limit() -> u32 {
        1
    }

    fn default_max_attempts() -> i64 {
        3
    }
}

/// How long a lease lasts when the worker does not say.
fn default_lease_seconds() -> f64 {
    30.0
}

/// `POST /flowgate/task_queue/heartbeat`: renews a worker's leases.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TaskHeartbeat {
    /// The worker renewing.
    pub worker: String,
    /// The calls it runs.
    pub ids: Vec<Uuid>,
    /// The new lease, from now (1–3600 s).
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: f64,
}

/// The answer to a heartbeat.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatAnswer {
    /// How many of the calls the worker still holds (fewer: some lapsed to another worker).
    pub held: u64,
}

/// `POST /flowgate/task_queue/{id}/finish`: a claimed call's outcome (exactly one of `result`
/// and `error`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TaskFinish {
    /// The worker that ran it.
    pub worker: String,
    /// The result reference, e.g. `{"type": "json", "value": …}`.
    #[serde(default)]
    pub result: Option<Value>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// The query of `GET /flowgate/task_queue/{id}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Default)]
pub struct TaskRead {
    /// Wait up to this long (0–60 s) for the call to be done before answering.
    #[serde(default)]
    pub wait_seconds: f64,
}

/// A queued call as `GET /flowgate/task_queue/{id}` and `claim` answer it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct QueuedTask {
    /// The task run's id.
    pub id: Uuid,
    /// Which task function runs it.
    pub task_key: String,
    /// The flow run it belongs to.
    pub flow_run_id: Option<Uuid>,
    /// The call's arguments.
    pub parameters: Value,
    /// Where it is in the queue.
    pub status: QueueStatus,
    /// The worker holding it or that finished it.
    pub worker: Option<String>,
    /// Until when its worker holds it.
    pub lease_until: Option<Micros>,
    /// How many times a worker claimed it.
    pub attempts: i64,
    /// The result reference, once done successfully.
    pub result: Option<Value>,
    /// Why it failed, once done unsuccessfully.
    pub error: Option<String>,
}
