//! Flow runs: one execution of a flow each, moved between states by the orchestration rules.

use async_trait::async_trait;
use flowgate_core::history::{History, StateCount};
use flowgate_core::orchestration::{Decision, RunClock};
use flowgate_core::{Event, Micros, State, StateType};
use serde_json::Value;
use uuid::Uuid;

use crate::capabilities::deployments::DeploymentFilter;
use crate::capabilities::flows::FlowFilter;
use crate::capabilities::task_runs::TaskRunFilter;
use crate::capabilities::work_pools::{WorkPoolFilter, WorkQueueFilter};
use crate::model::{Page, TimeRange};
use crate::store::Result;

/// What a client gives to create a flow run.
#[derive(Clone, Debug, Default)]
pub struct NewFlowRun {
    /// The flow it runs.
    pub flow_id: Uuid,
    /// The run's name; a memorable one (`calm-roadrunner`) is generated when absent.
    pub name: Option<String>,
    /// The flow's version string, as the client reports it.
    pub flow_version: Option<String>,
    /// The arguments the flow is called with (a JSON object).
    pub parameters: Value,
    /// Repeating a create with the same key and flow returns the first run.
    pub idempotency_key: Option<String>,
    /// Free-form context the client keeps with the run (a JSON object).
    pub context: Value,
    /// Retry policy (a JSON object with `retries` and `retry_delay`) and pause keys.
    pub empirical_policy: Value,
    /// Tags, matched by filters.
    pub tags: Vec<String>,
    /// Labels (a JSON object); the server adds `prefect.flow.id`.
    pub labels: Value,
    /// The task run that represents this run in its parent flow, for a subflow.
    pub parent_task_run_id: Option<Uuid>,
    /// The deployment it was created from.
    pub deployment_id: Option<Uuid>,
    /// The work queue it is assigned to.
    pub work_queue_name: Option<String>,
    /// Variables for the infrastructure that runs it (a JSON object).
    pub job_variables: Value,
    /// Initial state; `Pending` at creation time when absent.
    pub state: Option<State>,
}

/// A flow run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRun {
    /// Server-assigned uuid7 (so ids sort by creation).
    pub id: Uuid,
    /// When the server stored it.
    pub created: Micros,
    /// When the server last changed it.
    pub updated: Micros,
    /// Display name, unique only by convention.
    pub name: String,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// The flow's version string, as the client reported it.
    pub flow_version: Option<String>,
    /// The deployment it was created from.
    pub deployment_id: Option<Uuid>,
    /// The work queue it is assigned to.
    pub work_queue_name: Option<String>,
    /// The queue and pool it was put in, for a run a worker takes.
    pub queue: Option<QueuePlace>,
    /// The arguments the flow is called with (a JSON object).
    pub parameters: Value,
    /// The idempotency key given at creation.
    pub idempotency_key: Option<String>,
    /// Free-form context the client keeps with the run.
    pub context: Value,
    /// Retry policy, pause keys and the `resuming` flag (a JSON object).
    pub empirical_policy: Value,
    /// Tags, matched by filters.
    pub tags: Vec<String>,
    /// Labels (a JSON object).
    pub labels: Value,
    /// The task run representing this run in its parent flow run, for a subflow.
    pub parent_task_run_id: Option<Uuid>,
    /// Variables for the infrastructure that runs it.
    pub job_variables: Value,
    /// The process (or other infrastructure) id its worker reported.
    pub infrastructure_pid: Option<String>,
    /// The current state (absent only for runs created without one by old clients).
    pub state: Option<State>,
    /// Timing fields derived from the state history.
    pub clock: RunClock,
}

/// The work queue a run was put in, and that queue's pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuePlace {
    /// The queue.
    pub work_queue_id: Uuid,
    /// Its pool.
    pub work_pool_id: Uuid,
    /// The pool's name (pools are never renamed).
    pub work_pool_name: String,
}

impl FlowRun {
    /// Flow-level retries from the empirical policy.
    pub fn retries(&self) -> i64 {
        self.empirical_policy
            .get("retries")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// Flow-level retry delay in seconds from the empirical policy.
    pub fn retry_delay_seconds(&self) -> f64 {
        self.empirical_policy
            .get("retry_delay")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    }
}

/// A change to a flow run's descriptive fields; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct FlowRunUpdate {
    /// New flow version.
    pub flow_version: Option<String>,
    /// New retry policy (a JSON object).
    pub empirical_policy: Option<Value>,
    /// The process id its worker started.
    pub infrastructure_pid: Option<String>,
    /// Labels to set (merged over the run's).
    pub labels: Option<serde_json::Map<String, Value>>,
    /// New job variables.
    pub job_variables: Option<Value>,
}

/// Which flow runs to return; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct FlowRunFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// None of these ids.
    pub ids_not: Option<Vec<Uuid>>,
    /// Any of these exact names.
    pub names: Option<Vec<String>>,
    /// Name contains this text, case-insensitively.
    pub name_like: Option<String>,
    /// State type is any of these.
    pub state_types: Option<Vec<StateType>>,
    /// State name is any of these.
    pub state_names: Option<Vec<String>>,
    /// Runs one of these flows.
    pub flow_ids: Option<Vec<Uuid>>,
    /// Filters on the run's flow.
    pub flow: Option<FlowFilter>,
    /// Has all of these tags.
    pub tags_all: Option<Vec<String>>,
    /// Parent task run is any of these.
    pub parent_task_run_ids: Option<Vec<Uuid>>,
    /// Whether the run has a parent task run (a subflow).
    pub has_parent_task_run: Option<bool>,
    /// Created from any of these deployments.
    pub deployment_ids: Option<Vec<Uuid>>,
    /// Assigned to a work queue of any of these names.
    pub work_queue_names: Option<Vec<String>>,
    /// Start time window.
    pub start_time: TimeRange,
    /// End time window.
    pub end_time: TimeRange,
    /// Expected start time window.
    pub expected_start_time: TimeRange,
    /// Created from a deployment matching this.
    pub deployment: Option<DeploymentFilter>,
    /// Put in a work queue of a pool matching this.
    pub work_pool: Option<WorkPoolFilter>,
    /// Put in a work queue matching this.
    pub work_queue: Option<WorkQueueFilter>,
    /// Has at least one task run matching this.
    pub task_run: Option<Box<TaskRunFilter>>,
}

/// Sort orders for flow runs (Prefect's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowRunSort {
    /// Newest id first (ids are time-ordered uuid7).
    #[default]
    IdDesc,
    /// Oldest start first.
    StartTimeAsc,
    /// Newest start first.
    StartTimeDesc,
    /// Earliest expected start first.
    ExpectedStartTimeAsc,
    /// Latest expected start first.
    ExpectedStartTimeDesc,
    /// By name.
    NameAsc,
    /// By name, reversed.
    NameDesc,
    /// Earliest next scheduled start first.
    NextScheduledStartTimeAsc,
    /// Latest end first.
    EndTimeDesc,
    /// Newest creation first.
    CreatedDesc,
}

/// The outcome of proposing a flow-run state.
#[derive(Clone, Debug, PartialEq)]
pub struct SetStateOutcome {
    /// The rules' decision.
    pub decision: Decision,
    /// The run's state after the decision (the new state when one was committed).
    pub state: Option<State>,
    /// The run after the decision.
    pub run: FlowRun,
}

/// Storing flow runs and moving them between states.
#[async_trait]
pub trait FlowRunStore: Send + Sync {
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
    /// The runs matching `filter` whose expected start falls in `history`'s window, counted
    /// per interval and state in one aggregate query (only intervals and states with runs; run
    /// time and lateness as of `now`).
    async fn flow_run_history(
        &self,
        filter: &FlowRunFilter,
        history: &History,
        now: Micros,
    ) -> Result<Vec<StateCount>>;
    /// Deletes a flow run with its states, task runs and logs (its events stay).
    async fn delete_flow_run(&self, id: Uuid) -> Result<()>;
    /// Changes what a worker reports about a run (`PATCH /flow_runs/{id}` and `/labels`).
    async fn update_flow_run(&self, id: Uuid, update: FlowRunUpdate, now: Micros) -> Result<()>;
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
}
