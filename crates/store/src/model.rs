//! Records the store keeps and the queries it answers. Domain-shaped, not wire-shaped: the server
//! converts them to and from Prefect's JSON at the edge.

use flowgate_core::orchestration::RunClock;
use flowgate_core::{Micros, State, StateType};
use serde_json::Value;
use uuid::Uuid;

/// A flow: a named workflow function that runs are made of.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Unique name.
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Labels (a JSON object).
    pub labels: Value,
}

/// What a client gives to create a flow run.
#[derive(Clone, Debug, Default)]
pub struct NewFlowRun {
    /// The flow it runs.
    pub flow_id: Uuid,
    /// Name; a memorable one is generated when absent.
    pub name: Option<String>,
    /// The flow's version string.
    pub flow_version: Option<String>,
    /// Parameters (a JSON object).
    pub parameters: Value,
    /// Repeating a create with the same key and flow returns the first run.
    pub idempotency_key: Option<String>,
    /// Free-form context (a JSON object).
    pub context: Value,
    /// Retry policy (a JSON object with `retries` and `retry_delay`).
    pub empirical_policy: Value,
    /// Tags.
    pub tags: Vec<String>,
    /// Labels (a JSON object).
    pub labels: Value,
    /// The task run that represents this run in its parent flow, for a subflow.
    pub parent_task_run_id: Option<Uuid>,
    /// The deployment it was created from.
    pub deployment_id: Option<Uuid>,
    /// The work queue it is assigned to.
    pub work_queue_name: Option<String>,
    /// Job variables (a JSON object).
    pub job_variables: Value,
    /// Initial state; `Pending` at creation time when absent.
    pub state: Option<State>,
}

/// A flow run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRun {
    /// Id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Name.
    pub name: String,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// The flow's version string.
    pub flow_version: Option<String>,
    /// The deployment it was created from.
    pub deployment_id: Option<Uuid>,
    /// The work queue it is assigned to.
    pub work_queue_name: Option<String>,
    /// Parameters (a JSON object).
    pub parameters: Value,
    /// Idempotency key given at creation.
    pub idempotency_key: Option<String>,
    /// Free-form context.
    pub context: Value,
    /// Retry policy.
    pub empirical_policy: Value,
    /// Tags.
    pub tags: Vec<String>,
    /// Labels.
    pub labels: Value,
    /// Parent task run, for a subflow.
    pub parent_task_run_id: Option<Uuid>,
    /// Job variables.
    pub job_variables: Value,
    /// Current state.
    pub state: Option<State>,
    /// Timing fields derived from the state history.
    pub clock: RunClock,
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

/// One log line from a flow or task run.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Id.
    pub id: Uuid,
    /// When the server stored it.
    pub created: Micros,
    /// Logger name.
    pub name: String,
    /// Python-style level: 10 debug, 20 info, 30 warning, 40 error, 50 critical.
    pub level: i64,
    /// The text.
    pub message: String,
    /// When it was logged.
    pub timestamp: Micros,
    /// The flow run it belongs to.
    pub flow_run_id: Option<Uuid>,
    /// The task run it belongs to.
    pub task_run_id: Option<Uuid>,
}

/// A time window; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub after: Option<Micros>,
    /// Inclusive upper bound.
    pub before: Option<Micros>,
}

/// Which flows to return; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct FlowFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these exact names.
    pub names: Option<Vec<String>>,
    /// Name contains this text, case-insensitively.
    pub name_like: Option<String>,
    /// Has all of these tags.
    pub tags_all: Option<Vec<String>>,
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
    /// Start time window.
    pub start_time: TimeRange,
    /// Expected start time window.
    pub expected_start_time: TimeRange,
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

/// Which logs to return.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    /// Of any of these flow runs.
    pub flow_run_ids: Option<Vec<Uuid>>,
    /// Of any of these task runs.
    pub task_run_ids: Option<Vec<Uuid>>,
    /// Whether the log belongs to a task run.
    pub has_task_run: Option<bool>,
    /// Level at least this.
    pub level_ge: Option<i64>,
    /// Level at most this.
    pub level_le: Option<i64>,
    /// Timestamp window.
    pub timestamp: TimeRange,
}

/// Which events to return.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Occurred within this window.
    pub occurred: TimeRange,
    /// Event name is any of these.
    pub names: Option<Vec<String>>,
    /// Event name starts with any of these.
    pub name_prefixes: Option<Vec<String>>,
    /// Resource id is any of these.
    pub resource_ids: Option<Vec<String>>,
    /// Resource id starts with any of these.
    pub resource_id_prefixes: Option<Vec<String>>,
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// A related resource with one of these ids (matched as text in the related labels).
    pub related_resource_ids: Option<Vec<String>>,
    /// Newest first when true.
    pub newest_first: bool,
}

/// A page of results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Rows to return at most.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: 200,
            offset: 0,
        }
    }
}

/// The outcome of proposing a flow-run state.
#[derive(Clone, Debug, PartialEq)]
pub struct SetStateOutcome {
    /// The rules' decision.
    pub decision: flowgate_core::orchestration::Decision,
    /// The run's state after the decision (the new state when one was committed).
    pub state: Option<State>,
    /// The run after the decision.
    pub run: FlowRun,
}

/// What an event batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Events newly stored.
    pub stored: usize,
    /// Events skipped because their id was already stored.
    pub duplicates: usize,
    /// Task runs created or updated from the batch.
    pub task_runs: usize,
    /// Task-run events whose payload could not be read (stored, but no record changed).
    pub unreadable: usize,
    /// Ids of the events newly stored, in batch order.
    pub fresh: Vec<Uuid>,
}

impl EventFilter {
    /// Whether `event` passes this filter (the in-memory twin of the SQL filter, for live
    /// subscriptions).
    pub fn matches(&self, event: &flowgate_core::Event) -> bool {
        let within = |r: &TimeRange, t: Micros| {
            r.after.is_none_or(|a| t >= a) && r.before.is_none_or(|b| t <= b)
        };
        let any_eq = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
        };
        let any_prefix = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref()
                .is_none_or(|l| l.iter().any(|p| v.starts_with(p.as_str())))
        };
        let related_ok = self.related_resource_ids.as_ref().is_none_or(|ids| {
            event.related.iter().any(|r| {
                r.get("prefect.resource.id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| ids.iter().any(|x| x == id))
            })
        });
        within(&self.occurred, event.occurred)
            && any_eq(&self.names, &event.event)
            && any_prefix(&self.name_prefixes, &event.event)
            && any_eq(&self.resource_ids, event.resource_id())
            && any_prefix(&self.resource_id_prefixes, event.resource_id())
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&event.id))
            && related_ok
    }
}

/// A value stored on a flow run under a key: a pause's input schema, description, or the
/// input a person resumed the run with.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRunInput {
    /// Id.
    pub id: Uuid,
    /// When it was stored.
    pub created: Micros,
    /// The flow run.
    pub flow_run_id: Uuid,
    /// The key, unique per flow run.
    pub key: String,
    /// The value, as JSON text.
    pub value: String,
    /// Who sent it, if known.
    pub sender: Option<String>,
}

/// How a paused run is resumed: the input to store under its response key, and who resumed it.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// `(key, JSON text)` of the input, when the pause asked for one.
    pub input: Option<(String, String)>,
    /// Who resumed the run (for the `prefect.flow-run.Resumed` event).
    pub resumed_by: Option<String>,
}

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
    /// `queued`, `claimed` or `done`.
    pub status: String,
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

/// A task run as stored: the folded record and when the server last changed it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRun {
    /// The record.
    pub record: flowgate_core::task_run::TaskRunRecord,
    /// When the server last wrote it.
    pub updated: Micros,
}
