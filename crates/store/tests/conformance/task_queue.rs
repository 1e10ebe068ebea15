//! The distributed task queue: one worker per task, leases, crashed workers.

use flowgate_core::task_queue::QueueStatus;

use super::*;

fn queued(key: &str, flow_run: Option<Uuid>) -> QueuedTask {
    QueuedTask {
        id: Uuid::now_v7(),
        task_key: key.to_owned(),
        flow_run_id: flow_run,
        parameters: json!({"x": 1}),
        status: QueueStatus::Queued,
        worker: None,
        lease_until: None,
        attempts: 0,
        result: None,
        error: None,
    }
}

on_each_backend!(
    the_task_queue_hands_each_task_to_one_worker,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        let lease = |s: i64| Micros(t0.0 + s * 1_000_000);
        let tasks: Vec<_> = (0..3).map(|_| queued("a", None)).collect();
        for t in &tasks {
            store.enqueue_task(t, t0).await.unwrap();
        }
        store.enqueue_task(&queued("b", None), t0).await.unwrap();
        let keys = vec!["a".to_owned()];
        let first = store
            .claim_tasks(&keys, "w1", 2, lease(30), 3, t0)
            .await
            .unwrap();
        assert_eq!(
            first.iter().map(|t| t.id).collect::<Vec<_>>(),
            [tasks[0].id, tasks[1].id],
            "oldest first"
        );
        assert!(first.iter().all(|t| t.status == QueueStatus::Claimed
            && t.attempts == 1
            && t.worker.as_deref() == Some("w1")));
        let second = store
            .claim_tasks(&keys, "w2", 5, lease(30), 3, t0)
            .await
            .unwrap();
        assert_eq!(second.len(), 1);
        assert!(
            store
                .claim_tasks(&keys, "w3", 5, lease(30), 3, t0)
                .await
                .unwrap()
                .is_empty()
        );

        let w2_holds = store
            .renew_leases(&[tasks[2].id], "w2", lease(60), t0)
            .await
            .unwrap();
        assert_eq!(w2_holds, 1);
        assert_eq!(
            store
                .renew_leases(&[tasks[0].id, tasks[2].id], "w1", lease(60), t0)
                .await
                .unwrap(),
            1
        );
        assert!(
            !store
                .finish_task(tasks[0].id, "w2", None, Some("nope"), t0)
                .await
                .unwrap(),
            "only the holder finishes"
        );
        assert!(
            store
                .finish_task(
                    tasks[0].id,
                    "w1",
                    Some(&json!({"type": "json", "value": 2})),
                    None,
                    t0
                )
                .await
                .unwrap()
        );
        let done = store.read_queued_task(tasks[0].id).await.unwrap();
        assert_eq!(
            (done.status, done.result),
            (QueueStatus::Done, Some(json!({"type": "json", "value": 2})))
        );

        // w1's lease on tasks[1] lapses (w1 died): another worker takes it over.
        let later = lease(45);
        let retaken = store
            .claim_tasks(&keys, "w3", 5, Micros(later.0 + 30_000_000), 3, later)
            .await
            .unwrap();
        assert_eq!(
            retaken
                .iter()
                .map(|t| (t.id, t.attempts))
                .collect::<Vec<_>>(),
            [(tasks[1].id, 2)]
        );
    }
);

on_each_backend!(
    a_task_whose_workers_keep_dying_crashes,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let run = new_run(&store, "f").await;
        let t0 = now();
        let task = queued("a", Some(run.id));
        store.enqueue_task(&task, t0).await.unwrap();
        let record = flowgate_core::task_run::TaskRunRecord::from_event(&task_event(
            task.id, run.id, "RUNNING", t0, 0, 1,
        ))
        .unwrap();
        store.upsert_task_run(&record, t0).await.unwrap();
        let keys = vec!["a".to_owned()];
        let mut at = t0;
        for attempt in 1..=2 {
            let claimed = store
                .claim_tasks(&keys, "w", 1, Micros(at.0 + 1), 2, at)
                .await
                .unwrap();
            assert_eq!(claimed[0].attempts, attempt);
            at = Micros(at.0 + 10);
        }
        assert!(
            store
                .claim_tasks(&keys, "w", 1, Micros(at.0 + 1), 2, at)
                .await
                .unwrap()
                .is_empty()
        );
        let gone = store.read_queued_task(task.id).await.unwrap();
        assert_eq!(gone.status, QueueStatus::Done);
        assert!(gone.error.unwrap().contains("lost 2 times"));
        let tr = store.read_task_run(task.id).await.unwrap().record;
        assert_eq!(
            tr.state.state_type,
            StateType::Crashed,
            "never lost: the task run is marked Crashed"
        );
    }
);

on_each_backend!(
    concurrent_claimers_never_share_a_task,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        for _ in 0..60 {
            store.enqueue_task(&queued("a", None), t0).await.unwrap();
        }
        let mut claimers = Vec::new();
        for w in 0..4 {
            let store = store.clone();
            claimers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_tasks(
                            &["a".to_owned()],
                            &format!("w{w}"),
                            5,
                            Micros(t0.0 + 60_000_000),
                            3,
                            t0,
                        )
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|t| t.id));
                }
            }));
        }
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await.unwrap());
        }
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!((all.len(), distinct.len()), (60, 60));
    }
);
