//! Task runs: folded from the clients' task-run events, or set by the server for a subflow's
//! parent task run.

use async_trait::async_trait;
use flowgate_core::task_run::TaskRunRecord;
use flowgate_core::{Event, Micros, State, StateType};
use uuid::Uuid;

use crate::capabilities::flow_runs::FlowRunFilter;
use crate::model::{Page, TimeRange};
use crate::store::Result;

/// A task run as stored: the folded record and when the server last changed it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRun {
    /// Everything the reports said, folded by [`TaskRunRecord::merge`].
    pub record: TaskRunRecord,
    /// When the server last wrote it.
    pub updated: Micros,
}

/// Which task runs to return; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct TaskRunFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these exact names.
    pub names: Option<Vec<String>>,
    /// State type is any of these.
    pub state_types: Option<Vec<StateType>>,
    /// State name is any of these.
    pub state_names: Option<Vec<String>>,
    /// Belongs to any of these flow runs.
    pub flow_run_ids: Option<Vec<Uuid>>,
    /// Whether the task run belongs to a flow run at all.
    pub has_flow_run: Option<bool>,
    /// Has all of these tags.
    pub tags_all: Option<Vec<String>>,
    /// Start time window.
    pub start_time: TimeRange,
    /// Filters on the task run's flow run.
    pub flow_run: Option<FlowRunFilter>,
}

/// Sort orders for task runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaskRunSort {
    /// Newest id first.
    #[default]
    IdDesc,
    /// Earliest expected start first.
    ExpectedStartTimeAsc,
    /// Latest expected start first.
    ExpectedStartTimeDesc,
    /// By name.
    NameAsc,
    /// By name, reversed.
    NameDesc,
    /// Latest end first.
    EndTimeDesc,
}

/// Storing and finding task runs.
#[async_trait]
pub trait TaskRunStore: Send + Sync {
    /// Creates or replaces a task run whose state the server sets (a subflow's parent task run
    /// reported over REST), recording its state event in the same transaction.
    async fn upsert_task_run(
        &self,
        record: &TaskRunRecord,
        now: Micros,
    ) -> Result<(TaskRun, Event)>;
    /// Moves a task run into `state` (a client reporting it over REST), recording its state
    /// event; read, change and write are one transaction, so a state change and an ingest
    /// batch folding into the same task run never overwrite each other.
    async fn set_task_run_state(
        &self,
        id: Uuid,
        state: State,
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
    /// The first `limit` task runs of a flow run (by expected start) as graph nodes: only what
    /// a timeline draws, each subflow's parent task run standing for its subflow run.
    async fn flow_run_graph(&self, flow_run_id: Uuid, limit: u32) -> Result<Vec<GraphNode>>;
}

/// A task run of a flow run's graph (or, for a subflow, its run), as a timeline draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    /// The task run.
    pub task_run_id: Uuid,
    /// The subflow run the task run stands for, if any: the node shows that run.
    pub subflow_run_id: Option<Uuid>,
    /// The run's name.
    pub label: String,
    /// The run's state type.
    pub state_type: StateType,
    /// The run's state name.
    pub state_name: String,
    /// When it started running.
    pub start_time: Option<Micros>,
    /// When it ended.
    pub end_time: Option<Micros>,
    /// The task runs whose results it took as inputs (from its `task_inputs`).
    pub parents: Vec<Uuid>,
}
