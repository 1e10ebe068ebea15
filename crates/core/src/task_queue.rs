//! The distributed task queue's life cycle: a queued call is claimed by a worker under a lease,
//! and finished by it, or given up after its workers were lost too often.

use serde::{Deserialize, Serialize};

/// Where a task call is in the queue. Stored and sent by its lower-case name.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum QueueStatus {
    /// Waiting for a worker.
    Queued,
    /// Held by a worker until its lease ends.
    Claimed,
    /// Finished, with a result or an error (final).
    Done,
}

impl QueueStatus {
    /// Every status.
    pub const ALL: [QueueStatus; 3] =
        [QueueStatus::Queued, QueueStatus::Claimed, QueueStatus::Done];

    /// The stored and wire spelling, e.g. `"claimed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueStatus::Queued => "queued",
            QueueStatus::Claimed => "claimed",
            QueueStatus::Done => "done",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<QueueStatus> {
        QueueStatus::ALL.into_iter().find(|q| q.as_str() == s)
    }
}
