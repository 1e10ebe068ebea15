//! What a firing does: the automation's actions, run in order, each retried with backoff while
//! the database is unavailable, each recorded as Prefect records them
//! (`prefect.automation.triggered` / `resolved` for the firing, then
//! `prefect.automation.action.triggered` and `.executed` or `.failed` per action), and their
//! outcomes stored with the firing. A failed action never stops the others or the engine.

use std::sync::Arc;
use std::time::Duration;

use flowgate_core::automations::{Firing, FiringState, cascade};
use flowgate_core::event::{labels, resource_uuid};
use flowgate_core::pause::plan_resume;
use flowgate_core::{Event, Payload, State, StateType};
use flowgate_store::StoreError;
use flowgate_store::model::{
    DeploymentUpdate, FiringRecord, Resume, WorkPoolFilter, WorkPoolUpdate, WorkQueueUpdate,
};
use flowgate_wire::automations::{Action, ActionOutcome, Source};
use flowgate_wire::deployments::DeploymentFlowRunCreate;
use flowgate_wire::states::StateCreate;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::notify;
use crate::app::AppState;
use crate::error::ApiError;

/// Attempts of an action while the database is unavailable.
const ATTEMPTS: u32 = 4;
/// The first retry's delay; each next one doubles it.
const BACKOFF: Duration = Duration::from_millis(100);
/// How long a suspended flow run waits to be resumed before it fails (Prefect's default).
const SUSPEND_TIMEOUT_SECONDS: f64 = 3600.0;

/// A loaded automation as its firings need it.
#[derive(Debug)]
pub struct Armed {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its top trigger's `type`.
    pub trigger_kind: &'static str,
    /// Run when it fires.
    pub actions: Vec<Action>,
    /// Run only when it fires.
    pub actions_on_trigger: Vec<Action>,
    /// Run only when it resolves.
    pub actions_on_resolve: Vec<Action>,
}

/// Why an action did not happen.
#[derive(Debug)]
pub enum Failure {
    /// It cannot happen: said to whoever reads the firing.
    Refused(String),
    /// The database or a webhook failed in a way worth retrying.
    Transient(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } | StoreError::Conflict(_) | StoreError::Invalid(_) => {
                Failure::Refused(e.to_string())
            }
            other => Failure::Transient(other.to_string()),
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Refused(e.to_string())
    }
}

/// Runs a firing's actions and records what each did.
pub async fn act(
    app: AppState,
    armed: Arc<Armed>,
    firing: Firing,
    record: FiringRecord,
    triggering: Option<Arc<Event>>,
) {
    let ctx = Context {
        app: &app,
        armed: &armed,
        firing: &firing,
        invocation: record.id,
        triggering: triggering.as_deref(),
    };
    ctx.emit(firing_event(&ctx)).await;
    let actions: Vec<&Action> = match firing.state {
        FiringState::Triggered => (armed.actions.iter())
            .chain(&armed.actions_on_trigger)
            .collect(),
        FiringState::Resolved => armed.actions_on_resolve.iter().collect(),
    };
    let mut outcomes = Vec::new();
    for (index, action) in actions.into_iter().enumerate() {
        ctx.emit(ctx.action_event("triggered", index, action, None))
            .await;
        let outcome = ctx.attempt(action).await;
        let (suffix, reason) = match &outcome {
            Ok(()) => ("executed", None),
            Err(reason) => ("failed", Some(reason.clone())),
        };
        tracing::info!(automation = %armed.id, action = action.kind(), outcome = suffix, reason = reason.as_deref().unwrap_or(""), "automation action");
        ctx.emit(ctx.action_event(suffix, index, action, reason.as_deref()))
            .await;
        outcomes.push(ActionOutcome {
            kind: action.kind().to_owned(),
            ok: outcome.is_ok(),
            reason,
        });
    }
    let outcomes = serde_json::to_value(outcomes).unwrap_or_default();
    if let Err(e) = (app.store)
        .finish_firing(armed.id, &record.key, &outcomes)
        .await
    {
        tracing::warn!(automation = %armed.id, error = %e, "storing an automation's action outcomes failed");
    }
}

/// One firing being acted on.
struct Context<'a> {
    app: &'a AppState,
    armed: &'a Armed,
    firing: &'a Firing,
    invocation: Uuid,
    triggering: Option<&'a Event>,
}

impl Context<'_> {
    /// Runs an action, retrying with backoff while the database or a webhook fails.
    async fn attempt(&self, action: &Action) -> Result<(), String> {
        let mut delay = BACKOFF;
        for attempt in 1..=ATTEMPTS {
            match self.perform(action).await {
                Ok(()) => return Ok(()),
                Err(Failure::Refused(reason)) => return Err(reason),
                Err(Failure::Transient(e)) if attempt == ATTEMPTS => return Err(e),
                Err(Failure::Transient(e)) => {
                    tracing::debug!(error = %e, attempt, "an automation action will be retried");
                    self.app.clock.sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        Err("no attempt was made".into())
    }

    async fn perform(&self, action: &Action) -> Result<(), Failure> {
        let app = self.app;
        let now = app.now();
        match action {
            Action::DoNothing(_) => Ok(()),
            Action::RunDeployment(r) => {
                let id = self.target(r.source, r.deployment_id, "deployment")?;
                let scheduled = now.plus_seconds(r.schedule_after.max(0.0));
                let mut details = Map::new();
                details.insert("scheduled_time".into(), scheduled.to_string().into());
                let body = DeploymentFlowRunCreate {
                    parameters: r.parameters.clone().map(Value::Object),
                    job_variables: r.job_variables.clone().map(Value::Object),
                    state: Some(StateCreate {
                        state_type: StateType::Scheduled,
                        name: Some("Scheduled".into()),
                        message: Some(format!("Run started by automation {:?}", self.armed.name)),
                        data: None,
                        state_details: Some(details),
                    }),
                    ..Default::default()
                };
                crate::routes::deployments::run_deployment(app, id, body).await?;
                Ok(())
            }
            Action::PauseDeployment(t) | Action::ResumeDeployment(t) => {
                let id = self.target(t.source, t.deployment_id, "deployment")?;
                let update = DeploymentUpdate {
                    paused: Some(matches!(action, Action::PauseDeployment(_))),
                    ..Default::default()
                };
                app.store.update_deployment(id, update, now).await?;
                app.scheduler.notify_one();
                app.work.notify_waiters();
                Ok(())
            }
            Action::PauseWorkPool(t) | Action::ResumeWorkPool(t) => {
                let id = self.target(t.source, t.work_pool_id, "work-pool")?;
                let filter = WorkPoolFilter {
                    ids: Some(vec![id]),
                    ..Default::default()
                };
                let pools = (app.store)
                    .filter_work_pools(&filter, Default::default(), now)
                    .await?;
                let pool = pools
                    .first()
                    .ok_or_else(|| Failure::Refused(format!("work pool {id} not found")))?;
                let update = WorkPoolUpdate {
                    is_paused: Some(matches!(action, Action::PauseWorkPool(_))),
                    ..Default::default()
                };
                app.store.update_work_pool(&pool.name, update, now).await?;
                app.work.notify_waiters();
                Ok(())
            }
            Action::PauseWorkQueue(t) | Action::ResumeWorkQueue(t) => {
                let id = self.target(t.source, t.work_queue_id, "work-queue")?;
                let update = WorkQueueUpdate {
                    is_paused: Some(matches!(action, Action::PauseWorkQueue(_))),
                    ..Default::default()
                };
                app.store.update_work_queue(id, update, now).await?;
                app.work.notify_waiters();
                Ok(())
            }
            Action::PauseAutomation(t) | Action::ResumeAutomation(t) => {
                let id = match t.source {
                    Source::Selected => self.target(t.source, t.automation_id, "automation")?,
                    Source::Inferred => self.armed.id,
                };
                let enabled = matches!(action, Action::ResumeAutomation(_));
                app.store.set_automation_enabled(id, enabled, now).await?;
                app.automations.notify_one();
                Ok(())
            }
            Action::ChangeFlowRunState(c) => {
                let mut state = State::new(Uuid::now_v7(), c.state, now);
                if let Some(name) = c.name.as_ref().filter(|n| !n.is_empty()) {
                    state.name.clone_from(name);
                }
                state.message = Some(c.message.clone().unwrap_or_else(|| {
                    format!("State changed by automation {:?}", self.armed.name)
                }));
                self.set_state(state, c.force).await
            }
            Action::CancelFlowRun(_) => {
                let mut state = State::new(Uuid::now_v7(), StateType::Cancelling, now);
                state.message = Some(format!("Cancelled by automation {:?}", self.armed.name));
                self.set_state(state, false).await
            }
            Action::SuspendFlowRun(_) => {
                let mut state = State::new(Uuid::now_v7(), StateType::Paused, now);
                state.name = "Suspended".into();
                state.message = Some(format!("Suspended by automation {:?}", self.armed.name));
                state.details.insert("pause_reschedule".into(), true.into());
                state.details.insert(
                    "pause_timeout".into(),
                    now.plus_seconds(SUSPEND_TIMEOUT_SECONDS).to_string().into(),
                );
                self.set_state(state, true).await
            }
            Action::ResumeFlowRun(_) => self.resume().await,
            Action::SendNotification(n) => {
                let block = app.store.read_block_document(n.block_document_id).await?;
                let context = self.template_context();
                let subject = notify::render(&n.subject, &context);
                let body = notify::render(&n.body, &context);
                notify::send_notification(&block.data, &subject, &body).await
            }
            Action::CallWebhook(w) => {
                let block = app.store.read_block_document(w.block_document_id).await?;
                let payload = notify::render(&w.payload, &self.template_context());
                notify::call_webhook(&block.data, &payload).await
            }
        }
    }

    /// What templates may refer to: `event` (the triggering event, its resource labels also
    /// by their short names: `event.resource.name`) and `automation` (`id`, `name`).
    fn template_context(&self) -> Value {
        let event = self.triggering.map(|e| {
            json!({"id": e.id.to_string(), "event": e.event, "occurred": e.occurred.to_string(),
                   "resource": Value::Object(e.resource.clone()), "related": e.related,
                   "payload": e.payload.value()})
        });
        json!({"event": event, "automation": {"id": self.armed.id.to_string(), "name": self.armed.name}})
    }

    /// The flow run the triggering event is about.
    fn flow_run(&self) -> Result<Uuid, Failure> {
        self.inferred("flow-run")
            .ok_or_else(|| Failure::Refused("the triggering event is not about a flow run".into()))
    }

    /// The id of a `prefect.<kind>.<id>` resource of the triggering event: its own resource,
    /// or a related one.
    fn inferred(&self, kind: &str) -> Option<Uuid> {
        let event = self.triggering?;
        let prefix = format!("prefect.{kind}");
        resource_uuid(event.resource_id(), &prefix).or_else(|| {
            event
                .related_id(kind)
                .and_then(|id| resource_uuid(id, &prefix))
        })
    }

    /// An action's target: the selected id, or the one inferred from the triggering event.
    fn target(&self, source: Source, selected: Option<Uuid>, kind: &str) -> Result<Uuid, Failure> {
        match source {
            Source::Selected => selected,
            Source::Inferred => self.inferred(kind),
        }
        .ok_or_else(|| {
            Failure::Refused(format!(
                "no {kind} to act on: none selected, and the triggering event names none"
            ))
        })
    }

    async fn set_state(&self, state: State, force: bool) -> Result<(), Failure> {
        let run = self.flow_run()?;
        let (outcome, events) = (self.app.store)
            .set_flow_run_state(run, state, force, self.app.now())
            .await?;
        self.app.publish(events);
        match outcome.decision {
            flowgate_core::orchestration::Decision::Accept => Ok(()),
            other => Err(Failure::Refused(format!(
                "the flow run's state was not changed: {other:?}"
            ))),
        }
    }

    async fn resume(&self) -> Result<(), Failure> {
        let id = self.flow_run()?;
        let run = self.app.store.read_flow_run(id).await?;
        plan_resume(run.state.as_ref(), false).map_err(|refusal| {
            Failure::Refused(format!("flow run {id} cannot be resumed: {refusal:?}"))
        })?;
        let resume = Resume {
            paused: run.state.as_ref().map(|s| s.id).unwrap_or_default(),
            input: None,
            resumed_by: Some(format!("automation {}", self.armed.name)),
        };
        let (_, events) = (self.app.store)
            .resume_flow_run(id, resume, self.app.now())
            .await?;
        self.app.publish(events);
        Ok(())
    }

    /// Stores an event through ingest (so it is published and fed back like any other).
    async fn emit(&self, event: Event) {
        if let Err(e) = self.app.ingest.submit(event, None).await {
            tracing::warn!(error = %e, "recording an automation event failed");
        }
    }

    /// The automation as an event's resource, with the cascade depth of what it emits.
    fn resource(&self) -> Map<String, Value> {
        labels([
            (
                "prefect.resource.id",
                format!("prefect.automation.{}", self.armed.id),
            ),
            ("prefect.resource.name", self.armed.name.clone()),
            ("prefect.trigger-type", self.armed.trigger_kind.to_owned()),
            (
                cascade::DEPTH_LABEL,
                cascade::depth_after(self.triggering).to_string(),
            ),
        ])
    }

    /// `prefect.automation.action.<suffix>` for the action at `index`.
    fn action_event(
        &self,
        suffix: &str,
        index: usize,
        action: &Action,
        reason: Option<&str>,
    ) -> Event {
        let mut payload = json!({"action_index": index, "action_type": action.kind(),
                                 "invocation": self.invocation.to_string()});
        if let Some(reason) = reason {
            payload["reason"] = reason.into();
        }
        self.event(&format!("prefect.automation.action.{suffix}"), &payload)
    }

    fn event(&self, name: &str, payload: &Value) -> Event {
        let now = self.app.now();
        let related = self
            .triggering
            .map(|e| {
                vec![labels([
                    ("prefect.resource.id", format!("prefect.event.{}", e.id)),
                    ("prefect.resource.role", "triggering-event".to_owned()),
                ])]
            })
            .unwrap_or_default();
        Event {
            id: Uuid::now_v7(),
            occurred: now,
            event: name.to_owned(),
            resource: self.resource(),
            related,
            payload: Payload::from_value(payload),
            follows: None,
            received: now,
        }
    }
}

/// `prefect.automation.triggered` or `resolved`: the firing itself.
fn firing_event(ctx: &Context<'_>) -> Event {
    let labels: Map<String, Value> = (ctx.firing.triggering_labels.iter())
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let payload = json!({
        "triggering_labels": labels,
        "triggering_event": ctx.triggering.map(|e| json!({"id": e.id.to_string(), "event": e.event})),
        "invocation": ctx.invocation.to_string(),
    });
    let name = match ctx.firing.state {
        FiringState::Triggered => "prefect.automation.triggered",
        FiringState::Resolved => "prefect.automation.resolved",
    };
    let mut event = ctx.event(name, &payload);
    event.id = ctx.invocation;
    event
}
