//! [`RetentionStore`] on SQL: each batch selects the oldest aged ids through an index on their
//! time (skipping rows another replica holds) and deletes them with what belongs to them.

use std::time::Instant;

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::retention::Prunable;

use super::statements::Statements;
use super::{SqlStore, commit};
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
        let mut tx = self.begin().await?;
        let held_from = Instant::now();
        let mut select = Sql::new(&format!("SELECT id FROM {table} WHERE {aged}"));
        select
            .arg(before)
            .push(&format!(" ORDER BY {time} LIMIT "))
            .arg(limit)
            .push(B::SKIP_LOCKED);
        let ids: Vec<String> = B::fetch_all(&mut tx, select)
            .await?
            .iter()
            .map(|row| row.get("id"))
            .collect::<Result<_>>()?;
        if ids.is_empty() {
            return Ok(Pruned {
                records: 0,
                held: held_from.elapsed(),
            });
        }
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
        let delete = |statement: &str| {
            let mut sql = Sql::new(statement);
            sql.arg_list(ids.iter().map(|id| Arg::Text(Some(id.clone()))))
                .push(")");
            sql
        };
        // One call on SQLite: every statement is a round trip to the writer's thread.
        let mut deletes = Statements::default();
        deletes.extend(belongings.iter().map(|statement| delete(statement)));
        deletes.execute::<B>(&mut tx).await?;
        let gone = B::execute(
            &mut tx,
            delete(&format!("DELETE FROM {table} WHERE id IN (")),
        )
        .await?;
        commit(tx).await?;
        Ok(Pruned {
            records: usize::try_from(gone).unwrap_or(usize::MAX),
            held: held_from.elapsed(),
        })
    }
}
