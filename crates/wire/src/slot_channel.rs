//! The slot channel, `/v2/concurrency_limits/leases/connect` (a Flowgate extension,
//! subprotocol `prefect`): one websocket carrying a client's slot traffic instead of an HTTP
//! request per acquisition, release and renewal. After the usual auth frame the client sends
//! [`SlotCalls`] frames, each holding every call it queued since its previous frame, and the
//! server answers each call by its id, as soon as it is decided, in [`SlotFrame`]s (answers
//! decided together travel together). The calls mean what their HTTP routes mean and the
//! failures carry the same status and detail; a call waiting for slots when the connection
//! drops leaves the line, as a dropped HTTP request does.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::concurrency_limits::{MinimalLimit, SlotRequest};

/// Most calls one frame may carry.
pub const MAX_CALLS: usize = 4096;

/// A frame the client sends: its calls, answered one by one.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SlotCalls {
    /// The calls, at most [`MAX_CALLS`].
    pub calls: Vec<SlotCall>,
}

/// One call; its answer carries the same `id` (chosen by the client, unique among its calls
/// still unanswered).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlotCall {
    /// Takes slots, waiting at the server up to the request's `wait_seconds`: in
    /// `concurrency` mode under a lease (as `/increment-with-lease`), in `rate_limit` mode
    /// without one (as `/increment`).
    Acquire {
        /// The call's id.
        id: u64,
        /// What to take.
        request: SlotRequest,
    },
    /// Gives back a lease's slots (as `/decrement-with-lease`; a lease already gone is not an
    /// error).
    Release {
        /// The call's id.
        id: u64,
        /// The lease.
        lease_id: Uuid,
    },
    /// Pushes a lease's deadline back (as `/leases/{id}/renew`; a lease gone is a 404).
    Renew {
        /// The call's id.
        id: u64,
        /// The lease.
        lease_id: Uuid,
        /// Seconds from now.
        lease_duration: f64,
    },
}

/// A frame the server sends.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlotFrame {
    /// Answers to calls, in the order they were decided.
    Answers {
        /// The answers.
        answers: Vec<SlotAnswer>,
    },
    /// The last frame could not be read (what is wrong); the server closes the connection
    /// after this, so its unanswered calls must be made again.
    Error {
        /// What is wrong and what to do.
        detail: String,
    },
}

/// The answer to one call.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SlotAnswer {
    /// An acquisition was granted.
    Granted {
        /// The call's id.
        id: u64,
        /// The lease holding the slots (`concurrency` mode; unused when `limits` is empty).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lease_id: Option<Uuid>,
        /// The named limits that exist.
        limits: Vec<MinimalLimit>,
    },
    /// A release or renewal was done.
    Done {
        /// The call's id.
        id: u64,
    },
    /// The call failed as its HTTP route would have: 422 refused (it can never be granted,
    /// or is malformed), 423 the slots stayed taken for the whole wait, 404 the lease is
    /// gone, 503 the server is shutting down or its database is busy.
    Failed {
        /// The call's id.
        id: u64,
        /// The HTTP route's status.
        status: u16,
        /// The HTTP route's detail.
        detail: String,
        /// With a 423: when to ask again, in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<f64>,
    },
}

impl SlotAnswer {
    /// The id of the call answered.
    pub fn id(&self) -> u64 {
        match self {
            SlotAnswer::Granted { id, .. }
            | SlotAnswer::Done { id }
            | SlotAnswer::Failed { id, .. } => *id,
        }
    }
}
