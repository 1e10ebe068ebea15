//! Work pools, queues and workers between the wire and the store.

use flowgate_core::Micros;
use flowgate_core::pools::check_limit;
use flowgate_core::work_queue::check_priority;
use flowgate_store::model::{
    HandedOutRun, NewWorkPool, NewWorkQueue, WorkPool, WorkPoolUpdate, WorkQueue, WorkQueueUpdate,
    Worker,
};
use flowgate_wire::work_pools as wire;
use serde_json::json;

use super::flow_runs::flow_run_out;
use super::object_or_empty;

type R<T> = Result<T, String>;

/// A limit from the wire, checked by the core (`field` names it in the error).
fn limit(field: &'static str, value: Option<i64>) -> R<Option<u32>> {
    check_limit(field, value).map_err(|e| e.to_string())
}

/// The pool a create request describes.
pub fn new_work_pool(c: wire::WorkPoolCreate) -> R<NewWorkPool> {
    let name = c.name.trim();
    if name.is_empty() || name.contains('/') || name.contains('%') {
        return Err(format!(
            "name: {:?} is not a valid work pool name; give a non-empty name without '/' or '%'",
            c.name
        ));
    }
    Ok(NewWorkPool {
        name: name.to_owned(),
        description: c.description,
        pool_type: c.pool_type,
        base_job_template: object_or_empty(c.base_job_template.unwrap_or_default()),
        is_paused: c.is_paused,
        concurrency_limit: limit("concurrency_limit", c.concurrency_limit)?,
    })
}

/// A pool change from a PATCH body.
pub fn work_pool_update(u: wire::WorkPoolUpdate) -> R<WorkPoolUpdate> {
    Ok(WorkPoolUpdate {
        description: u.description,
        is_paused: u.is_paused,
        concurrency_limit: u
            .concurrency_limit
            .map(|l| limit("concurrency_limit", l))
            .transpose()?,
        base_job_template: u.base_job_template.map(object_or_empty),
    })
}

/// A pool as the client reads it.
pub fn work_pool_out(p: WorkPool) -> wire::WorkPool {
    wire::WorkPool {
        id: p.id,
        created: p.created,
        updated: p.updated,
        name: p.name,
        description: p.description,
        pool_type: p.pool_type,
        base_job_template: p.base_job_template,
        is_paused: p.is_paused,
        concurrency_limit: p.concurrency_limit.map(i64::from),
        status: p.status.as_str().to_owned(),
        default_queue_id: p.default_queue_id,
        storage_configuration: json!({
            "bundle_upload_step": null, "bundle_execution_step": null,
            "default_result_storage_block_id": null,
        }),
        active_slots: i64::from(p.active_slots),
    }
}

/// The queue a create request describes.
pub fn new_work_queue(c: wire::WorkQueueCreate) -> R<NewWorkQueue> {
    queue_name(&c.name)?;
    if c.filter.is_some() {
        return Err(
            "filter: legacy tag filters on work queues are not supported; leave it null".into(),
        );
    }
    Ok(NewWorkQueue {
        name: c.name,
        description: c.description,
        is_paused: c.is_paused,
        concurrency_limit: limit("concurrency_limit", c.concurrency_limit)?,
        priority: c
            .priority
            .map(check_priority)
            .transpose()
            .map_err(|e| e.to_string())?,
    })
}

fn queue_name(name: &str) -> R<()> {
    if name.trim().is_empty() || name.contains('/') || name.contains('%') {
        return Err(format!(
            "name: {name:?} is not a valid work queue name; give a non-empty name without '/' or '%'"
        ));
    }
    Ok(())
}

/// A queue change from a PATCH body.
pub fn work_queue_update(u: wire::WorkQueueUpdate) -> R<WorkQueueUpdate> {
    if let Some(name) = &u.name {
        queue_name(name)?;
    }
    Ok(WorkQueueUpdate {
        name: u.name,
        description: u.description,
        is_paused: u.is_paused,
        concurrency_limit: u
            .concurrency_limit
            .map(|l| limit("concurrency_limit", l))
            .transpose()?,
        priority: u
            .priority
            .map(check_priority)
            .transpose()
            .map_err(|e| e.to_string())?,
    })
}

/// A queue as the client reads it (`active_slots` null without a limit, as Prefect).
pub fn work_queue_out(q: WorkQueue) -> wire::WorkQueue {
    wire::WorkQueue {
        id: q.id,
        created: q.created,
        updated: q.updated,
        name: q.name,
        description: q.description,
        is_paused: q.is_paused,
        concurrency_limit: q.concurrency_limit.map(i64::from),
        priority: i64::from(q.priority),
        work_pool_id: q.work_pool_id,
        filter: None,
        last_polled: q.last_polled,
        work_pool_name: q.work_pool_name,
        status: q.status.as_str().to_owned(),
        active_slots: q.concurrency_limit.map(|_| i64::from(q.active_slots)),
    }
}

/// A worker as the client reads it.
pub fn worker_out(w: Worker) -> wire::Worker {
    wire::Worker {
        id: w.id,
        created: w.created,
        updated: w.last_heartbeat,
        name: w.name,
        work_pool_id: w.work_pool_id,
        last_heartbeat_time: w.last_heartbeat,
        heartbeat_interval_seconds: w.heartbeat_interval_seconds,
        status: w.status.as_str().to_owned(),
    }
}

/// A handed-out run as the worker reads it: the flow run carries its queue and pool.
pub fn handed_out(h: HandedOutRun, pool_name: &str, now: Micros) -> wire::WorkerFlowRun {
    let mut flow_run = flow_run_out(h.run, now);
    flow_run.work_queue_id = Some(h.work_queue_id);
    flow_run.work_queue_name = Some(h.work_queue_name);
    flow_run.work_pool_id = Some(h.work_pool_id);
    flow_run.work_pool_name = Some(pool_name.to_owned());
    wire::WorkerFlowRun {
        work_pool_id: h.work_pool_id,
        work_queue_id: h.work_queue_id,
        flow_run,
    }
}
