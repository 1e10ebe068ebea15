//! [`FlowRunStore`] on SQL: the `flow_runs` table and each run's state history
//! (`flow_run_states`), moved by the core's orchestration rules inside one transaction.

use async_trait::async_trait;
use flowgate_core::event::{FlowRunFacts, flow_run_state_event};
use flowgate_core::history::{History, StateCount};
use flowgate_core::orchestration::{Decision, FlowRunSnapshot, RunClock, decide_flow_run};
use flowgate_core::pause::{self, record_pause_key};
use flowgate_core::{Event, Micros, State, StateType, names};
use serde_json::Value;
use uuid::Uuid;

use super::events::insert_events;
use super::{
    SqlStore, by_id, commit, deployments, filters, flows, insert_rows, not_found, queued_runs,
    rows, task_runs, work_pools,
};
use crate::backend::Backend;
use crate::capabilities::flow_runs::{
    FlowRun, FlowRunFilter, FlowRunSort, FlowRunStore, FlowRunUpdate, NewFlowRun, QueuePlace,
    SetStateOutcome,
};
use crate::model::Page;
use crate::sql::{Arg, Conditions, Row, Sql};
use crate::store::{Result, StoreError};

#[async_trait]
impl<B: Backend> FlowRunStore for SqlStore<B> {
    async fn create_flow_run(
        &self,
        new: NewFlowRun,
        now: Micros,
    ) -> Result<(FlowRun, bool, Vec<Event>)> {
        let mut tx = self.begin().await?;
        let created = insert_flow_run::<B>(&mut tx, new, now).await?;
        commit(tx).await?;
        Ok(created)
    }

    async fn read_flow_run(&self, id: Uuid) -> Result<FlowRun> {
        self.query_one(by_id("SELECT * FROM flow_runs", id), flow_run, || {
            not_found("flow run", id)
        })
        .await
    }

    async fn filter_flow_runs(
        &self,
        filter: &FlowRunFilter,
        sort: FlowRunSort,
        page: Page,
    ) -> Result<Vec<FlowRun>> {
        let mut sql = Sql::new("SELECT * FROM flow_runs");
        conditions::<B>(filter).append_to(&mut sql);
        sql.push(order(sort));
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(flow_run).collect()
    }

    async fn count_flow_runs(&self, filter: &FlowRunFilter) -> Result<i64> {
        self.count("flow_runs", conditions::<B>(filter)).await
    }

    async fn flow_run_history(
        &self,
        filter: &FlowRunFilter,
        history: &History,
        now: Micros,
    ) -> Result<Vec<StateCount>> {
        let mut sql = Sql::new("SELECT (expected_start_time - ");
        sql.arg(history.start).push(") / ").arg(history.interval);
        sql.push(" AS bucket, state_type, state_name, COUNT(*) AS runs, CAST(SUM(total_run_time + CASE WHEN state_type = 'RUNNING' AND state_timestamp < ")
            .arg(now)
            .push(" THEN (")
            .arg(now)
            .push(" - state_timestamp) / 1000000.0 ELSE 0 END) AS DOUBLE PRECISION) AS run_time, CAST(SUM(CASE WHEN start_time > expected_start_time THEN (start_time - expected_start_time) / 1000000.0 WHEN start_time IS NULL AND state_type IN ('SCHEDULED', 'PENDING') AND expected_start_time < ")
            .arg(now)
            .push(" THEN (")
            .arg(now)
            .push(" - expected_start_time) / 1000000.0 ELSE 0 END) AS DOUBLE PRECISION) AS lateness FROM flow_runs");
        let mut conds = conditions::<B>(filter);
        let (start, end) = (history.start, history.end);
        conds.add(|s| {
            s.push("expected_start_time >= ").arg(start);
        });
        conds.add(|s| {
            s.push("expected_start_time < ").arg(end);
        });
        conds.add(|s| {
            s.push("state_type IS NOT NULL");
        });
        conds.append_to(&mut sql);
        sql.push(" GROUP BY 1, state_type, state_name");
        self.query(sql)
            .await?
            .iter()
            .map(|row| {
                let name: String = row.get("state_type")?;
                Ok(StateCount {
                    interval: row.get("bucket")?,
                    state_type: StateType::parse(&name).ok_or_else(|| {
                        StoreError::Corrupt(format!("column state_type: {name:?}"))
                    })?,
                    state_name: row.get::<Option<String>>("state_name")?.unwrap_or_default(),
                    runs: row.get("runs")?,
                    run_time: row.get("run_time")?,
                    lateness: row.get("lateness")?,
                })
            })
            .collect()
    }

    async fn delete_flow_run(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        delete_run_children::<B>(&mut tx, id).await?;
        if B::execute(&mut tx, by_id("DELETE FROM flow_runs", id)).await? == 0 {
            return Err(not_found("flow run", id));
        }
        commit(tx).await
    }

    async fn update_flow_run(&self, id: Uuid, update: FlowRunUpdate, now: Micros) -> Result<()> {
        let mut tx = self.begin().await?;
        let (run, _) = lock_run::<B>(&mut tx, id).await?;
        let mut labels = match run.labels {
            Value::Object(m) => m,
            _ => Default::default(),
        };
        let mut sql = Sql::new("UPDATE flow_runs SET updated = ");
        sql.arg(now);
        if let Some(v) = update.flow_version {
            sql.push(", flow_version = ").arg(v);
        }
        if let Some(v) = &update.empirical_policy {
            sql.push(", empirical_policy = ").arg(rows::object_text(v));
        }
        if let Some(v) = update.infrastructure_pid {
            sql.push(", infrastructure_pid = ").arg(v);
        }
        if let Some(v) = &update.job_variables {
            sql.push(", job_variables = ").arg(rows::object_text(v));
        }
        if let Some(v) = update.labels {
            labels.extend(v);
            sql.push(", labels = ")
                .arg(rows::object_text(&Value::Object(labels)));
        }
        sql.push(" WHERE id = ").arg(id);
        B::execute(&mut tx, sql).await?;
        commit(tx).await
    }

    async fn set_flow_run_state(
        &self,
        id: Uuid,
        mut proposed: State,
        force: bool,
        now: Micros,
    ) -> Result<(SetStateOutcome, Vec<Event>)> {
        let mut tx = self.begin().await?;
        let (mut run, flow_name) = lock_run::<B>(&mut tx, id).await?;
        let pause_keys = pause::pause_keys(&run.empirical_policy);
        let snapshot = FlowRunSnapshot {
            current: run.state.as_ref(),
            run_count: run.clock.run_count,
            retries: run.retries(),
            retry_delay_seconds: run.retry_delay_seconds(),
            deployment: run.deployment_id.is_some(),
            subflow: run.parent_task_run_id.is_some(),
            pause_keys: &pause_keys,
        };
        let decision = decide_flow_run(snapshot, &proposed, force, now, Uuid::now_v7());
        let committed = match &decision {
            Decision::Accept => {
                proposed
                    .details
                    .insert("flow_run_id".to_owned(), id.to_string().into());
                Some(proposed)
            }
            Decision::Substitute { state, .. } => {
                let mut state = state.clone();
                state
                    .details
                    .insert("flow_run_id".to_owned(), id.to_string().into());
                Some(state)
            }
            _ => None,
        };
        let Some(new_state) = committed else {
            drop(tx);
            let state = run.state.clone();
            return Ok((
                SetStateOutcome {
                    decision,
                    state,
                    run,
                },
                Vec::new(),
            ));
        };
        if new_state.state_type == StateType::Paused
            && let Some(key) = new_state.detail_str("pause_key")
        {
            record_pause_key(&mut run.empirical_policy, key);
        }
        let events =
            commit_state::<B>(&mut tx, &mut run, &flow_name, new_state.clone(), now).await?;
        commit(tx).await?;
        Ok((
            SetStateOutcome {
                decision,
                state: Some(new_state),
                run,
            },
            events,
        ))
    }

    async fn flow_run_states(&self, id: Uuid) -> Result<Vec<State>> {
        let mut sql = Sql::new("SELECT * FROM flow_run_states WHERE flow_run_id = ");
        sql.arg(id).push(" ORDER BY timestamp, id");
        self.query(sql)
            .await?
            .iter()
            .map(|r| rows::state_from(r, "", "body"))
            .collect()
    }
}

/// Creates a flow run inside the caller's transaction, or finds the run an equal idempotency key
/// made (`false` then), with the events its initial state emitted (already stored).
pub(super) async fn insert_flow_run<B: Backend>(
    conn: &mut B::Connection,
    new: NewFlowRun,
    now: Micros,
) -> Result<(FlowRun, bool, Vec<Event>)> {
    let flow_rows = B::fetch_all(conn, by_id("SELECT name FROM flows", new.flow_id)).await?;
    let flow_name: String = flow_rows
        .first()
        .ok_or_else(|| not_found("flow", new.flow_id))?
        .get("name")?;
    if let Some(key) = &new.idempotency_key {
        let mut sql = Sql::new("SELECT * FROM flow_runs WHERE flow_id = ");
        sql.arg(new.flow_id)
            .push(" AND idempotency_key = ")
            .arg(key.as_str());
        if let Some(row) = B::fetch_all(conn, sql).await?.first() {
            return Ok((flow_run(row)?, false, Vec::new()));
        }
    }
    let id = Uuid::now_v7();
    let state = new
        .state
        .unwrap_or_else(|| State::new(Uuid::now_v7(), StateType::Pending, now));
    let mut clock = RunClock::default();
    clock.advance(None, &state);
    let mut labels = match new.labels {
        Value::Object(m) => m,
        _ => Default::default(),
    };
    labels.insert("prefect.flow.id".to_owned(), new.flow_id.to_string().into());
    let run = FlowRun {
        id,
        created: now,
        updated: now,
        name: new
            .name
            .unwrap_or_else(|| names::run_name(Uuid::new_v4().as_u64_pair().0)),
        flow_id: new.flow_id,
        flow_version: new.flow_version,
        deployment_id: new.deployment_id,
        work_queue_name: new.work_queue_name,
        queue: None,
        parameters: new.parameters,
        idempotency_key: new.idempotency_key,
        context: new.context,
        empirical_policy: new.empirical_policy,
        tags: new.tags,
        labels: Value::Object(labels),
        parent_task_run_id: new.parent_task_run_id,
        job_variables: new.job_variables,
        infrastructure_pid: None,
        state: Some(state.clone()),
        clock,
    };
    insert_rows::<B>(
        conn,
        &format!("INSERT INTO flow_runs ({COLUMNS}) VALUES "),
        "",
        vec![args(&run)],
    )
    .await?;
    insert_state::<B>(conn, id, &state).await?;
    let mut events = vec![flow_run_state_event(
        facts(&run, &flow_name),
        None,
        &state,
        now,
    )];
    events.extend(task_runs::mirror_to_parent_task::<B>(conn, &run, &state, now).await?);
    insert_events::<B>(conn, &events.iter().collect::<Vec<_>>()).await?;
    Ok((run, true, events))
}

/// What a flow run's state events say about it.
fn facts<'a>(run: &'a FlowRun, flow_name: &'a str) -> FlowRunFacts<'a> {
    FlowRunFacts {
        id: run.id,
        name: &run.name,
        flow_id: run.flow_id,
        flow_name,
        tags: &run.tags,
        deployment_id: run.deployment_id,
        work_queue_name: run.work_queue_name.as_deref(),
    }
}

/// Reads a flow run and its flow's name, locking the run for the rest of the transaction.
pub(super) async fn lock_run<B: Backend>(
    conn: &mut B::Connection,
    id: Uuid,
) -> Result<(FlowRun, String)> {
    let mut select = Sql::new(
        "SELECT flow_runs.*, flows.name AS flow_name FROM flow_runs \
         JOIN flows ON flows.id = flow_runs.flow_id WHERE flow_runs.id = ",
    );
    select.arg(id).push(B::FOR_UPDATE);
    let found = B::fetch_all(conn, select).await?;
    let row = found.first().ok_or_else(|| not_found("flow run", id))?;
    Ok((flow_run(row)?, row.get("flow_name")?))
}

/// Moves a locked run into `state`: its row, its state history, a subflow's parent task run,
/// and the events saying so (returned).
pub(super) async fn commit_state<B: Backend>(
    conn: &mut B::Connection,
    run: &mut FlowRun,
    flow_name: &str,
    state: State,
    now: Micros,
) -> Result<Vec<Event>> {
    let previous = run.state.take();
    run.clock.advance(previous.as_ref(), &state);
    run.state = Some(state.clone());
    run.updated = now;
    let mut update = Sql::new("UPDATE flow_runs SET ");
    for (i, (col, arg)) in COLUMNS.split(", ").zip(args(run)).enumerate().skip(1) {
        if i > 1 {
            update.push(", ");
        }
        update.push(col).push(" = ").arg(arg);
    }
    update.push(" WHERE id = ").arg(run.id);
    B::execute(conn, update).await?;
    insert_state::<B>(conn, run.id, &state).await?;
    queued_runs::follow_state::<B>(conn, run.id, &state).await?;
    let mut events = vec![flow_run_state_event(
        facts(run, flow_name),
        previous.as_ref(),
        &state,
        now,
    )];
    events.extend(task_runs::mirror_to_parent_task::<B>(conn, run, &state, now).await?);
    insert_events::<B>(conn, &events.iter().collect::<Vec<_>>()).await?;
    Ok(events)
}

/// Appends a state to a run's history (a repeated id is ignored).
async fn insert_state<B: Backend>(conn: &mut B::Connection, run: Uuid, s: &State) -> Result<()> {
    let mut sql = Sql::new(
        "INSERT INTO flow_run_states (id, flow_run_id, type, name, timestamp, body) VALUES ",
    );
    sql.rows([vec![
        s.id.into(),
        run.into(),
        s.state_type.as_str().into(),
        s.name.as_str().into(),
        s.timestamp.into(),
        rows::state_body(s).into(),
    ]])
    .push(" ON CONFLICT (id) DO NOTHING");
    B::execute(conn, sql).await?;
    Ok(())
}

/// Deletes what hangs off a flow run: its task runs and its logs. Events stay: they are the
/// immutable record of what happened.
pub(super) async fn delete_run_children<B: Backend>(
    conn: &mut B::Connection,
    run: Uuid,
) -> Result<()> {
    for statement in [
        "DELETE FROM task_runs WHERE flow_run_id = $1",
        "DELETE FROM logs WHERE flow_run_id = $1",
    ] {
        let mut sql = Sql::new(statement);
        sql.args.push(run.into());
        B::execute(conn, sql).await?;
    }
    Ok(())
}

/// Columns of `flow_runs`, in the order of [`args`].
const COLUMNS: &str = "id, created, updated, name, flow_id, flow_version, \
    deployment_id, work_queue_name, parameters, idempotency_key, context, empirical_policy, tags, \
    labels, parent_task_run_id, job_variables, state_id, state_type, state_name, state_timestamp, \
    state_body, run_count, start_time, end_time, total_run_time, expected_start_time, \
    next_scheduled_start_time, pause_deadline, infrastructure_pid";

/// A flow run's row, in [`COLUMNS`] order.
fn args(r: &FlowRun) -> Vec<Arg> {
    let s = r.state.as_ref();
    vec![
        r.id.into(),
        r.created.into(),
        r.updated.into(),
        r.name.as_str().into(),
        r.flow_id.into(),
        r.flow_version.clone().into(),
        r.deployment_id.into(),
        r.work_queue_name.clone().into(),
        rows::object_text(&r.parameters).into(),
        r.idempotency_key.clone().into(),
        rows::object_text(&r.context).into(),
        rows::object_text(&r.empirical_policy).into(),
        rows::string_list(&r.tags).into(),
        rows::object_text(&r.labels).into(),
        r.parent_task_run_id.into(),
        rows::object_text(&r.job_variables).into(),
        s.map(|s| s.id).into(),
        s.map(|s| s.state_type.as_str().to_owned()).into(),
        s.map(|s| s.name.clone()).into(),
        s.map(|s| s.timestamp).into(),
        s.map(rows::state_body).into(),
        r.clock.run_count.into(),
        r.clock.start_time.into(),
        r.clock.end_time.into(),
        r.clock.total_run_time.into(),
        r.clock.expected_start_time.into(),
        r.clock.next_scheduled_start_time.into(),
        s.and_then(pause::deadline).into(),
        r.infrastructure_pid.clone().into(),
    ]
}

/// Reads a `flow_runs` row.
pub(super) fn flow_run(row: &Row) -> Result<FlowRun> {
    let state = match row.get::<Option<String>>("state_id")? {
        Some(_) => Some(rows::state_from(row, "state_", "state_body")?),
        None => None,
    };
    Ok(FlowRun {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        flow_id: row.uuid("flow_id")?,
        flow_version: row.get("flow_version")?,
        deployment_id: row.opt_uuid("deployment_id")?,
        work_queue_name: row.get("work_queue_name")?,
        queue: queue_place(row)?,
        parameters: row.json("parameters")?,
        idempotency_key: row.get("idempotency_key")?,
        context: row.json("context")?,
        empirical_policy: row.json("empirical_policy")?,
        tags: row.string_list("tags")?,
        labels: row.json("labels")?,
        parent_task_run_id: row.opt_uuid("parent_task_run_id")?,
        job_variables: row.json("job_variables")?,
        infrastructure_pid: row.get("infrastructure_pid")?,
        state,
        clock: RunClock {
            start_time: row.opt_micros("start_time")?,
            end_time: row.opt_micros("end_time")?,
            run_count: row.get("run_count")?,
            total_run_time: row.get("total_run_time")?,
            expected_start_time: row.opt_micros("expected_start_time")?,
            next_scheduled_start_time: row.opt_micros("next_scheduled_start_time")?,
        },
    })
}

/// Where a run was queued (the columns `queued_runs::insert_entry` sets), if it was.
fn queue_place(row: &Row) -> Result<Option<QueuePlace>> {
    let (Some(work_queue_id), Some(work_pool_id)) = (
        row.opt_uuid("work_queue_id")?,
        row.opt_uuid("work_pool_id")?,
    ) else {
        return Ok(None);
    };
    Ok(Some(QueuePlace {
        work_queue_id,
        work_pool_id,
        work_pool_name: row
            .get::<Option<String>>("work_pool_name")?
            .unwrap_or_default(),
    }))
}

/// The `WHERE` conditions of a flow-run filter (also nested in task-run filters).
pub(super) fn conditions<B: Backend>(f: &FlowRunFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "id", &f.ids);
    if let Some(not) = &f.ids_not
        && !not.is_empty()
    {
        c.add(|s| {
            s.push("id NOT IN (")
                .arg_list(not.iter().copied())
                .push(")");
        });
    }
    filters::any_of(&mut c, "name", &f.names);
    filters::contains::<B>(&mut c, "name", &f.name_like);
    filters::state_types(&mut c, &f.state_types);
    filters::any_of(&mut c, "state_name", &f.state_names);
    filters::any_of(&mut c, "flow_id", &f.flow_ids);
    if let Some(flow) = &f.flow {
        filters::nested(&mut c, "flow_id", "flows", flows::conditions::<B>(flow));
    }
    filters::has_all_tags::<B>(&mut c, "tags", &f.tags_all);
    filters::any_of(&mut c, "parent_task_run_id", &f.parent_task_run_ids);
    filters::is_null(&mut c, "parent_task_run_id", f.has_parent_task_run);
    filters::any_of(&mut c, "deployment_id", &f.deployment_ids);
    filters::any_of(&mut c, "work_queue_name", &f.work_queue_names);
    filters::time_range(&mut c, "start_time", &f.start_time);
    filters::time_range(&mut c, "end_time", &f.end_time);
    filters::time_range(&mut c, "expected_start_time", &f.expected_start_time);
    if let Some(d) = &f.deployment {
        let from = deployments::FILTER_FROM;
        filters::nested_on(
            &mut c,
            "deployment_id",
            "d.id",
            from,
            deployments::conditions::<B>(d),
        );
    }
    if let Some(pool) = &f.work_pool {
        let pools = work_pools::pool_conditions(pool);
        filters::nested_on(&mut c, "work_pool_id", "p.id", "work_pools p", pools);
    }
    if let Some(queue) = &f.work_queue {
        let from = "work_queues q JOIN work_pools p ON p.id = q.work_pool_id";
        let queues = work_pools::queue_conditions(queue);
        filters::nested_on(&mut c, "work_queue_id", "q.id", from, queues);
    }
    if let Some(task_run) = &f.task_run {
        let tasks = task_runs::conditions::<B>(task_run);
        filters::nested_on(&mut c, "id", "flow_run_id", "task_runs", tasks);
    }
    c
}

/// The `ORDER BY` of a flow-run sort (ids break ties, so pages never overlap).
fn order(sort: FlowRunSort) -> &'static str {
    match sort {
        FlowRunSort::IdDesc => " ORDER BY id DESC",
        FlowRunSort::StartTimeAsc => " ORDER BY start_time ASC NULLS LAST, id",
        FlowRunSort::StartTimeDesc => " ORDER BY start_time DESC NULLS LAST, id DESC",
        FlowRunSort::ExpectedStartTimeAsc => " ORDER BY expected_start_time ASC NULLS LAST, id",
        FlowRunSort::ExpectedStartTimeDesc => {
            " ORDER BY expected_start_time DESC NULLS LAST, id DESC"
        }
        FlowRunSort::NameAsc => " ORDER BY name ASC, id",
        FlowRunSort::NameDesc => " ORDER BY name DESC, id DESC",
        FlowRunSort::NextScheduledStartTimeAsc => {
            " ORDER BY next_scheduled_start_time ASC NULLS LAST, id"
        }
        FlowRunSort::EndTimeDesc => " ORDER BY end_time DESC NULLS LAST, id DESC",
        FlowRunSort::CreatedDesc => " ORDER BY created DESC, id DESC",
    }
}
