//! Test databases leave nothing behind on the shared PostgreSQL server.

use sqlx::Connection;

/// How many schemas are named `name`.
async fn schemas_named(conn: &mut sqlx::PgConnection, name: &str) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1")
            .bind(name)
            .fetch_one(conn)
            .await
            .unwrap();
    n
}

#[tokio::test]
async fn a_postgres_test_schema_is_dropped_with_its_database() {
    let Some(db) = flowgate_testkit::postgres().await else {
        return;
    };
    let schema = db
        .url
        .rsplit("search_path%3D")
        .next()
        .expect("the URL names its schema")
        .to_owned();
    let base = std::env::var("FLOWGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    assert_eq!(
        schemas_named(&mut conn, &schema).await,
        1,
        "it exists while in use"
    );
    drop(db);
    assert_eq!(
        schemas_named(&mut conn, &schema).await,
        0,
        "dropping the database drops its schema"
    );
}
