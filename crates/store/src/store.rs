//! The storage interface the server programs against.

use std::sync::Arc;

use async_trait::async_trait;
use flowgate_core::task_run::TaskRunRecord;
use flowgate_core::{Event, Micros, State};
use serde_json::Value;
use uuid::Uuid;

use crate::model::*;

/// Why a store operation failed. The server maps each variant to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed record does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What kind of record, e.g. "flow run".
        kind: &'static str,
        /// The id or name looked up.
        id: String,
    },
    /// The write conflicts with stored data (e.g. a unique name).
    #[error("{0}")]
    Conflict(String),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored value could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A shared, dynamically dispatched store.
pub type DynStore = Arc<dyn Store>;

/// Everything the server reads and writes. Each method is one transaction: it either happens
/// whole and durably (once it returns `Ok`) or not at all.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Creates a flow, or returns the existing one with that name (`false` when it existed).
    async fn create_flow(
        &self,
        name: &str,
        tags: &[String],
        labels: &Value,
        now: Micros,
    ) -> Result<(Flow, bool)>;
    /// Reads a flow by id.
    async fn read_flow(&self, id: Uuid) -> Result<Flow>;
    /// Reads a flow by name.
    async fn read_flow_by_name(&self, name: &str) -> Result<Flow>;
    /// Flows matching `filter`, by name.
    async fn filter_flows(&self, filter: &FlowFilter, page: Page) -> Result<Vec<Flow>>;
    /// How many flows match `filter`.
    async fn count_flows(&self, filter: &FlowFilter) -> Result<i64>;
    /// Deletes a flow and its runs.
    async fn delete_flow(&self, id: Uuid) -> Result<()>;

    /// Creates a flow run, or returns the run an equal idempotency key made (`false` then),
    /// with the events its initial state emitted.
    async fn create_flow_run(
        &self,
        new: NewFlowRun,
        now: Micros,
    ) -> Result<(FlowRun, bool, Vec<Event>)>;
    /// Reads a flow run.
    async fn read_flow_run(&self, id: Uuid) -> Result<FlowRun>;
    /// Flow runs matching `filter`.
    async fn filter_flow_runs(
        &self,
        filter: &FlowRunFilter,
        sort: FlowRunSort,
        page: Page,
    ) -> Result<Vec<FlowRun>>;
    /// How many flow runs match `filter`.
    async fn count_flow_runs(&self, filter: &FlowRunFilter) -> Result<i64>;
    /// Deletes a flow run with its states, task runs and logs (its events stay).
    async fn delete_flow_run(&self, id: Uuid) -> Result<()>;
    /// Proposes `proposed` for a run: the orchestration rules decide, and a committed state is
    /// recorded with its `prefect.flow-run.<State>` event (and, for a subflow, its parent task
    /// run's state event) in the same transaction; the events are returned.
    async fn set_flow_run_state(
        &self,
        id: Uuid,
        proposed: State,
        force: bool,
        now: Micros,
    ) -> Result<(SetStateOutcome, Vec<Event>)>;
    /// A flow run's state history, oldest first.
    async fn flow_run_states(&self, id: Uuid) -> Result<Vec<State>>;

    /// Stores events not stored before (by id), folds task-run events into task runs, and
    /// stores log lines: the batched write path for high-volume client reports.
    async fn ingest(&self, events: &[Event], logs: &[LogEntry]) -> Result<IngestOutcome>;
    /// Events matching `filter`.
    async fn filter_events(&self, filter: &EventFilter, page: Page) -> Result<Vec<Event>>;
    /// How many events match `filter`.
    async fn count_events(&self, filter: &EventFilter) -> Result<i64>;

    /// Creates or replaces a task run whose state the server sets (a subflow's parent task run
    /// reported over REST), recording its state event in the same transaction.
    async fn upsert_task_run(
        &self,
        record: &TaskRunRecord,
        now: Micros,
    ) -> Result<(TaskRun, Event)>;
    /// Reads a task run.
    async fn read_task_run(&self, id: Uuid) -> Result<TaskRun>;
    /// Task runs matching `filter`.
    async fn filter_task_runs(
        &self,
        filter: &TaskRunFilter,
        sort: TaskRunSort,
        page: Page,
    ) -> Result<Vec<TaskRun>>;
    /// How many task runs match `filter`.
    async fn count_task_runs(&self, filter: &TaskRunFilter) -> Result<i64>;

    /// Stores a value on a flow run under a new key ([`StoreError::Conflict`] when taken).
    async fn create_flow_run_input(&self, input: &FlowRunInput) -> Result<()>;
    /// Reads a flow run's value by key.
    async fn read_flow_run_input(&self, flow_run_id: Uuid, key: &str) -> Result<FlowRunInput>;
    /// A flow run's values whose keys start with `prefix`, except `exclude`, oldest first.
    async fn filter_flow_run_inputs(
        &self,
        flow_run_id: Uuid,
        prefix: &str,
        exclude: &[String],
        limit: u32,
    ) -> Result<Vec<FlowRunInput>>;
    /// Deletes a flow run's value by key.
    async fn delete_flow_run_input(&self, flow_run_id: Uuid, key: &str) -> Result<()>;
    /// Resumes a paused run: stores the input (if any) and moves the run to Running, with its
    /// state and `prefect.flow-run.Resumed` events, in one transaction. A run that is not
    /// paused (another resume won, or it never paused) is a [`StoreError::Conflict`].
    async fn resume_flow_run(
        &self,
        id: Uuid,
        resume: Resume,
        now: Micros,
    ) -> Result<(FlowRun, Vec<Event>)>;

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

    /// Logs matching `filter`, by timestamp.
    async fn filter_logs(
        &self,
        filter: &LogFilter,
        newest_first: bool,
        page: Page,
    ) -> Result<Vec<LogEntry>>;
}
