//! Test support: a throwaway database on each backend, so one suite runs on SQLite and on
//! PostgreSQL alike.
//!
//! PostgreSQL comes from `FLOWGATE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each database handed out is a fresh schema in it,
//! dropped when the [`TestDatabase`] is.
//! When no server answers, PostgreSQL cases are skipped with a loud notice, unless
//! `FLOWGATE_REQUIRE_POSTGRES=1` (as `scripts/test` sets when it can reach one), which turns the
//! skip into a failure.

use sqlx::Connection;

/// A database for one test. Keep it alive for the test's duration (it owns the SQLite file).
pub struct TestDatabase {
    /// The URL to open: `sqlite:PATH` or `postgres://…?options=-c search_path=…`.
    pub url: String,
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL server's URL and the schema to drop with this database.
    schema: Option<(String, String)>,
}

impl TestDatabase {
    /// Runs `sql` on the database directly, past Flowgate's store, and returns the first
    /// column of each row read as text (write `CAST(x AS TEXT)` for other types): for tests
    /// that check what is really stored, or plant rows as an older version left them.
    pub async fn raw(&self, sql: &str) -> Vec<String> {
        use sqlx::Row;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let rows: Vec<Option<String>> = if self.backend == "sqlite" {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("SQLite opens");
            let rows = sqlx::query(sql)
                .fetch_all(&mut conn)
                .await
                .expect("raw SQL runs");
            rows.iter().map(|r| r.try_get(0).ok()).collect()
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("PostgreSQL connects");
            let rows = sqlx::query(sql)
                .fetch_all(&mut conn)
                .await
                .expect("raw SQL runs");
            rows.iter().map(|r| r.try_get(0).ok()).collect()
        };
        rows.into_iter().flatten().collect()
    }
}

impl Drop for TestDatabase {
    /// Drops a PostgreSQL test schema with everything in it, so test runs leave nothing behind.
    /// (A SQLite file goes with its temporary directory.)
    fn drop(&mut self) {
        let Some((base, schema)) = self.schema.take() else {
            return;
        };
        // Its own thread and runtime: a drop may run inside a test's runtime, which cannot block.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&base)
                    .await
                    .map_err(|e| e.to_string())?;
                // A server still holding locks in the schema must not hang the test.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(&mut conn)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("note: a PostgreSQL test schema was not dropped: {e}");
        }
    }
}

/// A fresh SQLite database in a temporary directory.
pub fn sqlite() -> TestDatabase {
    let dir = tempfile::tempdir().expect("a temporary directory");
    TestDatabase {
        url: format!("sqlite:{}", dir.path().join("flowgate.db").display()),
        backend: "sqlite",
        _dir: Some(dir),
        schema: None,
    }
}

/// A fresh PostgreSQL schema, or `None` (after a loud notice) when no server is reachable.
pub async fn postgres() -> Option<TestDatabase> {
    let base = std::env::var("FLOWGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut conn = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("FLOWGATE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PostgreSQL is required (FLOWGATE_REQUIRE_POSTGRES=1) but {base} failed: {e}"
            );
            eprintln!("\n*** SKIPPING a PostgreSQL case: {base} is not reachable ({e}) ***\n");
            return None;
        }
    };
    let schema = format!("fg_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("a test schema can be created");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(TestDatabase {
        url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        backend: "postgres",
        _dir: None,
        schema: Some((base, schema)),
    })
}

/// [`postgres`] for synchronous tests.
pub fn postgres_blocking() -> Option<TestDatabase> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(postgres())
}

/// Defines `mod $name { fn sqlite(); fn postgres(); }`: the same test body run on a fresh
/// database of each backend. The body is a closure taking a [`TestDatabase`]; prefix it with
/// `async` for an async body (run on a two-worker tokio runtime).
///
/// ```text
/// on_each_backend!(creates_a_flow, async |db: TestDatabase| { /* ... */ });
/// on_each_backend!(runs_the_binary, |db: TestDatabase| { /* ... */ });
/// ```
#[macro_export]
macro_rules! on_each_backend {
    ($name:ident, async $($body:tt)+) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                (async $($body)+)($crate::sqlite()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::postgres().await {
                    (async $($body)+)(db).await;
                }
            }
        }
    };
    ($name:ident, $($body:tt)+) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                ($($body)+)($crate::sqlite());
            }
            #[test]
            fn postgres() {
                if let Some(db) = $crate::postgres_blocking() {
                    ($($body)+)(db);
                }
            }
        }
    };
}
