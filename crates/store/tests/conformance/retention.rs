//! Retention: aged finished runs go with their task runs and logs, lone task runs, logs and
//! events by their own time, a bounded batch at a time; unfinished and recent records stay; two
//! replicas pruning at once share the work without repeating it.

use flowgate_core::retention::Prunable;

use super::*;

const DAY: i64 = 24 * 3600 * 1_000_000;

/// Moves `run` to Running, then (unless `last` is Running) to `last`, at `at`.
async fn end_run(store: &DynStore, run: Uuid, last: StateType, at: Micros) {
    let mut types = vec![StateType::Running];
    if last != StateType::Running {
        types.push(last);
    }
    for t in types {
        store
            .set_flow_run_state(run, State::new(Uuid::now_v7(), t, at), true, at)
            .await
            .unwrap();
    }
}

fn log(flow_run: Option<Uuid>, task_run: Option<Uuid>, at: Micros) -> LogEntry {
    LogEntry {
        id: Uuid::now_v7(),
        created: at,
        name: "prefect.flow_runs".into(),
        level: 20,
        message: "line".into(),
        timestamp: at,
        flow_run_id: flow_run,
        task_run_id: task_run,
    }
}

async fn runs_left(store: &DynStore) -> i64 {
    store
        .count_flow_runs(&FlowRunFilter::default())
        .await
        .unwrap()
}

async fn prune_all(store: &DynStore, kind: Prunable, before: Micros, batch: usize) -> Vec<usize> {
    let mut batches = Vec::new();
    loop {
        let n = store.prune(kind, before, batch).await.unwrap().records;
        batches.push(n);
        if n < batch {
            return batches;
        }
    }
}

on_each_backend!(
    aged_records_are_pruned_in_batches_and_the_rest_stays,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        let old = Micros(t0.0 - 10 * DAY);
        let cutoff = Micros(t0.0 - DAY);
        let mut old_done = Vec::new();
        for _ in 0..3 {
            let run = new_run(&store, "aging").await.id;
            end_run(&store, run, StateType::Completed, old).await;
            old_done.push(run);
        }
        let old_running = new_run(&store, "aging").await.id;
        end_run(&store, old_running, StateType::Running, old).await;
        let recent = new_run(&store, "aging").await.id;
        end_run(&store, recent, StateType::Completed, t0).await;

        // Task runs of an old run, and one outside any run; logs of each.
        let task = Uuid::now_v7();
        let lone_id = Uuid::now_v7();
        let mut lone = task_event(lone_id, old_done[0], "COMPLETED", old, 10, 1);
        lone.related.clear();
        let events = [task_event(task, old_done[0], "COMPLETED", old, 10, 1), lone];
        let lines = [
            log(Some(old_done[0]), Some(task), old),
            log(None, Some(lone_id), old),
            log(None, None, old),
            log(Some(recent), None, t0),
        ];
        store.ingest(&events, &lines, old).await.unwrap();
        assert_eq!(
            store
                .count_task_runs(&TaskRunFilter::default())
                .await
                .unwrap(),
            2
        );

        // Flow runs: three aged, two per batch.
        assert_eq!(
            prune_all(&store, Prunable::FlowRuns, cutoff, 2).await,
            [2, 1]
        );
        assert_eq!(
            runs_left(&store).await,
            2,
            "the unfinished and the recent run stay"
        );
        let tasks = store
            .count_task_runs(&TaskRunFilter::default())
            .await
            .unwrap();
        assert_eq!(
            tasks, 1,
            "the old run's task run went with it; the lone one stays"
        );
        assert_eq!(prune_all(&store, Prunable::TaskRuns, cutoff, 10).await, [1]);
        assert_eq!(
            store
                .count_task_runs(&TaskRunFilter::default())
                .await
                .unwrap(),
            0
        );
        // The run's and the lone task run's lines went with them; one aged line is left.
        assert_eq!(prune_all(&store, Prunable::Logs, cutoff, 10).await, [1]);
        let left = store
            .filter_logs(&LogFilter::default(), false, Page::default())
            .await
            .unwrap();
        assert_eq!(
            left.iter().map(|l| l.flow_run_id).collect::<Vec<_>>(),
            [Some(recent)]
        );

        // Events: the aged state and task-run events go; the recent ones (each run's Pending from
        // its creation now, the recent run's states) stay.
        let before = store.count_events(&EventFilter::default()).await.unwrap();
        let pruned: usize = prune_all(&store, Prunable::Events, cutoff, 5)
            .await
            .iter()
            .sum();
        let after = store.count_events(&EventFilter::default()).await.unwrap();
        assert_eq!(before - after, pruned as i64);
        let left = store
            .filter_events(&EventFilter::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(after, 7, "{left:?}");
        assert!(left.iter().all(|e| e.occurred >= cutoff), "{left:?}");
        assert_eq!(
            store
                .prune(Prunable::Events, cutoff, 5)
                .await
                .unwrap()
                .records,
            0
        );
    }
);

on_each_backend!(
    replicas_pruning_at_once_share_the_work,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let old = Micros(now().0 - 10 * DAY);
        for _ in 0..8 {
            let run = new_run(&store, "shared").await.id;
            end_run(&store, run, StateType::Failed, old).await;
        }
        let (a, b) = (store.clone(), store.clone());
        let cutoff = now();
        let (x, y) = tokio::join!(
            async move {
                a.prune(Prunable::FlowRuns, cutoff, 4)
                    .await
                    .unwrap()
                    .records
            },
            async move {
                b.prune(Prunable::FlowRuns, cutoff, 4)
                    .await
                    .unwrap()
                    .records
            },
        );
        assert_eq!(
            x + y,
            8,
            "each run pruned once, none left for later: {x} + {y}"
        );
        assert_eq!(runs_left(&store).await, 0);
    }
);
