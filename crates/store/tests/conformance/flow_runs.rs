//! Flow runs: states through the orchestration rules, filters, sorting, concurrency.

use super::*;

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
    history_counts_runs_by_state_in_intervals_of_their_expected_start,
    async |db: TestDatabase| {
        use flowgate_core::history::History;
        let store = store(&db).await;
        let base = Micros(1_800_000_000_000_000);
        let at = |s: i64| Micros(base.0 + s * 1_000_000);
        let (f, _) = store
            .create_flow("charted", &[], &json!({}), at(0))
            .await
            .unwrap();
        let (other, _) = store
            .create_flow("other", &[], &json!({}), at(0))
            .await
            .unwrap();
        for (flow, second, last) in [
            (f.id, 1, StateType::Completed),
            (f.id, 2, StateType::Failed),
            (f.id, 3, StateType::Completed),
            (f.id, 12, StateType::Completed),
            (f.id, 25, StateType::Completed),
            (other.id, 4, StateType::Completed),
        ] {
            let new = NewFlowRun {
                flow_id: flow,
                ..Default::default()
            };
            let (run, _, _) = store.create_flow_run(new, at(second)).await.unwrap();
            let running = State::new(Uuid::now_v7(), StateType::Running, at(second + 1));
            store
                .set_flow_run_state(run.id, running, false, at(second + 1))
                .await
                .unwrap();
            let end = State::new(Uuid::now_v7(), last, at(second + 3));
            store
                .set_flow_run_state(run.id, end, false, at(second + 3))
                .await
                .unwrap();
        }
        let window = History::new(base, at(20), 10.0).unwrap();
        let charted = FlowRunFilter {
            flow_ids: Some(vec![f.id]),
            ..Default::default()
        };
        let counts = store
            .flow_run_history(&charted, &window, at(60))
            .await
            .unwrap();
        let intervals = window.intervals(counts);
        let summary: Vec<Vec<(StateType, i64, f64, f64)>> = intervals
            .iter()
            .map(|i| {
                i.states
                    .iter()
                    .map(|s| (s.state_type, s.runs, s.run_time, s.lateness))
                    .collect()
            })
            .collect();
        assert_eq!(
            summary,
            [
                vec![
                    (StateType::Completed, 2, 4.0, 2.0),
                    (StateType::Failed, 1, 2.0, 1.0)
                ],
                vec![(StateType::Completed, 1, 2.0, 1.0)],
            ],
            "runs of other flows and outside the window are not counted"
        );
        let all = store
            .flow_run_history(&FlowRunFilter::default(), &window, at(60))
            .await
            .unwrap();
        assert_eq!(all.iter().map(|c| c.runs).sum::<i64>(), 5);
    }
);
