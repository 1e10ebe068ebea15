//! Prefect's filter bodies: `POST /flows/filter`, `/flow_runs/filter`, `/flow_runs/paginate`,
//! `/task_runs/filter`, the `count` routes, `/logs/filter`, `/events/filter` and the
//! `/events/out` subscription. Every object combines its fields with `and_` (the only
//! `operator` Flowgate supports); a field or operator Flowgate does not support is refused by
//! name, never ignored: a filter that matched more than asked for would mislead.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Micros, StateType};

/// How the fields of a filter object combine.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Every field must match (the only operator Flowgate supports).
    #[serde(rename = "and_")]
    And,
    /// Any field may match (refused: not supported).
    #[serde(rename = "or_")]
    Or,
}

/// `{"any_": [...]}`: the value is one of these.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[schemars(rename = "AnyOf_{T}")]
pub struct AnyOf<T> {
    /// Any of these values.
    pub any_: Option<Vec<T>>,
}

impl<T> AnyOf<T> {
    /// Matches any of `values`.
    pub fn new(values: impl IntoIterator<Item = T>) -> AnyOf<T> {
        AnyOf {
            any_: Some(values.into_iter().collect()),
        }
    }
}

/// Ids to include and to exclude.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct IdFilter {
    /// Any of these ids.
    pub any_: Option<Vec<Uuid>>,
    /// None of these ids.
    pub not_any_: Option<Vec<Uuid>>,
}

/// A reference to another record that may be absent (a parent task run, a flow run).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct OptionalIdFilter {
    /// Any of these ids.
    pub any_: Option<Vec<Uuid>>,
    /// `true`: the reference is absent; `false`: it is present.
    pub is_null_: Option<bool>,
}

/// Exact names, or a case-insensitive substring.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct NameFilter {
    /// Any of these exact names.
    pub any_: Option<Vec<String>>,
    /// The name contains this text, case-insensitively (`%` and `_` match themselves).
    pub like_: Option<String>,
}

/// Tags a record must have.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct TagsFilter {
    /// Every one of these tags (at most 100).
    pub all_: Option<Vec<String>>,
}

/// A time window; either end may be open. Both ends are inclusive.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimeFilter {
    /// At or after this instant.
    pub after_: Option<Micros>,
    /// At or before this instant.
    pub before_: Option<Micros>,
}

/// State types to include and to exclude.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct StateTypeFilter {
    /// Any of these types.
    pub any_: Option<Vec<StateType>>,
    /// None of these types.
    pub not_any_: Option<Vec<StateType>>,
}

/// A run's current state, by type and by name.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct StateFilter {
    /// How `type` and `name` combine (`and_` only).
    pub operator: Option<Operator>,
    /// By type (`COMPLETED`).
    #[serde(rename = "type")]
    pub state_type: Option<StateTypeFilter>,
    /// By name (`AwaitingRetry`).
    pub name: Option<AnyOf<String>>,
}

/// Which flows (`flows`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct FlowFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<Operator>,
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By name.
    pub name: Option<NameFilter>,
    /// By tags.
    pub tags: Option<TagsFilter>,
}

/// Which flow runs (`flow_runs`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct FlowRunFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<Operator>,
    /// By id.
    pub id: Option<IdFilter>,
    /// By name.
    pub name: Option<NameFilter>,
    /// By tags.
    pub tags: Option<TagsFilter>,
    /// By current state.
    pub state: Option<StateFilter>,
    /// By the flow run's flow.
    pub flow_id: Option<AnyOf<Uuid>>,
    /// By parent task run (subflows).
    pub parent_task_run_id: Option<OptionalIdFilter>,
    /// By deployment.
    pub deployment_id: Option<AnyOf<Uuid>>,
    /// By the name of the work queue it is assigned to.
    pub work_queue_name: Option<AnyOf<String>>,
    /// By when it started.
    pub start_time: Option<TimeFilter>,
    /// By when it ended.
    pub end_time: Option<TimeFilter>,
    /// By when it was expected to start.
    pub expected_start_time: Option<TimeFilter>,
}

/// Which task runs (`task_runs`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct TaskRunFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<Operator>,
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By exact name.
    pub name: Option<AnyOf<String>>,
    /// By tags.
    pub tags: Option<TagsFilter>,
    /// By current state.
    pub state: Option<StateFilter>,
    /// By flow run (`is_null_: true` for task runs outside any flow).
    pub flow_run_id: Option<OptionalIdFilter>,
    /// By when it started.
    pub start_time: Option<TimeFilter>,
}

/// A log level window.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LevelFilter {
    /// At least this level.
    pub ge_: Option<i64>,
    /// At most this level.
    pub le_: Option<i64>,
}

/// Which log lines (`logs`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct LogFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<Operator>,
    /// By flow run.
    pub flow_run_id: Option<AnyOf<Uuid>>,
    /// By task run (`is_null_: true` for flow-level lines).
    pub task_run_id: Option<OptionalIdFilter>,
    /// By level.
    pub level: Option<LevelFilter>,
    /// By when it was logged.
    pub timestamp: Option<TimeFilter>,
}

/// Flow sort orders.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlowSort {
    /// Newest first.
    CreatedDesc,
    /// Most recently changed first.
    UpdatedDesc,
    /// By name (the default).
    NameAsc,
    /// By name, reversed.
    NameDesc,
}

/// Flow-run sort orders (Prefect's names).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlowRunSort {
    /// Newest id first (the default).
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
    /// Newest first.
    CreatedDesc,
}

/// Task-run sort orders.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskRunSort {
    /// Newest id first (the default).
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

/// Log sort orders.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogSort {
    /// Oldest first (the default).
    TimestampAsc,
    /// Newest first.
    TimestampDesc,
}

/// `POST /flows/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct FlowFilterRequest {
    /// Which flows.
    pub flows: Option<FlowFilter>,
    /// Their order (by name when absent).
    pub sort: Option<FlowSort>,
    /// How many at most (200 when absent, at most 10,000).
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `POST /flows/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct FlowCountRequest {
    /// Which flows.
    pub flows: Option<FlowFilter>,
}

/// `POST /flow_runs/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct FlowRunFilterRequest {
    /// Runs of flows matching this.
    pub flows: Option<FlowFilter>,
    /// Runs matching this.
    pub flow_runs: Option<FlowRunFilter>,
    /// Runs with a task run matching this.
    pub task_runs: Option<TaskRunFilter>,
    /// Runs of deployments matching this.
    pub deployments: Option<crate::deployments::DeploymentFilter>,
    /// Runs put in queues of pools matching this.
    pub work_pools: Option<crate::work_pools::WorkPoolFilter>,
    /// Runs put in queues matching this.
    pub work_pool_queues: Option<crate::work_pools::WorkQueueFilter>,
    /// Their order (newest id first when absent).
    pub sort: Option<FlowRunSort>,
    /// How many at most (200 when absent, at most 10,000).
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `POST /flow_runs/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct FlowRunCountRequest {
    /// Runs of flows matching this.
    pub flows: Option<FlowFilter>,
    /// Runs matching this.
    pub flow_runs: Option<FlowRunFilter>,
    /// Runs with a task run matching this.
    pub task_runs: Option<TaskRunFilter>,
    /// Runs of deployments matching this.
    pub deployments: Option<crate::deployments::DeploymentFilter>,
    /// Runs put in queues of pools matching this.
    pub work_pools: Option<crate::work_pools::WorkPoolFilter>,
    /// Runs put in queues matching this.
    pub work_pool_queues: Option<crate::work_pools::WorkQueueFilter>,
}

/// `POST /flow_runs/history`: the runs matching the filters whose expected start falls in
/// `[history_start, history_end)`, counted by state in intervals of `history_interval_seconds`
/// (at most 500 intervals).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct FlowRunHistoryRequest {
    /// Where the first interval starts.
    pub history_start: Micros,
    /// Where the last interval ends.
    pub history_end: Micros,
    /// Each interval's length in seconds (Prefect's name; `history_interval` is accepted too).
    #[serde(alias = "history_interval")]
    pub history_interval_seconds: f64,
    /// Runs of flows matching this.
    pub flows: Option<FlowFilter>,
    /// Runs matching this.
    pub flow_runs: Option<FlowRunFilter>,
    /// Runs with a task run matching this.
    pub task_runs: Option<TaskRunFilter>,
    /// Runs of deployments matching this.
    pub deployments: Option<crate::deployments::DeploymentFilter>,
    /// Runs put in queues of pools matching this.
    pub work_pools: Option<crate::work_pools::WorkPoolFilter>,
    /// Runs put in queues matching this.
    pub work_pool_queues: Option<crate::work_pools::WorkQueueFilter>,
}

/// `POST /flow_runs/paginate`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct FlowRunPaginateRequest {
    /// Runs of flows matching this.
    pub flows: Option<FlowFilter>,
    /// Runs matching this.
    pub flow_runs: Option<FlowRunFilter>,
    /// Runs with a task run matching this.
    pub task_runs: Option<TaskRunFilter>,
    /// Runs of deployments matching this.
    pub deployments: Option<crate::deployments::DeploymentFilter>,
    /// Runs put in queues of pools matching this.
    pub work_pools: Option<crate::work_pools::WorkPoolFilter>,
    /// Runs put in queues matching this.
    pub work_pool_queues: Option<crate::work_pools::WorkQueueFilter>,
    /// Their order (newest id first when absent).
    pub sort: Option<FlowRunSort>,
    /// Runs per page (200 when absent).
    pub limit: Option<i64>,
    /// Which page, from 1.
    pub page: Option<i64>,
}

/// `POST /task_runs/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct TaskRunFilterRequest {
    /// Task runs of runs of flows matching this.
    pub flows: Option<FlowFilter>,
    /// Task runs of flow runs matching this.
    pub flow_runs: Option<FlowRunFilter>,
    /// Task runs matching this.
    pub task_runs: Option<TaskRunFilter>,
    /// Task runs of runs of deployments matching this.
    pub deployments: Option<crate::deployments::DeploymentFilter>,
    /// Their order (newest id first when absent).
    pub sort: Option<TaskRunSort>,
    /// How many at most (200 when absent, at most 10,000).
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `POST /task_runs/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct TaskRunCountRequest {
    /// Task runs of runs of flows matching this.
    pub flows: Option<FlowFilter>,
    /// Task runs of flow runs matching this.
    pub flow_runs: Option<FlowRunFilter>,
    /// Task runs matching this.
    pub task_runs: Option<TaskRunFilter>,
    /// Task runs of runs of deployments matching this.
    pub deployments: Option<crate::deployments::DeploymentFilter>,
}

/// `POST /logs/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct LogFilterRequest {
    /// Which lines.
    pub logs: Option<LogFilter>,
    /// Their order (oldest first when absent).
    pub sort: Option<LogSort>,
    /// How many at most (200 when absent, at most 10,000).
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// When events occurred.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OccurredFilter {
    /// At or after this instant; a subscription first replays stored events from here.
    pub since: Option<Micros>,
    /// At or before this instant.
    pub until: Option<Micros>,
}

/// Event names.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct EventNameFilter {
    /// Any of these exact names.
    pub name: Option<Vec<String>>,
    /// Names starting with any of these (at most 100), case-sensitively.
    pub prefix: Option<Vec<String>>,
}

/// The resource an event is about.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ResourceFilter {
    /// Any of these `prefect.resource.id`s.
    pub id: Option<Vec<String>>,
    /// Ids starting with any of these (at most 100).
    pub id_prefix: Option<Vec<String>>,
    /// Only the latest event of each resource: `false` (what Prefect's client sends) is
    /// accepted, `true` is not supported.
    pub distinct: Option<bool>,
}

/// Resources an event relates to, or any resource it names.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ResourceIdFilter {
    /// Any of these `prefect.resource.id`s (at most 100 for `related`).
    pub id: Option<Vec<String>>,
}

/// Event ids.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct EventIdFilter {
    /// Any of these ids (empty: any event, as the `prefect` client sends it).
    pub id: Option<Vec<Uuid>>,
}

/// Event order.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventOrder {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    Desc,
}

/// Which events (Prefect's event filter).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct EventFilter {
    /// By when they occurred.
    pub occurred: Option<OccurredFilter>,
    /// By name.
    pub event: Option<EventNameFilter>,
    /// By the resource they are about.
    pub resource: Option<ResourceFilter>,
    /// By a related resource.
    pub related: Option<ResourceIdFilter>,
    /// By the resource they are about (Prefect's name for the same as `resource.id`).
    pub any_resource: Option<ResourceIdFilter>,
    /// By id.
    pub id: Option<EventIdFilter>,
    /// Their order.
    pub order: Option<EventOrder>,
}

/// `POST /events/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct EventFilterRequest {
    /// Which events.
    pub filter: Option<EventFilter>,
    /// How many at most (200 when absent, at most 10,000).
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}
