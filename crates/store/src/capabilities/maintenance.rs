//! Maintenance: work the database needs beside the writes themselves, done by a service off the
//! writers' path instead of inside a writer's commit.

use std::time::Duration;

use async_trait::async_trait;

use crate::store::Result;

/// What one checkpoint found and did, in pages of the write-ahead log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checkpointed {
    /// Pages in the log when the checkpoint ran.
    pub logged: u64,
    /// Of those, pages copied into the database file by now (all of them unless a reader
    /// still needed older ones; the next checkpoint copies the rest).
    pub copied: u64,
}

/// Checkpoints the write-ahead log.
#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    /// How often [`MaintenanceStore::checkpoint`] should run, or `None` when the database
    /// checkpoints on its own (PostgreSQL). On SQLite the writer no longer checkpoints in its
    /// commits (which held every other writer up for tens of milliseconds each time its log
    /// passed 1,000 pages), except as a backstop should these calls stop.
    fn checkpoint_every(&self) -> Option<Duration>;

    /// Copies the log's committed pages into the database file without waiting for readers or
    /// writers (SQLite's passive checkpoint), on a connection of its own: writers go on
    /// appending to the log meanwhile. A no-op where `checkpoint_every` is `None`.
    async fn checkpoint(&self) -> Result<Checkpointed>;
}
