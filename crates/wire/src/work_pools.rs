//! Work pools, their queues and workers: `/work_pools/…`, `/work_queues/{id}`, the hand-out
//! (`POST /work_pools/{name}/get_scheduled_flow_runs`) and the worker channel
//! (`/work_pools/{name}/workers/connect`), as `prefect==3.9.1` sends and reads them.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Micros;
use crate::filters::AnyOf;
use crate::flow_runs::FlowRun;

/// Reads a field that may be absent (`None`), `null` (`Some(None)`) or set (`Some(Some(v))`):
/// PATCH bodies clear a limit with an explicit `null`.
pub fn explicit_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn process() -> String {
    "process".to_owned()
}

/// `POST /work_pools/`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct WorkPoolCreate {
    /// Unique name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The kind of worker that serves it (`process` when absent).
    #[serde(rename = "type", default = "process")]
    pub pool_type: String,
    /// The job template workers fill in.
    #[serde(default)]
    pub base_job_template: Option<Value>,
    /// A paused pool hands out nothing.
    #[serde(default)]
    pub is_paused: bool,
    /// Flow runs at once, at most (0 or more).
    #[serde(default)]
    pub concurrency_limit: Option<i64>,
    /// Result storage settings (kept as given).
    #[serde(default)]
    pub storage_configuration: Option<Value>,
}

/// `PATCH /work_pools/{name}`: only the fields present change.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct WorkPoolUpdate {
    /// New description (`null` clears it).
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// Pause or resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_paused: Option<bool>,
    /// New limit (`null` removes it).
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub concurrency_limit: Option<Option<i64>>,
    /// New job template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_job_template: Option<Value>,
    /// Result storage settings (accepted, not kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_configuration: Option<Value>,
}

/// A work pool as clients read it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct WorkPool {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The kind of worker that serves it.
    #[serde(rename = "type")]
    pub pool_type: String,
    /// The job template workers fill in.
    pub base_job_template: Value,
    /// Paused: it hands out nothing.
    pub is_paused: bool,
    /// Flow runs at once, at most.
    pub concurrency_limit: Option<i64>,
    /// `READY`, `NOT_READY` or `PAUSED`.
    pub status: String,
    /// Its queue `default`.
    pub default_queue_id: Uuid,
    /// Result storage settings (Prefect's empty default).
    pub storage_configuration: Value,
    /// Runs holding one of its slots.
    pub active_slots: i64,
}

/// `POST /work_pools/{name}/queues`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct WorkQueueCreate {
    /// Unique within the pool.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// A paused queue hands out nothing.
    #[serde(default)]
    pub is_paused: bool,
    /// Flow runs from this queue at once, at most.
    #[serde(default)]
    pub concurrency_limit: Option<i64>,
    /// 1 is highest; absent: after every other queue.
    #[serde(default)]
    pub priority: Option<i64>,
    /// Prefect's legacy tag filter (only `null` is accepted).
    #[serde(default)]
    pub filter: Option<Value>,
}

/// `PATCH /work_pools/{pool}/queues/{name}` and `PATCH /work_queues/{id}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct WorkQueueUpdate {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Pause or resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_paused: Option<bool>,
    /// New limit (`null` removes it).
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub concurrency_limit: Option<Option<i64>>,
    /// New priority (1 is highest); others shift to make room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

/// A work queue as clients read it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct WorkQueue {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Unique within the pool.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Paused: it hands out nothing.
    pub is_paused: bool,
    /// Flow runs at once, at most.
    pub concurrency_limit: Option<i64>,
    /// 1 is highest.
    pub priority: i64,
    /// Its pool.
    pub work_pool_id: Uuid,
    /// Prefect's legacy tag filter (always null).
    pub filter: Option<Value>,
    /// When a worker last polled it.
    pub last_polled: Option<Micros>,
    /// Its pool's name.
    pub work_pool_name: String,
    /// `READY`, `NOT_READY` or `PAUSED`.
    pub status: String,
    /// Runs holding one of its slots (null without a limit, as Prefect).
    pub active_slots: Option<i64>,
}

/// `POST /work_pools/{name}/workers/heartbeat`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct WorkerHeartbeat {
    /// The worker's name, unique within the pool.
    pub name: String,
    /// Seconds between its heartbeats.
    #[serde(default)]
    pub heartbeat_interval_seconds: Option<f64>,
}

/// A worker as clients read it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Worker {
    /// Its id.
    pub id: Uuid,
    /// First heartbeat.
    pub created: Micros,
    /// Last heartbeat.
    pub updated: Micros,
    /// Its name.
    pub name: String,
    /// Its pool.
    pub work_pool_id: Uuid,
    /// Last heartbeat.
    pub last_heartbeat_time: Micros,
    /// Seconds between its heartbeats.
    pub heartbeat_interval_seconds: Option<f64>,
    /// `ONLINE` or `OFFLINE`.
    pub status: String,
}

/// `POST /work_pools/{name}/get_scheduled_flow_runs`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct GetScheduledFlowRuns {
    /// Only these queues (empty or absent: all of the pool's).
    #[serde(default)]
    pub work_queue_names: Option<Vec<String>>,
    /// Runs due at or before this time (now when absent).
    #[serde(default)]
    pub scheduled_before: Option<Micros>,
    /// Runs due at or after this time.
    #[serde(default)]
    pub scheduled_after: Option<Micros>,
    /// At most this many runs.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Flowgate extension: wait up to this many seconds for a due run before answering `[]`
    /// (a long poll: new work reaches a waiting worker at once).
    #[serde(default)]
    pub wait_seconds: Option<f64>,
    /// Flowgate extension: the polling worker's name, recorded with its claims.
    #[serde(default)]
    pub worker_name: Option<String>,
}

/// One run handed to a worker.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct WorkerFlowRun {
    /// The pool it waits in.
    pub work_pool_id: Uuid,
    /// The queue it waits in.
    pub work_queue_id: Uuid,
    /// The run.
    pub flow_run: FlowRun,
}

/// Which pools (`work_pools`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct WorkPoolFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<crate::filters::Operator>,
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By name.
    pub name: Option<AnyOf<String>>,
    /// By type.
    #[serde(rename = "type")]
    pub pool_type: Option<AnyOf<String>>,
}

/// `POST /work_pools/filter` and `/work_pools/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct WorkPoolFilterRequest {
    /// Which pools.
    pub work_pools: Option<WorkPoolFilter>,
    /// How many at most.
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// Which queues (`work_queues`, `work_pool_queues`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct WorkQueueFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<crate::filters::Operator>,
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By name.
    pub name: Option<WorkQueueNameFilter>,
}

/// Queue names: exact, or by prefix.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct WorkQueueNameFilter {
    /// Any of these exact names.
    pub any_: Option<Vec<String>>,
    /// Names starting with any of these (at most 100), case-sensitively.
    pub startswith_: Option<Vec<String>>,
}

/// `POST /work_pools/{name}/queues/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct WorkQueueFilterRequest {
    /// Which queues.
    pub work_queues: Option<WorkQueueFilter>,
    /// How many at most.
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// Which workers (`workers`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct WorkerFilter {
    /// By status (`ONLINE`, `OFFLINE`).
    pub status: Option<AnyOf<String>>,
}

/// `POST /work_pools/{name}/workers/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct WorkerFilterRequest {
    /// Which workers.
    pub workers: Option<WorkerFilter>,
    /// How many at most.
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `POST /work_queues/{id}/get_runs`: a look at a queue's due runs (what `prefect work-queue
/// preview` asks for); nothing is claimed or handed out.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct WorkQueueRuns {
    /// Runs due at or before this time (now when absent).
    #[serde(default)]
    pub scheduled_before: Option<Micros>,
    /// At most this many (10 when absent).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Prefect's legacy agent id (ignored: nothing is claimed).
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

/// What makes a queue healthy.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct WorkQueueHealthPolicy {
    /// Late runs it may hold.
    pub maximum_late_runs: Option<i64>,
    /// Seconds it may go unpolled.
    pub maximum_seconds_since_last_polled: Option<i64>,
}

/// `GET /work_queues/{id}/status`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct WorkQueueStatusDetail {
    /// Polled lately and without late runs.
    pub healthy: bool,
    /// Its runs in state `Late`.
    pub late_runs_count: i64,
    /// When a worker last polled it.
    pub last_polled: Option<Micros>,
    /// What makes it healthy.
    pub health_check_policy: WorkQueueHealthPolicy,
}
