//! Log lines: stored with ingest, filtered, deleted with their run.

use super::*;

on_each_backend!(logs_are_stored_and_filtered, async |db: TestDatabase| {
    let store = store(&db).await;
    let run = new_run(&store, "f").await;
    let t0 = now();
    let logs: Vec<_> = (0..5)
        .map(|i| LogEntry {
            id: Uuid::now_v7(),
            created: t0,
            name: "prefect.flow_runs".into(),
            level: if i == 4 { 40 } else { 20 },
            message: format!("line {i}"),
            timestamp: Micros(t0.0 + i),
            flow_run_id: Some(run.id),
            task_run_id: None,
        })
        .collect();
    store.ingest(&[], &logs, now()).await.unwrap();
    let of_run = LogFilter {
        flow_run_ids: Some(vec![run.id]),
        ..Default::default()
    };
    let got: Vec<_> = store
        .filter_logs(&of_run, false, Page::default())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert_eq!(got, ["line 0", "line 1", "line 2", "line 3", "line 4"]);
    let errors = LogFilter {
        level_ge: Some(40),
        ..of_run.clone()
    };
    assert_eq!(
        store
            .filter_logs(&errors, true, Page::default())
            .await
            .unwrap()
            .len(),
        1
    );
    store.delete_flow_run(run.id).await.unwrap();
    assert!(
        store
            .filter_logs(&of_run, false, Page::default())
            .await
            .unwrap()
            .is_empty()
    );
});
