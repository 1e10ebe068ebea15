//! [`WorkPoolStore`](crate::WorkPoolStore) on SQL, part two: runs waiting in work queues
//! (`queued_flow_runs`, one row per unfinished run in a queue) and their hand-out to workers.
//!
//! A hand-out locks the pool's row, so the hand-outs of one pool take turns on PostgreSQL as they
//! do on SQLite's single writer: the slot counts the core's `hand_out` decides on are exact, and a
//! run, once claimed, is not due again until its claim lapses. Every state a run commits updates
//! its row here (`follow_state`): a run holding a slot (Pending, Running, Cancelling) counts
//! against the limits, a finished run leaves its queue.

use std::collections::HashMap;

use flowgate_core::hand_out::{DueRun, HandOutRequest, QueueSnapshot, Slots, hand_out};
use flowgate_core::{Micros, State, StateType};
use uuid::Uuid;

use super::flow_runs::{flow_run, insert_flow_run};
use super::work_pools::{limit, lock_pool, small_count};
use super::{SqlStore, commit, not_found, rows_by_ids};
use crate::backend::Backend;
use crate::capabilities::flow_runs::FlowRun;
use crate::capabilities::work_pools::{HandedOutRun, Poll, QueuedFlowRun};
use crate::sql::{Row, Sql};
use crate::store::Result;

/// SQL true when a queued run holds a slot at `now`: started, or claimed by a worker.
fn holds_slot(now: Micros) -> String {
    format!("(holds_slot = 1 OR claimed_until > {})", now.0)
}

/// Creates a run and its place in a queue, in one transaction.
pub(super) async fn create_queued_flow_run<B: Backend>(
    store: &SqlStore<B>,
    new: QueuedFlowRun,
    now: Micros,
) -> Result<FlowRun> {
    let mut tx = store.begin().await?;
    let mut find = Sql::new("SELECT work_pool_id FROM work_queues WHERE id = ");
    find.arg(new.work_queue_id);
    let pool: Uuid = B::fetch_all(&mut tx, find)
        .await?
        .first()
        .ok_or_else(|| not_found("work queue", new.work_queue_id))?
        .uuid("work_pool_id")?;
    let (run, created, _events) = insert_flow_run::<B>(&mut tx, new.run, now).await?;
    if created {
        let state = run.state.as_ref();
        let due = state.and_then(State::scheduled_time).unwrap_or(now);
        let mut sql = Sql::new(
            "INSERT INTO queued_flow_runs (flow_run_id, work_queue_id, work_pool_id, deployment_id, \
             scheduled_time, auto_scheduled, holds_slot) VALUES ",
        );
        sql.rows([vec![
            run.id.into(),
            new.work_queue_id.into(),
            pool.into(),
            run.deployment_id.into(),
            due.into(),
            new.auto_scheduled.into(),
            state.is_some_and(|s| takes_slot(s.state_type)).into(),
        ]]);
        B::execute(&mut tx, sql).await?;
    }
    commit(tx).await?;
    Ok(run)
}

/// States in which a run holds a concurrency slot.
fn takes_slot(t: StateType) -> bool {
    matches!(
        t,
        StateType::Pending | StateType::Running | StateType::Cancelling
    )
}

/// Keeps a run's place in its queue in step with a state it just committed: a finished run
/// leaves the queue; a started run holds a slot (and its claim is spent); a run back in
/// Scheduled or Paused holds none and may be handed out again when due.
pub(super) async fn follow_state<B: Backend>(
    conn: &mut B::Connection,
    run: Uuid,
    state: &State,
) -> Result<()> {
    let mut sql = if state.state_type.is_terminal() {
        Sql::new("DELETE FROM queued_flow_runs")
    } else {
        let mut sql = Sql::new(
            "UPDATE queued_flow_runs SET claimed_by = NULL, claimed_until = NULL, holds_slot = ",
        );
        sql.arg(takes_slot(state.state_type));
        sql
    };
    sql.push(" WHERE flow_run_id = ").arg(run);
    B::execute(conn, sql).await?;
    Ok(())
}

/// The polled pool as the hand-out decides on it.
struct PoolSnapshot {
    id: Uuid,
    paused: bool,
    slots: Slots,
    queues: Vec<QueueSnapshot>,
    queue_names: HashMap<Uuid, String>,
}

/// The hand-out: due runs of the polled queues, decided by the core, claimed for the worker.
pub(super) async fn hand_out_runs<B: Backend>(
    store: &SqlStore<B>,
    poll: &Poll,
    now: Micros,
) -> Result<Vec<HandedOutRun>> {
    let mut tx = store.begin().await?;
    let pool = snapshot::<B>(&mut tx, poll, now).await?;
    let before = poll.scheduled_before.unwrap_or(now);
    let mut due = Vec::new();
    for q in pool.queues.iter().filter(|q| !q.paused && !pool.paused) {
        let wanted = q
            .slots
            .free()
            .map_or(poll.limit, |f| poll.limit.min(f as usize));
        if wanted > 0 {
            due.extend(due_runs::<B>(&mut tx, q.id, poll, before, wanted, now).await?);
        }
    }
    let decision = hand_out(HandOutRequest {
        pool_paused: pool.paused,
        pool_slots: pool.slots,
        queues: &pool.queues,
        deployments: &[],
        due: &due,
        max_runs: poll.limit,
    });
    let chosen: Vec<&DueRun> = decision
        .runs
        .iter()
        .filter_map(|id| due.iter().find(|d| d.id == *id))
        .collect();
    for run in &chosen {
        let until = run.scheduled_time.max(now).plus_seconds(poll.lease_seconds);
        let mut claim = Sql::new("UPDATE queued_flow_runs SET claimed_by = ");
        claim
            .arg(poll.worker.clone())
            .push(", claimed_until = ")
            .arg(until)
            .push(" WHERE flow_run_id = ")
            .arg(run.id);
        B::execute(&mut tx, claim).await?;
    }
    let ids: Vec<String> = chosen.iter().map(|d| d.id.to_string()).collect();
    let mut runs: HashMap<Uuid, FlowRun> = HashMap::new();
    for row in rows_by_ids::<B>(&mut tx, "SELECT * FROM flow_runs", &ids).await? {
        let run = flow_run(&row)?;
        runs.insert(run.id, run);
    }
    commit(tx).await?;
    Ok(chosen
        .into_iter()
        .filter_map(|d| {
            Some(HandedOutRun {
                run: runs.remove(&d.id)?,
                work_queue_id: d.queue_id,
                work_queue_name: pool.queue_names[&d.queue_id].clone(),
                work_pool_id: pool.id,
            })
        })
        .collect())
}

/// Locks the polled pool, records the poll on its queues, and reads what holds its slots.
async fn snapshot<B: Backend>(
    conn: &mut B::Connection,
    poll: &Poll,
    now: Micros,
) -> Result<PoolSnapshot> {
    let id = lock_pool::<B>(conn, &poll.pool).await?;
    let mut pool_sql = Sql::new("SELECT is_paused, concurrency_limit FROM work_pools WHERE id = ");
    pool_sql.arg(id);
    let pool = B::fetch_all(conn, pool_sql).await?;

    let mut active_sql =
        Sql::new("SELECT work_queue_id, COUNT(*) AS n FROM queued_flow_runs WHERE work_pool_id = ");
    active_sql
        .arg(id)
        .push(" AND ")
        .push(&holds_slot(now))
        .push(" GROUP BY work_queue_id");
    let mut active: HashMap<Uuid, u32> = HashMap::new();
    for row in B::fetch_all(conn, active_sql).await? {
        active.insert(row.uuid("work_queue_id")?, small_count(&row, "n")?);
    }

    let mut queue_sql = Sql::new(
        "SELECT id, name, priority, is_paused, concurrency_limit FROM work_queues WHERE work_pool_id = ",
    );
    queue_sql.arg(id);
    if !poll.queue_names.is_empty() {
        queue_sql
            .push(" AND name IN (")
            .arg_list(poll.queue_names.iter().map(String::as_str))
            .push(")");
    }
    let mut queues = Vec::new();
    let mut queue_names = HashMap::new();
    for row in B::fetch_all(conn, queue_sql).await? {
        let queue = row.uuid("id")?;
        queue_names.insert(queue, row.get::<String>("name")?);
        queues.push(QueueSnapshot {
            id: queue,
            priority: small_count(&row, "priority")?,
            paused: row.get::<i64>("is_paused")? != 0,
            slots: Slots {
                limit: limit(&row)?,
                active: active.get(&queue).copied().unwrap_or(0),
            },
        });
    }
    if !queues.is_empty() {
        let mut polled = Sql::new("UPDATE work_queues SET last_polled = ");
        polled
            .arg(now)
            .push(" WHERE id IN (")
            .arg_list(queues.iter().map(|q| q.id))
            .push(")");
        B::execute(conn, polled).await?;
    }
    Ok(PoolSnapshot {
        id,
        paused: pool[0].get::<i64>("is_paused")? != 0,
        slots: Slots {
            limit: limit(&pool[0])?,
            active: active.values().sum(),
        },
        queues,
        queue_names,
    })
}

/// A queue's due, unclaimed Scheduled runs, earliest first, at most `limit`.
async fn due_runs<B: Backend>(
    conn: &mut B::Connection,
    queue: Uuid,
    poll: &Poll,
    before: Micros,
    limit: usize,
    now: Micros,
) -> Result<Vec<DueRun>> {
    let mut sql = Sql::new(
        "SELECT e.flow_run_id, e.deployment_id, e.scheduled_time FROM queued_flow_runs e \
         JOIN flow_runs r ON r.id = e.flow_run_id WHERE e.work_queue_id = ",
    );
    sql.arg(queue)
        .push(" AND e.scheduled_time <= ")
        .arg(before)
        .push(" AND r.state_type = 'SCHEDULED' AND COALESCE(r.next_scheduled_start_time, e.scheduled_time) <= ")
        .arg(before)
        .push(" AND e.holds_slot = 0 AND (e.claimed_until IS NULL OR e.claimed_until <= ")
        .arg(now)
        .push(")");
    if let Some(after) = poll.scheduled_after {
        sql.push(" AND e.scheduled_time >= ").arg(after);
    }
    sql.push(" ORDER BY e.scheduled_time, e.flow_run_id LIMIT ")
        .arg(i64::try_from(limit).unwrap_or(i64::MAX));
    B::fetch_all(conn, sql)
        .await?
        .iter()
        .map(|row: &Row| {
            Ok(DueRun {
                id: row.uuid("flow_run_id")?,
                queue_id: queue,
                deployment_id: row.opt_uuid("deployment_id")?,
                scheduled_time: row.micros("scheduled_time")?,
            })
        })
        .collect()
}
