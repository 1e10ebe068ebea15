//! [`TaskRunStore`] on SQL: the `task_runs` table, written by event ingest (folded records),
//! by the REST routes, and by a subflow's state changes (its parent task run follows it).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use flowgate_core::task_run::TaskRunRecord;
use flowgate_core::{Event, Micros, State, StateType};
use uuid::Uuid;

use super::events::insert_events;
use super::{
    SqlStore, by_id, commit, filters, flow_runs, insert_rows, lock_by_ids, not_found, rows,
};
use crate::backend::Backend;
use crate::capabilities::flow_runs::FlowRun;
use crate::capabilities::task_runs::{
    GraphNode, TaskRun, TaskRunFilter, TaskRunSort, TaskRunStore,
};
use crate::model::Page;
use crate::sql::{Arg, Conditions, Row, Sql};
use crate::store::{Result, StoreError};

#[async_trait]
impl<B: Backend> TaskRunStore for SqlStore<B> {
    async fn upsert_task_run(
        &self,
        record: &TaskRunRecord,
        now: Micros,
    ) -> Result<(TaskRun, Event)> {
        let mut tx = self.begin().await?;
        let previous = lock_task_run::<B>(&mut tx, record.id)
            .await?
            .map(|stored| stored.state);
        upsert_task_runs::<B>(&mut tx, std::slice::from_ref(record), now).await?;
        let event = record.state_event(previous.as_ref(), now);
        insert_events::<B>(&mut tx, &[&event]).await?;
        let found = B::fetch_all(&mut tx, by_id("SELECT * FROM task_runs", record.id)).await?;
        let stored = task_run(
            found
                .first()
                .ok_or_else(|| not_found("task run", record.id))?,
        )?;
        commit(tx).await?;
        Ok((stored, event))
    }

    async fn set_task_run_state(
        &self,
        id: Uuid,
        state: State,
        now: Micros,
    ) -> Result<(TaskRun, Event)> {
        let mut tx = self.begin().await?;
        let mut record = lock_task_run::<B>(&mut tx, id)
            .await?
            .ok_or_else(|| not_found("task run", id))?;
        let event = record.transition(state, now);
        upsert_task_runs::<B>(&mut tx, std::slice::from_ref(&record), now).await?;
        insert_events::<B>(&mut tx, &[&event]).await?;
        commit(tx).await?;
        Ok((
            TaskRun {
                record,
                updated: now,
            },
            event,
        ))
    }

    async fn read_task_run(&self, id: Uuid) -> Result<TaskRun> {
        self.query_one(by_id("SELECT * FROM task_runs", id), task_run, || {
            not_found("task run", id)
        })
        .await
    }

    async fn filter_task_runs(
        &self,
        filter: &TaskRunFilter,
        sort: TaskRunSort,
        page: Page,
    ) -> Result<Vec<TaskRun>> {
        let mut sql = Sql::new("SELECT * FROM task_runs");
        conditions::<B>(filter).append_to(&mut sql);
        sql.push(order(sort));
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(task_run).collect()
    }

    async fn count_task_runs(&self, filter: &TaskRunFilter) -> Result<i64> {
        self.count("task_runs", conditions::<B>(filter)).await
    }

    async fn flow_run_graph(&self, flow_run_id: Uuid, limit: u32) -> Result<Vec<GraphNode>> {
        let mut sql = Sql::new(
            "SELECT t.id, t.name, t.state_type, t.state_name, t.start_time, t.end_time, \
             t.task_inputs, f.id AS sub_id, f.name AS sub_name, f.state_type AS sub_type, \
             f.state_name AS sub_state, f.start_time AS sub_start, f.end_time AS sub_end \
             FROM task_runs t LEFT JOIN flow_runs f ON f.parent_task_run_id = t.id \
             WHERE t.flow_run_id = ",
        );
        sql.arg(flow_run_id)
            .push(" ORDER BY t.expected_start_time, t.id LIMIT ")
            .arg(i64::from(limit));
        self.query(sql).await?.iter().map(graph_node).collect()
    }
}

/// A graph node from a task run joined with the subflow run it may stand for.
fn graph_node(row: &Row) -> Result<GraphNode> {
    let subflow_run_id = row.opt_uuid("sub_id")?;
    let sub = subflow_run_id.is_some();
    let col = |own: &'static str, child: &'static str| if sub { child } else { own };
    let state: Option<String> = row.get(col("state_type", "sub_type"))?;
    let state_type = state
        .as_deref()
        .and_then(StateType::parse)
        .ok_or_else(|| StoreError::Corrupt(format!("graph node state type {state:?}")))?;
    let parents = match row.json("task_inputs")? {
        serde_json::Value::Object(inputs) => inputs
            .values()
            .filter_map(serde_json::Value::as_array)
            .flatten()
            .filter(|i| i["input_type"] == "task_run")
            .filter_map(|i| i["id"].as_str().and_then(|id| Uuid::parse_str(id).ok()))
            .collect(),
        _ => Vec::new(),
    };
    Ok(GraphNode {
        task_run_id: row.uuid("id")?,
        subflow_run_id,
        label: row.get(col("name", "sub_name"))?,
        state_type,
        state_name: row
            .get::<Option<String>>(col("state_name", "sub_state"))?
            .unwrap_or_default(),
        start_time: row.opt_micros(col("start_time", "sub_start"))?,
        end_time: row.opt_micros(col("end_time", "sub_end"))?,
        parents,
    })
}

/// Reads a task run's record, locking it for the rest of the transaction.
pub(super) async fn lock_task_run<B: Backend>(
    conn: &mut B::Connection,
    id: Uuid,
) -> Result<Option<TaskRunRecord>> {
    let mut select = by_id("SELECT * FROM task_runs", id);
    select.push(B::FOR_UPDATE);
    match B::fetch_all(conn, select).await?.first() {
        Some(row) => Ok(Some(task_run(row)?.record)),
        None => Ok(None),
    }
}

/// Folds reports (one merged record per task run) into the stored task runs: each stored record
/// is locked, merged with its report and written back, and the rest are inserted; a task run
/// another transaction inserted meanwhile is merged too, never overwritten. Returns how many
/// task runs changed.
pub(super) async fn fold_reports<B: Backend>(
    conn: &mut B::Connection,
    mut reports: HashMap<Uuid, TaskRunRecord>,
    now: Micros,
) -> Result<usize> {
    let changed = reports.len();
    let ids: Vec<Uuid> = reports.keys().copied().collect();
    let mut merged = merge_stored::<B>(conn, &mut reports, &ids).await?;
    let fresh: Vec<TaskRunRecord> = reports.into_values().collect();
    let inserted: HashSet<Uuid> = insert_rows::<B>(
        conn,
        &format!("INSERT INTO task_runs ({COLUMNS}) VALUES "),
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        fresh.iter().map(|r| args(r, now)).collect(),
    )
    .await?
    .iter()
    .map(|r| r.uuid("id"))
    .collect::<Result<_>>()?;
    let mut raced: HashMap<Uuid, TaskRunRecord> = fresh
        .into_iter()
        .filter(|r| !inserted.contains(&r.id))
        .map(|r| (r.id, r))
        .collect();
    if !raced.is_empty() {
        let ids: Vec<Uuid> = raced.keys().copied().collect();
        merged.extend(merge_stored::<B>(conn, &mut raced, &ids).await?);
    }
    upsert_task_runs::<B>(conn, &merged, now).await?;
    Ok(changed)
}

/// Locks the stored records of `ids` and merges each with its report, which is taken out of
/// `reports`.
async fn merge_stored<B: Backend>(
    conn: &mut B::Connection,
    reports: &mut HashMap<Uuid, TaskRunRecord>,
    ids: &[Uuid],
) -> Result<Vec<TaskRunRecord>> {
    let mut merged = Vec::new();
    for row in lock_by_ids::<B>(conn, "SELECT * FROM task_runs", ids).await? {
        let stored = task_run(&row)?.record;
        if let Some(report) = reports.remove(&stored.id) {
            merged.push(stored.merge(report));
        }
    }
    Ok(merged)
}

/// Writes whole records, inserting new task runs and replacing stored ones.
pub(super) async fn upsert_task_runs<B: Backend>(
    conn: &mut B::Connection,
    records: &[TaskRunRecord],
    now: Micros,
) -> Result<()> {
    let updates = COLUMNS
        .split(", ")
        .filter(|c| *c != "id")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    insert_rows::<B>(
        conn,
        &format!("INSERT INTO task_runs ({COLUMNS}) VALUES "),
        &format!(" ON CONFLICT (id) DO UPDATE SET {updates}"),
        records.iter().map(|r| args(r, now)).collect(),
    )
    .await?;
    Ok(())
}

/// A subflow's parent task run follows its child flow run's state
/// ([`TaskRunRecord::follow_child`]). Returns the task run's state event, if any.
pub(super) async fn mirror_to_parent_task<B: Backend>(
    conn: &mut B::Connection,
    run: &FlowRun,
    state: &State,
    now: Micros,
) -> Result<Option<Event>> {
    let Some(parent) = run.parent_task_run_id else {
        return Ok(None);
    };
    let Some(mut record) = lock_task_run::<B>(conn, parent).await? else {
        return Ok(None);
    };
    let event = record.follow_child(run.id, state, Uuid::now_v7(), now);
    upsert_task_runs::<B>(conn, std::slice::from_ref(&record), now).await?;
    Ok(Some(event))
}

/// Columns of `task_runs`, in the order of [`args`].
const COLUMNS: &str = "id, created, updated, name, flow_run_id, task_key, \
    dynamic_key, cache_key, task_version, empirical_policy, tags, labels, task_inputs, parameters, state_id, \
    state_type, state_name, state_timestamp, state_body, run_count, flow_run_run_count, \
    expected_start_time, start_time, end_time, total_run_time";

/// A task run's row, in [`COLUMNS`] order, written at `updated`.
fn args(r: &TaskRunRecord, updated: Micros) -> Vec<Arg> {
    vec![
        r.id.into(),
        r.created.into(),
        updated.into(),
        r.name.as_str().into(),
        r.flow_run_id.into(),
        r.task_key.as_str().into(),
        r.dynamic_key.as_str().into(),
        r.cache_key.clone().into(),
        r.task_version.clone().into(),
        rows::object_text(&r.empirical_policy).into(),
        rows::string_list(&r.tags).into(),
        rows::object_text(&r.labels).into(),
        rows::object_text(&r.task_inputs).into(),
        rows::object_text(&r.parameters).into(),
        r.state.id.into(),
        r.state.state_type.as_str().into(),
        r.state.name.as_str().into(),
        r.state.timestamp.into(),
        rows::state_body(&r.state).into(),
        r.run_count.into(),
        r.flow_run_run_count.into(),
        r.expected_start_time.into(),
        r.start_time.into(),
        r.end_time.into(),
        r.total_run_time.into(),
    ]
}

/// Reads a `task_runs` row.
pub(super) fn task_run(row: &Row) -> Result<TaskRun> {
    Ok(TaskRun {
        updated: row.micros("updated")?,
        record: TaskRunRecord {
            id: row.uuid("id")?,
            flow_run_id: row.opt_uuid("flow_run_id")?,
            name: row.get("name")?,
            task_key: row.get("task_key")?,
            dynamic_key: row.get("dynamic_key")?,
            cache_key: row.get("cache_key")?,
            task_version: row.get("task_version")?,
            empirical_policy: row.json("empirical_policy")?,
            tags: row.string_list("tags")?,
            labels: row.json("labels")?,
            task_inputs: row.json("task_inputs")?,
            parameters: row.json("parameters")?,
            state: rows::state_from(row, "state_", "state_body")?,
            run_count: row.get("run_count")?,
            flow_run_run_count: row.get("flow_run_run_count")?,
            expected_start_time: row.opt_micros("expected_start_time")?,
            start_time: row.opt_micros("start_time")?,
            end_time: row.opt_micros("end_time")?,
            total_run_time: row.get("total_run_time")?,
            created: row.micros("created")?,
        },
    })
}

/// The `WHERE` conditions of a task-run filter.
pub(super) fn conditions<B: Backend>(f: &TaskRunFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "id", &f.ids);
    filters::any_of(&mut c, "name", &f.names);
    filters::state_types(&mut c, &f.state_types);
    filters::any_of(&mut c, "state_name", &f.state_names);
    filters::any_of(&mut c, "flow_run_id", &f.flow_run_ids);
    filters::is_null(&mut c, "flow_run_id", f.has_flow_run);
    filters::has_all_tags::<B>(&mut c, "tags", &f.tags_all);
    filters::time_range(&mut c, "start_time", &f.start_time);
    if let Some(fr) = &f.flow_run {
        let runs = flow_runs::conditions::<B>(fr);
        filters::nested(&mut c, "flow_run_id", "flow_runs", runs);
    }
    c
}

/// The `ORDER BY` of a task-run sort.
fn order(sort: TaskRunSort) -> &'static str {
    match sort {
        TaskRunSort::IdDesc => " ORDER BY id DESC",
        TaskRunSort::ExpectedStartTimeAsc => " ORDER BY expected_start_time ASC NULLS LAST, id",
        TaskRunSort::ExpectedStartTimeDesc => {
            " ORDER BY expected_start_time DESC NULLS LAST, id DESC"
        }
        TaskRunSort::NameAsc => " ORDER BY name ASC, id",
        TaskRunSort::NameDesc => " ORDER BY name DESC, id DESC",
        TaskRunSort::EndTimeDesc => " ORDER BY end_time DESC NULLS LAST, id DESC",
    }
}
