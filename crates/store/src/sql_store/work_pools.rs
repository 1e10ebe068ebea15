//! [`WorkPoolStore`] on SQL, part one: the `work_pools`, `work_queues` and `workers` tables.
//! The runs waiting in queues and their hand-out are in `hand_out.rs`.

use async_trait::async_trait;
use flowgate_core::pools::{
    DEFAULT_QUEUE_DESCRIPTION, DEFAULT_QUEUE_NAME, PoolStatus, WorkerStatus,
};
use flowgate_core::work_queue::{QueuePriority, QueueStatus, next_priority, place_at_priority};
use flowgate_core::{Event, Micros};
use uuid::Uuid;

use super::{SqlStore, commit, filters, hand_out, not_found, queued_runs, rows};
use crate::backend::Backend;
use crate::capabilities::flow_runs::FlowRun;
use crate::capabilities::work_pools::{
    HandedOutRun, NewWorkPool, NewWorkQueue, Poll, QueuedFlowRun, WorkPool, WorkPoolFilter,
    WorkPoolStore, WorkPoolUpdate, WorkQueue, WorkQueueFilter, WorkQueueUpdate, Worker,
};
use crate::model::Page;
use crate::sql::{Conditions, Row, Sql};
use crate::store::{Result, StoreError};

#[async_trait]
impl<B: Backend> WorkPoolStore for SqlStore<B> {
    async fn create_work_pool(&self, new: NewWorkPool, now: Micros) -> Result<WorkPool> {
        let mut tx = self.begin().await?;
        if !B::fetch_all(
            &mut tx,
            pool_by_name("SELECT p.id FROM work_pools p", &new.name),
        )
        .await?
        .is_empty()
        {
            return Err(StoreError::Conflict(format!(
                "a work pool named {:?} already exists; choose another name or update it",
                new.name
            )));
        }
        let (id, queue_id) = (Uuid::now_v7(), Uuid::now_v7());
        let mut pool = Sql::new(
            "INSERT INTO work_pools (id, created, updated, name, description, type, \
             base_job_template, is_paused, concurrency_limit, default_queue_id) VALUES ",
        );
        pool.rows([vec![
            id.into(),
            now.into(),
            now.into(),
            new.name.as_str().into(),
            new.description.into(),
            new.pool_type.into(),
            rows::object_text(&new.base_job_template).into(),
            new.is_paused.into(),
            new.concurrency_limit.map(i64::from).into(),
            queue_id.into(),
        ]]);
        B::execute(&mut tx, pool).await?;
        let default = NewWorkQueue {
            name: DEFAULT_QUEUE_NAME.to_owned(),
            description: Some(DEFAULT_QUEUE_DESCRIPTION.to_owned()),
            priority: Some(1),
            ..Default::default()
        };
        insert_queue::<B>(&mut tx, id, queue_id, default, now).await?;
        commit(tx).await?;
        self.read_work_pool(&new.name, now).await
    }

    async fn read_work_pool(&self, name: &str, now: Micros) -> Result<WorkPool> {
        let sql = pool_by_name(&select_pools(now), name);
        self.query_one(sql, work_pool, || not_found("work pool", name))
            .await
    }

    async fn filter_work_pools(
        &self,
        filter: &WorkPoolFilter,
        page: Page,
        now: Micros,
    ) -> Result<Vec<WorkPool>> {
        let mut sql = Sql::new(&select_pools(now));
        pool_conditions(filter).append_to(&mut sql);
        sql.push(" ORDER BY p.name");
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(work_pool).collect()
    }

    async fn count_work_pools(&self, filter: &WorkPoolFilter) -> Result<i64> {
        self.count("work_pools p", pool_conditions(filter)).await
    }

    async fn update_work_pool(
        &self,
        name: &str,
        update: WorkPoolUpdate,
        now: Micros,
    ) -> Result<WorkPool> {
        let mut tx = self.begin().await?;
        lock_pool::<B>(&mut tx, name).await?;
        let mut sql = Sql::new("UPDATE work_pools SET updated = ");
        sql.arg(now);
        if let Some(description) = update.description {
            sql.push(", description = ").arg(description);
        }
        if let Some(paused) = update.is_paused {
            sql.push(", is_paused = ").arg(paused);
        }
        if let Some(limit) = update.concurrency_limit {
            sql.push(", concurrency_limit = ").arg(limit.map(i64::from));
        }
        if let Some(template) = &update.base_job_template {
            sql.push(", base_job_template = ")
                .arg(rows::object_text(template));
        }
        sql.push(" WHERE name = ").arg(name);
        B::execute(&mut tx, sql).await?;
        commit(tx).await?;
        self.read_work_pool(name, now).await
    }

    async fn delete_work_pool(&self, name: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let pool = lock_pool::<B>(&mut tx, name).await?;
        for table in ["queued_flow_runs", "workers", "work_queues"] {
            let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE work_pool_id = "));
            sql.arg(pool);
            B::execute(&mut tx, sql).await?;
        }
        let mut sql = Sql::new("DELETE FROM work_pools WHERE id = ");
        sql.arg(pool);
        B::execute(&mut tx, sql).await?;
        commit(tx).await
    }

    async fn create_work_queue(
        &self,
        pool: &str,
        new: NewWorkQueue,
        now: Micros,
    ) -> Result<WorkQueue> {
        let mut tx = self.begin().await?;
        let pool_id = lock_pool::<B>(&mut tx, pool).await?;
        if queue_id_by_name::<B>(&mut tx, pool_id, &new.name)
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "work pool {pool:?} already has a queue named {:?}; choose another name",
                new.name
            )));
        }
        let id = Uuid::now_v7();
        insert_queue::<B>(&mut tx, pool_id, id, new, now).await?;
        commit(tx).await?;
        self.read_work_queue(id, now).await
    }

    async fn read_work_queue(&self, id: Uuid, now: Micros) -> Result<WorkQueue> {
        let mut sql = Sql::new(&select_queues(now));
        sql.push(" WHERE q.id = ").arg(id);
        self.query_one(sql, |r| work_queue(r, now), || not_found("work queue", id))
            .await
    }

    async fn read_work_queue_by_name(
        &self,
        pool: &str,
        name: &str,
        now: Micros,
    ) -> Result<WorkQueue> {
        let mut sql = Sql::new(&select_queues(now));
        sql.push(" WHERE p.name = ")
            .arg(pool)
            .push(" AND q.name = ")
            .arg(name);
        self.query_one(
            sql,
            |r| work_queue(r, now),
            || not_found("work queue", format!("{pool}/{name}")),
        )
        .await
    }

    async fn filter_work_queues(
        &self,
        pool: Option<&str>,
        filter: &WorkQueueFilter,
        page: Page,
        now: Micros,
    ) -> Result<Vec<WorkQueue>> {
        let mut conn = self
            .read
            .acquire()
            .await
            .map_err(crate::backend::driver_error)?;
        let mut c = queue_conditions(filter);
        if let Some(pool) = pool {
            pool_id::<B>(&mut conn, pool).await?;
            c.add(|s| {
                s.push("p.name = ").arg(pool);
            });
        }
        let mut sql = Sql::new(&select_queues(now));
        c.append_to(&mut sql);
        sql.push(" ORDER BY p.name, q.priority, q.name");
        filters::page(&mut sql, page);
        B::fetch_all(&mut conn, sql)
            .await?
            .iter()
            .map(|r| work_queue(r, now))
            .collect()
    }

    async fn update_work_queue(
        &self,
        id: Uuid,
        update: WorkQueueUpdate,
        now: Micros,
    ) -> Result<WorkQueue> {
        let current = self.read_work_queue(id, now).await?;
        let mut tx = self.begin().await?;
        lock_pool::<B>(&mut tx, &current.work_pool_name).await?;
        if let Some(name) = update.name.as_deref().filter(|n| *n != current.name)
            && queue_id_by_name::<B>(&mut tx, current.work_pool_id, name)
                .await?
                .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "work pool {:?} already has a queue named {name:?}; choose another name",
                current.work_pool_name
            )));
        }
        if current.name == DEFAULT_QUEUE_NAME
            && update
                .name
                .as_deref()
                .is_some_and(|n| n != DEFAULT_QUEUE_NAME)
        {
            return Err(StoreError::Invalid(
                "the default queue cannot be renamed; create another queue instead".to_owned(),
            ));
        }
        let mut sql = Sql::new("UPDATE work_queues SET updated = ");
        sql.arg(now);
        if let Some(name) = update.name {
            sql.push(", name = ").arg(name);
        }
        if let Some(description) = update.description {
            sql.push(", description = ").arg(description);
        }
        if let Some(paused) = update.is_paused {
            sql.push(", is_paused = ").arg(paused);
        }
        if let Some(limit) = update.concurrency_limit {
            sql.push(", concurrency_limit = ").arg(limit.map(i64::from));
        }
        sql.push(" WHERE id = ").arg(id);
        B::execute(&mut tx, sql).await?;
        if let Some(priority) = update.priority {
            reprioritise::<B>(&mut tx, current.work_pool_id, id, priority, now).await?;
        }
        commit(tx).await?;
        self.read_work_queue(id, now).await
    }

    async fn delete_work_queue(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut find = Sql::new(
            "SELECT q.name, p.default_queue_id FROM work_queues q JOIN work_pools p ON p.id = q.work_pool_id WHERE q.id = ",
        );
        find.arg(id);
        let found = B::fetch_all(&mut tx, find).await?;
        let row = found.first().ok_or_else(|| not_found("work queue", id))?;
        if row.opt_uuid("default_queue_id")? == Some(id) {
            return Err(StoreError::Invalid(
                "a work pool's default queue cannot be deleted; delete the pool instead".to_owned(),
            ));
        }
        for statement in [
            "DELETE FROM queued_flow_runs WHERE work_queue_id = ",
            "DELETE FROM work_queues WHERE id = ",
        ] {
            let mut sql = Sql::new(statement);
            sql.arg(id);
            B::execute(&mut tx, sql).await?;
        }
        commit(tx).await
    }

    async fn worker_heartbeat(
        &self,
        pool: &str,
        worker: &str,
        heartbeat_interval_seconds: Option<f64>,
        now: Micros,
    ) -> Result<Worker> {
        let mut tx = self.begin().await?;
        let pool_id = pool_id::<B>(&mut tx, pool).await?;
        let offline_after = WorkerStatus::offline_after(now, heartbeat_interval_seconds);
        let mut sql = Sql::new(
            "INSERT INTO workers (id, created, updated, work_pool_id, name, last_heartbeat, \
             heartbeat_interval_seconds, offline_after) VALUES ",
        );
        sql.rows([vec![
            Uuid::now_v7().into(),
            now.into(),
            now.into(),
            pool_id.into(),
            worker.into(),
            now.into(),
            heartbeat_interval_seconds.into(),
            offline_after.into(),
        ]])
        .push(
            " ON CONFLICT (work_pool_id, name) DO UPDATE SET updated = excluded.updated, \
             last_heartbeat = excluded.last_heartbeat, \
             heartbeat_interval_seconds = excluded.heartbeat_interval_seconds, \
             offline_after = excluded.offline_after RETURNING *",
        );
        let row = B::fetch_all(&mut tx, sql).await?;
        let worker = worker_from(&row[0], now)?;
        commit(tx).await?;
        Ok(worker)
    }

    async fn filter_workers(&self, pool: &str, page: Page, now: Micros) -> Result<Vec<Worker>> {
        let mut conn = self
            .read
            .acquire()
            .await
            .map_err(crate::backend::driver_error)?;
        let pool_id = pool_id::<B>(&mut conn, pool).await?;
        let mut sql = Sql::new("SELECT * FROM workers WHERE work_pool_id = ");
        sql.arg(pool_id).push(" ORDER BY last_heartbeat DESC, name");
        filters::page(&mut sql, page);
        B::fetch_all(&mut conn, sql)
            .await?
            .iter()
            .map(|r| worker_from(r, now))
            .collect()
    }

    async fn delete_worker(&self, pool: &str, worker: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let pool_id = pool_id::<B>(&mut tx, pool).await?;
        let mut sql = Sql::new("DELETE FROM workers WHERE work_pool_id = ");
        sql.arg(pool_id).push(" AND name = ").arg(worker);
        if B::execute(&mut tx, sql).await? == 0 {
            return Err(not_found("worker", format!("{pool}/{worker}")));
        }
        commit(tx).await
    }

    async fn create_queued_flow_run(&self, new: QueuedFlowRun, now: Micros) -> Result<FlowRun> {
        queued_runs::create_queued_flow_run(self, new, now).await
    }

    async fn get_scheduled_flow_runs(
        &self,
        poll: &Poll,
        now: Micros,
    ) -> Result<(Vec<HandedOutRun>, Vec<Event>)> {
        hand_out::hand_out_runs(self, poll, now).await
    }
}

/// Pools with their online-worker count and busy slots at `now`, aliased `p`.
fn select_pools(now: Micros) -> String {
    let t = now.0;
    format!(
        "SELECT p.*, \
         (SELECT COUNT(*) FROM workers w WHERE w.work_pool_id = p.id AND w.offline_after >= {t}) AS online_workers, \
         (SELECT COUNT(*) FROM queued_flow_runs e WHERE e.work_pool_id = p.id \
            AND (e.holds_slot = 1 OR e.claimed_until > {t})) AS active_slots \
         FROM work_pools p"
    )
}

/// Queues with their pool's name and busy slots at `now`, aliased `q` (and `p`).
fn select_queues(now: Micros) -> String {
    let t = now.0;
    format!(
        "SELECT q.*, p.name AS work_pool_name, \
         (SELECT COUNT(*) FROM queued_flow_runs e WHERE e.work_queue_id = q.id \
            AND (e.holds_slot = 1 OR e.claimed_until > {t})) AS active_slots \
         FROM work_queues q JOIN work_pools p ON p.id = q.work_pool_id"
    )
}

/// `… WHERE p.name = $1`, for a `select` that aliases `work_pools` as `p`.
fn pool_by_name(select: &str, name: &str) -> Sql {
    let mut sql = Sql::new(select);
    sql.push(" WHERE p.name = ").arg(name);
    sql
}

pub(super) fn pool_conditions(f: &WorkPoolFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "p.name", &f.names);
    filters::any_of(&mut c, "p.id", &f.ids);
    filters::any_of(&mut c, "p.type", &f.types);
    c
}

/// The conditions of a queue filter, on `work_queues q JOIN work_pools p`.
pub(super) fn queue_conditions(f: &WorkQueueFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "q.id", &f.ids);
    filters::any_of(&mut c, "q.name", &f.names);
    filters::starts_with_any(&mut c, "q.name", &f.name_prefixes);
    if let Some(pool) = &f.work_pool {
        filters::nested(
            &mut c,
            "q.work_pool_id",
            "work_pools p",
            pool_conditions(pool),
        );
    }
    c
}

/// A pool's id by name, or not found.
pub(super) async fn pool_id<B: Backend>(conn: &mut B::Connection, name: &str) -> Result<Uuid> {
    let found = B::fetch_all(conn, pool_by_name("SELECT p.id FROM work_pools p", name)).await?;
    found
        .first()
        .ok_or_else(|| not_found("work pool", name))?
        .uuid("id")
}

/// A pool's id by name, locking its row (so hand-outs and queue changes of one pool take turns).
pub(super) async fn lock_pool<B: Backend>(conn: &mut B::Connection, name: &str) -> Result<Uuid> {
    let mut sql = pool_by_name("SELECT p.id FROM work_pools p", name);
    sql.push(B::FOR_UPDATE);
    let found = B::fetch_all(conn, sql).await?;
    found
        .first()
        .ok_or_else(|| not_found("work pool", name))?
        .uuid("id")
}

async fn queue_id_by_name<B: Backend>(
    conn: &mut B::Connection,
    pool: Uuid,
    name: &str,
) -> Result<Option<Uuid>> {
    let mut sql = Sql::new("SELECT id FROM work_queues WHERE work_pool_id = ");
    sql.arg(pool).push(" AND name = ").arg(name);
    B::fetch_all(conn, sql)
        .await?
        .first()
        .map(|r| r.uuid("id"))
        .transpose()
}

/// Inserts a queue, then puts it at its priority (shifting others).
async fn insert_queue<B: Backend>(
    conn: &mut B::Connection,
    pool: Uuid,
    id: Uuid,
    new: NewWorkQueue,
    now: Micros,
) -> Result<()> {
    let mut sql = Sql::new(
        "INSERT INTO work_queues (id, created, updated, work_pool_id, name, description, \
         is_paused, concurrency_limit, priority) VALUES ",
    );
    sql.rows([vec![
        id.into(),
        now.into(),
        now.into(),
        pool.into(),
        new.name.into(),
        new.description.unwrap_or_default().into(),
        new.is_paused.into(),
        new.concurrency_limit.map(i64::from).into(),
        0i64.into(),
    ]]);
    B::execute(conn, sql).await?;
    let priority = match new.priority {
        Some(p) => p,
        None => next_priority(&priorities::<B>(conn, pool).await?),
    };
    reprioritise::<B>(conn, pool, id, priority, now).await
}

async fn priorities<B: Backend>(
    conn: &mut B::Connection,
    pool: Uuid,
) -> Result<Vec<QueuePriority>> {
    let mut sql = Sql::new("SELECT id, priority FROM work_queues WHERE work_pool_id = ");
    sql.arg(pool).push(" AND priority > 0");
    B::fetch_all(conn, sql)
        .await?
        .iter()
        .map(|r| {
            Ok(QueuePriority {
                id: r.uuid("id")?,
                priority: small_count(r, "priority")?,
            })
        })
        .collect()
}

/// Puts `queue` at `priority`, applying the core's shifts to the pool's other queues.
async fn reprioritise<B: Backend>(
    conn: &mut B::Connection,
    pool: Uuid,
    queue: Uuid,
    priority: u32,
    now: Micros,
) -> Result<()> {
    let queues = priorities::<B>(conn, pool).await?;
    for change in place_at_priority(&queues, queue, priority) {
        let mut sql = Sql::new("UPDATE work_queues SET priority = ");
        sql.arg(i64::from(change.priority))
            .push(", updated = ")
            .arg(now)
            .push(" WHERE id = ")
            .arg(change.id);
        B::execute(conn, sql).await?;
    }
    Ok(())
}

/// The nullable `concurrency_limit` column.
pub(super) fn limit(row: &Row) -> Result<Option<u32>> {
    optional_count(row, "concurrency_limit")
}

/// A nullable BIGINT column holding a small count.
pub(super) fn optional_count(row: &Row, col: &str) -> Result<Option<u32>> {
    Ok(row
        .get::<Option<i64>>(col)?
        .map(|l| u32::try_from(l).unwrap_or(u32::MAX)))
}

/// A BIGINT column holding a small count or priority.
pub(super) fn small_count(row: &Row, col: &str) -> Result<u32> {
    Ok(u32::try_from(row.get::<i64>(col)?).unwrap_or(u32::MAX))
}

fn work_pool(row: &Row) -> Result<WorkPool> {
    let paused = row.get::<i64>("is_paused")? != 0;
    let online = row.get::<i64>("online_workers")? > 0;
    let workers = online.then_some(WorkerStatus::Online);
    Ok(WorkPool {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        description: row.get("description")?,
        pool_type: row.get("type")?,
        base_job_template: row.json("base_job_template")?,
        is_paused: paused,
        concurrency_limit: limit(row)?,
        default_queue_id: row.uuid("default_queue_id")?,
        status: PoolStatus::of(paused, workers),
        active_slots: small_count(row, "active_slots")?,
    })
}

fn work_queue(row: &Row, now: Micros) -> Result<WorkQueue> {
    let paused = row.get::<i64>("is_paused")? != 0;
    let last_polled = row.opt_micros("last_polled")?;
    Ok(WorkQueue {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        work_pool_id: row.uuid("work_pool_id")?,
        work_pool_name: row.get("work_pool_name")?,
        name: row.get("name")?,
        description: row.get("description")?,
        is_paused: paused,
        concurrency_limit: limit(row)?,
        priority: small_count(row, "priority")?,
        last_polled,
        status: QueueStatus::at(paused, last_polled, now),
        active_slots: small_count(row, "active_slots")?,
    })
}

fn worker_from(row: &Row, now: Micros) -> Result<Worker> {
    let last_heartbeat = row.micros("last_heartbeat")?;
    let interval = row.get::<Option<f64>>("heartbeat_interval_seconds")?;
    Ok(Worker {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        work_pool_id: row.uuid("work_pool_id")?,
        name: row.get("name")?,
        last_heartbeat,
        heartbeat_interval_seconds: interval,
        status: WorkerStatus::at(last_heartbeat, interval, now),
    })
}
