//! [`MaintenanceStore`] on SQL: SQLite's passive checkpoint on the store's checkpoint
//! connection; nothing on PostgreSQL, which checkpoints on its own (and, autovacuum on, reuses
//! the space of pruned rows).

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Pool, Postgres};

use super::SqlStore;
use crate::backend::{Backend, driver_error};
use crate::capabilities::maintenance::{Checkpointed, MaintenanceStore};
use crate::sql::Sql;
use crate::store::Result;

/// How often the checkpoint service runs while the log is still (while it changes, more often:
/// the service's own pace).
const EVERY: Duration = Duration::from_secs(1);

/// Log pages past which the writer checkpoints in its own commit: ten times SQLite's default.
/// Reached now and then under a steady stream of writes (the log starts over only once every
/// page in it is copied, which a checkpoint beside busy writers seldom sees), and whenever
/// checkpoints stop (a stalled service, or a store opened without a server).
pub(super) const BACKSTOP_PAGES: &str = "10000";

#[async_trait]
impl<B: Backend> MaintenanceStore for SqlStore<B> {
    fn checkpoint_every(&self) -> Option<Duration> {
        self.checkpointer.as_ref().map(|_| EVERY)
    }

    async fn checkpoint(&self) -> Result<Checkpointed> {
        let Some(pool) = &self.checkpointer else {
            return Ok(Checkpointed::default());
        };
        let mut conn = pool.acquire().await.map_err(driver_error)?;
        let rows = B::fetch_all(&mut conn, Sql::new("PRAGMA wal_checkpoint(PASSIVE)")).await?;
        let Some(row) = rows.first() else {
            return Ok(Checkpointed::default());
        };
        // SQLite reports -1 for both counts when the database is not in WAL mode.
        let pages = |column: &str| row.get::<i64>(column).map(|n| n.max(0) as u64);
        Ok(Checkpointed {
            logged: pages("log")?,
            copied: pages("checkpointed")?,
        })
    }
}

/// Warns when PostgreSQL's autovacuum is off: the rows retention prunes then stay as dead
/// tuples and the tables grow without bound (16.5 MB a minute in the retention soak).
pub(super) async fn warn_if_autovacuum_off(pool: &Pool<Postgres>) {
    let Ok(mut conn) = pool.acquire().await else {
        return;
    };
    let Ok(rows) = Postgres::fetch_all(&mut conn, Sql::new("SHOW autovacuum")).await else {
        return;
    };
    if rows
        .first()
        .and_then(|r| r.get::<String>("autovacuum").ok())
        == Some("off".to_owned())
    {
        tracing::warn!(
            "PostgreSQL's autovacuum is off: rows removed by retention leave dead tuples and the \
             tables keep growing; turn it on (autovacuum = on) or VACUUM the database regularly"
        );
    }
}
