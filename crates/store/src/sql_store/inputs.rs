//! [`InputStore`] on SQL: the `flow_run_inputs` table, and resuming a paused run (its input
//! stored and the run moved to Running in one transaction).

use async_trait::async_trait;
use flowgate_core::StateType;
use flowgate_core::pause::{deadline, expire, mark_resuming, resume_state, resumed_event};
use flowgate_core::{Event, Micros};
use uuid::Uuid;

use super::events::insert_events;
use super::flow_runs::{commit_state, flow_run, lock_run};
use super::{SqlStore, by_id, commit, not_found};
use crate::backend::Backend;
use crate::capabilities::flow_runs::FlowRun;
use crate::capabilities::inputs::{FlowRunInput, InputStore, Resume};
use crate::sql::{Row, Sql};
use crate::store::{Result, StoreError};

#[async_trait]
impl<B: Backend> InputStore for SqlStore<B> {
    async fn create_flow_run_input(&self, input: &FlowRunInput) -> Result<()> {
        let mut tx = self.begin().await?;
        let run = by_id("SELECT id FROM flow_runs", input.flow_run_id);
        if B::fetch_all(&mut tx, run).await?.is_empty() {
            return Err(not_found("flow run", input.flow_run_id));
        }
        if !insert_input::<B>(&mut tx, input).await? {
            return Err(StoreError::Conflict(format!(
                "flow run {} already has an input with key {:?}",
                input.flow_run_id, input.key
            )));
        }
        commit(tx).await
    }

    async fn read_flow_run_input(&self, flow_run_id: Uuid, key: &str) -> Result<FlowRunInput> {
        let mut sql = Sql::new("SELECT * FROM flow_run_inputs WHERE flow_run_id = ");
        sql.arg(flow_run_id).push(" AND key = ").arg(key);
        self.query_one(sql, flow_run_input, || missing(flow_run_id, key))
            .await
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
        self.query(sql).await?.iter().map(flow_run_input).collect()
    }

    async fn delete_flow_run_input(&self, flow_run_id: Uuid, key: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("DELETE FROM flow_run_inputs WHERE flow_run_id = ");
        sql.arg(flow_run_id).push(" AND key = ").arg(key);
        if B::execute(&mut tx, sql).await? == 0 {
            return Err(missing(flow_run_id, key));
        }
        commit(tx).await
    }

    async fn resume_flow_run(
        &self,
        id: Uuid,
        resume: Resume,
        now: Micros,
    ) -> Result<(FlowRun, Vec<Event>)> {
        let mut tx = self.begin().await?;
        let (mut run, flow_name) = lock_run::<B>(&mut tx, id).await?;
        let mut state = resume_state(run.state.as_ref(), resume.paused, Uuid::now_v7(), now)
            .map_err(|reason| {
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
        mark_resuming(&mut run.empirical_policy);
        let mut events = commit_state::<B>(&mut tx, &mut run, &flow_name, state, now).await?;
        let resumed = resumed_event(
            &events[0],
            resume.resumed_by.as_deref(),
            input_key.as_deref(),
            Uuid::now_v7(),
        );
        insert_events::<B>(&mut tx, &[&resumed]).await?;
        events.push(resumed);
        commit(tx).await?;
        Ok((run, events))
    }

    async fn expired_pauses(&self, now: Micros, limit: u32) -> Result<Vec<Uuid>> {
        let mut sql = Sql::new("SELECT id FROM flow_runs WHERE pause_deadline <= ");
        sql.arg(now)
            .push(" AND state_type = ")
            .arg(StateType::Paused.as_str())
            .push(" ORDER BY pause_deadline, id LIMIT ")
            .arg(i64::from(limit));
        self.query(sql)
            .await?
            .iter()
            .map(|r| r.uuid("id"))
            .collect()
    }

    async fn expire_pause(&self, id: Uuid, now: Micros) -> Result<Option<Vec<Event>>> {
        let mut tx = self.begin().await?;
        let (mut run, flow_name) = lock_run::<B>(&mut tx, id).await?;
        let Some(mut failed) = expire(run.state.as_ref(), now, Uuid::now_v7()) else {
            return Ok(None);
        };
        failed
            .details
            .insert("flow_run_id".to_owned(), id.to_string().into());
        let events = commit_state::<B>(&mut tx, &mut run, &flow_name, failed, now).await?;
        commit(tx).await?;
        Ok(Some(events))
    }
}

/// Gives paused runs stored before pause deadlines were kept (or by an older server) their
/// deadline, so the timeout service finds them too. Idempotent.
pub(super) async fn backfill_pause_deadlines<B: Backend>(conn: &mut B::Connection) -> Result<()> {
    let mut paused = Sql::new("SELECT * FROM flow_runs WHERE state_type = ");
    paused
        .arg(StateType::Paused.as_str())
        .push(" AND pause_deadline IS NULL");
    for row in B::fetch_all(conn, paused).await? {
        let run = flow_run(&row)?;
        if let Some(until) = run.state.as_ref().and_then(deadline) {
            let mut set = Sql::new("UPDATE flow_runs SET pause_deadline = ");
            set.arg(until).push(" WHERE id = ").arg(run.id);
            B::execute(conn, set).await?;
        }
    }
    Ok(())
}

/// The error for an input key a run does not have.
fn missing(flow_run_id: Uuid, key: &str) -> StoreError {
    not_found(
        "flow run input",
        format!("{key:?} of flow run {flow_run_id}"),
    )
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

/// Reads a `flow_run_inputs` row.
fn flow_run_input(row: &Row) -> Result<FlowRunInput> {
    Ok(FlowRunInput {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        flow_run_id: row.uuid("flow_run_id")?,
        key: row.get("key")?,
        value: row.get("value")?,
        sender: row.get("sender")?,
    })
}
