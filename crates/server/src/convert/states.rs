//! States between the wire and the core: a proposal becomes a [`State`] the server stamps, a
//! stored state is rendered with every `state_details` field the client reads, and a
//! [`Decision`] becomes Prefect's `{state, status, details}`.

use flowgate_core::orchestration::Decision;
use flowgate_core::{Micros, State};
use flowgate_wire::states::{
    OrchestrationDetails, OrchestrationResult, SetStateStatus, State as StateOut, StateCreate,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The domain state a proposal describes, stamped by the server at `now` (null details
/// dropped, an empty name replaced by the type's), or why it cannot be stored.
pub fn state_in(s: StateCreate, now: Micros) -> Result<State, String> {
    super::plain_text("state.name", s.name.as_deref().unwrap_or_default())?;
    let mut state = State::new(Uuid::now_v7(), s.state_type, now);
    if let Some(name) = s.name.filter(|n| !n.is_empty()) {
        state.name = name;
    }
    state.message = s.message;
    state.data = s.data.filter(|d| !d.is_null());
    state.details = s
        .state_details
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .collect();
    Ok(state)
}

/// Every `state_details` field the client reads, with Prefect's defaults, overlaid with what
/// is stored.
fn details(stored: &Map<String, Value>) -> Map<String, Value> {
    let defaults = json!({
        "flow_run_id": null, "task_run_id": null, "child_flow_run_id": null,
        "scheduled_time": null, "cache_key": null, "cache_expiration": null, "deferred": false,
        "untrackable_result": false, "pause_timeout": null, "pause_reschedule": false,
        "pause_key": null, "run_input_keyset": null, "refresh_cache": null, "retriable": null,
        "transition_id": null, "task_parameters_id": null, "traceparent": null,
        "deployment_concurrency_lease_id": null,
    });
    match super::overlay(defaults, stored) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A stored state as the client reads it.
pub fn state_out(s: &State) -> StateOut {
    StateOut {
        id: s.id,
        state_type: s.state_type,
        name: s.name.clone(),
        timestamp: s.timestamp,
        message: s.message.clone(),
        data: s.data.clone(),
        state_details: details(&s.details),
    }
}

/// A decision and the run's resulting state, as Prefect's client reads them.
pub fn orchestration(decision: &Decision, state: Option<&State>) -> OrchestrationResult {
    let (status, details) = match decision {
        Decision::Accept => (SetStateStatus::Accept, OrchestrationDetails::AcceptDetails),
        Decision::Substitute { reason, .. } | Decision::Reject { reason } => (
            SetStateStatus::Reject,
            OrchestrationDetails::RejectDetails {
                reason: Some(reason.clone()),
            },
        ),
        Decision::Wait {
            delay_seconds,
            reason,
        } => (
            SetStateStatus::Wait,
            OrchestrationDetails::WaitDetails {
                delay_seconds: *delay_seconds,
                reason: Some(reason.clone()),
            },
        ),
        Decision::Abort { reason } => (
            SetStateStatus::Abort,
            OrchestrationDetails::AbortDetails {
                reason: Some(reason.clone()),
            },
        ),
    };
    OrchestrationResult {
        state: state.map(state_out),
        status,
        details,
    }
}
