//! A write transaction whose `BEGIN` travels in its first call and whose `COMMIT` in its last,
//! for short transactions on SQLite that must hold the writer briefly (a batch of slot
//! operations: read, decide, write; a retention batch: select, delete). Each call on a SQLite
//! connection is a round trip to the connection's own thread; `sqlx`'s [`Transaction`](sqlx::Transaction) spends two of them on `BEGIN` and `COMMIT`
//! alone, so a read-then-write batch takes four calls where two carry the same statements
//! (and the writer stays held across each round trip, longer when the machine is busy).
//!
//! Only where [`Backend::BATCHES_STATEMENTS`] (one call may carry several statements). The
//! connection is the pool's writer; should the work fail, or its future be dropped, while the
//! transaction may be open, it is rolled back before the connection serves anyone else: by a
//! `ROLLBACK`, or, when that cannot be sent, by closing the connection (SQLite rolls back an
//! open transaction when its connection closes; the pool opens a new one).

use std::time::{Duration, Instant};

use sqlx::Pool;
use sqlx::pool::PoolConnection;

use super::statements::Statements;
use super::{SqlStore, commit};
use crate::backend::{Backend, driver_error};
use crate::sql::Sql;
use crate::store::Result;

/// Where a piece of work's calls stand in their transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// Inside a transaction the caller opened and will commit.
    Inside,
    /// In a [`WholeTransaction`]: the work's first call opens it and its last commits it.
    Whole,
}

impl Framing {
    /// Starts the work's first call: with the transaction's `BEGIN`, when the work opens it.
    pub fn first_call<B: Backend>(self) -> Statements {
        let mut first = Statements::default();
        if self == Framing::Whole {
            first.push(Sql::new(B::BEGIN_WRITE));
        }
        first
    }

    /// Ends the work's last call: with `COMMIT`, when the work commits.
    pub fn last_call(self, mut last: Statements) -> Statements {
        if self == Framing::Whole {
            last.push(Sql::new("COMMIT"));
        }
        last
    }
}

impl<B: Backend> SqlStore<B> {
    /// Runs `work` in a write transaction framed as the backend allows: a [`WholeTransaction`]
    /// where one call may carry several statements (the work's first call opens it, its last
    /// commits it), else sqlx's transaction around the work. Returns the work's value and how
    /// long the transaction held the writer (from the connection in hand to the commit).
    pub(super) async fn write_framed<T>(
        &self,
        work: impl AsyncFnOnce(&mut B::Connection, Framing) -> Result<T>,
    ) -> Result<(T, Duration)> {
        if B::BATCHES_STATEMENTS {
            let mut whole = WholeTransaction::take(&self.write).await?;
            let held_from = Instant::now();
            let done = work(whole.conn(), Framing::Whole).await;
            let value = whole.end(done).await?;
            return Ok((value, held_from.elapsed()));
        }
        let mut tx = self.begin().await?;
        let held_from = Instant::now();
        let value = work(&mut tx, Framing::Inside).await?;
        commit(tx).await?;
        Ok((value, held_from.elapsed()))
    }
}

/// The pool's write connection, lent for one transaction the caller opens at the head of its
/// first call ([`Framing::first_call`]) and commits at the tail of its last
/// ([`Framing::last_call`]).
pub(super) struct WholeTransaction<B: Backend> {
    /// `None` once given back to the pool.
    conn: Option<PoolConnection<B>>,
}

impl<B: Backend> WholeTransaction<B> {
    /// Takes the write connection from `pool`.
    pub async fn take(pool: &Pool<B>) -> Result<Self> {
        debug_assert!(
            B::BATCHES_STATEMENTS,
            "one call must carry several statements"
        );
        let conn = pool.acquire().await.map_err(driver_error)?;
        Ok(WholeTransaction { conn: Some(conn) })
    }

    /// The connection, for the transaction's calls.
    pub fn conn(&mut self) -> &mut B::Connection {
        self.conn
            .as_deref_mut()
            .expect("a whole transaction's connection is held until it ends")
    }

    /// Ends the transaction after `work` (its calls on [`Self::conn`]): the connection goes
    /// back to the pool committed when `work` succeeded (its last call ended in `COMMIT`),
    /// rolled back when it failed.
    pub async fn end<T>(mut self, work: Result<T>) -> Result<T> {
        if work.is_err() {
            let rollback = Sql::new("ROLLBACK");
            if B::execute(self.conn(), rollback).await.is_err() {
                // No transaction was open (its `BEGIN` failed) or it cannot be ended: close.
                return work;
            }
        }
        drop(self.conn.take());
        work
    }
}

impl<B: Backend> Drop for WholeTransaction<B> {
    /// A transaction not ended by [`WholeTransaction::end`] (its future was dropped, or the
    /// rollback failed) may still be open: the connection is closed instead of being given
    /// back, which rolls it back.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::Sqlite;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    /// A one-connection pool on a fresh file, with a table of numbers.
    async fn writer() -> (flowgate_testkit::TestDatabase, Pool<Sqlite>) {
        let db = flowgate_testkit::sqlite();
        let opts = SqliteConnectOptions::from_str(&db.url)
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .unwrap();
        let create = Sql::new("CREATE TABLE n (v INTEGER NOT NULL)");
        Sqlite::execute(&mut *pool.acquire().await.unwrap(), create)
            .await
            .unwrap();
        (db, pool)
    }

    fn insert(v: i64) -> Sql {
        let mut sql = Sql::new("INSERT INTO n (v) VALUES (");
        sql.arg(v).push(")");
        sql
    }

    async fn values(pool: &Pool<Sqlite>) -> Vec<i64> {
        let rows = Sqlite::fetch_all(
            &mut *pool.acquire().await.unwrap(),
            Sql::new("SELECT v FROM n ORDER BY v"),
        )
        .await
        .unwrap();
        rows.iter().map(|r| r.get::<i64>("v").unwrap()).collect()
    }

    /// Runs `BEGIN; INSERT first` in one call, then `INSERT second; COMMIT` in another.
    async fn two_calls(
        whole: &mut WholeTransaction<Sqlite>,
        first: Sql,
        second: Sql,
    ) -> Result<()> {
        let mut opening = Framing::Whole.first_call::<Sqlite>();
        opening.push(first);
        opening.execute::<Sqlite>(whole.conn()).await?;
        let mut closing = Statements::default();
        closing.push(second);
        Framing::Whole
            .last_call(closing)
            .execute::<Sqlite>(whole.conn())
            .await
    }

    #[tokio::test]
    async fn a_transaction_in_two_calls_commits_both() {
        let (_db, pool) = writer().await;
        let mut whole = WholeTransaction::take(&pool).await.unwrap();
        let done = two_calls(&mut whole, insert(1), insert(2)).await;
        whole.end(done).await.unwrap();
        assert_eq!(values(&pool).await, [1, 2]);
    }

    #[tokio::test]
    async fn a_failed_last_call_rolls_back_the_first() {
        let (_db, pool) = writer().await;
        let mut whole = WholeTransaction::take(&pool).await.unwrap();
        let failing = Sql::new("INSERT INTO n (v) VALUES (NULL)");
        let done = two_calls(&mut whole, insert(1), failing).await;
        assert!(whole.end(done).await.is_err());
        assert_eq!(values(&pool).await, Vec::<i64>::new());
        // The connection is free for the next transaction.
        let mut next = WholeTransaction::take(&pool).await.unwrap();
        let done = two_calls(&mut next, insert(3), insert(4)).await;
        next.end(done).await.unwrap();
        assert_eq!(values(&pool).await, [3, 4]);
    }

    #[tokio::test]
    async fn a_transaction_dropped_half_way_leaves_nothing_open() {
        let (_db, pool) = writer().await;
        let mut whole = WholeTransaction::take(&pool).await.unwrap();
        let mut opening = Framing::Whole.first_call::<Sqlite>();
        opening.push(insert(1));
        opening.execute::<Sqlite>(whole.conn()).await.unwrap();
        drop(whole);
        let mut next = WholeTransaction::take(&pool).await.unwrap();
        let done = two_calls(&mut next, insert(2), insert(3)).await;
        next.end(done).await.unwrap();
        assert_eq!(values(&pool).await, [2, 3]);
    }
}
