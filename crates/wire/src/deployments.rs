//! Deployments and their schedules: `/deployments/…`, `create_flow_run`, and
//! `/deployments/get_scheduled_flow_runs` (for `flow.serve()`), as `prefect==3.9.1` sends and
//! reads them. Flowgate extends a deployment with `late_run_policy` (`RUN_ALL`, `NEWEST_ONLY`,
//! `SKIP`: what happens to a backlog of late scheduled runs).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Micros;
use crate::filters::AnyOf;
use crate::states::StateCreate;
use crate::work_pools::explicit_null;

/// A schedule as Prefect writes it: exactly one of `cron`, `interval` or `rrule` is set.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct Schedule {
    /// A cron expression (five fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// `true` (default): a day matches on day-of-month OR day-of-week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_or: Option<bool>,
    /// An interval in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    /// The instant an interval's runs line up with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_date: Option<Micros>,
    /// An RRULE (refused by Flowgate with a 422 that says what to use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
    /// IANA time zone (`UTC` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// A schedule to attach to a deployment.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct DeploymentScheduleCreate {
    /// When runs are due.
    pub schedule: Schedule,
    /// Inactive schedules create no runs (`true` when absent).
    #[serde(default)]
    pub active: Option<bool>,
    /// At most this many future runs.
    #[serde(default)]
    pub max_scheduled_runs: Option<i64>,
    /// Parameters its runs get over the deployment's.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// A name unique within the deployment.
    #[serde(default)]
    pub slug: Option<String>,
}

/// A deployment's schedule as clients read it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct DeploymentSchedule {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its deployment.
    pub deployment_id: Uuid,
    /// When runs are due.
    pub schedule: Schedule,
    /// Inactive schedules create no runs.
    pub active: bool,
    /// At most this many future runs.
    pub max_scheduled_runs: Option<i64>,
    /// Parameters its runs get over the deployment's.
    pub parameters: Value,
    /// A name unique within the deployment.
    pub slug: Option<String>,
}

/// `{"collision_strategy": "ENQUEUE" | "CANCEL_NEW"}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct ConcurrencyOptions {
    /// What happens to a run when the deployment's limit is full.
    pub collision_strategy: String,
}

/// `POST /deployments/`: creates a deployment or replaces the one of the same flow and name.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct DeploymentCreate {
    /// Unique per flow.
    pub name: String,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// A paused deployment hands out and schedules nothing.
    #[serde(default)]
    pub paused: Option<bool>,
    /// Its schedules.
    #[serde(default)]
    pub schedules: Option<Vec<DeploymentScheduleCreate>>,
    /// Runs at once, at most.
    #[serde(default)]
    pub concurrency_limit: Option<i64>,
    /// What happens to a run when the limit is full.
    #[serde(default)]
    pub concurrency_options: Option<ConcurrencyOptions>,
    /// Flowgate: what happens to a backlog of late scheduled runs.
    #[serde(default)]
    pub late_run_policy: Option<String>,
    /// Check run parameters against `parameter_openapi_schema`.
    #[serde(default)]
    pub enforce_parameter_schema: Option<bool>,
    /// The flow's parameters as JSON Schema.
    #[serde(default)]
    pub parameter_openapi_schema: Option<Value>,
    /// Default parameters.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// Tags its runs get.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Value>,
    /// Steps a worker runs before the flow.
    #[serde(default)]
    pub pull_steps: Option<Value>,
    /// The queue its runs wait in (the pool's default when absent).
    #[serde(default)]
    pub work_queue_name: Option<String>,
    /// The pool its runs wait in (none: served by a process).
    #[serde(default)]
    pub work_pool_name: Option<String>,
    /// Prefect's storage block (not kept).
    #[serde(default)]
    pub storage_document_id: Option<Uuid>,
    /// Prefect's infrastructure block (not kept).
    #[serde(default)]
    pub infrastructure_document_id: Option<Uuid>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the flow's code lives.
    #[serde(default)]
    pub path: Option<String>,
    /// What the worker runs (`file.py:function`, or a command).
    #[serde(default)]
    pub entrypoint: Option<String>,
    /// Variables for the worker's job template.
    #[serde(default)]
    pub job_variables: Option<Value>,
    /// Free-form version string.
    #[serde(default)]
    pub version: Option<String>,
    /// Prefect's version details (not kept).
    #[serde(default)]
    pub version_info: Option<Value>,
}

/// `PATCH /deployments/{id}`: only the fields present change.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct DeploymentUpdate {
    /// New description.
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// Pause or resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// New default parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// New job variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_variables: Option<Value>,
    /// New tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// New queue within its pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_queue_name: Option<String>,
    /// New limit (`null` removes it).
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub concurrency_limit: Option<Option<i64>>,
    /// New collision strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_options: Option<ConcurrencyOptions>,
    /// Flowgate: new late-run policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_run_policy: Option<String>,
    /// Check run parameters against the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_parameter_schema: Option<bool>,
    /// New schedules (replacing all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<Vec<DeploymentScheduleCreate>>,
}

/// A deployment as clients read it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Deployment {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Unique per flow.
    pub name: String,
    /// Free-form version string.
    pub version: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// Paused: hands out and schedules nothing.
    pub paused: bool,
    /// Its schedules.
    pub schedules: Vec<DeploymentSchedule>,
    /// Runs at once, at most.
    pub concurrency_limit: Option<i64>,
    /// Prefect's global limit object (null: the limit is `concurrency_limit`).
    pub global_concurrency_limit: Option<Value>,
    /// What happens to a run when the limit is full.
    pub concurrency_options: Option<ConcurrencyOptions>,
    /// Flowgate: what happens to a backlog of late scheduled runs.
    pub late_run_policy: String,
    /// Variables for the worker's job template.
    pub job_variables: Value,
    /// Default parameters.
    pub parameters: Value,
    /// Tags its runs get.
    pub tags: Vec<String>,
    /// Labels.
    pub labels: Value,
    /// The queue its runs wait in.
    pub work_queue_name: Option<String>,
    /// That queue's id.
    pub work_queue_id: Option<Uuid>,
    /// When a worker last asked for its runs.
    pub last_polled: Option<Micros>,
    /// The flow's parameters as JSON Schema.
    pub parameter_openapi_schema: Value,
    /// Where the flow's code lives.
    pub path: Option<String>,
    /// Steps a worker runs before the flow.
    pub pull_steps: Value,
    /// What the worker runs.
    pub entrypoint: Option<String>,
    /// Prefect's storage block (always null).
    pub storage_document_id: Option<Uuid>,
    /// Prefect's infrastructure block (always null).
    pub infrastructure_document_id: Option<Uuid>,
    /// Who created it (not kept: always null).
    pub created_by: Option<Value>,
    /// Who last changed it (not kept: always null).
    pub updated_by: Option<Value>,
    /// The pool its runs wait in.
    pub work_pool_name: Option<String>,
    /// `READY` or `NOT_READY`.
    pub status: String,
    /// Check run parameters against the schema.
    pub enforce_parameter_schema: bool,
}

/// `POST /deployments/{id}/create_flow_run`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct DeploymentFlowRunCreate {
    /// The initial state (Scheduled now when absent).
    #[serde(default)]
    pub state: Option<StateCreate>,
    /// The run's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Parameters over the deployment's.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// Free-form context.
    #[serde(default)]
    pub context: Option<Value>,
    /// Tags besides the deployment's.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Repeating a create with this key returns the first run.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The task run representing it in a parent flow run.
    #[serde(default)]
    pub parent_task_run_id: Option<Uuid>,
    /// Job variables over the deployment's.
    #[serde(default)]
    pub job_variables: Option<Value>,
    /// A queue of the deployment's pool to wait in instead of its own.
    #[serde(default)]
    pub work_queue_name: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Value>,
    /// Retry policy.
    #[serde(default)]
    pub empirical_policy: Option<Value>,
}

/// Which deployments (`deployments`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct DeploymentFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<crate::filters::Operator>,
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By name: exact, or containing a text case-insensitively.
    pub name: Option<crate::filters::NameFilter>,
    /// By tags.
    pub tags: Option<crate::filters::TagsFilter>,
    /// By the name of its work queue.
    pub work_queue_name: Option<AnyOf<String>>,
    /// By paused flag (`{"eq_": true}`).
    pub paused: Option<PausedFilter>,
    /// By work pool name (Prefect nests it as `work_pools.name`; Flowgate also accepts it here).
    pub work_pool_name: Option<AnyOf<String>>,
}

/// `{"eq_": bool}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct PausedFilter {
    /// Paused or not.
    pub eq_: Option<bool>,
}

/// `POST /deployments/filter` and `/deployments/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct DeploymentFilterRequest {
    /// Which deployments.
    pub deployments: Option<DeploymentFilter>,
    /// Deployments of flows with these ids or names.
    pub flows: Option<crate::filters::FlowFilter>,
    /// Deployments in pools matching this.
    pub work_pools: Option<crate::work_pools::WorkPoolFilter>,
    /// How many at most.
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
    /// Sort (only `NAME_ASC` is supported).
    pub sort: Option<String>,
}

/// `POST /deployments/get_scheduled_flow_runs` (what `flow.serve()` polls).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct DeploymentScheduledRuns {
    /// The served deployments.
    pub deployment_ids: Vec<Uuid>,
    /// Runs due at or before this time.
    #[serde(default)]
    pub scheduled_before: Option<Micros>,
    /// At most this many runs.
    #[serde(default)]
    pub limit: Option<i64>,
}
