//! [`RetentionStore`] on SQL: each batch selects the oldest aged ids through an index on their
//! time (skipping rows another replica holds) and deletes them with what belongs to them.

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::retention::Prunable;

use super::SqlStore;
use super::statements::Statements;
use super::whole_transaction::Framing;
use crate::backend::Backend;
use crate::capabilities::retention::{Pruned, RetentionStore};
use crate::sql::{Arg, Sql};
use crate::store::Result;

/// Terminal state types, as stored.
const FINAL: &str = "('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')";
/// The state type as an expression no index serves (`|| ''`), so that the planner walks the
/// time index in order and stops at the batch's `LIMIT`: through the state-type index SQLite
/// read and sorted every finished run on each batch (0.1–1 s per batch at 100,000 runs).
const STATE_TYPE: &str = "state_type || ''";

#[async_trait]
impl<B: Backend> RetentionStore for SqlStore<B> {
    async fn prune(&self, kind: Prunable, before: Micros, limit: usize) -> Result<Pruned> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (table, aged, time) = match kind {
            Prunable::FlowRuns => (
                "flow_runs",
                format!("{STATE_TYPE} IN {FINAL} AND state_timestamp < "),
                "state_timestamp",
            ),
            Prunable::TaskRuns => (
                "task_runs",
                format!("flow_run_id IS NULL AND {STATE_TYPE} IN {FINAL} AND state_timestamp < "),
                "state_timestamp",
            ),
            Prunable::Logs => ("logs", "timestamp < ".to_owned(), "timestamp"),
            Prunable::Events => ("events", "occurred < ".to_owned(), "occurred"),
        };
        let mut select = Sql::new(&format!("SELECT id FROM {table} WHERE {aged}"));
        select
            .arg(before)
            .push(&format!(" ORDER BY {time} LIMIT "))
            .arg(limit)
            .push(B::SKIP_LOCKED);
        // What belongs to the records goes first: a flow run's task runs and logs (its states,
        // inputs and place in a queue follow by cascade), a lone task run's logs.
        let belongings: &[&str] = match kind {
            Prunable::FlowRuns => &[
                "DELETE FROM task_runs WHERE flow_run_id IN (",
                "DELETE FROM logs WHERE flow_run_id IN (",
            ],
            Prunable::TaskRuns => &["DELETE FROM logs WHERE task_run_id IN ("],
            Prunable::Logs | Prunable::Events => &[],
        };
        let mut deletes: Vec<String> = belongings.iter().map(|d| (*d).to_owned()).collect();
        deletes.push(format!("DELETE FROM {table} WHERE id IN ("));
        let batch = Batch { select, deletes };
        // On SQLite the batch is two calls to the writer's thread (each a round trip the
        // writer is held across): its select with `BEGIN`, its deletes with `COMMIT`.
        let (records, held) = self
            .write_framed(async |conn, framing| batch.run::<B>(conn, framing).await)
            .await?;
        Ok(Pruned { records, held })
    }
}

/// One batch: the select of aged ids, and the deletes (each `… IN (` awaiting the ids) that
/// remove them with what belongs to them, in order.
struct Batch {
    select: Sql,
    deletes: Vec<String>,
}

impl Batch {
    /// Runs the batch in its transaction; returns how many aged records went (the ids
    /// selected: the transaction holds them, by the write lock on SQLite, by `FOR UPDATE` on
    /// PostgreSQL, so each is deleted).
    async fn run<B: Backend>(self, conn: &mut B::Connection, framing: Framing) -> Result<usize> {
        let mut first = framing.first_call::<B>();
        first.push(self.select);
        let ids: Vec<String> = first
            .fetch_all::<B>(conn)
            .await?
            .iter()
            .map(|row| row.get("id"))
            .collect::<Result<_>>()?;
        let mut deletes = Statements::default();
        if !ids.is_empty() {
            deletes.extend(self.deletes.iter().map(|statement| {
                let mut sql = Sql::new(statement);
                sql.arg_list(ids.iter().map(|id| Arg::Text(Some(id.clone()))))
                    .push(")");
                sql
            }));
        }
        framing.last_call(deletes).execute::<B>(conn).await?;
        Ok(ids.len())
    }
}
