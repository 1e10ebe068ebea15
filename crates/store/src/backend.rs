//! What differs between SQLite and PostgreSQL, kept in one trait so that every query is written
//! once (in `sql_store`) and runs on both.

use std::future::Future;

use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use sqlx::{AssertSqlSafe, Database, Executor};

use crate::sql::{Arg, Row, Sql};

/// A database Flowgate can store into.
pub trait Backend: Database + Sized {
    /// Name for logs and errors.
    const KIND: &'static str;
    /// A statement that serialises concurrent migrations (several replicas starting at once).
    const MIGRATION_LOCK: Option<&'static str>;
    /// Opens a write transaction. SQLite needs `BEGIN IMMEDIATE` so that concurrent
    /// read-then-write transactions queue instead of failing with SQLITE_BUSY.
    const BEGIN_WRITE: &'static str;
    /// Case-insensitive LIKE operator.
    const ILIKE: &'static str;
    /// `FN(haystack, needle) > 0` finds `needle` in `haystack`, case-sensitively.
    const POSITION_FN: &'static str;
    /// Suffix of a queue-claiming subquery: lock the rows taken, skip rows another transaction
    /// holds ("" where write transactions are serialised anyway).
    const SKIP_LOCKED: &'static str;
    /// Suffix that locks selected rows for the rest of the transaction ("" where the
    /// transaction already holds the database's write lock).
    const FOR_UPDATE: &'static str;

    /// The statement text as this backend wants it.
    fn statement(sql: &Sql) -> String;

    /// Runs a statement, returning the number of rows it changed.
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: Sql,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c;

    /// Runs a query, returning every row.
    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        sql: Sql,
    ) -> impl Future<Output = Result<Vec<Row>, sqlx::Error>> + Send + 'c;
}

/// Implements [`Backend`]'s statement plumbing for a concrete sqlx database.
macro_rules! plumbing {
    ($db:ty, $args:ty, $row:path) => {
        fn execute<'c>(
            conn: &'c mut <$db as Database>::Connection,
            sql: Sql,
        ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
            async move {
                let q = bind_all::<$db, $args>(Self::statement(&sql), sql.args);
                Ok(conn.execute(q).await?.rows_affected())
            }
        }

        fn fetch_all<'c>(
            conn: &'c mut <$db as Database>::Connection,
            sql: Sql,
        ) -> impl Future<Output = Result<Vec<Row>, sqlx::Error>> + Send + 'c {
            async move {
                let q = bind_all::<$db, $args>(Self::statement(&sql), sql.args);
                Ok(conn.fetch_all(q).await?.into_iter().map($row).collect())
            }
        }
    };
}

impl Backend for Sqlite {
    const KIND: &'static str = "sqlite";
    const MIGRATION_LOCK: Option<&'static str> = None;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const ILIKE: &'static str = "LIKE";
    const POSITION_FN: &'static str = "instr";
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

    /// Anonymous `?` placeholders: sqlx resolves named ones (`$n`) through
    /// `sqlite3_bind_parameter_name`, which walks a list per argument, so a wide multi-row
    /// INSERT costs time quadratic in its arguments. Our placeholders appear once each, in order.
    fn statement(sql: &Sql) -> String {
        positional(&sql.text)
    }

    plumbing!(Sqlite, SqliteArguments, Row::Sqlite);
}

impl Backend for Postgres {
    const KIND: &'static str = "postgres";
    const MIGRATION_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(4200)");
    const BEGIN_WRITE: &'static str = "BEGIN";
    const ILIKE: &'static str = "ILIKE";
    const POSITION_FN: &'static str = "strpos";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    fn statement(sql: &Sql) -> String {
        sql.text.clone()
    }

    plumbing!(Postgres, PgArguments, Row::Postgres);
}

/// Rewrites `$1, $2, …` (each once, in ascending order, as [`Sql`] builds them) to `?`.
fn positional(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut expected = 1usize;
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            debug_assert_eq!(
                n, expected,
                "placeholders must appear once each, in order: {text}"
            );
            expected += 1;
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// Binds `args` to a query of database `DB`.
fn bind_all<'q, DB, A>(text: String, args: Vec<Arg>) -> Query<'q, DB, A>
where
    DB: Database<Arguments = A>,
    A: sqlx::IntoArguments<DB> + 'q,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::query::<DB>(AssertSqlSafe(text));
    for arg in args {
        q = match arg {
            Arg::Text(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::Float(v) => q.bind(v),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbered_placeholders_become_positional() {
        assert_eq!(
            super::positional("SELECT $1, '$x', ($2, $3)"),
            "SELECT ?, '$x', (?, ?)"
        );
    }
}
