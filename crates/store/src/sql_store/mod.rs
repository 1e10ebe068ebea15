//! [`SqlStore`]: the one implementation of [`Store`], generic over the [`Backend`].

mod filters;
mod rows;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flowgate_core::event::{FlowRunFacts, flow_run_state_event};
use flowgate_core::orchestration::{
    Decision, FlowRunSnapshot, RunClock, decide_flow_run, resume_state,
};
use flowgate_core::task_run::{TASK_RUN_EVENT_PREFIX, TaskRunRecord};
use flowgate_core::{Event, Micros, State, StateType, names};
use serde_json::Value;
use sqlx::postgres::{PgPoolOptions, Postgres};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};
use uuid::Uuid;

use crate::Backend;
use crate::model::*;
use crate::schema::{MIGRATIONS, statements};
use crate::sql::{Arg, Row, Sql};
use crate::store::{DynStore, Result, Store, StoreError};

/// Rows per multi-row INSERT: keeps statements few and below both backends' parameter limits.
const INSERT_CHUNK: usize = 50;
/// Ids per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// A store on a SQL database. Writes go through `write`, which on SQLite is a single connection
/// so writers queue in the pool instead of contending for the file lock.
pub struct SqlStore<B: Backend> {
    read: Pool<B>,
    write: Pool<B>,
}

/// Opens (creating and migrating as needed) the store a URL names: `sqlite:PATH` or
/// `postgres://…`.
pub async fn open(url: &str) -> Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let store = SqlStore::<Postgres> {
            read: pool.clone(),
            write: pool,
        };
        store.migrate().await?;
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        // Page caches (negative = KiB) sized to keep the server small: the writer gets the most.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone().pragma("cache_size", "-8000"))
            .await?;
        let store = SqlStore::<Sqlite> {
            read: write.clone(),
            write,
        };
        store.migrate().await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true).pragma("cache_size", "-2000"))
            .await?;
        Ok(Arc::new(SqlStore { read, ..store }))
    } else {
        Err(StoreError::Conflict(format!(
            "unsupported database URL {url:?}: use sqlite:PATH or postgres://USER@HOST/DB"
        )))
    }
}

impl<B: Backend> SqlStore<B> {
    /// Applies the migrations not yet applied, in one transaction.
    async fn migrate(&self) -> Result<()> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        if let Some(lock) = B::MIGRATION_LOCK {
            B::execute(&mut tx, Sql::new(lock)).await?;
        }
        B::execute(
            &mut tx,
            Sql::new(
                "CREATE TABLE IF NOT EXISTS schema_migrations \
                 (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)",
            ),
        )
        .await?;
        let rows = B::fetch_all(
            &mut tx,
            Sql::new("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations"),
        )
        .await?;
        let current: i64 = rows[0].get("v")?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            for statement in statements(migration) {
                B::execute(&mut tx, Sql::new(statement)).await?;
            }
            let mut record = Sql::new("INSERT INTO schema_migrations (version, applied) VALUES (");
            record.arg(i as i64 + 1).push(", ").arg(0i64).push(")");
            B::execute(&mut tx, record).await?;
            tracing::info!(backend = B::KIND, version = i + 1, "applied migration");
        }
        tx.commit().await?;
        Ok(())
    }

    async fn query(&self, sql: Sql) -> Result<Vec<Row>> {
        let mut conn = self.read.acquire().await?;
        Ok(B::fetch_all(&mut conn, sql).await?)
    }

    async fn count(&self, table: &str, conds: crate::sql::Conditions) -> Result<i64> {
        let mut sql = Sql::new(&format!("SELECT COUNT(*) AS n FROM {table}"));
        conds.append_to(&mut sql);
        Ok(self.query(sql).await?[0].get("n")?)
    }
}

fn not_found(kind: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

fn by_id(select: &str, id: impl Into<Arg>) -> Sql {
    let mut sql = Sql::new(select);
    sql.push(" WHERE id = ").arg(id);
    sql
}

/// Inserts `rows` (argument lists in `columns` order) in multi-row statements, returning what
/// a `RETURNING` clause in `tail` yields.
async fn insert_rows<B: Backend>(
    conn: &mut B::Connection,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Arg>>,
) -> Result<Vec<Row>> {
    let mut rows = rows.into_iter().peekable();
    let mut returned = Vec::new();
    while rows.peek().is_some() {
        let mut sql = Sql::new(head);
        sql.rows(rows.by_ref().take(INSERT_CHUNK)).push(tail);
        returned.extend(B::fetch_all(conn, sql).await?);
    }
    Ok(returned)
}

/// Reads the rows of `table` whose id is in `ids`.
async fn rows_by_ids<B: Backend>(
    conn: &mut B::Connection,
    select: &str,
    ids: &[String],
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(select);
        sql.push(" WHERE id IN (")
            .arg_list(chunk.iter().map(String::as_str))
            .push(")");
        out.extend(B::fetch_all(conn, sql).await?);
    }
    Ok(out)
}

async fn insert_flow_run_state<B: Backend>(
    conn: &mut B::Connection,
    run: Uuid,
    s: &State,
) -> Result<()> {
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

/// Inserts the events not stored yet; returns the ids of those it inserted.
async fn insert_events<B: Backend>(
    conn: &mut B::Connection,
    events: &[&Event],
) -> Result<HashSet<Uuid>> {
    insert_rows::<B>(
        conn,
        &format!("INSERT INTO events ({}) VALUES ", rows::EVENT_COLUMNS),
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        events.iter().map(|e| rows::event_args(e)).collect(),
    )
    .await?
    .iter()
    .map(|r| r.uuid("id"))
    .collect::<Result<_, _>>()
    .map_err(Into::into)
}

async fn upsert_task_runs<B: Backend>(
    conn: &mut B::Connection,
    records: &[TaskRunRecord],
    now: Micros,
) -> Result<()> {
    let updates = rows::TASK_RUN_COLUMNS
        .split(", ")
        .filter(|c| *c != "id")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    insert_rows::<B>(
        conn,
        &format!("INSERT INTO task_runs ({}) VALUES ", rows::TASK_RUN_COLUMNS),
        &format!(" ON CONFLICT (id) DO UPDATE SET {updates}"),
        records
            .iter()
            .map(|r| rows::task_run_args(r, now))
            .collect(),
    )
    .await?;
    Ok(())
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    fn backend(&self) -> &'static str {
        B::KIND
    }

    async fn create_flow(
        &self,
        name: &str,
        tags: &[String],
        labels: &Value,
        now: Micros,
    ) -> Result<(Flow, bool)> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let mut insert =
            Sql::new("INSERT INTO flows (id, created, updated, name, tags, labels) VALUES ");
        insert
            .rows([vec![
                Uuid::now_v7().into(),
                now.into(),
                now.into(),
                name.into(),
                rows::string_list(tags).into(),
                rows::object_text(labels).into(),
            ]])
            .push(" ON CONFLICT (name) DO NOTHING");
        let created = B::execute(&mut tx, insert).await? == 1;
        let mut select = Sql::new("SELECT * FROM flows WHERE name = ");
        select.arg(name);
        let flow = rows::flow(&B::fetch_all(&mut tx, select).await?[0])?;
        tx.commit().await?;
        Ok((flow, created))
    }

    async fn read_flow(&self, id: Uuid) -> Result<Flow> {
        let found = self.query(by_id("SELECT * FROM flows", id)).await?;
        rows::flow(found.first().ok_or_else(|| not_found("flow", id))?)
    }

    async fn read_flow_by_name(&self, name: &str) -> Result<Flow> {
        let mut sql = Sql::new("SELECT * FROM flows WHERE name = ");
        sql.arg(name);
        let found = self.query(sql).await?;
        rows::flow(found.first().ok_or_else(|| not_found("flow", name))?)
    }

    async fn filter_flows(&self, filter: &FlowFilter, page: Page) -> Result<Vec<Flow>> {
        let mut sql = Sql::new("SELECT * FROM flows");
        filters::flows::<B>(filter).append_to(&mut sql);
        sql.push(" ORDER BY name");
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(rows::flow).collect()
    }

    async fn count_flows(&self, filter: &FlowFilter) -> Result<i64> {
        self.count("flows", filters::flows::<B>(filter)).await
    }

    async fn delete_flow(&self, id: Uuid) -> Result<()> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let mut runs = Sql::new("SELECT id FROM flow_runs WHERE flow_id = ");
        runs.arg(id);
        for row in B::fetch_all(&mut tx, runs).await? {
            delete_run_children::<B>(&mut tx, row.uuid("id")?).await?;
        }
        let deleted = B::execute(&mut tx, by_id("DELETE FROM flows", id)).await?;
        if deleted == 0 {
            return Err(not_found("flow", id));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_flow_run(
        &self,
        new: NewFlowRun,
        now: Micros,
    ) -> Result<(FlowRun, bool, Vec<Event>)> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let flow_rows = B::fetch_all(&mut tx, by_id("SELECT name FROM flows", new.flow_id)).await?;
        let flow_name: String = flow_rows
            .first()
            .ok_or_else(|| not_found("flow", new.flow_id))?
            .get("name")?;
        if let Some(key) = &new.idempotency_key {
            let mut sql = Sql::new("SELECT * FROM flow_runs WHERE flow_id = ");
            sql.arg(new.flow_id)
                .push(" AND idempotency_key = ")
                .arg(key.as_str());
            if let Some(row) = B::fetch_all(&mut tx, sql).await?.first() {
                return Ok((rows::flow_run(row)?, false, Vec::new()));
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
            parameters: new.parameters,
            idempotency_key: new.idempotency_key,
            context: new.context,
            empirical_policy: new.empirical_policy,
            tags: new.tags,
            labels: Value::Object(labels),
            parent_task_run_id: new.parent_task_run_id,
            job_variables: new.job_variables,
            state: Some(state.clone()),
            clock,
        };
        insert_rows::<B>(
            &mut tx,
            &format!("INSERT INTO flow_runs ({}) VALUES ", rows::FLOW_RUN_COLUMNS),
            "",
            vec![rows::flow_run_args(&run)],
        )
        .await?;
        insert_flow_run_state::<B>(&mut tx, id, &state).await?;
        let mut events = vec![flow_run_state_event(
            facts(&run, &flow_name),
            None,
            &state,
            now,
        )];
        events.extend(mirror_to_parent_task::<B>(&mut tx, &run, &state, now).await?);
        insert_events::<B>(&mut tx, &events.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok((run, true, events))
    }

    async fn read_flow_run(&self, id: Uuid) -> Result<FlowRun> {
        let found = self.query(by_id("SELECT * FROM flow_runs", id)).await?;
        rows::flow_run(found.first().ok_or_else(|| not_found("flow run", id))?)
    }

    async fn filter_flow_runs(
        &self,
        filter: &FlowRunFilter,
        sort: FlowRunSort,
        page: Page,
    ) -> Result<Vec<FlowRun>> {
        let mut sql = Sql::new("SELECT * FROM flow_runs");
        filters::flow_runs::<B>(filter).append_to(&mut sql);
        sql.push(filters::flow_run_order(sort));
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(rows::flow_run).collect()
    }

    async fn count_flow_runs(&self, filter: &FlowRunFilter) -> Result<i64> {
        self.count("flow_runs", filters::flow_runs::<B>(filter))
            .await
    }

    async fn delete_flow_run(&self, id: Uuid) -> Result<()> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        delete_run_children::<B>(&mut tx, id).await?;
        if B::execute(&mut tx, by_id("DELETE FROM flow_runs", id)).await? == 0 {
            return Err(not_found("flow run", id));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_flow_run_state(
        &self,
        id: Uuid,
        mut proposed: State,
        force: bool,
        now: Micros,
    ) -> Result<(SetStateOutcome, Vec<Event>)> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let (mut run, flow_name) = lock_run::<B>(&mut tx, id).await?;
        let snapshot = FlowRunSnapshot {
            current: run.state.as_ref(),
            run_count: run.clock.run_count,
            retries: run.retries(),
            retry_delay_seconds: run.retry_delay_seconds(),
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
            tx.rollback().await?;
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
        tx.commit().await?;
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

    async fn ingest(&self, events: &[Event], logs: &[LogEntry]) -> Result<IngestOutcome> {
        let mut outcome = IngestOutcome::default();
        let mut seen = HashSet::new();
        let unique: Vec<&Event> = events.iter().filter(|e| seen.insert(e.id)).collect();
        outcome.duplicates = events.len() - unique.len();
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let inserted = insert_events::<B>(&mut tx, &unique).await?;
        let fresh: Vec<&Event> = unique
            .into_iter()
            .filter(|e| inserted.contains(&e.id))
            .collect();
        outcome.duplicates = events.len() - fresh.len();
        outcome.stored = fresh.len();
        outcome.fresh = fresh.iter().map(|e| e.id).collect();

        let mut reports: HashMap<Uuid, TaskRunRecord> = HashMap::new();
        for ev in fresh
            .iter()
            .filter(|e| e.event.starts_with(TASK_RUN_EVENT_PREFIX))
        {
            match TaskRunRecord::from_event(ev) {
                Ok(rec) => {
                    let merged = match reports.remove(&rec.id) {
                        Some(prev) => prev.merge(rec),
                        None => rec,
                    };
                    reports.insert(merged.id, merged);
                }
                Err(e) => {
                    outcome.unreadable += 1;
                    tracing::warn!(event = %ev.id, error = %e, "task-run event not applied");
                }
            }
        }
        if !reports.is_empty() {
            let ids: Vec<String> = reports.keys().map(Uuid::to_string).collect();
            for row in rows_by_ids::<B>(&mut tx, "SELECT * FROM task_runs", &ids).await? {
                let existing = rows::task_run(&row)?.record;
                if let Some(rec) = reports.remove(&existing.id) {
                    reports.insert(existing.id, existing.merge(rec));
                }
            }
            let now = Micros::from_timestamp(jiff_now());
            let records: Vec<TaskRunRecord> = reports.into_values().collect();
            outcome.task_runs = records.len();
            upsert_task_runs::<B>(&mut tx, &records, now).await?;
        }
        insert_rows::<B>(
            &mut tx,
            &format!("INSERT INTO logs ({}) VALUES ", rows::LOG_COLUMNS),
            " ON CONFLICT (id) DO NOTHING",
            logs.iter().map(rows::log_args).collect(),
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn filter_events(&self, filter: &EventFilter, page: Page) -> Result<Vec<Event>> {
        let mut sql = Sql::new("SELECT * FROM events");
        filters::events::<B>(filter).append_to(&mut sql);
        sql.push(if filter.newest_first {
            " ORDER BY occurred DESC, id DESC"
        } else {
            " ORDER BY occurred, id"
        });
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(rows::event).collect()
    }

    async fn count_events(&self, filter: &EventFilter) -> Result<i64> {
        self.count("events", filters::events::<B>(filter)).await
    }

    async fn upsert_task_run(
        &self,
        record: &TaskRunRecord,
        now: Micros,
    ) -> Result<(TaskRun, Event)> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let mut select = by_id("SELECT * FROM task_runs", record.id);
        select.push(B::FOR_UPDATE);
        let previous = match B::fetch_all(&mut tx, select).await?.first() {
            Some(row) => Some(rows::task_run(row)?.record.state),
            None => None,
        };
        upsert_task_runs::<B>(&mut tx, std::slice::from_ref(record), now).await?;
        let event = record.state_event(previous.as_ref(), now);
        insert_events::<B>(&mut tx, &[&event]).await?;
        let found = B::fetch_all(&mut tx, by_id("SELECT * FROM task_runs", record.id)).await?;
        let stored = rows::task_run(
            found
                .first()
                .ok_or_else(|| not_found("task run", record.id))?,
        )?;
        tx.commit().await?;
        Ok((stored, event))
    }

    async fn read_task_run(&self, id: Uuid) -> Result<TaskRun> {
        let found = self.query(by_id("SELECT * FROM task_runs", id)).await?;
        rows::task_run(found.first().ok_or_else(|| not_found("task run", id))?)
    }

    async fn filter_task_runs(
        &self,
        filter: &TaskRunFilter,
        sort: TaskRunSort,
        page: Page,
    ) -> Result<Vec<TaskRun>> {
        let mut sql = Sql::new("SELECT * FROM task_runs");
        filters::task_runs::<B>(filter).append_to(&mut sql);
        sql.push(filters::task_run_order(sort));
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(rows::task_run).collect()
    }

    async fn count_task_runs(&self, filter: &TaskRunFilter) -> Result<i64> {
        self.count("task_runs", filters::task_runs::<B>(filter))
            .await
    }

    async fn create_flow_run_input(&self, input: &FlowRunInput) -> Result<()> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        if B::fetch_all(
            &mut tx,
            by_id("SELECT id FROM flow_runs", input.flow_run_id),
        )
        .await?
        .is_empty()
        {
            return Err(not_found("flow run", input.flow_run_id));
        }
        let inserted = insert_input::<B>(&mut tx, input).await?;
        if !inserted {
            return Err(StoreError::Conflict(format!(
                "flow run {} already has an input with key {:?}",
                input.flow_run_id, input.key
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn read_flow_run_input(&self, flow_run_id: Uuid, key: &str) -> Result<FlowRunInput> {
        let mut sql = Sql::new("SELECT * FROM flow_run_inputs WHERE flow_run_id = ");
        sql.arg(flow_run_id).push(" AND key = ").arg(key);
        let found = self.query(sql).await?;
        rows::flow_run_input(found.first().ok_or_else(|| {
            not_found(
                "flow run input",
                format!("{key:?} of flow run {flow_run_id}"),
            )
        })?)
    }

    async fn filter_flow_run_inputs(
        &self,
        flow_run_id: Uuid,
        prefix: &str,
        exclude: &[String],
        limit: u32,
    ) -> Result<Vec<FlowRunInput>> {
        let mut sql = Sql::new("SELECT * FROM flow_run_inputs WHERE flow_run_id = ");
        sql.arg(flow_run_id)
            .push(" AND substr(key, 1, CAST(")
            .arg(prefix.chars().count() as i64)
            .push(" AS INTEGER)) = ")
            .arg(prefix);
        if !exclude.is_empty() {
            sql.push(" AND key NOT IN (")
                .arg_list(exclude.iter().map(String::as_str))
                .push(")");
        }
        sql.push(" ORDER BY created, id LIMIT ")
            .arg(i64::from(limit));
        self.query(sql)
            .await?
            .iter()
            .map(rows::flow_run_input)
            .collect()
    }

    async fn delete_flow_run_input(&self, flow_run_id: Uuid, key: &str) -> Result<()> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let mut sql = Sql::new("DELETE FROM flow_run_inputs WHERE flow_run_id = ");
        sql.arg(flow_run_id).push(" AND key = ").arg(key);
        if B::execute(&mut tx, sql).await? == 0 {
            return Err(not_found(
                "flow run input",
                format!("{key:?} of flow run {flow_run_id}"),
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn resume_flow_run(
        &self,
        id: Uuid,
        resume: Resume,
        now: Micros,
    ) -> Result<(FlowRun, Vec<Event>)> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let (mut run, flow_name) = lock_run::<B>(&mut tx, id).await?;
        let mut state =
            resume_state(run.state.as_ref(), Uuid::now_v7(), now).map_err(|reason| {
                StoreError::Conflict(format!("cannot resume flow run {id}: {reason}"))
            })?;
        state
            .details
            .insert("flow_run_id".to_owned(), id.to_string().into());
        let input_key = resume.input.as_ref().map(|(k, _)| k.clone());
        if let Some((key, value)) = resume.input {
            let input = FlowRunInput {
                id: Uuid::now_v7(),
                created: now,
                flow_run_id: id,
                key,
                value,
                sender: resume.resumed_by.clone(),
            };
            if !insert_input::<B>(&mut tx, &input).await? {
                return Err(StoreError::Conflict(format!(
                    "flow run {id} was already resumed with input {:?}",
                    input.key
                )));
            }
        }
        if let Value::Object(policy) = &mut run.empirical_policy {
            policy.insert("resuming".to_owned(), Value::Bool(true));
        } else {
            run.empirical_policy = serde_json::json!({"resuming": true});
        }
        let state_id = state.id;
        let mut events = commit_state::<B>(&mut tx, &mut run, &flow_name, state, now).await?;
        let mut resumed = events[0].clone();
        resumed.id = Uuid::now_v7();
        resumed.event = "prefect.flow-run.Resumed".to_owned();
        resumed.follows = Some(state_id);
        resumed.payload = flowgate_core::Payload::from_value(&serde_json::json!({
            "resumed_by": resume.resumed_by, "input_key": input_key,
        }));
        insert_events::<B>(&mut tx, &[&resumed]).await?;
        events.push(resumed);
        tx.commit().await?;
        Ok((run, events))
    }

    async fn enqueue_task(&self, task: &QueuedTask, now: Micros) -> Result<()> {
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let mut sql = Sql::new(
            "INSERT INTO task_queue (id, task_key, flow_run_id, parameters, status, attempts, created, updated) VALUES ",
        );
        sql.rows([vec![
            task.id.into(),
            task.task_key.as_str().into(),
            task.flow_run_id.into(),
            rows::object_text(&task.parameters).into(),
            "queued".into(),
            0i64.into(),
            now.into(),
            now.into(),
        ]])
        .push(" ON CONFLICT (id) DO NOTHING");
        B::execute(&mut tx, sql).await?;
        tx.commit().await?;
        Ok(())
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
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        // Tasks whose workers were lost too often are finished, and their task runs crashed.
        let mut abandon = Sql::new("UPDATE task_queue SET status = 'done', error = ");
        abandon
            .arg(format!(
                "its worker was lost {max_attempts} times; the task run crashed"
            ))
            .push(", updated = ")
            .arg(now)
            .push(" WHERE status = 'claimed' AND lease_until < ")
            .arg(now)
            .push(" AND attempts >= ")
            .arg(max_attempts)
            .push(" AND task_key IN (")
            .arg_list(task_keys.iter().map(String::as_str))
            .push(") RETURNING id");
        for row in B::fetch_all(&mut tx, abandon).await? {
            crash_task_run::<B>(&mut tx, row.uuid("id")?, max_attempts, now).await?;
        }
        let mut claim = Sql::new("UPDATE task_queue SET status = 'claimed', worker = ");
        claim
            .arg(worker)
            .push(", lease_until = ")
            .arg(lease_until)
            .push(", attempts = attempts + 1, updated = ")
            .arg(now)
            .push(" WHERE id IN (SELECT id FROM task_queue WHERE task_key IN (")
            .arg_list(task_keys.iter().map(String::as_str))
            .push(") AND (status = 'queued' OR (status = 'claimed' AND lease_until < ")
            .arg(now)
            .push(")) ORDER BY created, id LIMIT ")
            .arg(i64::from(limit))
            .push(B::SKIP_LOCKED)
            .push(") RETURNING *");
        let mut claimed = B::fetch_all(&mut tx, claim)
            .await?
            .iter()
            .map(rows::queued_task)
            .collect::<Result<Vec<_>>>()?;
        // RETURNING keeps no order; ids are uuid7, so id order is enqueue order.
        claimed.sort_by_key(|t| t.id);
        tx.commit().await?;
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
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let mut sql = Sql::new("UPDATE task_queue SET lease_until = ");
        sql.arg(lease_until)
            .push(", updated = ")
            .arg(now)
            .push(" WHERE status = 'claimed' AND worker = ")
            .arg(worker)
            .push(" AND id IN (")
            .arg_list(ids.iter().copied())
            .push(")");
        let renewed = B::execute(&mut tx, sql).await?;
        tx.commit().await?;
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
        let mut tx = self.write.begin_with(B::BEGIN_WRITE).await?;
        let mut sql = Sql::new("UPDATE task_queue SET status = 'done', result = ");
        sql.arg(result.map(Value::to_string))
            .push(", error = ")
            .arg(error.map(str::to_owned))
            .push(", updated = ")
            .arg(now)
            .push(" WHERE id = ")
            .arg(id)
            .push(" AND status = 'claimed' AND worker = ")
            .arg(worker);
        let finished = B::execute(&mut tx, sql).await? == 1;
        tx.commit().await?;
        Ok(finished)
    }

    async fn read_queued_task(&self, id: Uuid) -> Result<QueuedTask> {
        let found = self.query(by_id("SELECT * FROM task_queue", id)).await?;
        rows::queued_task(found.first().ok_or_else(|| not_found("queued task", id))?)
    }

    async fn filter_logs(
        &self,
        filter: &LogFilter,
        newest_first: bool,
        page: Page,
    ) -> Result<Vec<LogEntry>> {
        let mut sql = Sql::new("SELECT * FROM logs");
        filters::logs(filter).append_to(&mut sql);
        sql.push(if newest_first {
            " ORDER BY timestamp DESC, id DESC"
        } else {
            " ORDER BY timestamp, id"
        });
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(rows::log).collect()
    }
}

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

/// Inserts an input unless its key is taken; returns whether it was inserted.
async fn insert_input<B: Backend>(conn: &mut B::Connection, input: &FlowRunInput) -> Result<bool> {
    let mut sql = Sql::new(
        "INSERT INTO flow_run_inputs (id, created, flow_run_id, key, value, sender) VALUES ",
    );
    sql.rows([vec![
        input.id.into(),
        input.created.into(),
        input.flow_run_id.into(),
        input.key.as_str().into(),
        input.value.as_str().into(),
        input.sender.clone().into(),
    ]])
    .push(" ON CONFLICT (flow_run_id, key) DO NOTHING");
    Ok(B::execute(conn, sql).await? == 1)
}

/// Reads a flow run and its flow's name, locking the run for the rest of the transaction.
async fn lock_run<B: Backend>(conn: &mut B::Connection, id: Uuid) -> Result<(FlowRun, String)> {
    let mut select = Sql::new(
        "SELECT flow_runs.*, flows.name AS flow_name FROM flow_runs \
         JOIN flows ON flows.id = flow_runs.flow_id WHERE flow_runs.id = ",
    );
    select.arg(id).push(B::FOR_UPDATE);
    let found = B::fetch_all(conn, select).await?;
    let row = found.first().ok_or_else(|| not_found("flow run", id))?;
    Ok((rows::flow_run(row)?, row.get("flow_name")?))
}

/// Moves a locked run into `state`: its row, its state history, a subflow's parent task run,
/// and the events saying so (returned).
async fn commit_state<B: Backend>(
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
    let args = rows::flow_run_args(run);
    for (i, (col, arg)) in rows::FLOW_RUN_COLUMNS
        .split(", ")
        .zip(args)
        .enumerate()
        .skip(1)
    {
        if i > 1 {
            update.push(", ");
        }
        update.push(col).push(" = ").arg(arg);
    }
    update.push(" WHERE id = ").arg(run.id);
    B::execute(conn, update).await?;
    insert_flow_run_state::<B>(conn, run.id, &state).await?;
    let mut events = vec![flow_run_state_event(
        facts(run, flow_name),
        previous.as_ref(),
        &state,
        now,
    )];
    events.extend(mirror_to_parent_task::<B>(conn, run, &state, now).await?);
    insert_events::<B>(conn, &events.iter().collect::<Vec<_>>()).await?;
    Ok(events)
}

/// Adds `key` to the run policy's `pause_keys` (as Prefect's client expects to read them).
fn record_pause_key(policy: &mut Value, key: &str) {
    if !policy.is_object() {
        *policy = Value::Object(Default::default());
    }
    let keys = policy
        .as_object_mut()
        .expect("made an object above")
        .entry("pause_keys")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(keys) = keys
        && !keys.iter().any(|k| k == key)
    {
        keys.push(key.into());
    }
}

/// Marks the task run of an abandoned queued task Crashed, with its state event.
async fn crash_task_run<B: Backend>(
    conn: &mut B::Connection,
    id: Uuid,
    attempts: i64,
    now: Micros,
) -> Result<()> {
    let mut select = by_id("SELECT * FROM task_runs", id);
    select.push(B::FOR_UPDATE);
    let Some(row) = B::fetch_all(conn, select).await?.into_iter().next() else {
        return Ok(());
    };
    let mut record = rows::task_run(&row)?.record;
    if record.state.state_type.is_terminal() {
        return Ok(());
    }
    let previous = record.state.clone();
    let mut crashed = State::new(Uuid::now_v7(), StateType::Crashed, now);
    crashed.message = Some(format!("the worker running it was lost {attempts} times"));
    record.enter(crashed);
    upsert_task_runs::<B>(conn, std::slice::from_ref(&record), now).await?;
    insert_events::<B>(conn, &[&record.state_event(Some(&previous), now)]).await?;
    Ok(())
}

/// A subflow's parent task run follows its child flow run's state (as in Prefect, where the
/// parent task run's state is the subflow's). Returns the task run's state event, if any.
async fn mirror_to_parent_task<B: Backend>(
    conn: &mut B::Connection,
    run: &FlowRun,
    state: &State,
    now: Micros,
) -> Result<Option<Event>> {
    let Some(parent) = run.parent_task_run_id else {
        return Ok(None);
    };
    let mut select = by_id("SELECT * FROM task_runs", parent);
    select.push(B::FOR_UPDATE);
    let Some(row) = B::fetch_all(conn, select).await?.into_iter().next() else {
        return Ok(None);
    };
    let mut record = rows::task_run(&row)?.record;
    let previous = record.state.clone();
    let mut mirrored = state.clone();
    mirrored.id = Uuid::now_v7();
    mirrored
        .details
        .insert("task_run_id".to_owned(), parent.to_string().into());
    mirrored
        .details
        .insert("child_flow_run_id".to_owned(), run.id.to_string().into());
    mirrored.details.remove("flow_run_id");
    record.enter(mirrored);
    upsert_task_runs::<B>(conn, std::slice::from_ref(&record), now).await?;
    Ok(Some(record.state_event(Some(&previous), now)))
}

/// Deletes what hangs off a flow run: its task runs and its logs. Events stay: they are the
/// immutable record of what happened.
async fn delete_run_children<B: Backend>(conn: &mut B::Connection, run: Uuid) -> Result<()> {
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

fn jiff_now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}
