//! Queued task calls between the wire and the store.

use flowgate_core::task_queue::QueueStatus;
use flowgate_store::model::QueuedTask;
use flowgate_wire::task_queue::{QueuedTask as QueuedOut, TaskEnqueue};
use serde_json::json;

/// The call an enqueue request describes, waiting for a worker.
pub fn queued_in(t: TaskEnqueue) -> QueuedTask {
    QueuedTask {
        id: t.id,
        task_key: t.task_key,
        flow_run_id: t.flow_run_id,
        parameters: if t.parameters.is_null() {
            json!({})
        } else {
            t.parameters
        },
        status: QueueStatus::Queued,
        worker: None,
        lease_until: None,
        attempts: 0,
        result: None,
        error: None,
    }
}

/// A stored call as workers and flows read it.
pub fn queued_out(t: QueuedTask) -> QueuedOut {
    QueuedOut {
        id: t.id,
        task_key: t.task_key,
        flow_run_id: t.flow_run_id,
        parameters: t.parameters,
        status: t.status,
        worker: t.worker,
        lease_until: t.lease_until,
        attempts: t.attempts,
        result: t.result,
        error: t.error,
    }
}
