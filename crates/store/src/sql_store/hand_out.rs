//! The hand-out of due runs: to a worker polling a pool, or to the process serving deployments.
//!
//! A pool's hand-out locks the pool's row (a served hand-out locks its deployments' rows), so
//! hand-outs that share limits take turns on PostgreSQL as they do on SQLite's single writer and
//! the slot counts the core's `hand_out` decides on are exact. Candidates are read a page at a
//! time per queue, earliest first; a deployment the decision finds full (or paused) is left out of
//! the next page, so a long line of one limited deployment never hides the runs behind it
//! (Prefect #19403). Chosen runs are claimed under a lease; runs of a full `CANCEL_NEW`
//! deployment are cancelled.

use std::collections::{HashMap, HashSet};

use flowgate_core::deployment::CollisionStrategy;
use flowgate_core::hand_out::{
    DeploymentSnapshot, DueRun, HandOut, HandOutRequest, QueueSnapshot, Slots, hand_out,
};
use flowgate_core::{Event, Micros, State, StateType};
use uuid::Uuid;

use super::flow_runs::{commit_state, flow_run, lock_run};
use super::queued_runs::{id_list, slot_holders};
use super::work_pools::{limit, lock_pool, small_count};
use super::{SqlStore, commit, rows_by_ids};
use crate::backend::Backend;
use crate::capabilities::flow_runs::FlowRun;
use crate::capabilities::work_pools::{HandedOutRun, Poll};
use crate::sql::{Row, Sql};
use crate::store::Result;

/// Rounds of "read a page, decide, leave out what is full" per hand-out, at most.
const MAX_ROUNDS: usize = 8;

/// Where candidates are read from.
enum Scope<'a> {
    /// A pool's queue.
    Queue(Uuid),
    /// Runs of these served deployments (no queue).
    Served(&'a [Uuid]),
}

/// What bounds a hand-out besides its candidates.
struct Bounds<'a> {
    pool_paused: bool,
    pool_slots: Slots,
    queues: &'a [QueueSnapshot],
    before: Micros,
    after: Option<Micros>,
    max_runs: usize,
    now: Micros,
}

/// The hand-out to a worker polling a pool.
pub(super) async fn hand_out_runs<B: Backend>(
    store: &SqlStore<B>,
    poll: &Poll,
    now: Micros,
) -> Result<(Vec<HandedOutRun>, Vec<Event>)> {
    let mut tx = store.begin().await?;
    let pool = pool_snapshot::<B>(&mut tx, poll, now).await?;
    let scopes: Vec<(Uuid, Scope<'_>)> = pool
        .queues
        .iter()
        .filter(|q| !q.paused && !pool.paused && q.slots.free() != Some(0))
        .map(|q| (q.id, Scope::Queue(q.id)))
        .collect();
    let bounds = Bounds {
        pool_paused: pool.paused,
        pool_slots: pool.slots,
        queues: &pool.queues,
        before: poll.scheduled_before.unwrap_or(now),
        after: poll.scheduled_after,
        max_runs: poll.limit,
        now,
    };
    let (decision, due) = decide::<B>(&mut tx, &scopes, &bounds).await?;
    let (runs, events) = apply::<B>(
        &mut tx,
        &decision,
        &due,
        poll.worker.as_deref(),
        poll.lease_seconds,
        now,
    )
    .await?;
    commit(tx).await?;
    let runs = runs
        .into_iter()
        .map(|(run, queue)| HandedOutRun {
            work_queue_name: pool.queue_names[&queue].clone(),
            work_queue_id: queue,
            work_pool_id: pool.id,
            run,
        })
        .collect();
    Ok((runs, events))
}

/// The hand-out to a process serving deployments (`flow.serve()`): their due runs that wait in
/// no queue, under the deployments' limits.
pub(super) async fn served_runs<B: Backend>(
    store: &SqlStore<B>,
    deployments: &[Uuid],
    before: Micros,
    limit: usize,
    now: Micros,
) -> Result<(Vec<FlowRun>, Vec<Event>)> {
    if deployments.is_empty() || limit == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut tx = store.begin().await?;
    let mut lock = Sql::new("SELECT id FROM deployments WHERE id IN (");
    lock.arg_list(deployments.iter().copied())
        .push(") ORDER BY id")
        .push(B::FOR_UPDATE);
    B::fetch_all(&mut tx, lock).await?;
    let mut polled = Sql::new("UPDATE deployments SET last_polled = ");
    polled
        .arg(now)
        .push(" WHERE id IN (")
        .arg_list(deployments.iter().copied())
        .push(")");
    B::execute(&mut tx, polled).await?;
    let served = [QueueSnapshot {
        id: Uuid::nil(),
        priority: 1,
        paused: false,
        slots: Slots::default(),
    }];
    let bounds = Bounds {
        pool_paused: false,
        pool_slots: Slots::default(),
        queues: &served,
        before,
        after: None,
        max_runs: limit,
        now,
    };
    let scopes = [(Uuid::nil(), Scope::Served(deployments))];
    let (decision, due) = decide::<B>(&mut tx, &scopes, &bounds).await?;
    let (runs, events) = apply::<B>(&mut tx, &decision, &due, Some("serve"), 30.0, now).await?;
    commit(tx).await?;
    Ok((runs.into_iter().map(|(run, _)| run).collect(), events))
}

/// Reads candidates page by page and lets the core decide, leaving out deployments it finds
/// blocked, until the batch is full or nothing more is due.
async fn decide<B: Backend>(
    conn: &mut B::Connection,
    scopes: &[(Uuid, Scope<'_>)],
    bounds: &Bounds<'_>,
) -> Result<(HandOut, Vec<DueRun>)> {
    let page = bounds.max_runs.clamp(1, 500);
    let mut due: Vec<DueRun> = Vec::new();
    let mut cursors: HashMap<Uuid, (Micros, Uuid)> = HashMap::new();
    let mut exhausted: HashSet<Uuid> = HashSet::new();
    let mut excluded: Vec<Uuid> = Vec::new();
    let mut deployments: Vec<DeploymentSnapshot> = Vec::new();
    let mut decision = HandOut::default();
    for _ in 0..MAX_ROUNDS {
        for (key, scope) in scopes {
            if exhausted.contains(key) {
                continue;
            }
            let read = due_runs::<B>(
                conn,
                *key,
                scope,
                cursors.get(key).copied(),
                &excluded,
                bounds,
                page,
            )
            .await?;
            if read.len() < page {
                exhausted.insert(*key);
            }
            if let Some(last) = read.last() {
                cursors.insert(*key, (last.scheduled_time, last.id));
            }
            due.extend(read);
        }
        let unknown: Vec<Uuid> = due
            .iter()
            .filter_map(|d| d.deployment_id)
            .filter(|d| !deployments.iter().any(|s| s.id == *d))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        deployments.extend(deployment_snapshots::<B>(conn, &unknown, bounds.now).await?);
        decision = hand_out(HandOutRequest {
            pool_paused: bounds.pool_paused,
            pool_slots: bounds.pool_slots,
            queues: bounds.queues,
            deployments: &deployments,
            due: &due,
            max_runs: bounds.max_runs,
        });
        if decision.runs.len() >= bounds.max_runs || exhausted.len() == scopes.len() {
            break;
        }
        let taken = |d: Uuid| {
            decision
                .runs
                .iter()
                .filter(|r| {
                    due.iter()
                        .any(|x| x.id == **r && x.deployment_id == Some(d))
                })
                .count() as u32
        };
        let blocked: Vec<Uuid> = deployments
            .iter()
            .filter(|d| !excluded.contains(&d.id))
            .filter(|d| d.paused || d.slots.free().is_some_and(|free| taken(d.id) >= free))
            .map(|d| d.id)
            .collect();
        if blocked.is_empty() {
            break;
        }
        excluded.extend(blocked);
    }
    Ok((decision, due))
}

/// Claims the chosen runs for `worker` (none for a look without one) and cancels the ones the
/// decision cancels; returns the chosen runs (in order) with their queue, and the
/// cancellations' events.
async fn apply<B: Backend>(
    conn: &mut B::Connection,
    decision: &HandOut,
    due: &[DueRun],
    worker: Option<&str>,
    lease_seconds: f64,
    now: Micros,
) -> Result<(Vec<(FlowRun, Uuid)>, Vec<Event>)> {
    let chosen: Vec<&DueRun> = decision
        .runs
        .iter()
        .filter_map(|id| due.iter().find(|d| d.id == *id))
        .collect();
    for run in chosen.iter().filter(|_| worker.is_some()) {
        let until = run.scheduled_time.max(now).plus_seconds(lease_seconds);
        let mut claim = Sql::new("UPDATE queued_flow_runs SET claimed_by = ");
        claim
            .arg(worker.map(str::to_owned))
            .push(", claimed_until = ")
            .arg(until)
            .push(" WHERE flow_run_id = ")
            .arg(run.id);
        B::execute(conn, claim).await?;
    }
    let mut events = Vec::new();
    for cancel in &decision.cancel {
        let (mut run, flow_name) = lock_run::<B>(conn, cancel.run_id).await?;
        let mut state = State::new(Uuid::now_v7(), StateType::Cancelled, now);
        state.message = Some(cancel.reason.clone());
        events.extend(commit_state::<B>(conn, &mut run, &flow_name, state, now).await?);
    }
    let ids: Vec<String> = chosen.iter().map(|d| d.id.to_string()).collect();
    let mut runs: HashMap<Uuid, FlowRun> = HashMap::new();
    for row in rows_by_ids::<B>(conn, "SELECT * FROM flow_runs", &ids).await? {
        let run = flow_run(&row)?;
        runs.insert(run.id, run);
    }
    let chosen = chosen
        .into_iter()
        .filter_map(|d| Some((runs.remove(&d.id)?, d.queue_id)))
        .collect();
    Ok((chosen, events))
}

/// The polled pool as the hand-out decides on it.
struct PoolSnapshot {
    id: Uuid,
    paused: bool,
    slots: Slots,
    queues: Vec<QueueSnapshot>,
    queue_names: HashMap<Uuid, String>,
}

/// Locks the polled pool, records the poll on its queues and their deployments, and reads what
/// holds its slots.
async fn pool_snapshot<B: Backend>(
    conn: &mut B::Connection,
    poll: &Poll,
    now: Micros,
) -> Result<PoolSnapshot> {
    let id = lock_pool::<B>(conn, &poll.pool).await?;
    let mut pool_sql = Sql::new("SELECT is_paused, concurrency_limit FROM work_pools WHERE id = ");
    pool_sql.arg(id);
    let pool = B::fetch_all(conn, pool_sql).await?;

    let held = slot_holders("work_queue_id", &format!("work_pool_id = '{id}'"), now);
    let active_sql = Sql::new(&format!(
        "SELECT work_queue_id, COUNT(*) AS n FROM {held} GROUP BY work_queue_id"
    ));
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
        for table in [
            "work_queues SET last_polled = $1 WHERE id",
            "deployments SET last_polled = $1 WHERE work_queue_id",
        ] {
            let mut polled = Sql::new(&format!("UPDATE {table} IN ("));
            polled.args.push(now.into());
            polled.arg_list(queues.iter().map(|q| q.id)).push(")");
            B::execute(conn, polled).await?;
        }
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

/// Deployments' pauses, limits and the slots their runs hold now.
async fn deployment_snapshots<B: Backend>(
    conn: &mut B::Connection,
    ids: &[Uuid],
    now: Micros,
) -> Result<Vec<DeploymentSnapshot>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let held = slot_holders(
        "deployment_id",
        &format!("deployment_id IN ({})", id_list(ids)),
        now,
    );
    let active_sql = Sql::new(&format!(
        "SELECT deployment_id, COUNT(*) AS n FROM {held} GROUP BY deployment_id"
    ));
    let mut active: HashMap<Uuid, u32> = HashMap::new();
    for row in B::fetch_all(conn, active_sql).await? {
        active.insert(row.uuid("deployment_id")?, small_count(&row, "n")?);
    }
    let mut sql = Sql::new(
        "SELECT id, paused, concurrency_limit, collision_strategy FROM deployments WHERE id IN (",
    );
    sql.arg_list(ids.iter().copied()).push(")");
    B::fetch_all(conn, sql)
        .await?
        .iter()
        .map(|row| {
            let id = row.uuid("id")?;
            Ok(DeploymentSnapshot {
                id,
                paused: row.get::<i64>("paused")? != 0,
                slots: Slots {
                    limit: limit(row)?,
                    active: active.get(&id).copied().unwrap_or(0),
                },
                collision: CollisionStrategy::parse(&row.get::<String>("collision_strategy")?)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// A page of due, unclaimed Scheduled runs of `scope` after `cursor`, earliest first, leaving
/// out `excluded` deployments. Each carries `key` as its queue.
async fn due_runs<B: Backend>(
    conn: &mut B::Connection,
    key: Uuid,
    scope: &Scope<'_>,
    cursor: Option<(Micros, Uuid)>,
    excluded: &[Uuid],
    bounds: &Bounds<'_>,
    page: usize,
) -> Result<Vec<DueRun>> {
    let mut sql = Sql::new(
        "SELECT e.flow_run_id, e.deployment_id, e.scheduled_time FROM queued_flow_runs e \
         JOIN flow_runs r ON r.id = e.flow_run_id WHERE ",
    );
    match scope {
        Scope::Queue(queue) => sql.push("e.work_queue_id = ").arg(*queue),
        Scope::Served(deployments) => sql
            .push("e.work_queue_id IS NULL AND e.deployment_id IN (")
            .arg_list(deployments.iter().copied())
            .push(")"),
    };
    sql.push(" AND e.scheduled_time <= ")
        .arg(bounds.before)
        .push(" AND r.state_type = 'SCHEDULED' AND COALESCE(r.next_scheduled_start_time, e.scheduled_time) <= ")
        .arg(bounds.before)
        .push(" AND e.holds_slot = 0 AND (e.claimed_until IS NULL OR e.claimed_until <= ")
        .arg(bounds.now)
        .push(")");
    if let Some(after) = bounds.after {
        sql.push(" AND e.scheduled_time >= ").arg(after);
    }
    if let Some((time, id)) = cursor {
        sql.push(" AND (e.scheduled_time > ")
            .arg(time)
            .push(" OR (e.scheduled_time = ")
            .arg(time)
            .push(" AND e.flow_run_id > ")
            .arg(id)
            .push("))");
    }
    if !excluded.is_empty() {
        sql.push(" AND (e.deployment_id IS NULL OR e.deployment_id NOT IN (")
            .arg_list(excluded.iter().copied())
            .push("))");
    }
    sql.push(" ORDER BY e.scheduled_time, e.flow_run_id LIMIT ")
        .arg(i64::try_from(page).unwrap_or(i64::MAX));
    B::fetch_all(conn, sql)
        .await?
        .iter()
        .map(|row: &Row| {
            Ok(DueRun {
                id: row.uuid("flow_run_id")?,
                queue_id: key,
                deployment_id: row.opt_uuid("deployment_id")?,
                scheduled_time: row.micros("scheduled_time")?,
            })
        })
        .collect()
}
