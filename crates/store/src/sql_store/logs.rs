//! [`LogStore`] on SQL: the `logs` table (written with event batches by ingest).

use async_trait::async_trait;

use super::{SqlStore, filters, insert_rows};
use crate::backend::Backend;
use crate::capabilities::logs::{LogEntry, LogFilter, LogStore};
use crate::model::Page;
use crate::sql::{Arg, Conditions, Row, Sql};
use crate::store::Result;

#[async_trait]
impl<B: Backend> LogStore for SqlStore<B> {
    async fn filter_logs(
        &self,
        filter: &LogFilter,
        newest_first: bool,
        page: Page,
    ) -> Result<Vec<LogEntry>> {
        let mut sql = Sql::new("SELECT * FROM logs");
        conditions(filter).append_to(&mut sql);
        sql.push(if newest_first {
            " ORDER BY timestamp DESC, id DESC"
        } else {
            " ORDER BY timestamp, id"
        });
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(log).collect()
    }
}

/// Inserts log lines (a repeated id is ignored).
pub(super) async fn insert_logs<B: Backend>(
    conn: &mut B::Connection,
    logs: &[LogEntry],
) -> Result<()> {
    insert_rows::<B>(
        conn,
        &format!("INSERT INTO logs ({COLUMNS}) VALUES "),
        " ON CONFLICT (id) DO NOTHING",
        logs.iter().map(args).collect(),
    )
    .await?;
    Ok(())
}

/// Columns of `logs`, in the order of [`args`].
const COLUMNS: &str = "id, created, name, level, message, timestamp, flow_run_id, task_run_id";

/// A log line's row, in [`COLUMNS`] order.
fn args(l: &LogEntry) -> Vec<Arg> {
    vec![
        l.id.into(),
        l.created.into(),
        l.name.as_str().into(),
        l.level.into(),
        l.message.as_str().into(),
        l.timestamp.into(),
        l.flow_run_id.into(),
        l.task_run_id.into(),
    ]
}

/// Reads a `logs` row.
fn log(row: &Row) -> Result<LogEntry> {
    Ok(LogEntry {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        name: row.get("name")?,
        level: row.get("level")?,
        message: row.get("message")?,
        timestamp: row.micros("timestamp")?,
        flow_run_id: row.opt_uuid("flow_run_id")?,
        task_run_id: row.opt_uuid("task_run_id")?,
    })
}

/// The `WHERE` conditions of a log filter.
fn conditions(f: &LogFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "flow_run_id", &f.flow_run_ids);
    filters::any_of(&mut c, "task_run_id", &f.task_run_ids);
    filters::is_null(&mut c, "task_run_id", f.has_task_run);
    if let Some(ge) = f.level_ge {
        c.add(|s| {
            s.push("level >= ").arg(ge);
        });
    }
    if let Some(le) = f.level_le {
        c.add(|s| {
            s.push("level <= ").arg(le);
        });
    }
    filters::time_range(&mut c, "timestamp", &f.timestamp);
    c
}
