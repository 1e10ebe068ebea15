//! Automations on the wire: `/automations/…` with Prefect's trigger and action JSON, as
//! `prefect==3.9.1` sends and reads it (`prefect.events.schemas.automations`,
//! `prefect.events.actions`). Durations are seconds (`within`, `range`, `firing_for`).
//! Flowgate accepts metric triggers, which Prefect's open-source server refuses.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::filters::AnyOf;
use crate::{Micros, StateType};

fn yes() -> bool {
    true
}

fn one() -> i64 {
    1
}

fn five_minutes() -> f64 {
    300.0
}

fn selected() -> Source {
    Source::Selected
}

fn default_subject() -> String {
    "Prefect automated notification".to_owned()
}

/// A label's accepted value or values (`"prefect.flow-run.*"`, `["a", "b"]`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum LabelValues {
    /// One pattern.
    One(String),
    /// Alternatives.
    Many(Vec<String>),
}

impl LabelValues {
    /// The patterns, one or several.
    pub fn patterns(&self) -> &[String] {
        match self {
            LabelValues::One(v) => std::slice::from_ref(v),
            LabelValues::Many(v) => v,
        }
    }
}

/// Labels a resource must carry: every label must match one of its values (`*` ends a prefix,
/// `!` negates).
pub type ResourceSpecification = BTreeMap<String, LabelValues>;

/// `match_related`: one specification, or several each met by some related resource.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum RelatedSpecification {
    /// One specification.
    One(ResourceSpecification),
    /// Several.
    Many(Vec<ResourceSpecification>),
}

impl Default for RelatedSpecification {
    fn default() -> Self {
        RelatedSpecification::One(ResourceSpecification::new())
    }
}

impl RelatedSpecification {
    /// The specifications; an empty one constrains nothing and is left out.
    pub fn specs(&self) -> Vec<&ResourceSpecification> {
        match self {
            RelatedSpecification::One(s) => vec![s],
            RelatedSpecification::Many(v) => v.iter().collect(),
        }
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
    }
}

/// Whether an event trigger waits for events (`Reactive`) or for their absence (`Proactive`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Posture {
    /// Fires when the events happen.
    #[default]
    Reactive,
    /// Fires when they fail to happen within the window.
    Proactive,
}

/// `{"type": "event", …}`: fires on the presence or absence of matching events.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct EventTrigger {
    /// Assigned by the server (a client's id is replaced, as Prefect does).
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Labels the event's resource must carry.
    #[serde(rename = "match", default)]
    pub match_: ResourceSpecification,
    /// Labels some related resource must carry.
    #[serde(default)]
    pub match_related: RelatedSpecification,
    /// Event names one of which must come first (it opens the window).
    #[serde(default)]
    pub after: Vec<String>,
    /// Event names counted toward the threshold (`prefect.flow-run.*` ends a prefix); empty
    /// counts every matching event.
    #[serde(default)]
    pub expect: Vec<String>,
    /// Labels whose values split the trigger into independent buckets
    /// (`prefect.resource.id`: one per resource).
    #[serde(default)]
    pub for_each: Vec<String>,
    /// Presence or absence.
    #[serde(default)]
    pub posture: Posture,
    /// How many expected events.
    #[serde(default = "one")]
    pub threshold: i64,
    /// The window in seconds (0: no limit for a reactive trigger; at least 10 for a proactive
    /// one).
    #[serde(default)]
    pub within: f64,
}

/// How many parts of a compound trigger must fire: `"all"`, `"any"` or a number.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum Require {
    /// At least this many.
    Count(i64),
    /// `"all"` or `"any"`.
    Word(RequireWord),
}

/// The words `require` takes.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RequireWord {
    /// Every part.
    All,
    /// One part.
    Any,
}

/// `{"type": "compound", …}`: parts firing within a window, in any order.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct CompoundTrigger {
    /// Assigned by the server.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// The parts.
    pub triggers: Vec<Trigger>,
    /// How many parts must fire.
    pub require: Require,
    /// Seconds the parts must fire within (`null`: no limit).
    #[serde(default)]
    pub within: Option<f64>,
}

/// `{"type": "sequence", …}`: parts firing in the given order within a window.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SequenceTrigger {
    /// Assigned by the server.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// The parts, in order.
    pub triggers: Vec<Trigger>,
    /// Seconds the parts must fire within (`null`: no limit).
    #[serde(default)]
    pub within: Option<f64>,
}

/// The flow-run measures a metric trigger watches.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MetricName {
    /// The fraction (0 to 1) of runs that did not fail or crash.
    Successes,
    /// Mean seconds runs spent Running.
    Duration,
    /// Mean seconds Late runs waited.
    Lateness,
}

impl MetricName {
    /// Prefect's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::Successes => "successes",
            MetricName::Duration => "duration",
            MetricName::Lateness => "lateness",
        }
    }
}

/// A metric's comparison with its threshold.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricOperator {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Lte,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Gte,
}

impl MetricOperator {
    /// The symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricOperator::Lt => "<",
            MetricOperator::Lte => "<=",
            MetricOperator::Gt => ">",
            MetricOperator::Gte => ">=",
        }
    }
}

/// What a metric trigger computes and when it is breached.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct MetricQuery {
    /// Which measure.
    pub name: MetricName,
    /// The value compared against (successes: a fraction from 0 to 1).
    pub threshold: f64,
    /// The comparison that means "breached".
    pub operator: MetricOperator,
    /// Seconds the measure looks back (Flowgate: from 1 second).
    #[serde(default = "five_minutes")]
    pub range: f64,
    /// Seconds it must stay breached before firing.
    #[serde(default = "five_minutes")]
    pub firing_for: f64,
}

/// `{"type": "metric", …}`: fires when a measure of matching flow runs stays beyond a
/// threshold (Prefect Cloud's trigger; Flowgate evaluates it self-hosted).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct MetricTrigger {
    /// Assigned by the server.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Labels the flow run's resource must carry.
    #[serde(rename = "match", default)]
    pub match_: ResourceSpecification,
    /// Labels some related resource must carry (e.g. the flow by name).
    #[serde(default)]
    pub match_related: RelatedSpecification,
    /// Always `"Metric"`.
    #[serde(default)]
    pub posture: Option<String>,
    /// The measure and its threshold.
    pub metric: MetricQuery,
}

/// Any trigger, tagged by `type`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Trigger {
    /// Events present or absent.
    Event(EventTrigger),
    /// Parts in any order.
    Compound(CompoundTrigger),
    /// Parts in order.
    Sequence(SequenceTrigger),
    /// A flow-run measure.
    Metric(MetricTrigger),
}

/// Where an action's target comes from: named in the action (`selected`) or taken from the
/// triggering event's resources (`inferred`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The id in the action.
    #[default]
    Selected,
    /// From the triggering event.
    Inferred,
}

/// A deployment to act on.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct DeploymentTarget {
    /// Where the deployment comes from.
    #[serde(default = "selected")]
    pub source: Source,
    /// The deployment (with `selected`).
    #[serde(default)]
    pub deployment_id: Option<Uuid>,
}

/// `run-deployment`: create a run of a deployment.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct RunDeployment {
    /// Where the deployment comes from.
    #[serde(default = "selected")]
    pub source: Source,
    /// The deployment (with `selected`).
    #[serde(default)]
    pub deployment_id: Option<Uuid>,
    /// Parameters over the deployment's defaults (strings may use `{{ event.… }}`).
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    /// Job variables over the deployment's.
    #[serde(default)]
    pub job_variables: Option<Map<String, Value>>,
    /// Seconds after the firing the run is scheduled for.
    #[serde(default)]
    pub schedule_after: f64,
}

/// A work pool to act on.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct WorkPoolTarget {
    /// Where the pool comes from.
    #[serde(default = "selected")]
    pub source: Source,
    /// The pool (with `selected`).
    #[serde(default)]
    pub work_pool_id: Option<Uuid>,
}

/// A work queue to act on.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct WorkQueueTarget {
    /// Where the queue comes from.
    #[serde(default = "selected")]
    pub source: Source,
    /// The queue (with `selected`).
    #[serde(default)]
    pub work_queue_id: Option<Uuid>,
}

/// An automation to act on.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct AutomationTarget {
    /// Where the automation comes from (`inferred`: the one that fired).
    #[serde(default = "selected")]
    pub source: Source,
    /// The automation (with `selected`).
    #[serde(default)]
    pub automation_id: Option<Uuid>,
}

/// `change-flow-run-state`: move the triggering flow run to a state.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct ChangeFlowRunState {
    /// The state's name (its type's usual name when absent).
    #[serde(default)]
    pub name: Option<String>,
    /// The state's type.
    pub state: StateType,
    /// The state's message.
    #[serde(default)]
    pub message: Option<String>,
    /// Skip the orchestration rules.
    #[serde(default)]
    pub force: bool,
}

/// `send-notification`: a message through a notification block.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SendNotification {
    /// The block that sends it.
    pub block_document_id: Uuid,
    /// The subject (templated).
    #[serde(default = "default_subject")]
    pub subject: String,
    /// The body (templated).
    pub body: String,
}

/// `call-webhook`: POST a payload through a webhook block.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct CallWebhook {
    /// The webhook block.
    pub block_document_id: Uuid,
    /// The body (templated).
    #[serde(default)]
    pub payload: String,
}

/// An action with no fields.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct NoFields {}

/// What an automation does when it fires, tagged by `type`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Action {
    /// Nothing (the firing is still recorded).
    DoNothing(NoFields),
    /// Run a deployment.
    RunDeployment(RunDeployment),
    /// Pause a deployment's schedules.
    PauseDeployment(DeploymentTarget),
    /// Resume a deployment's schedules.
    ResumeDeployment(DeploymentTarget),
    /// Pause a work pool.
    PauseWorkPool(WorkPoolTarget),
    /// Resume a work pool.
    ResumeWorkPool(WorkPoolTarget),
    /// Pause a work queue.
    PauseWorkQueue(WorkQueueTarget),
    /// Resume a work queue.
    ResumeWorkQueue(WorkQueueTarget),
    /// Disable an automation.
    PauseAutomation(AutomationTarget),
    /// Enable an automation.
    ResumeAutomation(AutomationTarget),
    /// Set the triggering flow run's state.
    ChangeFlowRunState(ChangeFlowRunState),
    /// Cancel the triggering flow run.
    CancelFlowRun(NoFields),
    /// Suspend the triggering flow run.
    SuspendFlowRun(NoFields),
    /// Resume the triggering (paused) flow run.
    ResumeFlowRun(NoFields),
    /// Send a notification through a block.
    SendNotification(SendNotification),
    /// Call a webhook block.
    CallWebhook(CallWebhook),
}

impl Action {
    /// Prefect's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::DoNothing(_) => "do-nothing",
            Action::RunDeployment(_) => "run-deployment",
            Action::PauseDeployment(_) => "pause-deployment",
            Action::ResumeDeployment(_) => "resume-deployment",
            Action::PauseWorkPool(_) => "pause-work-pool",
            Action::ResumeWorkPool(_) => "resume-work-pool",
            Action::PauseWorkQueue(_) => "pause-work-queue",
            Action::ResumeWorkQueue(_) => "resume-work-queue",
            Action::PauseAutomation(_) => "pause-automation",
            Action::ResumeAutomation(_) => "resume-automation",
            Action::ChangeFlowRunState(_) => "change-flow-run-state",
            Action::CancelFlowRun(_) => "cancel-flow-run",
            Action::SuspendFlowRun(_) => "suspend-flow-run",
            Action::ResumeFlowRun(_) => "resume-flow-run",
            Action::SendNotification(_) => "send-notification",
            Action::CallWebhook(_) => "call-webhook",
        }
    }
}

/// `POST /automations/` and `PUT /automations/{id}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct AutomationCreate {
    /// The automation's name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Whether it is evaluated.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Labels for filtering.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What it waits for.
    pub trigger: Trigger,
    /// What it does when the trigger fires (or resolves).
    pub actions: Vec<Action>,
    /// What it does only when the trigger fires.
    #[serde(default)]
    pub actions_on_trigger: Vec<Action>,
    /// What it does only when the trigger resolves.
    #[serde(default)]
    pub actions_on_resolve: Vec<Action>,
    /// The resource that owns it (`prefect.deployment.<id>`): deleting that resource's
    /// automations (`DELETE /automations/owned-by/{id}`) deletes it (ignored by `PUT`).
    #[serde(default)]
    pub owner_resource: Option<String>,
}

/// An automation as clients read it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Automation {
    /// Id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// The automation's name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// Labels.
    pub tags: Vec<String>,
    /// What it waits for, with every trigger's id.
    pub trigger: Trigger,
    /// What it does when the trigger fires (or resolves).
    pub actions: Vec<Action>,
    /// What it does only when the trigger fires.
    pub actions_on_trigger: Vec<Action>,
    /// What it does only when the trigger resolves.
    pub actions_on_resolve: Vec<Action>,
}

/// `PATCH /automations/{id}`: enable or disable.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutomationPatch {
    /// Whether it is evaluated.
    pub enabled: bool,
}

/// Automations created up to a time.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct CreatedBefore {
    /// Created at or before this time.
    pub before_: Option<Micros>,
}

/// Which automations (`automations` in `/automations/filter` and `/count`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct AutomationFilter {
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By exact name.
    pub name: Option<AnyOf<String>>,
    /// By creation time.
    pub created: Option<CreatedBefore>,
}

/// The orders `/automations/filter` can return.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AutomationSort {
    /// Newest first.
    CreatedDesc,
    /// Most recently changed first.
    UpdatedDesc,
    /// By name, A to Z (the default).
    #[default]
    NameAsc,
    /// By name, Z to A.
    NameDesc,
}

/// `POST /automations/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct AutomationFilterRequest {
    /// Which automations.
    pub automations: Option<AutomationFilter>,
    /// Their order.
    pub sort: Option<AutomationSort>,
    /// How many at most.
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `POST /automations/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct AutomationCountRequest {
    /// Which automations.
    pub automations: Option<AutomationFilter>,
}

/// One firing of an automation and what its actions did.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct AutomationFiring {
    /// The id of the `prefect.automation.triggered` (or `resolved`) event recording it.
    pub id: Uuid,
    /// `Triggered` or `Resolved`.
    pub state: String,
    /// The event time the firing is about.
    pub occurred: Micros,
    /// When the engine decided.
    pub decided: Micros,
    /// The event that completed the trigger.
    pub triggering_event: Option<Uuid>,
    /// Each action's outcome, in order; `null` while they run.
    pub actions: Option<Vec<ActionOutcome>>,
}

/// What one action of a firing did.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct ActionOutcome {
    /// The action's `type` (`pause-work-pool`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether it succeeded (after its retries).
    pub ok: bool,
    /// Why it failed.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `GET /automations/{id}/state` (Flowgate): why an automation did or did not fire.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct AutomationReport {
    /// The trigger's state as of the engine's last checkpoint (at most a second old): one entry
    /// per trigger of its tree with what it counted, which parts matched, a metric's value, and
    /// a sentence saying what it waits for; `null` while the automation is disabled.
    pub trigger_state: Option<Value>,
    /// The latest firings, newest first.
    pub firings: Vec<AutomationFiring>,
}
