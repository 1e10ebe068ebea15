//! The storage suite: every test runs against SQLite and against PostgreSQL (see
//! `flowgate-testkit` for where PostgreSQL comes from and when it may be skipped).

use flowgate_core::orchestration::Decision;
use flowgate_core::{Event, Micros, State, StateType};
use flowgate_store::model::*;
use flowgate_store::{DynStore, StoreError, open};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::json;
use uuid::Uuid;

async fn store(db: &TestDatabase) -> DynStore {
    open(&db.url).await.unwrap()
}

fn now() -> Micros {
    Micros::from_timestamp(jiff::Timestamp::now())
}

fn state(t: StateType) -> State {
    State::new(Uuid::now_v7(), t, now())
}

async fn new_run(store: &DynStore, flow: &str) -> FlowRun {
    let (f, _) = store
        .create_flow(flow, &[], &json!({}), now())
        .await
        .unwrap();
    let new = NewFlowRun {
        flow_id: f.id,
        parameters: json!({"x": 1}),
        tags: vec!["etl".into()],
        ..Default::default()
    };
    store.create_flow_run(new, now()).await.unwrap().0
}

/// A task-run event shaped like the `prefect` client's, for a task run expected at `base`
/// that started at `base + 95` µs.
fn task_event(
    task: Uuid,
    flow_run: Uuid,
    ty: &str,
    base: Micros,
    offset: i64,
    run_count: i64,
) -> Event {
    let at = Micros(base.0 + offset);
    let mut task_run = json!({
        "name": "add-1", "task_key": "add-83a2f660", "dynamic_key": "0",
        "empirical_policy": {"retries": 0}, "tags": [], "labels": {}, "task_inputs": {"x": []},
        "run_count": run_count, "flow_run_run_count": 1,
        "expected_start_time": base.to_string(), "total_run_time": 0.0,
    });
    if ty != "PENDING" {
        task_run["start_time"] = json!(Micros(base.0 + 95).to_string());
    }
    if ty == "COMPLETED" || ty == "FAILED" {
        task_run["end_time"] = json!(at.to_string());
    }
    Event {
        id: Uuid::now_v7(),
        occurred: at,
        event: format!("prefect.task-run.{ty}"),
        resource: flowgate_core::event::labels([(
            "prefect.resource.id",
            format!("prefect.task-run.{task}"),
        )]),
        related: vec![flowgate_core::event::labels([
            (
                "prefect.resource.id",
                format!("prefect.flow-run.{flow_run}"),
            ),
            ("prefect.resource.role", "flow-run".to_owned()),
        ])],
        payload: flowgate_core::Payload::from_value(
            &json!({"validated_state": {"type": ty, "name": ty, "message": "", "state_details": {}, "data": null}, "task_run": task_run}),
        ),
        follows: None,
        received: at,
    }
}

on_each_backend!(flows_are_unique_by_name, async |db: TestDatabase| {
    let store = store(&db).await;
    let (a, created) = store
        .create_flow("etl", &["x".into()], &json!({}), now())
        .await
        .unwrap();
    assert!(created);
    let (b, created_again) = store
        .create_flow("etl", &[], &json!({}), now())
        .await
        .unwrap();
    assert!(!created_again);
    assert_eq!(a.id, b.id);
    assert_eq!(store.read_flow_by_name("etl").await.unwrap().id, a.id);
    store
        .create_flow("Report_50%", &[], &json!({}), now())
        .await
        .unwrap();
    let like = FlowFilter {
        name_like: Some("50%".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .filter_flows(&like, Page::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let underscore = FlowFilter {
        name_like: Some("t_5".into()),
        ..Default::default()
    };
    assert_eq!(store.count_flows(&underscore).await.unwrap(), 1);
    let tagged = FlowFilter {
        tags_all: Some(vec!["x".into()]),
        ..Default::default()
    };
    assert_eq!(store.count_flows(&tagged).await.unwrap(), 1);
    store.delete_flow(a.id).await.unwrap();
    assert!(matches!(
        store.read_flow(a.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_flow(a.id).await,
        Err(StoreError::NotFound { .. })
    ));
});

on_each_backend!(a_run_moves_through_its_states, async |db: TestDatabase| {
    let store = store(&db).await;
    let run = new_run(&store, "f").await;
    assert_eq!(run.state.as_ref().unwrap().state_type, StateType::Pending);
    assert!(run.name.contains('-'));
    let (out, ev) = store
        .set_flow_run_state(run.id, state(StateType::Running), false, now())
        .await
        .unwrap();
    assert_eq!(out.decision, Decision::Accept);
    assert_eq!(ev[0].event, "prefect.flow-run.Running");
    assert_eq!(out.run.clock.run_count, 1);
    assert!(out.run.clock.start_time.is_some());
    let (out, _) = store
        .set_flow_run_state(run.id, state(StateType::Completed), false, now())
        .await
        .unwrap();
    assert_eq!(out.decision, Decision::Accept);
    let stored = store.read_flow_run(run.id).await.unwrap();
    assert_eq!(stored.state.unwrap().state_type, StateType::Completed);
    assert!(stored.clock.end_time.is_some());
    assert_eq!(stored.tags, vec!["etl".to_owned()]);
    assert_eq!(stored.parameters, json!({"x": 1}));

    let (out, ev) = store
        .set_flow_run_state(run.id, state(StateType::Running), false, now())
        .await
        .unwrap();
    assert!(
        matches!(out.decision, Decision::Abort { .. }),
        "{:?}",
        out.decision
    );
    assert!(ev.is_empty());
    assert_eq!(out.state.unwrap().state_type, StateType::Completed);
    let (out, _) = store
        .set_flow_run_state(run.id, state(StateType::Running), true, now())
        .await
        .unwrap();
    assert_eq!(out.decision, Decision::Accept);

    let history: Vec<_> = store
        .flow_run_states(run.id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.state_type)
        .collect();
    assert_eq!(
        history,
        [
            StateType::Pending,
            StateType::Running,
            StateType::Completed,
            StateType::Running
        ]
    );
    let filter = EventFilter {
        resource_ids: Some(vec![format!("prefect.flow-run.{}", run.id)]),
        ..Default::default()
    };
    let names: Vec<_> = store
        .filter_events(&filter, Page::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        names,
        [
            "prefect.flow-run.Pending",
            "prefect.flow-run.Running",
            "prefect.flow-run.Completed",
            "prefect.flow-run.Running"
        ]
    );
    let related = EventFilter {
        related_resource_ids: Some(vec!["prefect.tag.etl".into()]),
        ..Default::default()
    };
    assert_eq!(store.count_events(&related).await.unwrap(), 4);
    let prefix = |p: &str| EventFilter {
        name_prefixes: Some(vec![p.to_owned()]),
        ..Default::default()
    };
    assert_eq!(
        store
            .count_events(&prefix("prefect.flow-run."))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        store
            .count_events(&prefix("PREFECT.flow-run."))
            .await
            .unwrap(),
        0,
        "prefixes match case-sensitively on every backend"
    );
    let tagged = FlowRunFilter {
        tags_all: Some(vec!["ETL".into()]),
        ..Default::default()
    };
    assert_eq!(
        store.count_flow_runs(&tagged).await.unwrap(),
        0,
        "tags match case-sensitively"
    );
});

on_each_backend!(unknown_runs_are_not_found, async |db: TestDatabase| {
    let store = store(&db).await;
    let missing = Uuid::now_v7();
    assert!(matches!(
        store.read_flow_run(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .set_flow_run_state(missing, state(StateType::Running), false, now())
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let orphan = NewFlowRun {
        flow_id: missing,
        ..Default::default()
    };
    assert!(matches!(
        store.create_flow_run(orphan, now()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store
            .count_flow_runs(&FlowRunFilter::default())
            .await
            .unwrap(),
        0
    );
});

on_each_backend!(
    idempotency_keys_return_the_first_run,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let (f, _) = store
            .create_flow("f", &[], &json!({}), now())
            .await
            .unwrap();
        let new = || NewFlowRun {
            flow_id: f.id,
            idempotency_key: Some("k".into()),
            ..Default::default()
        };
        let (a, created, _) = store.create_flow_run(new(), now()).await.unwrap();
        let (b, created_again, _) = store.create_flow_run(new(), now()).await.unwrap();
        assert!(created && !created_again);
        assert_eq!(a.id, b.id);
    }
);

on_each_backend!(flow_runs_filter_sort_and_page, async |db: TestDatabase| {
    let store = store(&db).await;
    let mut ids = Vec::new();
    for (i, t) in [
        StateType::Running,
        StateType::Completed,
        StateType::Failed,
        StateType::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        let (f, _) = store
            .create_flow(
                if i % 2 == 0 { "even" } else { "odd" },
                &[],
                &json!({}),
                now(),
            )
            .await
            .unwrap();
        let new = NewFlowRun {
            flow_id: f.id,
            name: Some(format!("run-{i}")),
            ..Default::default()
        };
        let (run, _, _) = store.create_flow_run(new, now()).await.unwrap();
        store
            .set_flow_run_state(run.id, state(t), true, now())
            .await
            .unwrap();
        ids.push(run.id);
    }
    let completed = FlowRunFilter {
        state_types: Some(vec![StateType::Completed]),
        ..Default::default()
    };
    assert_eq!(store.count_flow_runs(&completed).await.unwrap(), 2);
    let by_flow = FlowRunFilter {
        flow: Some(FlowFilter {
            names: Some(vec!["odd".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(store.count_flow_runs(&by_flow).await.unwrap(), 2);
    let page = Page {
        limit: 2,
        offset: 1,
    };
    let names: Vec<_> = store
        .filter_flow_runs(&FlowRunFilter::default(), FlowRunSort::NameDesc, page)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["run-2", "run-1"]);
    let newest = store
        .filter_flow_runs(
            &FlowRunFilter::default(),
            FlowRunSort::IdDesc,
            Page {
                limit: 1,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(newest[0].id, ids[3]);
    let some = FlowRunFilter {
        ids: Some(vec![ids[0], ids[1]]),
        ids_not: Some(vec![ids[0]]),
        ..Default::default()
    };
    assert_eq!(store.count_flow_runs(&some).await.unwrap(), 1);
    let none = FlowRunFilter {
        ids: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(store.count_flow_runs(&none).await.unwrap(), 0);
});

on_each_backend!(
    task_runs_fold_from_events_in_any_order,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let run = new_run(&store, "f").await;
        let task = Uuid::now_v7();
        let t0 = now();
        let pending = task_event(task, run.id, "PENDING", t0, 0, 0);
        let running = task_event(task, run.id, "RUNNING", t0, 100, 1);
        let completed = task_event(task, run.id, "COMPLETED", t0, 200, 1);
        // Completed first, then a batch with the rest and a duplicate, then the same batch again.
        let out = store
            .ingest(std::slice::from_ref(&completed), &[])
            .await
            .unwrap();
        assert_eq!((out.stored, out.task_runs), (1, 1));
        let out = store
            .ingest(&[running.clone(), pending.clone(), running.clone()], &[])
            .await
            .unwrap();
        assert_eq!((out.stored, out.duplicates), (2, 1));
        let out = store
            .ingest(&[pending, running, completed], &[])
            .await
            .unwrap();
        assert_eq!((out.stored, out.duplicates, out.task_runs), (0, 3, 0));

        let tr = store.read_task_run(task).await.unwrap().record;
        assert_eq!(tr.state.state_type, StateType::Completed);
        assert_eq!(tr.flow_run_id, Some(run.id));
        assert_eq!(tr.start_time, Some(Micros(t0.0 + 95)));
        assert_eq!(tr.end_time, Some(Micros(t0.0 + 200)));
        assert_eq!(tr.created, t0);
        assert_eq!(tr.run_count, 1);
        let of_run = TaskRunFilter {
            flow_run_ids: Some(vec![run.id]),
            ..Default::default()
        };
        assert_eq!(store.count_task_runs(&of_run).await.unwrap(), 1);
        let by_flow_run_state = TaskRunFilter {
            flow_run: Some(FlowRunFilter {
                state_types: Some(vec![StateType::Pending]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            store
                .filter_task_runs(&by_flow_run_state, TaskRunSort::IdDesc, Page::default())
                .await
                .unwrap()
                .len(),
            1
        );
    }
);

on_each_backend!(
    unreadable_task_events_are_kept_but_change_nothing,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let run = new_run(&store, "f").await;
        let mut bad = task_event(Uuid::now_v7(), run.id, "RUNNING", now(), 100, 1);
        let mut payload = bad.payload.value();
        payload["validated_state"]["type"] = json!("EXPLODED");
        bad.payload = flowgate_core::Payload::from_value(&payload);
        let out = store.ingest(&[bad], &[]).await.unwrap();
        assert_eq!((out.stored, out.unreadable, out.task_runs), (1, 1, 0));
        assert_eq!(
            store
                .count_task_runs(&TaskRunFilter::default())
                .await
                .unwrap(),
            0
        );
    }
);

on_each_backend!(a_large_batch_lands_whole, async |db: TestDatabase| {
    let store = store(&db).await;
    let run = new_run(&store, "f").await;
    let t0 = now();
    let mut events = Vec::new();
    for i in 0..400 {
        let task = Uuid::now_v7();
        for (j, ty) in ["PENDING", "RUNNING", "COMPLETED"].into_iter().enumerate() {
            events.push(task_event(
                task,
                run.id,
                ty,
                Micros(t0.0 + i * 1000),
                100 * j as i64,
                (j > 0) as i64,
            ));
        }
    }
    let out = store.ingest(&events, &[]).await.unwrap();
    assert_eq!((out.stored, out.task_runs), (1200, 400));
    let done = TaskRunFilter {
        state_types: Some(vec![StateType::Completed]),
        ..Default::default()
    };
    assert_eq!(store.count_task_runs(&done).await.unwrap(), 400);
});

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
    store.ingest(&[], &logs).await.unwrap();
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

on_each_backend!(concurrent_writers_all_land, async |db: TestDatabase| {
    let store = store(&db).await;
    let (f, _) = store
        .create_flow("f", &[], &json!({}), now())
        .await
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..10 {
                let (run, _, _) = store
                    .create_flow_run(
                        NewFlowRun {
                            flow_id: f.id,
                            ..Default::default()
                        },
                        now(),
                    )
                    .await
                    .unwrap();
                store
                    .set_flow_run_state(run.id, state(StateType::Running), false, now())
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let running = FlowRunFilter {
        state_types: Some(vec![StateType::Running]),
        ..Default::default()
    };
    assert_eq!(store.count_flow_runs(&running).await.unwrap(), 160);
});

on_each_backend!(
    a_subflows_parent_task_run_follows_the_child,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let parent_run = new_run(&store, "parent").await;
        let task = Uuid::now_v7();
        let parent_task = flowgate_core::task_run::TaskRunRecord::from_event(&task_event(
            task,
            parent_run.id,
            "PENDING",
            now(),
            0,
            0,
        ))
        .unwrap();
        store.upsert_task_run(&parent_task, now()).await.unwrap();
        let (f, _) = store
            .create_flow("child", &[], &json!({}), now())
            .await
            .unwrap();
        let new = NewFlowRun {
            flow_id: f.id,
            parent_task_run_id: Some(task),
            ..Default::default()
        };
        let (child, _, _) = store.create_flow_run(new, now()).await.unwrap();
        store
            .set_flow_run_state(child.id, state(StateType::Running), false, now())
            .await
            .unwrap();
        assert_eq!(
            store
                .read_task_run(task)
                .await
                .unwrap()
                .record
                .state
                .state_type,
            StateType::Running
        );
        store
            .set_flow_run_state(child.id, state(StateType::Completed), false, now())
            .await
            .unwrap();
        let rec = store.read_task_run(task).await.unwrap().record;
        assert_eq!(rec.state.state_type, StateType::Completed);
        assert_eq!(
            rec.state.detail_str("child_flow_run_id"),
            Some(child.id.to_string().as_str())
        );
        assert_eq!(rec.run_count, 1);
        assert!(rec.end_time.is_some());
        let history = EventFilter {
            resource_ids: Some(vec![format!("prefect.task-run.{task}")]),
            newest_first: false,
            ..Default::default()
        };
        let names: Vec<_> = store
            .filter_events(&history, Page::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(
            names,
            [
                "prefect.task-run.PENDING",
                "prefect.task-run.Pending",
                "prefect.task-run.Running",
                "prefect.task-run.Completed"
            ],
            "the parent task run's history is its events"
        );
    }
);

fn queued(key: &str, flow_run: Option<Uuid>) -> QueuedTask {
    QueuedTask {
        id: Uuid::now_v7(),
        task_key: key.to_owned(),
        flow_run_id: flow_run,
        parameters: json!({"x": 1}),
        status: "queued".to_owned(),
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
        assert!(first.iter().all(|t| t.status == "claimed"
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
            (done.status.as_str(), done.result),
            ("done", Some(json!({"type": "json", "value": 2})))
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
        assert_eq!(gone.status, "done");
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

fn input(run: Uuid, key: &str, value: &str) -> FlowRunInput {
    FlowRunInput {
        id: Uuid::now_v7(),
        created: now(),
        flow_run_id: run,
        key: key.to_owned(),
        value: value.to_owned(),
        sender: None,
    }
}

on_each_backend!(flow_run_inputs_are_kept_by_key, async |db: TestDatabase| {
    let store = store(&db).await;
    let run = new_run(&store, "f").await;
    for key in ["paused-1-schema", "paused-1-description", "other"] {
        store
            .create_flow_run_input(&input(run.id, key, "\"v\""))
            .await
            .unwrap();
    }
    let dup = store
        .create_flow_run_input(&input(run.id, "other", "1"))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let orphan = store
        .create_flow_run_input(&input(Uuid::now_v7(), "k", "1"))
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound { .. })));
    assert_eq!(
        store
            .read_flow_run_input(run.id, "other")
            .await
            .unwrap()
            .value,
        "\"v\""
    );
    let paused = store
        .filter_flow_run_inputs(run.id, "paused-1", &["paused-1-schema".to_owned()], 10)
        .await
        .unwrap();
    assert_eq!(
        paused.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        ["paused-1-description"]
    );
    store.delete_flow_run_input(run.id, "other").await.unwrap();
    assert!(matches!(
        store.read_flow_run_input(run.id, "other").await,
        Err(StoreError::NotFound { .. })
    ));
});

on_each_backend!(exactly_one_resume_wins, async |db: TestDatabase| {
    let store = store(&db).await;
    let run = new_run(&store, "f").await;
    store
        .set_flow_run_state(run.id, state(StateType::Running), false, now())
        .await
        .unwrap();
    let mut pause = state(StateType::Paused);
    pause.details.insert("pause_key".into(), "1".into());
    let (out, _) = store
        .set_flow_run_state(run.id, pause, false, now())
        .await
        .unwrap();
    assert_eq!(out.run.empirical_policy["pause_keys"], json!(["1"]));
    let mut racers = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            let resume = Resume {
                input: Some(("paused-1-response".to_owned(), format!("{{\"n\": {i}}}"))),
                resumed_by: Some(format!("person-{i}")),
            };
            store.resume_flow_run(run.id, resume, now()).await
        }));
    }
    let mut winners = Vec::new();
    for r in racers {
        match r.await.unwrap() {
            Ok((resumed, events)) => winners.push((resumed, events)),
            Err(StoreError::Conflict(m)) => assert!(m.contains("not paused"), "{m}"),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one resume wins");
    let (resumed, events) = &winners[0];
    assert_eq!(
        resumed.state.as_ref().unwrap().state_type,
        StateType::Running
    );
    assert_eq!(resumed.clock.run_count, 2);
    assert_eq!(resumed.empirical_policy["resuming"], json!(true));
    let names: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names,
        ["prefect.flow-run.Running", "prefect.flow-run.Resumed"]
    );
    assert_eq!(events[1].payload.value()["input_key"], "paused-1-response");
    let stored = store
        .read_flow_run_input(run.id, "paused-1-response")
        .await
        .unwrap();
    assert_eq!(
        Some(stored.sender.clone().unwrap()),
        events[1].payload.value()["resumed_by"]
            .as_str()
            .map(str::to_owned)
    );
});
