//! Work pools, their queues and workers, and the hand-out of due runs to polling workers.
//!
//! A pool is created with its queue `default`; queue priorities are kept unique per pool by the
//! core's `place_at_priority`; statuses come from the core's rules at read time (`now` is an
//! argument). A flow run waits in a queue from the moment it is put there until it ends: the
//! hand-out claims due runs for a worker under a lease, so no run goes to two workers and a run a
//! worker never started goes out again once the lease lapses.

use async_trait::async_trait;
use flowgate_core::pools::{PoolStatus, WorkerStatus};
use flowgate_core::work_queue::QueueStatus;
use flowgate_core::{Event, Micros};
use serde_json::Value;
use uuid::Uuid;

use crate::capabilities::flow_runs::{FlowRun, NewFlowRun};
use crate::model::Page;
use crate::store::Result;

/// What a client gives to create a work pool.
#[derive(Clone, Debug, Default)]
pub struct NewWorkPool {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The kind of worker that serves it (`process`, ...); other types are stored and listed.
    pub pool_type: String,
    /// The job template workers fill in (a JSON object), kept and returned as given.
    pub base_job_template: Value,
    /// A paused pool hands out nothing.
    pub is_paused: bool,
    /// Flow runs the pool runs at once, at most.
    pub concurrency_limit: Option<u32>,
}

/// A work pool as stored, with what is derived at read time.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkPool {
    /// Server-assigned id.
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
    pub pool_type: String,
    /// The job template workers fill in.
    pub base_job_template: Value,
    /// Paused: it hands out nothing.
    pub is_paused: bool,
    /// Flow runs the pool runs at once, at most.
    pub concurrency_limit: Option<u32>,
    /// Its queue `default`.
    pub default_queue_id: Uuid,
    /// READY / NOT_READY / PAUSED at the time of reading.
    pub status: PoolStatus,
    /// Runs holding one of its slots at the time of reading.
    pub active_slots: u32,
}

/// A change to a work pool; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WorkPoolUpdate {
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// Pause or resume.
    pub is_paused: Option<bool>,
    /// New limit (`Some(None)` removes it).
    pub concurrency_limit: Option<Option<u32>>,
    /// New job template.
    pub base_job_template: Option<Value>,
}

/// Which pools to list; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct WorkPoolFilter {
    /// Any of these names.
    pub names: Option<Vec<String>>,
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these types.
    pub types: Option<Vec<String>>,
}

/// Which queues to list; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct WorkQueueFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these names.
    pub names: Option<Vec<String>>,
    /// Names starting with any of these (case-sensitively).
    pub name_prefixes: Option<Vec<String>>,
    /// In a pool matching this.
    pub work_pool: Option<WorkPoolFilter>,
}

/// What a client gives to create a work queue.
#[derive(Clone, Debug, Default)]
pub struct NewWorkQueue {
    /// Unique within the pool.
    pub name: String,
    /// Free text (empty when absent, as Prefect).
    pub description: Option<String>,
    /// A paused queue hands out nothing.
    pub is_paused: bool,
    /// Flow runs from this queue at once, at most.
    pub concurrency_limit: Option<u32>,
    /// 1 is highest; `None` puts it after every existing queue. Others shift to make room.
    pub priority: Option<u32>,
}

/// A work queue as stored, with what is derived at read time.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkQueue {
    /// Server-assigned id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its pool.
    pub work_pool_id: Uuid,
    /// Its pool's name.
    pub work_pool_name: String,
    /// Unique within the pool.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Paused: it hands out nothing.
    pub is_paused: bool,
    /// Flow runs from this queue at once, at most.
    pub concurrency_limit: Option<u32>,
    /// 1 is highest.
    pub priority: u32,
    /// When a worker last polled it.
    pub last_polled: Option<Micros>,
    /// READY / NOT_READY / PAUSED at the time of reading.
    pub status: QueueStatus,
    /// Runs holding one of its slots at the time of reading.
    pub active_slots: u32,
}

/// A change to a work queue; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WorkQueueUpdate {
    /// New name (unique within the pool).
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Pause or resume.
    pub is_paused: Option<bool>,
    /// New limit (`Some(None)` removes it).
    pub concurrency_limit: Option<Option<u32>>,
    /// New priority; others shift to make room.
    pub priority: Option<u32>,
}

/// A worker as last heard from.
#[derive(Clone, Debug, PartialEq)]
pub struct Worker {
    /// Server-assigned id.
    pub id: Uuid,
    /// First heartbeat.
    pub created: Micros,
    /// Its pool.
    pub work_pool_id: Uuid,
    /// Unique within the pool.
    pub name: String,
    /// Last heartbeat.
    pub last_heartbeat: Micros,
    /// The interval it promised between heartbeats.
    pub heartbeat_interval_seconds: Option<f64>,
    /// ONLINE / OFFLINE at the time of reading.
    pub status: WorkerStatus,
}

/// A worker's poll for due runs.
#[derive(Clone, Debug, Default)]
pub struct Poll {
    /// The pool polled.
    pub pool: String,
    /// Only these queues (by name); empty: every queue of the pool.
    pub queue_names: Vec<String>,
    /// Runs due at or before this time.
    pub scheduled_before: Option<Micros>,
    /// Runs due at or after this time.
    pub scheduled_after: Option<Micros>,
    /// At most this many runs.
    pub limit: usize,
    /// Who is polling: the runs handed out are claimed for it. `None` is a look (`prefect
    /// work-pool preview`): the same runs are chosen, but none is claimed.
    pub worker: Option<String>,
    /// How long the claim holds a run for the worker if it does not start it.
    pub lease_seconds: f64,
}

/// A run handed to a worker.
#[derive(Clone, Debug, PartialEq)]
pub struct HandedOutRun {
    /// The run, still Scheduled: the worker moves it to Pending.
    pub run: FlowRun,
    /// Its queue.
    pub work_queue_id: Uuid,
    /// Its queue's name.
    pub work_queue_name: String,
    /// Its pool.
    pub work_pool_id: Uuid,
}

/// A flow run to create waiting in a pool's queue.
#[derive(Clone, Debug)]
pub struct QueuedFlowRun {
    /// The run.
    pub run: NewFlowRun,
    /// The queue it waits in.
    pub work_queue_id: Uuid,
    /// Created by the scheduler (not by someone asking).
    pub auto_scheduled: bool,
}

/// Work pools, queues, workers and the hand-out of due runs.
#[async_trait]
pub trait WorkPoolStore: Send + Sync {
    /// Creates a pool with its `default` queue; a taken name is a conflict.
    async fn create_work_pool(&self, new: NewWorkPool, now: Micros) -> Result<WorkPool>;
    /// Reads a pool by name.
    async fn read_work_pool(&self, name: &str, now: Micros) -> Result<WorkPool>;
    /// Pools matching `filter`, by name.
    async fn filter_work_pools(
        &self,
        filter: &WorkPoolFilter,
        page: Page,
        now: Micros,
    ) -> Result<Vec<WorkPool>>;
    /// How many pools match `filter`.
    async fn count_work_pools(&self, filter: &WorkPoolFilter) -> Result<i64>;
    /// Changes a pool.
    async fn update_work_pool(
        &self,
        name: &str,
        update: WorkPoolUpdate,
        now: Micros,
    ) -> Result<WorkPool>;
    /// Deletes a pool with its queues and workers (its runs stay, out of any queue).
    async fn delete_work_pool(&self, name: &str) -> Result<()>;

    /// Creates a queue in a pool, shifting others' priorities to make room.
    async fn create_work_queue(
        &self,
        pool: &str,
        new: NewWorkQueue,
        now: Micros,
    ) -> Result<WorkQueue>;
    /// Reads a queue by id.
    async fn read_work_queue(&self, id: Uuid, now: Micros) -> Result<WorkQueue>;
    /// Reads a queue by pool and name.
    async fn read_work_queue_by_name(
        &self,
        pool: &str,
        name: &str,
        now: Micros,
    ) -> Result<WorkQueue>;
    /// The queues `filter` selects, of pool `pool` (unknown: not found) or of every pool, by
    /// pool name, then priority.
    async fn filter_work_queues(
        &self,
        pool: Option<&str>,
        filter: &WorkQueueFilter,
        page: Page,
        now: Micros,
    ) -> Result<Vec<WorkQueue>>;
    /// Changes a queue, shifting others' priorities when its priority changes.
    async fn update_work_queue(
        &self,
        id: Uuid,
        update: WorkQueueUpdate,
        now: Micros,
    ) -> Result<WorkQueue>;
    /// Deletes a queue; a pool's default queue cannot be deleted.
    async fn delete_work_queue(&self, id: Uuid) -> Result<()>;

    /// Records a worker's heartbeat (creating the worker on its first).
    async fn worker_heartbeat(
        &self,
        pool: &str,
        worker: &str,
        heartbeat_interval_seconds: Option<f64>,
        now: Micros,
    ) -> Result<Worker>;
    /// A pool's workers, most recently heard from first.
    async fn filter_workers(&self, pool: &str, page: Page, now: Micros) -> Result<Vec<Worker>>;
    /// Forgets a worker.
    async fn delete_worker(&self, pool: &str, worker: &str) -> Result<()>;

    /// Creates a flow run waiting in a queue, in one transaction.
    async fn create_queued_flow_run(&self, new: QueuedFlowRun, now: Micros) -> Result<FlowRun>;
    /// Hands due runs to a polling worker under the core's rules, claiming them for
    /// `poll.lease_seconds`, and records the poll on the queues; also returns the events of runs
    /// cancelled by a `CANCEL_NEW` limit. Unknown pool: not found.
    async fn get_scheduled_flow_runs(
        &self,
        poll: &Poll,
        now: Micros,
    ) -> Result<(Vec<HandedOutRun>, Vec<Event>)>;
}
