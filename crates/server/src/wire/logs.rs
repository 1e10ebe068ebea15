//! Logs on the wire.

use flowgate_core::Micros;
use flowgate_store::model::LogEntry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One entry of `POST /logs/`.
#[derive(Deserialize, Debug)]
pub struct LogCreate {
    /// Logger name.
    pub name: String,
    /// Level (10–50).
    pub level: i64,
    /// Text.
    pub message: String,
    /// When it was logged.
    pub timestamp: Micros,
    /// Flow run.
    pub flow_run_id: Option<Uuid>,
    /// Task run.
    pub task_run_id: Option<Uuid>,
}

impl LogCreate {
    /// The entry to store, received at `now`.
    pub fn into_entry(self, now: Micros) -> LogEntry {
        LogEntry {
            id: Uuid::now_v7(),
            created: now,
            name: self.name,
            level: self.level,
            message: self.message,
            timestamp: self.timestamp,
            flow_run_id: self.flow_run_id,
            task_run_id: self.task_run_id,
        }
    }
}

/// A log as the client reads it.
#[derive(Serialize, Debug)]
pub struct LogOut {
    id: Uuid,
    created: Micros,
    updated: Micros,
    name: String,
    level: i64,
    message: String,
    timestamp: Micros,
    flow_run_id: Option<Uuid>,
    task_run_id: Option<Uuid>,
    worker_id: Option<Uuid>,
}

impl From<LogEntry> for LogOut {
    fn from(l: LogEntry) -> Self {
        LogOut {
            id: l.id,
            created: l.created,
            updated: l.created,
            name: l.name,
            level: l.level,
            message: l.message,
            timestamp: l.timestamp,
            flow_run_id: l.flow_run_id,
            task_run_id: l.task_run_id,
            worker_id: None,
        }
    }
}
