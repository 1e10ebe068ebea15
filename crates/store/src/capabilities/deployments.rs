//! Deployments: flows packaged to run on demand or on a schedule in a work pool's queue (or, with
//! no pool, by the process that served them), with their schedules; the scheduler's and the
//! late-run service's units of work.

use async_trait::async_trait;
use flowgate_core::deployment::{CollisionStrategy, DeploymentStatus, LateRunPolicy};
use flowgate_core::schedule::Schedule;
use flowgate_core::scheduler::Horizon;
use flowgate_core::{Event, Micros};
use serde_json::Value;
use uuid::Uuid;

use crate::capabilities::flow_runs::{FlowRun, NewFlowRun};
use crate::capabilities::flows::FlowFilter;
use crate::capabilities::work_pools::WorkPoolFilter;
use crate::model::Page;
use crate::store::Result;

/// A schedule to attach to a deployment.
#[derive(Clone, Debug)]
pub struct NewDeploymentSchedule {
    /// When runs are due.
    pub schedule: Schedule,
    /// Inactive schedules create no runs.
    pub active: bool,
    /// At most this many future runs (instead of the scheduler's default).
    pub max_scheduled_runs: Option<u32>,
    /// Parameters its runs get over the deployment's (a JSON object).
    pub parameters: Value,
    /// A name unique within the deployment.
    pub slug: Option<String>,
}

/// A deployment's schedule as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentSchedule {
    /// Server-assigned id.
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
    pub max_scheduled_runs: Option<u32>,
    /// Parameters its runs get over the deployment's.
    pub parameters: Value,
    /// A name unique within the deployment.
    pub slug: Option<String>,
}

/// What a client gives to create (or, by flow and name, replace) a deployment.
#[derive(Clone, Debug, Default)]
pub struct NewDeployment {
    /// The flow it runs.
    pub flow_id: Uuid,
    /// Unique per flow.
    pub name: String,
    /// Free-form version string.
    pub version: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// A paused deployment's runs are not handed out and its schedules create none.
    pub paused: bool,
    /// Default parameters (a JSON object).
    pub parameters: Value,
    /// The flow's parameters as JSON Schema.
    pub parameter_openapi_schema: Value,
    /// Check run parameters against the schema.
    pub enforce_parameter_schema: bool,
    /// Variables for the worker's job template (a JSON object).
    pub job_variables: Value,
    /// Tags its runs get.
    pub tags: Vec<String>,
    /// Labels (a JSON object).
    pub labels: Value,
    /// The pool its runs wait in (none: served by a process).
    pub work_pool_name: Option<String>,
    /// The queue within the pool (none: the pool's default queue).
    pub work_queue_name: Option<String>,
    /// Runs at once, at most.
    pub concurrency_limit: Option<u32>,
    /// What happens to a run when the limit is full.
    pub collision_strategy: CollisionStrategy,
    /// What happens to a backlog of late scheduled runs.
    pub late_run_policy: LateRunPolicy,
    /// Steps a worker runs before the flow (kept and returned).
    pub pull_steps: Value,
    /// `file.py:function` (or a binary) the worker runs.
    pub entrypoint: Option<String>,
    /// Where the flow's code lives.
    pub path: Option<String>,
    /// Its schedules (replacing any it had).
    pub schedules: Vec<NewDeploymentSchedule>,
}

/// A deployment as stored, with what is derived at read time.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    /// Server-assigned id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// The flow it runs.
    pub flow_id: Uuid,
    /// The flow's name.
    pub flow_name: String,
    /// Unique per flow.
    pub name: String,
    /// Free-form version string.
    pub version: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Paused: no hand-outs, no scheduled runs.
    pub paused: bool,
    /// Default parameters.
    pub parameters: Value,
    /// The flow's parameters as JSON Schema.
    pub parameter_openapi_schema: Value,
    /// Check run parameters against the schema.
    pub enforce_parameter_schema: bool,
    /// Variables for the worker's job template.
    pub job_variables: Value,
    /// Tags its runs get.
    pub tags: Vec<String>,
    /// Labels.
    pub labels: Value,
    /// Its pool, if any.
    pub work_pool_id: Option<Uuid>,
    /// Its pool's name.
    pub work_pool_name: Option<String>,
    /// Its queue, if it has a pool.
    pub work_queue_id: Option<Uuid>,
    /// Its queue's name.
    pub work_queue_name: Option<String>,
    /// Runs at once, at most.
    pub concurrency_limit: Option<u32>,
    /// What happens to a run when the limit is full.
    pub collision_strategy: CollisionStrategy,
    /// What happens to a backlog of late scheduled runs.
    pub late_run_policy: LateRunPolicy,
    /// Steps a worker runs before the flow.
    pub pull_steps: Value,
    /// What the worker runs.
    pub entrypoint: Option<String>,
    /// Where the flow's code lives.
    pub path: Option<String>,
    /// When a worker (or its serving process) last asked for its runs.
    pub last_polled: Option<Micros>,
    /// READY / NOT_READY at the time of reading.
    pub status: DeploymentStatus,
    /// Its schedules.
    pub schedules: Vec<DeploymentSchedule>,
}

/// A change to a deployment; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct DeploymentUpdate {
    /// New description.
    pub description: Option<Option<String>>,
    /// Pause or resume.
    pub paused: Option<bool>,
    /// New default parameters.
    pub parameters: Option<Value>,
    /// New job variables.
    pub job_variables: Option<Value>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New queue, by name, within its pool.
    pub work_queue_name: Option<String>,
    /// New limit (`Some(None)` removes it).
    pub concurrency_limit: Option<Option<u32>>,
    /// New collision strategy.
    pub collision_strategy: Option<CollisionStrategy>,
    /// New late-run policy.
    pub late_run_policy: Option<LateRunPolicy>,
    /// Check run parameters against the schema.
    pub enforce_parameter_schema: Option<bool>,
    /// New schedules (replacing all; future automatic runs are recreated).
    pub schedules: Option<Vec<NewDeploymentSchedule>>,
}

/// Which deployments to list; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct DeploymentFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these names.
    pub names: Option<Vec<String>>,
    /// Name contains this text, case-insensitively.
    pub name_like: Option<String>,
    /// Has all of these tags.
    pub tags_all: Option<Vec<String>>,
    /// Its queue has any of these names.
    pub work_queue_names: Option<Vec<String>>,
    /// Of any of these flows.
    pub flow_ids: Option<Vec<Uuid>>,
    /// Of a flow matching this.
    pub flow: Option<FlowFilter>,
    /// In a pool matching this.
    pub work_pool: Option<WorkPoolFilter>,
    /// Paused or not.
    pub paused: Option<bool>,
}

/// What one pass of the scheduler did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchedulerPass {
    /// Deployments planned.
    pub deployments: usize,
    /// Runs created.
    pub runs_created: usize,
    /// The events the new runs' states emitted (stored; for the server to publish).
    pub events: Vec<Event>,
}

/// What one pass of the late-runs service did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatePass {
    /// Runs marked Late.
    pub marked_late: usize,
    /// Runs skipped (cancelled) by their deployment's late-run policy.
    pub skipped: usize,
    /// The events their new states emitted (stored; for the server to publish).
    pub events: Vec<Event>,
}

/// Deployments, their schedules, their runs, the scheduler's and the late-run service's work.
#[async_trait]
pub trait DeploymentStore: Send + Sync {
    /// Creates a deployment, or replaces the one of the same flow and name (`false` then). An
    /// unknown pool or queue is not found.
    async fn upsert_deployment(
        &self,
        new: NewDeployment,
        now: Micros,
    ) -> Result<(Deployment, bool)>;
    /// Reads a deployment.
    async fn read_deployment(&self, id: Uuid, now: Micros) -> Result<Deployment>;
    /// Reads a deployment by its flow's name and its own.
    async fn read_deployment_by_name(
        &self,
        flow: &str,
        name: &str,
        now: Micros,
    ) -> Result<Deployment>;
    /// Deployments matching `filter`, by flow name and name.
    async fn filter_deployments(
        &self,
        filter: &DeploymentFilter,
        page: Page,
        now: Micros,
    ) -> Result<Vec<Deployment>>;
    /// How many deployments match `filter`.
    async fn count_deployments(&self, filter: &DeploymentFilter) -> Result<i64>;
    /// Changes a deployment.
    async fn update_deployment(
        &self,
        id: Uuid,
        update: DeploymentUpdate,
        now: Micros,
    ) -> Result<Deployment>;
    /// Deletes a deployment with its schedules and its runs not yet started.
    async fn delete_deployment(&self, id: Uuid) -> Result<()>;
    /// Creates a run of a deployment (parameters already merged and checked), waiting in the
    /// deployment's queue or in `work_queue_name` of its pool.
    async fn create_deployment_flow_run(
        &self,
        id: Uuid,
        run: NewFlowRun,
        work_queue_name: Option<&str>,
        now: Micros,
    ) -> Result<FlowRun>;
    /// The scheduler's pass: plans up to `batch` deployments due for planning, creating their
    /// runs ahead (once per deployment and time, even with several replicas).
    async fn schedule_runs(
        &self,
        now: Micros,
        horizon: &Horizon,
        batch: usize,
    ) -> Result<SchedulerPass>;
    /// The late-run service's pass over up to `batch` overdue Scheduled runs.
    async fn mark_late_runs(&self, now: Micros, batch: usize) -> Result<LatePass>;
    /// Due runs of served deployments (no pool), claimed for the serving process, with the
    /// events of runs cancelled by a `CANCEL_NEW` limit.
    async fn served_scheduled_flow_runs(
        &self,
        deployment_ids: &[Uuid],
        scheduled_before: Micros,
        limit: usize,
        now: Micros,
    ) -> Result<(Vec<FlowRun>, Vec<Event>)>;
}
