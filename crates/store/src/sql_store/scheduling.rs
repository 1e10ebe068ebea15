//! The scheduler's and the late-run service's units of work, each one transaction over a bounded
//! batch. On PostgreSQL the batch's rows are taken `FOR UPDATE SKIP LOCKED`, so replicas sharing
//! one database split the work instead of repeating it (and the scheduler's idempotency keys make
//! one run per deployment and time regardless); on SQLite the single writer serialises them.

use std::collections::{BTreeSet, HashMap};

use flowgate_core::deployment::LateRunPolicy;
use flowgate_core::late_runs::{
    LATE_AFTER_SECONDS, LATE_STATE_NAME, LateAction, OverdueRun, late_run_actions,
};
use flowgate_core::scheduler::{DeploymentSchedules, Horizon, ScheduleEntry, plan_runs, replan_at};
use flowgate_core::{Micros, State, StateType};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::deployments::{queue_name, schedule_from};
use super::flow_runs::{commit_state, insert_flow_run, lock_run};
use super::queued_runs::insert_entry;
use super::{SqlStore, commit};
use crate::backend::Backend;
use crate::capabilities::deployments::{LatePass, SchedulerPass};
use crate::capabilities::flow_runs::NewFlowRun;
use crate::sql::Sql;
use crate::store::{Result, StoreError};

/// Plans up to `batch` deployments whose `plan_at` has come.
pub(super) async fn schedule_runs<B: Backend>(
    store: &SqlStore<B>,
    now: Micros,
    horizon: &Horizon,
    batch: usize,
) -> Result<SchedulerPass> {
    let mut tx = store.begin().await?;
    let mut due = Sql::new(
        "SELECT id, flow_id, paused, parameters, tags, work_queue_id FROM deployments WHERE plan_at <= ",
    );
    due.arg(now)
        .push(" ORDER BY plan_at LIMIT ")
        .arg(i64::try_from(batch).unwrap_or(i64::MAX))
        .push(B::SKIP_LOCKED);
    let deployments = B::fetch_all(&mut tx, due).await?;
    let mut pass = SchedulerPass::default();
    for row in &deployments {
        let id = row.uuid("id")?;
        let parameters = match row.json("parameters")? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let mut sched_sql = Sql::new("SELECT * FROM deployment_schedules WHERE deployment_id = ");
        sched_sql.arg(id).push(" ORDER BY created, id");
        let schedules = B::fetch_all(&mut tx, sched_sql)
            .await?
            .iter()
            .map(schedule_from)
            .collect::<Result<Vec<_>>>()?;
        let empty = Map::new();
        let entries: Vec<ScheduleEntry<'_>> = schedules
            .iter()
            .map(|s| ScheduleEntry {
                id: s.id,
                schedule: &s.schedule,
                active: s.active,
                max_scheduled_runs: s.max_scheduled_runs.map(|m| m as usize),
                parameters: s.parameters.as_object().unwrap_or(&empty),
            })
            .collect();
        let mut existing_sql = Sql::new(
            "SELECT scheduled_time FROM queued_flow_runs WHERE auto_scheduled = 1 AND deployment_id = ",
        );
        existing_sql
            .arg(id)
            .push(" AND scheduled_time >= ")
            .arg(now);
        let existing: BTreeSet<Micros> = B::fetch_all(&mut tx, existing_sql)
            .await?
            .iter()
            .map(|r| r.micros("scheduled_time"))
            .collect::<Result<_>>()?;
        let plan = DeploymentSchedules {
            deployment_id: id,
            parameters: &parameters,
            paused: row.get::<i64>("paused")? != 0,
            schedules: &entries,
            existing: &existing,
        };
        let planned = plan_runs(&plan, now, horizon);
        let queue = row.opt_uuid("work_queue_id")?;
        let place = match queue {
            Some(q) => Some((q, queue_pool::<B>(&mut tx, q).await?)),
            None => None,
        };
        for run in &planned {
            let mut state = State::new(Uuid::now_v7(), StateType::Scheduled, now);
            state.details.insert(
                "scheduled_time".to_owned(),
                run.scheduled_time.to_string().into(),
            );
            let new = NewFlowRun {
                flow_id: row.uuid("flow_id")?,
                parameters: Value::Object(run.parameters.clone()),
                idempotency_key: Some(run.idempotency_key.clone()),
                tags: row.string_list("tags")?,
                deployment_id: Some(id),
                work_queue_name: queue_name::<B>(&mut tx, queue).await?,
                state: Some(state),
                labels: serde_json::json!({"prefect.deployment.id": id.to_string()}),
                ..Default::default()
            };
            let (mut flow_run, created, events) = insert_flow_run::<B>(&mut tx, new, now).await?;
            pass.events.extend(events);
            if created {
                insert_entry::<B>(&mut tx, &mut flow_run, place, true, now).await?;
                pass.runs_created += 1;
            }
        }
        let mut after = existing.clone();
        after.extend(planned.iter().map(|r| r.scheduled_time));
        let stored = DeploymentSchedules {
            existing: &after,
            ..plan
        };
        let mut next = Sql::new("UPDATE deployments SET plan_at = ");
        next.arg(replan_at(&stored, now, horizon))
            .push(" WHERE id = ")
            .arg(id);
        B::execute(&mut tx, next).await?;
        pass.deployments += 1;
    }
    commit(tx).await?;
    Ok(pass)
}

async fn queue_pool<B: Backend>(conn: &mut B::Connection, queue: Uuid) -> Result<Uuid> {
    let mut sql = Sql::new("SELECT work_pool_id FROM work_queues WHERE id = ");
    sql.arg(queue);
    let found = B::fetch_all(conn, sql).await?;
    found
        .first()
        .ok_or_else(|| StoreError::Corrupt(format!("deployment queue {queue} has no row")))?
        .uuid("work_pool_id")
}

/// The first `batch` queued runs, oldest first, that are overdue at `now` and not yet Late (nor
/// held by a slot or a live claim). The partial index `queued_flow_runs_overdue` (the
/// `scheduled_time` of runs holding no slot and not Late) gives them in order from the oldest
/// up to the late threshold, so the pass reads neither the runs still to come (the scheduler
/// keeps up to 100 a deployment queued) nor those it marked Late before.
fn overdue_runs<B: Backend>(now: Micros, batch: usize) -> Sql {
    let cut = now.plus_seconds(-LATE_AFTER_SECONDS);
    let mut sql = Sql::new(
        "SELECT e.flow_run_id, e.deployment_id, e.scheduled_time, e.auto_scheduled FROM queued_flow_runs e \
         WHERE e.holds_slot = 0 AND e.late = 0 AND e.scheduled_time < ",
    );
    sql.arg(cut)
        .push(" AND (e.claimed_until IS NULL OR e.claimed_until <= ")
        .arg(now)
        .push(") AND EXISTS (SELECT 1 FROM flow_runs r WHERE r.id = e.flow_run_id AND r.state_type = 'SCHEDULED' AND r.state_name <> ")
        .arg(LATE_STATE_NAME)
        .push(") ORDER BY e.scheduled_time LIMIT ")
        .arg(i64::try_from(batch).unwrap_or(i64::MAX))
        .push(B::SKIP_LOCKED);
    sql
}

/// Marks up to `batch` overdue Scheduled runs Late, or skips them as their deployment's
/// late-run policy says.
pub(super) async fn mark_late_runs<B: Backend>(
    store: &SqlStore<B>,
    now: Micros,
    batch: usize,
) -> Result<LatePass> {
    let mut tx = store.begin().await?;
    let mut overdue = Vec::new();
    for row in B::fetch_all(&mut tx, overdue_runs::<B>(now, batch)).await? {
        overdue.push(OverdueRun {
            run_id: row.uuid("flow_run_id")?,
            deployment_id: row.opt_uuid("deployment_id")?,
            scheduled_time: row.micros("scheduled_time")?,
            auto_scheduled: row.get::<i64>("auto_scheduled")? != 0,
            already_late: false,
        });
    }
    let deployments: BTreeSet<Uuid> = overdue.iter().filter_map(|r| r.deployment_id).collect();
    let mut policies: HashMap<Uuid, LateRunPolicy> = HashMap::new();
    if !deployments.is_empty() {
        let mut sql = Sql::new("SELECT id, late_run_policy FROM deployments WHERE id IN (");
        sql.arg_list(deployments.iter().copied()).push(")");
        for row in B::fetch_all(&mut tx, sql).await? {
            let policy =
                LateRunPolicy::parse(&row.get::<String>("late_run_policy")?).unwrap_or_default();
            policies.insert(row.uuid("id")?, policy);
        }
    }
    // NEWEST_ONLY weighs a deployment's whole late backlog, not only this batch.
    let newest_only: Vec<Uuid> = policies
        .iter()
        .filter(|(_, p)| **p == LateRunPolicy::NewestOnly)
        .map(|(d, _)| *d)
        .collect();
    if !newest_only.is_empty() {
        let mut sql = Sql::new(
            "SELECT e.flow_run_id, e.deployment_id, e.scheduled_time FROM queued_flow_runs e \
             JOIN flow_runs r ON r.id = e.flow_run_id WHERE e.auto_scheduled = 1 AND e.holds_slot = 0 \
             AND r.state_type = 'SCHEDULED' AND r.state_name = ",
        );
        sql.arg(LATE_STATE_NAME)
            .push(" AND e.deployment_id IN (")
            .arg_list(newest_only.iter().copied())
            .push(")");
        for row in B::fetch_all(&mut tx, sql).await? {
            overdue.push(OverdueRun {
                run_id: row.uuid("flow_run_id")?,
                deployment_id: row.opt_uuid("deployment_id")?,
                scheduled_time: row.micros("scheduled_time")?,
                auto_scheduled: true,
                already_late: true,
            });
        }
    }
    let actions = late_run_actions(&overdue, |d| policies.get(&d).copied().unwrap_or_default());
    let mut pass = LatePass::default();
    for action in actions {
        let run_id = match &action {
            LateAction::MarkLate { run_id } | LateAction::Skip { run_id, .. } => *run_id,
        };
        let (mut run, flow_name) = lock_run::<B>(&mut tx, run_id).await?;
        let Some(current) = run
            .state
            .clone()
            .filter(|s| s.state_type == StateType::Scheduled)
        else {
            continue;
        };
        let state = action.new_state(&current, Uuid::now_v7(), now);
        let events = commit_state::<B>(&mut tx, &mut run, &flow_name, state, now).await?;
        pass.events.extend(events);
        match action {
            LateAction::MarkLate { .. } => pass.marked_late += 1,
            LateAction::Skip { .. } => pass.skipped += 1,
        }
    }
    commit(tx).await?;
    Ok(pass)
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;
    use sqlx::sqlite::{Sqlite, SqliteConnection};

    use super::*;
    use crate::sql::append_fragment;

    /// The late-run pass's query plan on SQLite: a range of the time index, in its order.
    #[tokio::test]
    async fn the_late_pass_reads_only_overdue_runs_through_the_time_index() {
        let db = flowgate_testkit::sqlite();
        let key = crate::SecretKey::generate().unwrap();
        crate::open(&db.url, &key).await.unwrap();
        let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
        let mut sql = Sql::new("EXPLAIN QUERY PLAN ");
        append_fragment(&mut sql, overdue_runs::<Sqlite>(Micros(1_000_000_000), 100));
        let plan: Vec<String> = Sqlite::fetch_all(&mut conn, sql)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String>("detail").unwrap())
            .collect();
        assert!(
            plan.iter()
                .any(|d| d == "SEARCH e USING INDEX queued_flow_runs_overdue (scheduled_time<?)"),
            "{plan:#?}"
        );
        assert!(
            !plan
                .iter()
                .any(|d| d.starts_with("SCAN") || d.contains("TEMP B-TREE")),
            "no table scan, no sort: {plan:#?}"
        );
    }
}
