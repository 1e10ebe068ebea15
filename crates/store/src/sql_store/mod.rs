//! `SqlStore`: the one implementation of every capability trait, generic over the backend, one
//! module per capability. This module opens and migrates the database and holds the plumbing
//! the capability modules share.

mod artifacts;
mod automations;
mod block_documents;
mod blocks;
mod concurrency_leases;
mod concurrency_limits;
mod deployments;
mod events;
mod filters;
mod flow_runs;
mod flows;
mod hand_out;
mod inputs;
mod logs;
mod maintenance;
mod queued_runs;
mod retention;
mod rows;
mod scheduling;
mod statements;
mod task_queue;
mod task_runs;
mod variables;
mod whole_transaction;
mod work_pools;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, Postgres};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, Transaction};
use uuid::Uuid;

use crate::backend::{Backend, driver_error};
use crate::schema::{MIGRATIONS, statements};
use crate::secrets::{Sealer, SecretKey};
use crate::sql::{Arg, Conditions, Row, Sql};
use crate::store::{DynStore, Result, StoreError};

/// Rows per multi-row INSERT: keeps statements few and below both backends' parameter limits.
const INSERT_CHUNK: usize = 50;
/// Ids per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// A store on a SQL database. Writes go through `write`, which on SQLite is a single connection
/// so writers queue in the pool instead of contending for the file lock.
pub(crate) struct SqlStore<B: Backend> {
    read: Pool<B>,
    write: Pool<B>,
    /// A read-write connection of its own for checkpoints (SQLite; `None` on PostgreSQL).
    checkpointer: Option<Pool<B>>,
    /// Seals block documents' secret values (`block_documents.rs`).
    sealer: Sealer,
}

/// Opens (creating and migrating as needed) the store a URL names: `sqlite:PATH` or
/// `postgres://…`. `key` seals block documents' secret values; secrets stored in plain text
/// (before sealing existed) are sealed with it now.
pub async fn open(url: &str, key: &SecretKey) -> Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(driver_error)?;
        let store = SqlStore::<Postgres> {
            read: pool.clone(),
            write: pool,
            checkpointer: None,
            sealer: Sealer::new(key),
        };
        store.migrate().await?;
        maintenance::warn_if_autovacuum_off(&store.read).await;
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(driver_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        // Page caches (negative = KiB) sized to keep the server small: the writer gets the most.
        // The writer checkpoints only as a backstop: the checkpoint service does it.
        // No ping before a connection is handed out (sqlx's default): an in-process SQLite
        // connection cannot have hung up, and each ping is a hop to its thread (two context
        // switches per transaction and per read).
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(
                opts.clone()
                    .pragma("cache_size", "-8000")
                    .pragma("wal_autocheckpoint", maintenance::BACKSTOP_PAGES),
            )
            .await
            .map_err(driver_error)?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone().pragma("cache_size", "-500"))
            .await
            .map_err(driver_error)?;
        let store = SqlStore::<Sqlite> {
            read: write.clone(),
            write,
            checkpointer: Some(checkpointer),
            sealer: Sealer::new(key),
        };
        store.migrate().await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(opts.read_only(true).pragma("cache_size", "-2000"))
            .await
            .map_err(driver_error)?;
        Ok(Arc::new(SqlStore { read, ..store }))
    } else {
        Err(StoreError::Invalid(format!(
            "unsupported database URL {url:?}: use sqlite:PATH or postgres://USER@HOST/DB"
        )))
    }
}

impl<B: Backend> SqlStore<B> {
    /// Applies the migrations not yet applied, in one transaction.
    async fn migrate(&self) -> Result<()> {
        let mut tx = self.begin().await?;
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
        inputs::backfill_pause_deadlines::<B>(&mut tx).await?;
        block_documents::seal_plain_secrets(self, &mut tx).await?;
        commit(tx).await
    }

    /// Opens a write transaction (`BEGIN IMMEDIATE` on SQLite).
    async fn begin(&self) -> Result<Transaction<'static, B>> {
        self.write
            .begin_with(B::BEGIN_WRITE)
            .await
            .map_err(driver_error)
    }

    /// Runs a read-only query on the read pool.
    async fn query(&self, sql: Sql) -> Result<Vec<Row>> {
        let mut conn = self.read.acquire().await.map_err(driver_error)?;
        B::fetch_all(&mut conn, sql).await
    }

    /// The first row a read-only query returns, or `missing` when there is none.
    async fn query_one<T>(
        &self,
        sql: Sql,
        read: impl FnOnce(&Row) -> Result<T>,
        missing: impl FnOnce() -> StoreError,
    ) -> Result<T> {
        read(self.query(sql).await?.first().ok_or_else(missing)?)
    }

    /// How many rows of `table` match `conds`.
    async fn count(&self, table: &str, conds: Conditions) -> Result<i64> {
        let mut sql = Sql::new(&format!("SELECT COUNT(*) AS n FROM {table}"));
        conds.append_to(&mut sql);
        self.query(sql).await?[0].get("n")
    }
}

/// Commits a transaction: after `Ok`, its writes are durable.
async fn commit<B: Backend>(tx: Transaction<'static, B>) -> Result<()> {
    tx.commit().await.map_err(driver_error)
}

/// The error for a record that is not there.
fn not_found(kind: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// `SELECT … WHERE id = $1`.
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
    let mut returned = Vec::new();
    for sql in insert_statements(head, tail, rows) {
        returned.extend(B::fetch_all(conn, sql).await?);
    }
    Ok(returned)
}

/// The multi-row statements inserting `rows`, [`INSERT_CHUNK`] rows each (none for no rows).
fn insert_statements(head: &str, tail: &str, rows: Vec<Vec<Arg>>) -> Vec<Sql> {
    let mut rows = rows.into_iter().peekable();
    let mut statements = Vec::new();
    while rows.peek().is_some() {
        let mut sql = Sql::new(head);
        sql.rows(rows.by_ref().take(INSERT_CHUNK)).push(tail);
        statements.push(sql);
    }
    statements
}

/// Reads the rows a `select` returns whose id is in `ids`, in chunks of [`IN_CHUNK`].
async fn rows_by_ids<B: Backend>(
    conn: &mut B::Connection,
    select: &str,
    ids: &[String],
) -> Result<Vec<Row>> {
    select_by_ids::<B>(conn, select, ids, "").await
}

/// Reads the rows a `select` returns whose id is in `ids`, locking them for the rest of the
/// transaction in id order (so two transactions locking overlapping sets never deadlock).
async fn lock_by_ids<B: Backend>(
    conn: &mut B::Connection,
    select: &str,
    ids: &[Uuid],
) -> Result<Vec<Row>> {
    let mut ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    ids.sort_unstable();
    let lock = format!(" ORDER BY id{}", B::FOR_UPDATE);
    select_by_ids::<B>(conn, select, &ids, &lock).await
}

/// `select WHERE id IN (…) tail`, in chunks of [`IN_CHUNK`] ids.
async fn select_by_ids<B: Backend>(
    conn: &mut B::Connection,
    select: &str,
    ids: &[String],
    tail: &str,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(select);
        sql.push(" WHERE id IN (")
            .arg_list(chunk.iter().map(String::as_str))
            .push(")")
            .push(tail);
        out.extend(B::fetch_all(conn, sql).await?);
    }
    Ok(out)
}
