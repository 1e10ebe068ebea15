//! The distributed task queue: task calls waiting for task workers, claimed under leases.

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::task_queue::QueueStatus;
use serde_json::Value;
use uuid::Uuid;

use crate::store::Result;

/// A task call waiting in, or taken from, the distributed task queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedTask {
    /// The task run's id.
    pub id: Uuid,
    /// Which task function runs it (workers claim by key).
    pub task_key: String,
    /// The flow run it belongs to.
    pub flow_run_id: Option<Uuid>,
    /// The call's arguments (a JSON object).
    pub parameters: Value,
    /// Where the call is in the queue.
    pub status: QueueStatus,
    /// The worker holding or that finished it.
    pub worker: Option<String>,
    /// Until when the claiming worker holds it.
    pub lease_until: Option<Micros>,
    /// How many times a worker claimed it.
    pub attempts: i64,
    /// The result reference, once done successfully.
    pub result: Option<Value>,
    /// Why it failed, once done unsuccessfully.
    pub error: Option<String>,
}

/// Queueing task calls and handing them to workers under leases.
#[async_trait]
pub trait TaskQueueStore: Send + Sync {
    /// Puts a task call on the distributed queue.
    async fn enqueue_task(&self, task: &QueuedTask, now: Micros) -> Result<()>;
    /// Claims up to `limit` queued tasks with one of `task_keys` for `worker` until `lease_until`,
    /// oldest first; tasks whose lease expired count as queued (their worker is gone). A task
    /// claimed `max_attempts` times before is finished with an error instead.
    async fn claim_tasks(
        &self,
        task_keys: &[String],
        worker: &str,
        limit: u32,
        lease_until: Micros,
        max_attempts: i64,
        now: Micros,
    ) -> Result<Vec<QueuedTask>>;
    /// Extends `worker`'s leases on `ids`; returns how many it still holds.
    async fn renew_leases(
        &self,
        ids: &[Uuid],
        worker: &str,
        lease_until: Micros,
        now: Micros,
    ) -> Result<u64>;
    /// Records a claimed task's outcome; `false` when `worker` no longer holds it.
    async fn finish_task(
        &self,
        id: Uuid,
        worker: &str,
        result: Option<&Value>,
        error: Option<&str>,
        now: Micros,
    ) -> Result<bool>;
    /// Reads a queued task.
    async fn read_queued_task(&self, id: Uuid) -> Result<QueuedTask>;
}
