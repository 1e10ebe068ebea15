//! Maintenance: on SQLite the writer leaves checkpoints to the checkpoint connection (its log
//! grows past SQLite's default 1,000 pages without one), a checkpoint copies the whole log
//! when no reader holds it back, and the log starts over afterwards; PostgreSQL needs none.

use super::*;

/// Log lines of about 1 KiB each, in one ingest call: ~190 pages of the log per 1,000.
async fn write_log_lines(store: &DynStore, count: usize) {
    let at = now();
    let lines: Vec<LogEntry> = (0..count)
        .map(|_| LogEntry {
            id: Uuid::now_v7(),
            created: at,
            name: "maintenance".into(),
            level: 20,
            message: "x".repeat(1024),
            timestamp: at,
            flow_run_id: None,
            task_run_id: None,
        })
        .collect();
    store.ingest(&[], &lines, at).await.unwrap();
}

on_each_backend!(
    checkpoints_copy_the_log_the_writer_left_to_them,
    async |db: TestDatabase| {
        let store = store(&db).await;
        if db.backend != "sqlite" {
            assert_eq!(store.checkpoint_every(), None);
            assert_eq!(store.checkpoint().await.unwrap(), Checkpointed::default());
            return;
        }
        assert!(store.checkpoint_every().is_some());
        store.checkpoint().await.unwrap();
        for _ in 0..12 {
            write_log_lines(&store, 1000).await;
        }
        // A writer checkpointing at SQLite's default would have started the log over after
        // its first 1,000 pages.
        let full = store.checkpoint().await.unwrap();
        assert!(
            full.logged > 2000,
            "the writer checkpointed by itself: {full:?}"
        );
        assert_eq!(full.copied, full.logged, "nothing reads: all is copied");

        // The next write starts the log over, so it stays as small as what came since.
        write_log_lines(&store, 10).await;
        let after = store.checkpoint().await.unwrap();
        assert!(after.logged < 100, "the log did not start over: {after:?}");
        assert_eq!(after.copied, after.logged);
    }
);
