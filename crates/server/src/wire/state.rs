//! States on the wire.

use flowgate_core::orchestration::Decision;
use flowgate_core::{Micros, State, StateType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// A state as a client proposes it.
#[derive(Deserialize, Debug)]
pub struct StateIn {
    /// State type.
    #[serde(rename = "type")]
    pub state_type: StateType,
    /// Name; defaults to the type's name.
    pub name: Option<String>,
    /// Message.
    pub message: Option<String>,
    /// Result data, opaque.
    #[serde(default)]
    pub data: Option<Value>,
    /// Details; null fields are dropped.
    #[serde(default)]
    pub state_details: Option<Map<String, Value>>,
}

impl StateIn {
    /// The domain state, stamped by the server at `now`.
    pub fn into_state(self, now: Micros) -> State {
        let mut state = State::new(Uuid::now_v7(), self.state_type, now);
        if let Some(name) = self.name.filter(|n| !n.is_empty()) {
            state.name = name;
        }
        state.message = self.message;
        state.data = self.data.filter(|d| !d.is_null());
        state.details = self
            .state_details
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .collect();
        state
    }
}

/// The body of `POST …/set_state`.
#[derive(Deserialize, Debug)]
pub struct SetStateIn {
    /// Proposed state.
    pub state: StateIn,
    /// Skip orchestration rules.
    #[serde(default)]
    pub force: bool,
}

/// Every `state_details` field the client reads, with Prefect's defaults.
fn details_json(details: &Map<String, Value>) -> Value {
    let defaults = json!({
        "flow_run_id": null, "task_run_id": null, "child_flow_run_id": null,
        "scheduled_time": null, "cache_key": null, "cache_expiration": null, "deferred": false,
        "untrackable_result": false, "pause_timeout": null, "pause_reschedule": false,
        "pause_key": null, "run_input_keyset": null, "refresh_cache": null, "retriable": null,
        "transition_id": null, "task_parameters_id": null, "traceparent": null,
        "deployment_concurrency_lease_id": null,
    });
    super::overlay(defaults, details)
}

/// A state as the client reads it.
#[derive(Serialize, Debug)]
pub struct StateOut {
    id: Uuid,
    #[serde(rename = "type")]
    state_type: StateType,
    name: String,
    timestamp: Micros,
    message: Option<String>,
    data: Option<Value>,
    state_details: Value,
}

impl From<&State> for StateOut {
    fn from(s: &State) -> Self {
        StateOut {
            id: s.id,
            state_type: s.state_type,
            name: s.name.clone(),
            timestamp: s.timestamp,
            message: s.message.clone(),
            data: s.data.clone(),
            state_details: details_json(&s.details),
        }
    }
}

/// The body of a `set_state` answer: `{state, status, details}`.
#[derive(Serialize, Debug)]
pub struct OrchestrationResult {
    state: Option<StateOut>,
    status: &'static str,
    details: Value,
}

impl OrchestrationResult {
    /// Renders a decision and the run's resulting state.
    pub fn new(decision: &Decision, state: Option<&State>) -> Self {
        let (status, details) = match decision {
            Decision::Accept => ("ACCEPT", json!({"type": "accept_details"})),
            Decision::Substitute { reason, .. } | Decision::Reject { reason } => (
                "REJECT",
                json!({"type": "reject_details", "reason": reason}),
            ),
            Decision::Wait {
                delay_seconds,
                reason,
            } => (
                "WAIT",
                json!({"type": "wait_details", "delay_seconds": delay_seconds, "reason": reason}),
            ),
            Decision::Abort { reason } => {
                ("ABORT", json!({"type": "abort_details", "reason": reason}))
            }
        };
        OrchestrationResult {
            state: state.map(StateOut::from),
            status,
            details,
        }
    }

    /// Whether the proposal was accepted as is (answered with 201).
    pub fn accepted(&self) -> bool {
        self.status == "ACCEPT"
    }
}
