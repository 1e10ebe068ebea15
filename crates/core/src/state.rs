//! Run states: the nine state types and the state record a run moves through.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::time::Micros;

/// The kind of a state; names within a kind vary (`AwaitingRetry` is a `Scheduled` state).
#[derive(
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Debug,
    PartialOrd,
    Ord,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateType {
    /// Waiting for a start time.
    Scheduled,
    /// About to run: infrastructure or a slot is being prepared.
    Pending,
    /// Executing.
    Running,
    /// Stopped, waiting for a person or an event to resume it.
    Paused,
    /// Asked to stop; will become `Cancelled`.
    Cancelling,
    /// Finished successfully (terminal).
    Completed,
    /// Finished with an error (terminal).
    Failed,
    /// Stopped on request (terminal).
    Cancelled,
    /// Its infrastructure died (terminal).
    Crashed,
}

impl StateType {
    /// Every state type, in lifecycle order.
    pub const ALL: [StateType; 9] = [
        StateType::Scheduled,
        StateType::Pending,
        StateType::Running,
        StateType::Paused,
        StateType::Cancelling,
        StateType::Completed,
        StateType::Failed,
        StateType::Cancelled,
        StateType::Crashed,
    ];

    /// True for states a run never leaves on its own.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StateType::Completed | StateType::Failed | StateType::Cancelled | StateType::Crashed
        )
    }

    /// The wire spelling, e.g. `"RUNNING"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Scheduled => "SCHEDULED",
            StateType::Pending => "PENDING",
            StateType::Running => "RUNNING",
            StateType::Paused => "PAUSED",
            StateType::Cancelling => "CANCELLING",
            StateType::Completed => "COMPLETED",
            StateType::Failed => "FAILED",
            StateType::Cancelled => "CANCELLED",
            StateType::Crashed => "CRASHED",
        }
    }

    /// The default state name for the type, e.g. `"Running"`.
    pub fn default_name(self) -> &'static str {
        match self {
            StateType::Scheduled => "Scheduled",
            StateType::Pending => "Pending",
            StateType::Running => "Running",
            StateType::Paused => "Paused",
            StateType::Cancelling => "Cancelling",
            StateType::Completed => "Completed",
            StateType::Failed => "Failed",
            StateType::Cancelled => "Cancelled",
            StateType::Crashed => "Crashed",
        }
    }

    /// Parses the wire spelling, case-insensitively.
    pub fn parse(s: &str) -> Option<StateType> {
        StateType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// One state of a flow run or task run, as recorded in its history.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Unique id of this state record.
    pub id: Uuid,
    /// The state's kind.
    pub state_type: StateType,
    /// Display name, e.g. `AwaitingRetry`.
    pub name: String,
    /// When the run entered the state.
    pub timestamp: Micros,
    /// Human-readable explanation (an error message for `Failed`).
    pub message: Option<String>,
    /// A result reference or inline result, opaque to the server.
    pub data: Option<Value>,
    /// Prefect's `state_details` object (scheduled time, pause keys, transition id, ...).
    pub details: Map<String, Value>,
}

impl State {
    /// A state of `state_type` with its default name and no details.
    pub fn new(id: Uuid, state_type: StateType, timestamp: Micros) -> State {
        State {
            id,
            state_type,
            name: state_type.default_name().to_owned(),
            timestamp,
            message: None,
            data: None,
            details: Map::new(),
        }
    }

    /// A string field of `state_details`, if set and non-null.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.details.get(key).and_then(Value::as_str)
    }

    /// `state_details.scheduled_time`, if present and parseable.
    pub fn scheduled_time(&self) -> Option<Micros> {
        self.detail_str("scheduled_time")
            .and_then(|s| Micros::parse(s).ok())
    }

    /// `state_details.transition_id`: the client's idempotency key for a transition.
    pub fn transition_id(&self) -> Option<&str> {
        self.detail_str("transition_id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in StateType::ALL {
            assert_eq!(StateType::parse(t.as_str()), Some(t));
            assert_eq!(StateType::parse(&t.as_str().to_lowercase()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!(StateType::parse("DONE"), None);
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = StateType::ALL
            .into_iter()
            .filter(|t| t.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                StateType::Completed,
                StateType::Failed,
                StateType::Cancelled,
                StateType::Crashed
            ]
        );
    }
}
