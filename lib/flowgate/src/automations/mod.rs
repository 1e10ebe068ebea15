//! Automations defined in code: a trigger and the actions it runs, applied by name (created,
//! or updated when the definition changed).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use flowgate::automations::{Action, Automation, Metric, Trigger};
//!
//! # fn main() -> Result<(), flowgate::automations::AutomationError> {
//! # let pool_id = uuid::Uuid::nil();
//! // Orders paid and then refused by the warehouse, in either order within a minute.
//! Automation::new("order stuck")
//!     .trigger(
//!         Trigger::compound([
//!             Trigger::event("acme.order.paid").matching("prefect.resource.id", "acme.order.*"),
//!             Trigger::event("acme.order.refused"),
//!         ])
//!         .within(Duration::from_secs(60)),
//!     )
//!     .action(Action::pause_work_pool(pool_id))
//!     .apply()?;
//!
//! // The seed's "average success below 70% over the last 10 minutes, for 1 minute".
//! Automation::new("etl failing")
//!     .trigger(
//!         Trigger::metric(Metric::Successes)
//!             .below(0.7)
//!             .range(Duration::from_secs(600))
//!             .firing_for(Duration::from_secs(60))
//!             .matching_related("prefect.resource.name", "etl"),
//!     )
//!     .action(Action::pause_work_pool(pool_id))
//!     .apply()?;
//! # Ok(())
//! # }
//! ```
//!
//! Applying an unchanged definition again leaves the stored automation (and its trigger's
//! windows) alone; a changed one replaces it, and its trigger starts afresh.

mod actions;
mod targets;
mod triggers;

use std::sync::Arc;

use flowgate_wire::automations::{
    self as wire, AutomationCreate, AutomationFilter, AutomationFilterRequest,
};
use flowgate_wire::filters::AnyOf;
use uuid::Uuid;

pub use actions::{Action, RunDeployment, Target};
pub use triggers::{
    CompoundTrigger, EventTrigger, Metric, MetricTrigger, SequenceTrigger, Trigger,
};

use crate::engine::Engine;
use crate::error::ApiError;

/// Why an automation could not be applied.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AutomationError {
    /// The definition is incomplete or holds a value that cannot be sent: the message says
    /// what to change.
    #[error("automation {automation:?}: {message}")]
    Invalid {
        /// Its name.
        automation: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Several automations have this name, so the one to update is unclear.
    #[error(
        "{} automations are named {name:?} ({}); delete all but one, or give this one another name",
        ids.len(),
        ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous {
        /// The name.
        name: String,
        /// Their ids.
        ids: Vec<Uuid>,
    },
    /// The server could not be reached or refused the definition (a 422 names the field:
    /// a threshold out of range, an action's missing work pool, …).
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// What applying did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// No automation had the name: it was created.
    Created(Uuid),
    /// The automation of that name had another definition: it was replaced.
    Updated(Uuid),
    /// The automation of that name already had this definition.
    Unchanged(Uuid),
}

impl Applied {
    /// The automation's id.
    pub fn id(self) -> Uuid {
        match self {
            Applied::Created(id) | Applied::Updated(id) | Applied::Unchanged(id) => id,
        }
    }
}

/// An automation: `Automation::new(name)`, a [`Trigger`], [`Action`]s, then
/// [`Automation::apply`].
#[derive(Clone, Debug, PartialEq)]
pub struct Automation {
    name: String,
    description: String,
    enabled: bool,
    tags: Vec<String>,
    trigger: Option<Trigger>,
    actions: Vec<Action>,
    on_trigger: Vec<Action>,
    on_resolve: Vec<Action>,
}

impl Automation {
    /// An automation named `name` (its identity: applying updates the one of that name).
    pub fn new(name: impl Into<String>) -> Automation {
        Automation {
            name: name.into(),
            description: String::new(),
            enabled: true,
            tags: Vec::new(),
            trigger: None,
            actions: Vec::new(),
            on_trigger: Vec::new(),
            on_resolve: Vec::new(),
        }
    }

    /// Free text.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Labels for filtering.
    pub fn tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Stored disabled: it is not evaluated until enabled.
    pub fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }

    /// What it waits for.
    pub fn trigger(mut self, trigger: impl Into<Trigger>) -> Self {
        self.trigger = Some(trigger.into());
        self
    }

    /// An action run when the trigger fires (and, for a proactive or metric trigger, when it
    /// resolves).
    pub fn action(mut self, action: impl Into<Action>) -> Self {
        self.actions.push(action.into());
        self
    }

    /// An action run only when the trigger fires.
    pub fn on_trigger(mut self, action: impl Into<Action>) -> Self {
        self.on_trigger.push(action.into());
        self
    }

    /// An action run only when the trigger resolves (a proactive or metric condition ends).
    pub fn on_resolve(mut self, action: impl Into<Action>) -> Self {
        self.on_resolve.push(action.into());
        self
    }

    /// Creates the automation, or updates the one with this name if its definition differs.
    pub fn apply(&self) -> Result<Applied, AutomationError> {
        let engine = Engine::current()?;
        crate::block::block_on(self.apply_with(engine))
    }

    /// [`Automation::apply`] for async code.
    pub async fn apply_async(&self) -> Result<Applied, AutomationError> {
        let engine = Engine::current()?;
        self.apply_with(engine).await
    }

    /// The definition as the API takes it.
    fn create_body(&self) -> Result<AutomationCreate, AutomationError> {
        let invalid = |message: String| AutomationError::Invalid {
            automation: self.name.clone(),
            message,
        };
        let Some(trigger) = &self.trigger else {
            return Err(invalid(
                "it has no trigger; give one with .trigger(Trigger::event(..))".to_owned(),
            ));
        };
        let all = (self.actions.iter())
            .chain(&self.on_trigger)
            .chain(&self.on_resolve);
        if let Some(problem) = all.filter_map(|a| a.problem.clone()).next() {
            return Err(invalid(problem));
        }
        let wire_actions = |list: &[Action]| list.iter().map(|a| a.wire.clone()).collect();
        Ok(AutomationCreate {
            name: self.name.clone(),
            description: self.description.clone(),
            enabled: self.enabled,
            tags: self.tags.clone(),
            trigger: trigger.0.clone(),
            actions: wire_actions(&self.actions),
            actions_on_trigger: wire_actions(&self.on_trigger),
            actions_on_resolve: wire_actions(&self.on_resolve),
            owner_resource: None,
        })
    }

    async fn apply_with(&self, engine: Arc<Engine>) -> Result<Applied, AutomationError> {
        self.create_body()?;
        let mut named = self.clone();
        let resolved = engine
            .run({
                let engine = engine.clone();
                async move {
                    let name = named.name.clone();
                    let lists = [
                        ("actions", &mut named.actions),
                        ("actions_on_trigger", &mut named.on_trigger),
                        ("actions_on_resolve", &mut named.on_resolve),
                    ];
                    for (list, actions) in lists {
                        targets::resolve(&engine, &name, list, actions).await?;
                    }
                    Ok::<_, AutomationError>(named)
                }
            })
            .await?;
        let body = resolved.create_body()?;
        let name = self.name.clone();
        let found: Vec<wire::Automation> = engine
            .run({
                let engine = engine.clone();
                let request = AutomationFilterRequest {
                    automations: Some(AutomationFilter {
                        name: Some(AnyOf::new([name.clone()])),
                        ..Default::default()
                    }),
                    limit: Some(10),
                    ..Default::default()
                };
                async move {
                    engine
                        .api
                        .post("looking up an automation", "/automations/filter", &request)
                        .await
                }
            })
            .await?;
        let stored = match found.as_slice() {
            [] => None,
            [one] => Some(one),
            many => {
                return Err(AutomationError::Ambiguous {
                    name,
                    ids: many.iter().map(|a| a.id).collect(),
                });
            }
        };
        if let Some(stored) = stored
            && same_definition(stored, &body)
        {
            return Ok(Applied::Unchanged(stored.id));
        }
        let stored_id = stored.map(|s| s.id);
        let applied = engine
            .run({
                let engine = engine.clone();
                async move {
                    match stored_id {
                        Some(id) => {
                            let path = format!("/automations/{id}");
                            let () = engine
                                .api
                                .put("updating an automation", &path, &body)
                                .await?;
                            Ok::<_, ApiError>(Applied::Updated(id))
                        }
                        None => {
                            let created: wire::Automation = engine
                                .api
                                .post("creating an automation", "/automations/", &body)
                                .await?;
                            Ok(Applied::Created(created.id))
                        }
                    }
                }
            })
            .await?;
        Ok(applied)
    }
}

/// Whether the stored automation already has this definition (the server's trigger ids aside).
fn same_definition(stored: &wire::Automation, body: &AutomationCreate) -> bool {
    let mut trigger = stored.trigger.clone();
    clear_ids(&mut trigger);
    stored.description == body.description
        && stored.enabled == body.enabled
        && stored.tags == body.tags
        && trigger == body.trigger
        && stored.actions == body.actions
        && stored.actions_on_trigger == body.actions_on_trigger
        && stored.actions_on_resolve == body.actions_on_resolve
}

fn clear_ids(trigger: &mut wire::Trigger) {
    match trigger {
        wire::Trigger::Event(t) => t.id = None,
        wire::Trigger::Metric(t) => t.id = None,
        wire::Trigger::Compound(t) => {
            t.id = None;
            t.triggers.iter_mut().for_each(clear_ids);
        }
        wire::Trigger::Sequence(t) => {
            t.id = None;
            t.triggers.iter_mut().for_each(clear_ids);
        }
    }
}
