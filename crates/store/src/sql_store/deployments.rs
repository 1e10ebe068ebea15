//! [`DeploymentStore`] on SQL: the `deployments` and `deployment_schedules` tables and the runs
//! deployments create. The scheduler's and late-run service's passes are in `scheduling.rs`; the
//! hand-out to serving processes in `hand_out.rs`.

use async_trait::async_trait;
use flowgate_core::deployment::{CollisionStrategy, DeploymentStatus, LateRunPolicy};
use flowgate_core::schedule::Schedule;
use flowgate_core::scheduler::Horizon;
use flowgate_core::{Event, Micros, StateType};
use serde_json::Value;
use uuid::Uuid;

use super::flow_runs::insert_flow_run;
use super::hand_out::served_runs;
use super::queued_runs::insert_entry;
use super::work_pools::{self, limit, optional_count, pool_id};
use super::{SqlStore, by_id, commit, filters, flows, not_found, rows, scheduling};
use crate::backend::Backend;
use crate::capabilities::deployments::{
    Deployment, DeploymentFilter, DeploymentSchedule, DeploymentStore, DeploymentUpdate, LatePass,
    NewDeployment, NewDeploymentSchedule, SchedulerPass,
};
use crate::capabilities::flow_runs::{FlowRun, NewFlowRun};
use crate::model::Page;
use crate::sql::{Arg, Conditions, Row, Sql};
use crate::store::{Result, StoreError};

/// Deployments with their flow's, queue's and pool's names, aliased `d`.
const SELECT_DEPLOYMENTS: &str = "SELECT d.*, f.name AS flow_name, q.name AS work_queue_name, \
     p.id AS work_pool_id, p.name AS work_pool_name FROM deployments d \
     JOIN flows f ON f.id = d.flow_id \
     LEFT JOIN work_queues q ON q.id = d.work_queue_id \
     LEFT JOIN work_pools p ON p.id = q.work_pool_id";

#[async_trait]
impl<B: Backend> DeploymentStore for SqlStore<B> {
    async fn upsert_deployment(
        &self,
        new: NewDeployment,
        now: Micros,
    ) -> Result<(Deployment, bool)> {
        let mut tx = self.begin().await?;
        let flow = B::fetch_all(&mut tx, by_id("SELECT id FROM flows", new.flow_id)).await?;
        if flow.is_empty() {
            return Err(not_found("flow", new.flow_id));
        }
        let queue = resolve_queue::<B>(
            &mut tx,
            new.work_pool_name.as_deref(),
            new.work_queue_name.as_deref(),
        )
        .await?;
        let mut find = Sql::new("SELECT id FROM deployments WHERE flow_id = ");
        find.arg(new.flow_id)
            .push(" AND name = ")
            .arg(new.name.as_str());
        let existing = B::fetch_all(&mut tx, find).await?;
        let (id, created) = match existing.first() {
            Some(row) => (row.uuid("id")?, false),
            None => (Uuid::now_v7(), true),
        };
        let mut labels = match &new.labels {
            Value::Object(m) => m.clone(),
            _ => Default::default(),
        };
        labels.insert("prefect.flow.id".to_owned(), new.flow_id.to_string().into());
        let values: Vec<(&str, Arg)> = vec![
            ("updated", now.into()),
            ("version", new.version.clone().into()),
            ("description", new.description.clone().into()),
            ("paused", new.paused.into()),
            ("parameters", rows::object_text(&new.parameters).into()),
            (
                "parameter_openapi_schema",
                rows::object_text(&new.parameter_openapi_schema).into(),
            ),
            (
                "enforce_parameter_schema",
                new.enforce_parameter_schema.into(),
            ),
            (
                "job_variables",
                rows::object_text(&new.job_variables).into(),
            ),
            ("tags", rows::string_list(&new.tags).into()),
            ("labels", rows::object_text(&Value::Object(labels)).into()),
            ("work_queue_id", queue.into()),
            (
                "concurrency_limit",
                new.concurrency_limit.map(i64::from).into(),
            ),
            ("collision_strategy", new.collision_strategy.as_str().into()),
            ("late_run_policy", new.late_run_policy.as_str().into()),
            ("pull_steps", pull_steps_text(&new.pull_steps).into()),
            ("entrypoint", new.entrypoint.clone().into()),
            ("path", new.path.clone().into()),
            ("plan_at", now.into()),
        ];
        if created {
            let mut sql = Sql::new("INSERT INTO deployments (id, created, flow_id, name, ");
            sql.push(
                &values
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", "),
            )
            .push(") VALUES ");
            let mut row: Vec<Arg> = vec![
                id.into(),
                now.into(),
                new.flow_id.into(),
                new.name.as_str().into(),
            ];
            row.extend(values.into_iter().map(|(_, a)| a));
            sql.rows([row]);
            B::execute(&mut tx, sql).await?;
        } else {
            let mut sql = Sql::new("UPDATE deployments SET ");
            for (i, (col, arg)) in values.into_iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push(col).push(" = ").arg(arg);
            }
            sql.push(" WHERE id = ").arg(id);
            B::execute(&mut tx, sql).await?;
        }
        replace_schedules::<B>(&mut tx, id, &new.schedules, now).await?;
        commit(tx).await?;
        Ok((self.read_deployment(id, now).await?, created))
    }

    async fn read_deployment(&self, id: Uuid, now: Micros) -> Result<Deployment> {
        let mut sql = Sql::new(SELECT_DEPLOYMENTS);
        sql.push(" WHERE d.id = ").arg(id);
        self.read_one(sql, now, || not_found("deployment", id))
            .await
    }

    async fn read_deployment_by_name(
        &self,
        flow: &str,
        name: &str,
        now: Micros,
    ) -> Result<Deployment> {
        let mut sql = Sql::new(SELECT_DEPLOYMENTS);
        sql.push(" WHERE f.name = ")
            .arg(flow)
            .push(" AND d.name = ")
            .arg(name);
        self.read_one(sql, now, || {
            not_found("deployment", format!("{flow}/{name}"))
        })
        .await
    }

    async fn filter_deployments(
        &self,
        filter: &DeploymentFilter,
        page: Page,
        now: Micros,
    ) -> Result<Vec<Deployment>> {
        let mut sql = Sql::new(SELECT_DEPLOYMENTS);
        conditions::<B>(filter).append_to(&mut sql);
        sql.push(" ORDER BY f.name, d.name");
        filters::page(&mut sql, page);
        let rows = self.query(sql).await?;
        self.with_schedules(&rows, now).await
    }

    async fn count_deployments(&self, filter: &DeploymentFilter) -> Result<i64> {
        self.count(FILTER_FROM, conditions::<B>(filter)).await
    }

    async fn update_deployment(
        &self,
        id: Uuid,
        update: DeploymentUpdate,
        now: Micros,
    ) -> Result<Deployment> {
        let current = self.read_deployment(id, now).await?;
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("UPDATE deployments SET updated = ");
        sql.arg(now).push(", plan_at = ").arg(now);
        let mut set = |col: &str, arg: Arg| {
            sql.push(", ").push(col).push(" = ").arg(arg);
        };
        if let Some(v) = update.description {
            set("description", v.into());
        }
        if let Some(v) = update.paused {
            set("paused", v.into());
        }
        if let Some(v) = &update.parameters {
            set("parameters", rows::object_text(v).into());
        }
        if let Some(v) = &update.job_variables {
            set("job_variables", rows::object_text(v).into());
        }
        if let Some(v) = &update.tags {
            set("tags", rows::string_list(v).into());
        }
        if let Some(v) = update.concurrency_limit {
            set("concurrency_limit", v.map(i64::from).into());
        }
        if let Some(v) = update.collision_strategy {
            set("collision_strategy", v.as_str().into());
        }
        if let Some(v) = update.late_run_policy {
            set("late_run_policy", v.as_str().into());
        }
        if let Some(v) = update.enforce_parameter_schema {
            set("enforce_parameter_schema", v.into());
        }
        if let Some(name) = update.work_queue_name.as_deref() {
            let pool = current.work_pool_name.as_deref().ok_or_else(|| {
                StoreError::Invalid(format!(
                    "work_queue_name: deployment {} has no work pool; give it one first",
                    current.name
                ))
            })?;
            let queue = resolve_queue::<B>(&mut tx, Some(pool), Some(name)).await?;
            set("work_queue_id", queue.into());
        }
        sql.push(" WHERE id = ").arg(id);
        B::execute(&mut tx, sql).await?;
        if let Some(schedules) = &update.schedules {
            replace_schedules::<B>(&mut tx, id, schedules, now).await?;
        }
        commit(tx).await?;
        self.read_deployment(id, now).await
    }

    async fn delete_deployment(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        delete_unstarted_runs::<B>(&mut tx, id, false).await?;
        if B::execute(&mut tx, by_id("DELETE FROM deployments", id)).await? == 0 {
            return Err(not_found("deployment", id));
        }
        commit(tx).await
    }

    async fn create_deployment_flow_run(
        &self,
        id: Uuid,
        run: NewFlowRun,
        work_queue_name: Option<&str>,
        now: Micros,
    ) -> Result<FlowRun> {
        let deployment = self.read_deployment(id, now).await?;
        let mut tx = self.begin().await?;
        let queue = match (work_queue_name, deployment.work_pool_name.as_deref()) {
            (Some(name), Some(pool)) => resolve_queue::<B>(&mut tx, Some(pool), Some(name)).await?,
            (Some(name), None) => {
                return Err(StoreError::Invalid(format!(
                    "work_queue_name: deployment {} has no work pool, so its runs cannot wait in queue {name:?}",
                    deployment.name
                )));
            }
            (None, _) => deployment.work_queue_id,
        };
        let new = deployment_run(&deployment, run, queue_name::<B>(&mut tx, queue).await?);
        let (mut run, created, _events) = insert_flow_run::<B>(&mut tx, new, now).await?;
        if created {
            let place = match (queue, deployment.work_pool_id) {
                (Some(q), Some(p)) => Some((q, p)),
                _ => None,
            };
            insert_entry::<B>(&mut tx, &mut run, place, false, now).await?;
        }
        commit(tx).await?;
        Ok(run)
    }

    async fn schedule_runs(
        &self,
        now: Micros,
        horizon: &Horizon,
        batch: usize,
    ) -> Result<SchedulerPass> {
        scheduling::schedule_runs(self, now, horizon, batch).await
    }

    async fn mark_late_runs(&self, now: Micros, batch: usize) -> Result<LatePass> {
        scheduling::mark_late_runs(self, now, batch).await
    }

    async fn served_scheduled_flow_runs(
        &self,
        deployment_ids: &[Uuid],
        scheduled_before: Micros,
        limit: usize,
        now: Micros,
    ) -> Result<(Vec<FlowRun>, Vec<Event>)> {
        served_runs(self, deployment_ids, scheduled_before, limit, now).await
    }
}

impl<B: Backend> SqlStore<B> {
    async fn read_one(
        &self,
        sql: Sql,
        now: Micros,
        missing: impl FnOnce() -> StoreError,
    ) -> Result<Deployment> {
        let rows = self.query(sql).await?;
        let row = rows.first().ok_or_else(missing)?;
        let mut found = self.with_schedules(std::slice::from_ref(row), now).await?;
        Ok(found.remove(0))
    }

    /// Reads deployment rows and their schedules.
    async fn with_schedules(&self, rows: &[Row], now: Micros) -> Result<Vec<Deployment>> {
        let mut deployments = rows
            .iter()
            .map(|r| deployment(r, now))
            .collect::<Result<Vec<_>>>()?;
        if deployments.is_empty() {
            return Ok(deployments);
        }
        let mut sql = Sql::new("SELECT * FROM deployment_schedules WHERE deployment_id IN (");
        sql.arg_list(deployments.iter().map(|d| d.id))
            .push(") ORDER BY created, id");
        for row in self.query(sql).await? {
            let schedule = schedule_from(&row)?;
            if let Some(d) = deployments
                .iter_mut()
                .find(|d| d.id == schedule.deployment_id)
            {
                d.schedules.push(schedule);
            }
        }
        Ok(deployments)
    }
}

/// What a deployment's run is made of: the request, with the deployment's flow, tags, job
/// variables and queue, and labels saying where it came from.
fn deployment_run(d: &Deployment, mut run: NewFlowRun, queue: Option<String>) -> NewFlowRun {
    run.flow_id = d.flow_id;
    run.deployment_id = Some(d.id);
    run.work_queue_name = queue;
    for tag in &d.tags {
        if !run.tags.contains(tag) {
            run.tags.push(tag.clone());
        }
    }
    let mut variables = match &d.job_variables {
        Value::Object(m) => m.clone(),
        _ => Default::default(),
    };
    if let Value::Object(overrides) = &run.job_variables {
        variables.extend(overrides.clone());
    }
    run.job_variables = Value::Object(variables);
    if !run.labels.is_object() {
        run.labels = Value::Object(Default::default());
    }
    if let Value::Object(labels) = &mut run.labels {
        labels.insert("prefect.deployment.id".to_owned(), d.id.to_string().into());
    }
    run
}

/// A queue's name (none without a queue).
pub(super) async fn queue_name<B: Backend>(
    conn: &mut B::Connection,
    queue: Option<Uuid>,
) -> Result<Option<String>> {
    let Some(queue) = queue else { return Ok(None) };
    let found = B::fetch_all(conn, by_id("SELECT name FROM work_queues", queue)).await?;
    found.first().map(|r| r.get("name")).transpose()
}

/// The queue a deployment's runs wait in: `queue` of `pool`, or the pool's default queue; none
/// without a pool. Unknown names are not found.
async fn resolve_queue<B: Backend>(
    conn: &mut B::Connection,
    pool: Option<&str>,
    queue: Option<&str>,
) -> Result<Option<Uuid>> {
    let Some(pool) = pool else {
        return match queue {
            None => Ok(None),
            Some(q) => Err(StoreError::Invalid(format!(
                "work_queue_name: {q:?} given without a work_pool_name; name the pool the queue is in"
            ))),
        };
    };
    let pool_id = pool_id::<B>(conn, pool).await?;
    let mut sql = Sql::new(
        "SELECT q.id FROM work_queues q JOIN work_pools p ON p.id = q.work_pool_id WHERE q.work_pool_id = ",
    );
    sql.arg(pool_id);
    match queue {
        Some(name) => sql.push(" AND q.name = ").arg(name),
        None => sql.push(" AND q.id = p.default_queue_id"),
    };
    let found = B::fetch_all(conn, sql).await?;
    let row = found.first().ok_or_else(|| {
        not_found(
            "work queue",
            format!("{pool}/{}", queue.unwrap_or("default")),
        )
    })?;
    Ok(Some(row.uuid("id")?))
}

/// Replaces a deployment's schedules; the automatic runs its old schedules made that have not
/// started are deleted (the scheduler makes the new ones at once: `plan_at` is now).
async fn replace_schedules<B: Backend>(
    conn: &mut B::Connection,
    deployment: Uuid,
    schedules: &[NewDeploymentSchedule],
    now: Micros,
) -> Result<()> {
    let mut clear = Sql::new("DELETE FROM deployment_schedules WHERE deployment_id = ");
    clear.arg(deployment);
    B::execute(conn, clear).await?;
    delete_unstarted_runs::<B>(conn, deployment, true).await?;
    if schedules.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(
        "INSERT INTO deployment_schedules (id, created, updated, deployment_id, kind, cron, day_or, \
         interval_seconds, anchor, timezone, active, max_scheduled_runs, parameters, slug) VALUES ",
    );
    sql.rows(schedules.iter().map(|s| {
        let (kind, cron, day_or, every, anchor, zone) = match &s.schedule {
            Schedule::Cron(c) => (
                "cron",
                Some(c.expression().to_owned()),
                c.day_or(),
                None,
                None,
                c.zone().name(),
            ),
            Schedule::Interval(i) => (
                "interval",
                None,
                true,
                Some(i.every_seconds()),
                Some(i.anchor()),
                i.zone().name(),
            ),
        };
        vec![
            Uuid::now_v7().into(),
            now.into(),
            now.into(),
            deployment.into(),
            kind.into(),
            cron.into(),
            day_or.into(),
            every.into(),
            anchor.into(),
            zone.into(),
            s.active.into(),
            s.max_scheduled_runs.map(i64::from).into(),
            rows::object_text(&s.parameters).into(),
            s.slug.clone().into(),
        ]
    }));
    B::execute(conn, sql).await?;
    Ok(())
}

/// Deletes a deployment's runs that wait unclaimed and unstarted (only automatic ones when
/// `automatic_only`), with what hangs off them.
async fn delete_unstarted_runs<B: Backend>(
    conn: &mut B::Connection,
    deployment: Uuid,
    automatic_only: bool,
) -> Result<()> {
    let mut sql = Sql::new(
        "DELETE FROM flow_runs WHERE id IN (SELECT e.flow_run_id FROM queued_flow_runs e \
         JOIN flow_runs r ON r.id = e.flow_run_id WHERE e.deployment_id = ",
    );
    sql.arg(deployment)
        .push(" AND e.holds_slot = 0 AND e.claimed_until IS NULL AND r.state_type = ")
        .arg(StateType::Scheduled.as_str());
    if automatic_only {
        sql.push(" AND e.auto_scheduled = 1");
    }
    sql.push(")");
    B::execute(conn, sql).await?;
    Ok(())
}

/// Pull steps are a JSON list (`[]` when absent).
fn pull_steps_text(v: &Value) -> String {
    if v.is_null() {
        "[]".to_owned()
    } else {
        v.to_string()
    }
}

/// What [`conditions`] are conditions on.
pub(super) const FILTER_FROM: &str = "deployments d JOIN flows f ON f.id = d.flow_id \
     LEFT JOIN work_queues q ON q.id = d.work_queue_id \
     LEFT JOIN work_pools p ON p.id = q.work_pool_id";

/// The conditions of a deployment filter, on [`FILTER_FROM`].
pub(super) fn conditions<B: Backend>(f: &DeploymentFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "d.id", &f.ids);
    filters::any_of(&mut c, "d.name", &f.names);
    filters::contains::<B>(&mut c, "d.name", &f.name_like);
    filters::has_all_tags::<B>(&mut c, "d.tags", &f.tags_all);
    filters::any_of(&mut c, "q.name", &f.work_queue_names);
    filters::any_of(&mut c, "d.flow_id", &f.flow_ids);
    if let Some(flow) = &f.flow {
        filters::nested(&mut c, "d.flow_id", "flows", flows::conditions::<B>(flow));
    }
    if let Some(pool) = &f.work_pool {
        c.extend(work_pools::pool_conditions(pool));
    }
    if let Some(paused) = f.paused {
        c.add(|s| {
            s.push("d.paused = ").arg(paused);
        });
    }
    c
}

fn deployment(row: &Row, now: Micros) -> Result<Deployment> {
    let corrupt = |what: &str, v: String| StoreError::Corrupt(format!("{what} {v:?}"));
    let collision: String = row.get("collision_strategy")?;
    let late: String = row.get("late_run_policy")?;
    let last_polled = row.opt_micros("last_polled")?;
    Ok(Deployment {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        flow_id: row.uuid("flow_id")?,
        flow_name: row.get("flow_name")?,
        name: row.get("name")?,
        version: row.get("version")?,
        description: row.get("description")?,
        paused: row.get::<i64>("paused")? != 0,
        parameters: row.json("parameters")?,
        parameter_openapi_schema: row.json("parameter_openapi_schema")?,
        enforce_parameter_schema: row.get::<i64>("enforce_parameter_schema")? != 0,
        job_variables: row.json("job_variables")?,
        tags: row.string_list("tags")?,
        labels: row.json("labels")?,
        work_pool_id: row.opt_uuid("work_pool_id")?,
        work_pool_name: row.get("work_pool_name")?,
        work_queue_id: row.opt_uuid("work_queue_id")?,
        work_queue_name: row.get("work_queue_name")?,
        concurrency_limit: limit(row)?,
        collision_strategy: CollisionStrategy::parse(&collision)
            .ok_or_else(|| corrupt("collision strategy", collision.clone()))?,
        late_run_policy: LateRunPolicy::parse(&late)
            .ok_or_else(|| corrupt("late-run policy", late.clone()))?,
        pull_steps: row.json("pull_steps")?,
        entrypoint: row.get("entrypoint")?,
        path: row.get("path")?,
        last_polled,
        status: DeploymentStatus::at(last_polled, now),
        schedules: Vec::new(),
    })
}

/// Reads a `deployment_schedules` row (its schedule checked again by the core).
pub(super) fn schedule_from(row: &Row) -> Result<DeploymentSchedule> {
    let kind: String = row.get("kind")?;
    let zone: String = row.get("timezone")?;
    let schedule = match kind.as_str() {
        "cron" => Schedule::cron(
            &row.get::<String>("cron")?,
            Some(&zone),
            row.get::<i64>("day_or")? != 0,
        ),
        "interval" => Schedule::interval(
            row.get("interval_seconds")?,
            row.micros("anchor")?,
            Some(&zone),
        ),
        other => return Err(StoreError::Corrupt(format!("schedule kind {other:?}"))),
    }
    .map_err(|e| StoreError::Corrupt(format!("stored schedule: {e}")))?;
    Ok(DeploymentSchedule {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        deployment_id: row.uuid("deployment_id")?,
        schedule,
        active: row.get::<i64>("active")? != 0,
        max_scheduled_runs: optional_count(row, "max_scheduled_runs")?,
        parameters: row.json("parameters")?,
        slug: row.get("slug")?,
    })
}
