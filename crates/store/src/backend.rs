//! What differs between SQLite and PostgreSQL, kept in one trait so that every query is written
//! once (in `sql_store`) and runs on both.

use std::future::Future;

use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use sqlx::{AssertSqlSafe, Database, Executor};

use crate::sql::{Arg, Row, Sql};
use crate::store::{Result, StoreError};

/// A database Flowgate can store into.
pub(crate) trait Backend: Database + Sized {
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
    /// Whether a write transaction holds the whole database from its first statement (SQLite's
    /// `BEGIN IMMEDIATE`): rows it reads cannot change before it commits, so nothing read
    /// before a row lock needs reading again after it.
    const SINGLE_WRITER: bool;
    /// Whether one call may carry several `;`-separated statements with arguments, run in order
    /// (SQLite: one round trip to the connection's thread instead of one per statement;
    /// PostgreSQL's extended protocol takes one statement per call).
    const BATCHES_STATEMENTS: bool;

    /// The statement text as this backend wants it.
    fn statement(sql: &Sql) -> String;

    /// Runs a statement, returning the number of rows it changed.
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: Sql,
    ) -> impl Future<Output = Result<u64>> + Send + 'c;

    /// Runs a query, returning every row.
    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        sql: Sql,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send + 'c;
}

/// Implements [`Backend`]'s statement plumbing for a concrete sqlx database.
macro_rules! plumbing {
    ($db:ty, $args:ty, $row:path) => {
        fn execute<'c>(
            conn: &'c mut <$db as Database>::Connection,
            sql: Sql,
        ) -> impl Future<Output = Result<u64>> + Send + 'c {
            async move {
                let q = bind_all::<$db, $args>(Self::statement(&sql), sql.args);
                Ok(conn.execute(q).await.map_err(driver_error)?.rows_affected())
            }
        }

        fn fetch_all<'c>(
            conn: &'c mut <$db as Database>::Connection,
            sql: Sql,
        ) -> impl Future<Output = Result<Vec<Row>>> + Send + 'c {
            async move {
                let q = bind_all::<$db, $args>(Self::statement(&sql), sql.args);
                let rows = conn.fetch_all(q).await.map_err(driver_error)?;
                Ok(rows.into_iter().map($row).collect())
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
    const SINGLE_WRITER: bool = true;
    const BATCHES_STATEMENTS: bool = true;

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
    const SINGLE_WRITER: bool = false;
    const BATCHES_STATEMENTS: bool = false;

    fn statement(sql: &Sql) -> String {
        sql.text.clone()
    }

    plumbing!(Postgres, PgArguments, Row::Postgres);
}

/// The answer for a write naming a record another request deleted meanwhile (a foreign key).
const MISSING_REFERENCE: &str = "a record this one refers to does not exist (it may just have been deleted); read it again and retry";
/// What a write that lost a race for a unique name or id is told.
const UNIQUE_CONFLICT: &str = "a record with that name or id was just created by another request; read it or choose another name";

/// Turns the driver's error into a [`StoreError`]: what a retry may cure is
/// [`StoreError::Unavailable`], text the database cannot hold is [`StoreError::Invalid`],
/// undecodable rows are [`StoreError::Corrupt`]. The driver's text is kept for the server's log.
pub(crate) fn driver_error(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    let text = e.to_string();
    match &e {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
            StoreError::Unavailable(text)
        }
        E::Protocol(_) => StoreError::Unavailable(text),
        E::ColumnDecode { .. } | E::Decode(_) | E::ColumnNotFound(_) | E::TypeNotFound { .. } => {
            StoreError::Corrupt(text)
        }
        E::Configuration(_) => {
            StoreError::Invalid(format!("the database URL is not usable: {text}"))
        }
        E::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                match pg.code() {
                    // Shutting down, starting up, too many connections, serialisation
                    // failure, deadlock: the same transaction may succeed if tried again.
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01" => {
                        StoreError::Unavailable(text)
                    }
                    // Text PostgreSQL cannot hold (a NUL character, an untranslatable one).
                    "23505" => StoreError::Conflict(UNIQUE_CONFLICT.to_owned()),
                    "23503" => StoreError::Conflict(MISSING_REFERENCE.to_owned()),
                    "22021" | "22P05" => StoreError::Invalid(
                        "text with a NUL character (\\u0000) cannot be stored; remove it".into(),
                    ),
                    _ => StoreError::Database(text),
                }
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                let code = db.code().and_then(|c| c.parse::<i32>().ok());
                let primary = code.map(|c| c & 0xff);
                match primary {
                    Some(5 | 6) => StoreError::Unavailable(text),
                    // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY.
                    _ if matches!(code, Some(2067 | 1555)) => {
                        StoreError::Conflict(UNIQUE_CONFLICT.to_owned())
                    }
                    // SQLITE_CONSTRAINT_FOREIGNKEY.
                    _ if code == Some(787) => StoreError::Conflict(MISSING_REFERENCE.to_owned()),
                    _ => StoreError::Database(text),
                }
            } else {
                StoreError::Database(text)
            }
        }
        _ => StoreError::Database(text),
    }
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
