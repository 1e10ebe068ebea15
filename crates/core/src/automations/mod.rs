//! Automations' triggers, evaluated without IO: what an automation waits for ([`trigger`]),
//! how events are matched ([`labels`]), and the [`Engine`] that turns events and a clock into
//! [`Firing`]s, deterministically, with a serialisable state ([`state`]) and a report of why
//! each trigger did or did not fire ([`explain`]).
//!
//! The server loads enabled automations into one engine, feeds it every stored event, calls
//! [`Engine::advance`] at [`Engine::next_wakeup`], stores firings and states, and runs the
//! actions. Nothing here knows about HTTP, the database or actions.

pub mod cascade;
mod composite;
mod engine;
mod event_trigger;
pub mod explain;
mod index;
pub mod labels;
mod metric;
pub mod state;
mod tree;
pub mod trigger;

pub use engine::{Engine, EngineSettings, Firing, FiringState, Restored};
pub use explain::Report;
pub use state::AutomationState;
pub use trigger::{
    CompoundTrigger, EventTrigger, Metric, MetricQuery, MetricTrigger, Operator, Posture, Require,
    SequenceTrigger, SpecError, Trigger, validate,
};

#[cfg(test)]
mod tests;
