//! The worker channel, `/work_pools/{name}/workers/connect` (subprotocol `prefect`): after the
//! usual auth frame, a worker says hello (who it is, which queues, whether to create the pool),
//! the server answers ready (with the pool as it is now), and the worker heartbeats on it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Micros;
use crate::work_pools::WorkPool;

/// The channel version Flowgate speaks.
pub const CHANNEL_VERSION: &str = "work_pool_worker_channel.v1";

/// Frames a worker sends after authenticating.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum WorkerFrame {
    /// The first frame: who the worker is.
    #[serde(rename = "worker.hello.v1")]
    Hello {
        /// The frame's id.
        id: Uuid,
        /// When it was sent.
        sent_at: Micros,
        /// What the worker says about itself.
        payload: Hello,
    },
    /// A heartbeat.
    #[serde(rename = "worker.heartbeat.v1")]
    Heartbeat {
        /// The frame's id.
        id: Uuid,
        /// When it was sent.
        sent_at: Micros,
        /// Who is beating.
        payload: Heartbeat,
    },
}

/// `worker.hello.v1`'s payload (fields Flowgate does not use are ignored).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Hello {
    /// The connection's id, echoed in the answer.
    pub consumer_id: Uuid,
    /// The worker's name, unique in the pool.
    pub worker_name: String,
    /// Its type (`process`).
    #[serde(default)]
    pub worker_type: Option<String>,
    /// Seconds between its heartbeats.
    #[serde(default)]
    pub heartbeat_interval_seconds: Option<f64>,
    /// Capabilities it asks for.
    #[serde(default)]
    pub requested_capabilities: Vec<String>,
    /// Queues it polls (empty: all).
    #[serde(default)]
    pub work_queue_names: Vec<String>,
    /// Create the pool when it does not exist.
    #[serde(default)]
    pub create_pool_if_not_found: bool,
    /// The job template for a pool it creates (or one that has none).
    #[serde(default)]
    pub default_base_job_template: Option<Value>,
}

/// `worker.heartbeat.v1`'s payload.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Heartbeat {
    /// The connection's id.
    pub consumer_id: Uuid,
    /// The worker's name.
    pub worker_name: String,
    /// Seconds between its heartbeats.
    #[serde(default)]
    pub heartbeat_interval_seconds: Option<f64>,
}

/// Frames the server sends.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum ServerFrame {
    /// The answer to hello.
    #[serde(rename = "worker.ready.v1")]
    Ready {
        /// The frame's id.
        id: Uuid,
        /// When it was sent.
        sent_at: Micros,
        /// What was agreed.
        payload: Box<Ready>,
    },
}

/// `worker.ready.v1`'s payload.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Ready {
    /// The hello's `consumer_id`.
    pub consumer_id: Uuid,
    /// The worker's id.
    pub worker_id: Option<Uuid>,
    /// [`CHANNEL_VERSION`].
    pub selected_channel_version: String,
    /// The heartbeat interval the server expects.
    pub effective_heartbeat_interval_seconds: f64,
    /// Capabilities granted.
    pub accepted_capabilities: Vec<String>,
    /// Capabilities refused.
    pub rejected_capabilities: Vec<String>,
    /// Cleanup work the worker may do at once (none).
    pub effective_max_cleanup_concurrency: i64,
    /// The queues the worker polls.
    pub resolved_work_queues: Vec<QueueRef>,
    /// The pool as it is now.
    pub initial_snapshot: Snapshot,
}

/// A queue named by id and name.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct QueueRef {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
}

/// The pool at a moment.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Increases with each snapshot on the connection.
    pub snapshot_sequence: i64,
    /// Why it was sent (`initial`).
    pub reason: String,
    /// The pool.
    pub work_pool: WorkPool,
}
