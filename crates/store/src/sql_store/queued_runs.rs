//! Runs waiting to be handed out (`queued_flow_runs`): one row per unfinished run in a work
//! queue, or, with no queue, waiting for the process serving its deployment. Every state a run
//! commits updates its row here (`follow_state`): a run holding a slot (Pending, Running,
//! Cancelling) counts against the limits, a finished run leaves. `hand_out.rs` decides on them.

use flowgate_core::late_runs::is_late;
use flowgate_core::{Micros, State, StateType};
use uuid::Uuid;

use super::flow_runs::insert_flow_run;
use super::{SqlStore, commit, not_found};
use crate::backend::Backend;
use crate::capabilities::flow_runs::{FlowRun, QueuePlace};
use crate::capabilities::work_pools::QueuedFlowRun;
use crate::sql::Sql;
use crate::store::Result;

/// A subquery (`held`) of `column` of the queued runs `scope` selects that hold a slot at
/// `now`: started, or claimed by a worker. It is two index ranges joined, not one condition:
/// no single index serves `holds_slot = 1 OR claimed_until > now`, and that condition read every
/// queued run of a deployment to count the few holding slots (100,000 rows per poll). The
/// `+ 0` keeps SQLite from choosing the `holds_slot` index, which would read every unclaimed
/// run, over the `claimed_until` range.
pub(super) fn slot_holders(column: &str, scope: &str, now: Micros) -> String {
    format!(
        "(SELECT {column} FROM queued_flow_runs WHERE {scope} AND holds_slot = 1 \
         UNION ALL SELECT {column} FROM queued_flow_runs WHERE {scope} \
         AND claimed_until > {now} AND holds_slot + 0 = 0) held",
        now = now.0
    )
}

/// `'id', 'id', ...` for an `IN (...)` list (uuids are hex and hyphens: nothing to escape).
pub(super) fn id_list(ids: &[Uuid]) -> String {
    ids.iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(", ")
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
    let (mut run, created, _events) = insert_flow_run::<B>(&mut tx, new.run, now).await?;
    if created {
        let place = Some((new.work_queue_id, pool));
        insert_entry::<B>(&mut tx, &mut run, place, new.auto_scheduled, now).await?;
    }
    commit(tx).await?;
    Ok(run)
}

/// Puts a just-created run in line: in `queue` of its pool (`(queue, pool)`, which the run then
/// remembers as its `queue`), or (`None`) for the process serving its deployment. It waits
/// from its scheduled time (now, without one).
pub(super) async fn insert_entry<B: Backend>(
    conn: &mut B::Connection,
    run: &mut FlowRun,
    queue: Option<(Uuid, Uuid)>,
    auto_scheduled: bool,
    now: Micros,
) -> Result<()> {
    if let Some((work_queue_id, work_pool_id)) = queue {
        let mut place = Sql::new("UPDATE flow_runs SET work_queue_id = ");
        place
            .arg(work_queue_id)
            .push(", work_pool_id = ")
            .arg(work_pool_id)
            .push(", work_pool_name = (SELECT name FROM work_pools WHERE id = ")
            .arg(work_pool_id)
            .push(") WHERE id = ")
            .arg(run.id)
            .push(" RETURNING work_pool_name");
        let named = B::fetch_all(conn, place).await?;
        let work_pool_name = match named.first() {
            Some(row) => row.get::<Option<String>>("work_pool_name")?,
            None => None,
        };
        run.queue = Some(QueuePlace {
            work_queue_id,
            work_pool_id,
            work_pool_name: work_pool_name.unwrap_or_default(),
        });
    }
    let state = run.state.as_ref();
    let due = state.and_then(State::scheduled_time).unwrap_or(now);
    let mut sql = Sql::new(
        "INSERT INTO queued_flow_runs (flow_run_id, work_queue_id, work_pool_id, deployment_id, \
         scheduled_time, auto_scheduled, holds_slot, late) VALUES ",
    );
    sql.rows([vec![
        run.id.into(),
        queue.map(|q| q.0).into(),
        queue.map(|q| q.1).into(),
        run.deployment_id.into(),
        due.into(),
        auto_scheduled.into(),
        state.is_some_and(|s| takes_slot(s.state_type)).into(),
        state.is_some_and(is_late).into(),
    ]]);
    B::execute(conn, sql).await?;
    Ok(())
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
/// Scheduled or Paused holds none and may be handed out again when due; a Late run is marked
/// so, which keeps it out of the late-run pass's index.
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
        sql.arg(takes_slot(state.state_type))
            .push(", late = ")
            .arg(is_late(state));
        sql
    };
    sql.push(" WHERE flow_run_id = ").arg(run);
    B::execute(conn, sql).await?;
    Ok(())
}
