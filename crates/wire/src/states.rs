//! States: proposing one for a run (`POST …/set_state`), reading one, and the orchestration
//! rules' answer.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{Micros, StateType};

/// A state as a client proposes it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct StateCreate {
    /// The state's kind.
    #[serde(rename = "type")]
    pub state_type: StateType,
    /// Display name; the type's name (`Running`) when absent or empty.
    #[serde(default)]
    pub name: Option<String>,
    /// Why the run entered the state (an error message for `FAILED`).
    #[serde(default)]
    pub message: Option<String>,
    /// A result reference or inline result, opaque to the server.
    #[serde(default)]
    pub data: Option<Value>,
    /// Prefect's `state_details` (`pause_key`, `scheduled_time`, `run_input_keyset`, …); null
    /// fields are dropped.
    #[serde(default)]
    pub state_details: Option<Map<String, Value>>,
}

impl StateCreate {
    /// A proposal of `state_type` with nothing else set.
    pub fn new(state_type: StateType) -> StateCreate {
        StateCreate {
            state_type,
            name: None,
            message: None,
            data: None,
            state_details: None,
        }
    }
}

/// The body of `POST /flow_runs/{id}/set_state` and `POST /task_runs/{id}/set_state`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SetState {
    /// The proposed state.
    pub state: StateCreate,
    /// Skip the orchestration rules (a person overriding them).
    #[serde(default)]
    pub force: bool,
}

/// The keys under which a paused run's input is kept (`state_details.run_input_keyset`): the
/// input's JSON Schema, its description, and where the resume's input is stored.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct RunInputKeyset {
    /// Key of the input's JSON Schema.
    pub schema: String,
    /// Key of the pause's description (markdown).
    #[serde(default)]
    pub description: Option<String>,
    /// Key the resume's input is stored under.
    pub response: String,
}

/// A state as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct State {
    /// The state record's id.
    pub id: Uuid,
    /// The state's kind.
    #[serde(rename = "type")]
    pub state_type: StateType,
    /// Display name, e.g. `AwaitingRetry`.
    pub name: String,
    /// When the run entered it.
    pub timestamp: Micros,
    /// Why the run entered it.
    pub message: Option<String>,
    /// A result reference or inline result.
    pub data: Option<Value>,
    /// Every `state_details` field Prefect's client reads (null when unset), and any other the
    /// client stored.
    pub state_details: Map<String, Value>,
}

/// The orchestration rules' verdict on a proposed state.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SetStateStatus {
    /// The proposed state was committed.
    Accept,
    /// The run kept its state, or moved to another one the rules chose (e.g. `AwaitingRetry`).
    Reject,
    /// Propose again after `delay_seconds`.
    Wait,
    /// The transition is impossible without `force`.
    Abort,
}

/// Why the rules answered as they did.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrchestrationDetails {
    /// Accepted: the proposed state was committed.
    AcceptDetails,
    /// Rejected, with the reason.
    RejectDetails {
        /// What a person should know.
        reason: Option<String>,
    },
    /// Propose again later.
    WaitDetails {
        /// Seconds until a new proposal may succeed.
        delay_seconds: f64,
        /// Why the caller must wait.
        reason: Option<String>,
    },
    /// Aborted, with the reason.
    AbortDetails {
        /// Why the transition is impossible.
        reason: Option<String>,
    },
}

/// The answer to a proposed state: `{state, status, details}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct OrchestrationResult {
    /// The run's state after the proposal.
    pub state: Option<State>,
    /// The verdict.
    pub status: SetStateStatus,
    /// Why the rules answered so: the reason, and for a wait how long.
    pub details: OrchestrationDetails,
}

impl OrchestrationResult {
    /// The reason given with a rejection, a wait or an abort.
    pub fn reason(&self) -> Option<&str> {
        match &self.details {
            OrchestrationDetails::AcceptDetails => None,
            OrchestrationDetails::RejectDetails { reason }
            | OrchestrationDetails::WaitDetails { reason, .. }
            | OrchestrationDetails::AbortDetails { reason } => reason.as_deref(),
        }
    }
}
