//! What `flowgate server start` warns about its database: on PostgreSQL with autovacuum off,
//! that pruned rows' space is never reused (the retention soak's tables grew without bound).

use crate::*;

on_each_backend!(
    the_server_warns_when_postgres_autovacuum_is_off,
    |db: TestDatabase| {
        let off = db.backend == "postgres"
            && tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(db.raw("SHOW autovacuum"))
                == ["off"];
        let home = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(home.path(), &db.url);
        let log = server.log();
        assert_eq!(
            log.contains("autovacuum is off"),
            off,
            "autovacuum off: {off}; the server's log:\n{log}"
        );
        let status = server.terminate();
        assert!(status.success(), "{status:?}");
    }
);
