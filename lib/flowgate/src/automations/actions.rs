//! Typed builders for what an automation does when it fires: Prefect's actions.

use flowgate_wire::StateType;
use flowgate_wire::automations::{self as wire, NoFields, Source};
use serde::Serialize;
use serde_json::Map;
use uuid::Uuid;

/// Which deployment, work pool, work queue or automation an action acts on: one by id, by
/// name, or the one the triggering event is about ([`Target::FromEvent`]; for automations, the
/// one that fired). A `&str` is a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// This one.
    Id(Uuid),
    /// The one with this name, looked up when the automation is applied: a work pool's name, a
    /// deployment's `flow/deployment`, a work queue's `pool/queue`, an automation's name.
    Named(String),
    /// The triggering event's resource (Prefect's `source: "inferred"`).
    FromEvent,
}

impl From<Uuid> for Target {
    fn from(id: Uuid) -> Target {
        Target::Id(id)
    }
}

impl From<&str> for Target {
    fn from(name: &str) -> Target {
        Target::Named(name.to_owned())
    }
}

impl From<String> for Target {
    fn from(name: String) -> Target {
        Target::Named(name)
    }
}

impl Target {
    /// The wire's source and id, and the name still to look up.
    fn wire(self) -> (Source, Option<Uuid>, Option<String>) {
        match self {
            Target::Id(id) => (Source::Selected, Some(id), None),
            Target::Named(name) => (Source::Selected, None, Some(name)),
            Target::FromEvent => (Source::Inferred, None, None),
        }
    }
}

/// What an automation does. Built with the constructors below; [`RunDeployment`] has options
/// of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub(crate) wire: wire::Action,
    /// The target's name, looked up when applying.
    pub(crate) named: Option<String>,
    /// A value given to the builder that could not be serialised: applying reports it.
    pub(crate) problem: Option<String>,
}

impl From<wire::Action> for Action {
    fn from(wire: wire::Action) -> Action {
        Action {
            wire,
            named: None,
            problem: None,
        }
    }
}

macro_rules! target_actions {
    ($($(#[$doc:meta])* $name:ident => $variant:ident($target:ident, $field:ident);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(target: impl Into<Target>) -> Action {
                let (source, $field, named) = target.into().wire();
                Action {
                    named,
                    ..wire::Action::$variant(wire::$target { source, $field }).into()
                }
            }
        )*
    };
}

impl Action {
    /// Nothing: the firing is still recorded (useful to watch a trigger).
    pub fn do_nothing() -> Action {
        wire::Action::DoNothing(NoFields {}).into()
    }

    /// Creates a run of a deployment (see [`RunDeployment`] for parameters).
    pub fn run_deployment(deployment: impl Into<Target>) -> RunDeployment {
        let (source, deployment_id, named) = deployment.into().wire();
        RunDeployment {
            named,
            wire: wire::RunDeployment {
                source,
                deployment_id,
                parameters: None,
                job_variables: None,
                schedule_after: 0.0,
            },
            problem: None,
        }
    }

    target_actions! {
        /// Pauses a deployment's schedules.
        pause_deployment => PauseDeployment(DeploymentTarget, deployment_id);
        /// Resumes a deployment's schedules.
        resume_deployment => ResumeDeployment(DeploymentTarget, deployment_id);
        /// Pauses a work pool: it hands out no runs.
        pause_work_pool => PauseWorkPool(WorkPoolTarget, work_pool_id);
        /// Resumes a work pool.
        resume_work_pool => ResumeWorkPool(WorkPoolTarget, work_pool_id);
        /// Pauses a work queue.
        pause_work_queue => PauseWorkQueue(WorkQueueTarget, work_queue_id);
        /// Resumes a work queue.
        resume_work_queue => ResumeWorkQueue(WorkQueueTarget, work_queue_id);
        /// Disables an automation.
        pause_automation => PauseAutomation(AutomationTarget, automation_id);
        /// Enables an automation.
        resume_automation => ResumeAutomation(AutomationTarget, automation_id);
    }

    /// Moves the triggering flow run to a state of this type (with `force`, past the
    /// orchestration rules).
    pub fn change_flow_run_state(state: StateType, message: Option<&str>, force: bool) -> Action {
        wire::Action::ChangeFlowRunState(wire::ChangeFlowRunState {
            name: None,
            state,
            message: message.map(str::to_owned),
            force,
        })
        .into()
    }

    /// Cancels the triggering flow run.
    pub fn cancel_flow_run() -> Action {
        wire::Action::CancelFlowRun(NoFields {}).into()
    }

    /// Suspends the triggering flow run.
    pub fn suspend_flow_run() -> Action {
        wire::Action::SuspendFlowRun(NoFields {}).into()
    }

    /// Resumes the triggering (paused) flow run.
    pub fn resume_flow_run() -> Action {
        wire::Action::ResumeFlowRun(NoFields {}).into()
    }

    /// Sends `subject` and `body` (both may use `{{ event.… }}` and `{{ automation.… }}`)
    /// through a notification block (e.g. a `SlackWebhook` the Python client saved).
    pub fn send_notification(block_document_id: Uuid, subject: &str, body: &str) -> Action {
        wire::Action::SendNotification(wire::SendNotification {
            block_document_id,
            subject: subject.to_owned(),
            body: body.to_owned(),
        })
        .into()
    }

    /// Calls a webhook block with `payload` (templated like a notification's body).
    pub fn call_webhook(block_document_id: Uuid, payload: &str) -> Action {
        wire::Action::CallWebhook(wire::CallWebhook {
            block_document_id,
            payload: payload.to_owned(),
        })
        .into()
    }
}

/// A `run-deployment` action and its options.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDeployment {
    wire: wire::RunDeployment,
    named: Option<String>,
    problem: Option<String>,
}

impl RunDeployment {
    /// A parameter over the deployment's defaults (strings may use `{{ event.… }}`).
    pub fn parameter(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        self.insert(Field::Parameter, name.into(), value);
        self
    }

    /// A job variable over the deployment's.
    pub fn job_variable(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        self.insert(Field::JobVariable, name.into(), value);
        self
    }

    /// Schedules the run this long after the firing.
    pub fn after(mut self, delay: std::time::Duration) -> Self {
        self.wire.schedule_after = delay.as_secs_f64();
        self
    }

    fn insert(&mut self, field: Field, name: String, value: impl Serialize) {
        let map = match field {
            Field::Parameter => &mut self.wire.parameters,
            Field::JobVariable => &mut self.wire.job_variables,
        };
        match serde_json::to_value(value) {
            Ok(value) => {
                map.get_or_insert_with(Map::new).insert(name, value);
            }
            Err(e) => {
                let what = match field {
                    Field::Parameter => "parameter",
                    Field::JobVariable => "job variable",
                };
                self.problem
                    .get_or_insert(format!("run-deployment {what} {name:?}: {e}"));
            }
        }
    }
}

enum Field {
    Parameter,
    JobVariable,
}

impl From<RunDeployment> for Action {
    fn from(r: RunDeployment) -> Action {
        Action {
            wire: wire::Action::RunDeployment(r.wire),
            named: r.named,
            problem: r.problem,
        }
    }
}
