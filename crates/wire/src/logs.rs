//! Run logs: `POST /logs/` and what `POST /logs/filter` answers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Micros;

/// One line of `POST /logs/` (a list of them), or of a [`LogFrame`](crate::events::LogFrame).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct LogCreate {
    /// The line's id, chosen by the client (a uuid7) so that a line sent again (after a
    /// reconnect that lost the acknowledgement) is stored once; the server picks one when
    /// absent, as for the `prefect` client (a Flowgate extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The logger's name, e.g. `prefect.flow_runs`.
    pub name: String,
    /// Python-style level: 10 debug, 20 info, 30 warning, 40 error, 50 critical.
    pub level: i64,
    /// The line's text.
    pub message: String,
    /// When it was logged.
    pub timestamp: Micros,
    /// The flow run it belongs to.
    #[serde(default)]
    pub flow_run_id: Option<Uuid>,
    /// The task run it belongs to.
    #[serde(default)]
    pub task_run_id: Option<Uuid>,
}

/// A log line as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Log {
    /// The line's id.
    pub id: Uuid,
    /// When the server stored it.
    pub created: Micros,
    /// Same as `created` (log lines do not change).
    pub updated: Micros,
    /// The logger's name.
    pub name: String,
    /// Python-style level.
    pub level: i64,
    /// The line's text.
    pub message: String,
    /// When it was logged.
    pub timestamp: Micros,
    /// The flow run it belongs to.
    pub flow_run_id: Option<Uuid>,
    /// The task run it belongs to.
    pub task_run_id: Option<Uuid>,
    /// The worker that logged it (not kept: always null).
    pub worker_id: Option<Uuid>,
}
