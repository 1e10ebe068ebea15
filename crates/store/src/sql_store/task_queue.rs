//! [`TaskQueueStore`] on SQL: the `task_queue` table. Claims take the oldest eligible calls
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite); a call whose workers
//! were lost too often is finished with an error and its task run Crashed.

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::task_queue::{
    LeaseCondition, QueueAction, QueueStatus, abandon_error, crashed_state, sources,
};
use serde_json::Value;
use uuid::Uuid;

use super::events::insert_events;
use super::task_runs::{lock_task_run, upsert_task_runs};
use super::{SqlStore, by_id, commit, not_found, rows};
use crate::backend::Backend;
use crate::capabilities::task_queue::{QueuedTask, TaskQueueStore};
use crate::sql::{Row, Sql};
use crate::store::{Result, StoreError};

#[async_trait]
impl<B: Backend> TaskQueueStore for SqlStore<B> {
    async fn enqueue_task(&self, task: &QueuedTask, now: Micros) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::new(
            "INSERT INTO task_queue (id, task_key, flow_run_id, parameters, status, attempts, created, updated) VALUES ",
        );
        sql.rows([vec![
            task.id.into(),
            task.task_key.as_str().into(),
            task.flow_run_id.into(),
            rows::object_text(&task.parameters).into(),
            QueueStatus::Queued.as_str().into(),
            0i64.into(),
            now.into(),
            now.into(),
        ]])
        .push(" ON CONFLICT (id) DO NOTHING");
        B::execute(&mut tx, sql).await?;
        commit(tx).await
    }

    async fn claim_tasks(
        &self,
        task_keys: &[String],
        worker: &str,
        limit: u32,
        lease_until: Micros,
        max_attempts: i64,
        now: Micros,
    ) -> Result<Vec<QueuedTask>> {
        if task_keys.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        // Tasks whose workers were lost too often (`gives_up`) are finished, and their task
        // runs crashed.
        let mut abandon = Sql::new("UPDATE task_queue SET status = ");
        abandon
            .arg(QueueStatus::Done.as_str())
            .push(", error = ")
            .arg(abandon_error(max_attempts))
            .push(", updated = ")
            .arg(now)
            .push(" WHERE ");
        eligible(&mut abandon, QueueAction::Abandon, now);
        abandon
            .push(" AND attempts >= ")
            .arg(max_attempts)
            .push(" AND task_key IN (")
            .arg_list(task_keys.iter().map(String::as_str))
            .push(") RETURNING id");
        for row in B::fetch_all(&mut tx, abandon).await? {
            crash_task_run::<B>(&mut tx, row.uuid("id")?, max_attempts, now).await?;
        }
        let mut claim = Sql::new("UPDATE task_queue SET status = ");
        claim
            .arg(QueueStatus::Claimed.as_str())
            .push(", worker = ")
            .arg(worker)
            .push(", lease_until = ")
            .arg(lease_until)
            .push(", attempts = attempts + 1, updated = ")
            .arg(now)
            .push(" WHERE id IN (SELECT id FROM task_queue WHERE task_key IN (")
            .arg_list(task_keys.iter().map(String::as_str))
            .push(") AND ");
        eligible(&mut claim, QueueAction::Claim, now);
        claim
            .push(" ORDER BY created, id LIMIT ")
            .arg(i64::from(limit))
            .push(B::SKIP_LOCKED)
            .push(") RETURNING *");
        let mut claimed = B::fetch_all(&mut tx, claim)
            .await?
            .iter()
            .map(queued_task)
            .collect::<Result<Vec<_>>>()?;
        // RETURNING keeps no order; ids are uuid7, so id order is enqueue order.
        claimed.sort_by_key(|t| t.id);
        commit(tx).await?;
        Ok(claimed)
    }

    async fn renew_leases(
        &self,
        ids: &[Uuid],
        worker: &str,
        lease_until: Micros,
        now: Micros,
    ) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("UPDATE task_queue SET lease_until = ");
        sql.arg(lease_until)
            .push(", updated = ")
            .arg(now)
            .push(" WHERE ");
        eligible(&mut sql, QueueAction::Renew, now);
        sql.push(" AND worker = ")
            .arg(worker)
            .push(" AND id IN (")
            .arg_list(ids.iter().copied())
            .push(")");
        let renewed = B::execute(&mut tx, sql).await?;
        commit(tx).await?;
        Ok(renewed)
    }

    async fn finish_task(
        &self,
        id: Uuid,
        worker: &str,
        result: Option<&Value>,
        error: Option<&str>,
        now: Micros,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("UPDATE task_queue SET status = ");
        sql.arg(QueueStatus::Done.as_str())
            .push(", result = ")
            .arg(result.map(Value::to_string))
            .push(", error = ")
            .arg(error.map(str::to_owned))
            .push(", updated = ")
            .arg(now)
            .push(" WHERE id = ")
            .arg(id)
            .push(" AND ");
        eligible(&mut sql, QueueAction::Finish, now);
        sql.push(" AND worker = ").arg(worker);
        let finished = B::execute(&mut tx, sql).await? == 1;
        commit(tx).await?;
        Ok(finished)
    }

    async fn read_queued_task(&self, id: Uuid) -> Result<QueuedTask> {
        self.query_one(by_id("SELECT * FROM task_queue", id), queued_task, || {
            not_found("queued task", id)
        })
        .await
    }
}

/// Marks the task run of an abandoned queued task Crashed, with its state event.
async fn crash_task_run<B: Backend>(
    conn: &mut B::Connection,
    id: Uuid,
    attempts: i64,
    now: Micros,
) -> Result<()> {
    let Some(mut record) = lock_task_run::<B>(conn, id).await? else {
        return Ok(());
    };
    if record.state.state_type.is_terminal() {
        return Ok(());
    }
    let event = record.transition(crashed_state(attempts, Uuid::now_v7(), now), now);
    upsert_task_runs::<B>(conn, std::slice::from_ref(&record), now).await?;
    insert_events::<B>(conn, &[&event]).await?;
    Ok(())
}

/// Appends the condition selecting the calls `action` applies to (see
/// [`flowgate_core::task_queue::sources`]), e.g. `((status = 'queued') OR (status = 'claimed'
/// AND lease_until < now))` for a claim.
fn eligible(sql: &mut Sql, action: QueueAction, now: Micros) {
    sql.push("(");
    for (i, (status, lease)) in sources(action).into_iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(status = ").arg(status.as_str());
        match lease {
            LeaseCondition::Any => {}
            LeaseCondition::Lapsed => {
                sql.push(" AND lease_until < ").arg(now);
            }
            LeaseCondition::Holding => {
                sql.push(" AND lease_until >= ").arg(now);
            }
        }
        sql.push(")");
    }
    sql.push(")");
}

/// Reads a `task_queue` row.
fn queued_task(row: &Row) -> Result<QueuedTask> {
    let result = row.json("result")?;
    let status: String = row.get("status")?;
    Ok(QueuedTask {
        id: row.uuid("id")?,
        task_key: row.get("task_key")?,
        flow_run_id: row.opt_uuid("flow_run_id")?,
        parameters: row.json("parameters")?,
        status: QueueStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("queued task status {status:?}")))?,
        worker: row.get("worker")?,
        lease_until: row.opt_micros("lease_until")?,
        attempts: row.get("attempts")?,
        result: (!result.is_null()).then_some(result),
        error: row.get("error")?,
    })
}
