//! Log lines of flow runs and task runs. They are written by the event store's batched
//! [`ingest`](crate::EventStore::ingest); this capability reads them.

use async_trait::async_trait;
use flowgate_core::Micros;
use uuid::Uuid;

use crate::model::{Page, TimeRange};
use crate::store::Result;

/// One log line from a flow or task run.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// The client's uuid7 when it sent one (a line stored twice is kept once), else the
    /// server's.
    pub id: Uuid,
    /// When the server stored it.
    pub created: Micros,
    /// The logger's name, e.g. `prefect.flow_runs`.
    pub name: String,
    /// Python-style level: 10 debug, 20 info, 30 warning, 40 error, 50 critical.
    pub level: i64,
    /// The line's text.
    pub message: String,
    /// When it was logged, by the client's clock.
    pub timestamp: Micros,
    /// The flow run it belongs to.
    pub flow_run_id: Option<Uuid>,
    /// The task run it belongs to.
    pub task_run_id: Option<Uuid>,
}

/// Which logs to return.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    /// Of any of these flow runs.
    pub flow_run_ids: Option<Vec<Uuid>>,
    /// Of any of these task runs.
    pub task_run_ids: Option<Vec<Uuid>>,
    /// Whether the log belongs to a task run.
    pub has_task_run: Option<bool>,
    /// Level at least this.
    pub level_ge: Option<i64>,
    /// Level at most this.
    pub level_le: Option<i64>,
    /// Timestamp window.
    pub timestamp: TimeRange,
}

/// Reading log lines.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Logs matching `filter`, by timestamp.
    async fn filter_logs(
        &self,
        filter: &LogFilter,
        newest_first: bool,
        page: Page,
    ) -> Result<Vec<LogEntry>>;
}
