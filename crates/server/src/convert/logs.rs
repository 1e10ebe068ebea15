//! Log lines between the wire and the store.

use flowgate_core::Micros;
use flowgate_store::model::LogEntry;
use flowgate_wire::logs::{Log, LogCreate};
use uuid::Uuid;

/// The entry to store for a line received at `now`, or why it cannot be stored.
pub fn log_in(l: LogCreate, now: Micros) -> Result<LogEntry, String> {
    super::plain_texts([
        ("log line name", Some(l.name.as_str())),
        ("log line message", Some(l.message.as_str())),
    ])?;
    Ok(LogEntry {
        id: l.id.unwrap_or_else(Uuid::now_v7),
        created: now,
        name: l.name,
        level: l.level,
        message: l.message,
        timestamp: l.timestamp,
        flow_run_id: l.flow_run_id,
        task_run_id: l.task_run_id,
    })
}

/// A stored line as the client reads it.
pub fn log_out(l: LogEntry) -> Log {
    Log {
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
