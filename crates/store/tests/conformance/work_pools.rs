//! Work pools, queues, workers and the hand-out of due runs.

use std::collections::HashSet;

use flowgate_core::pools::{PoolStatus, WorkerStatus};
use flowgate_core::work_queue::QueueStatus;

use super::*;

fn pool(name: &str, limit: Option<u32>) -> NewWorkPool {
    NewWorkPool {
        name: name.to_owned(),
        pool_type: "process".to_owned(),
        base_job_template: json!({"job_configuration": {"command": "{{ command }}"}}),
        concurrency_limit: limit,
        ..Default::default()
    }
}

fn queue(name: &str, priority: Option<u32>, limit: Option<u32>) -> NewWorkQueue {
    NewWorkQueue {
        name: name.to_owned(),
        priority,
        concurrency_limit: limit,
        ..Default::default()
    }
}

fn poll(pool: &str, limit: usize, worker: &str) -> Poll {
    Poll {
        pool: pool.to_owned(),
        limit,
        worker: Some(worker.to_owned()),
        lease_seconds: 30.0,
        ..Default::default()
    }
}

/// A Scheduled run due at `at`, waiting in `queue`.
async fn due_run(store: &DynStore, flow: Uuid, queue: Uuid, at: Micros) -> FlowRun {
    let mut state = State::new(Uuid::now_v7(), StateType::Scheduled, at);
    state
        .details
        .insert("scheduled_time".into(), json!(at.to_string()));
    let new = QueuedFlowRun {
        run: NewFlowRun {
            flow_id: flow,
            parameters: json!({}),
            state: Some(state),
            ..Default::default()
        },
        work_queue_id: queue,
        auto_scheduled: false,
    };
    store.create_queued_flow_run(new, at).await.unwrap()
}

async fn flow(store: &DynStore, name: &str) -> Uuid {
    store
        .create_flow(name, &[], &json!({}), now())
        .await
        .unwrap()
        .0
        .id
}

async fn move_to(store: &DynStore, run: Uuid, t: StateType) {
    store
        .set_flow_run_state(run, state(t), false, now())
        .await
        .unwrap();
}

async fn pause_queue(store: &DynStore, queue: Uuid, paused: bool) {
    let update = WorkQueueUpdate {
        is_paused: Some(paused),
        ..Default::default()
    };
    store.update_work_queue(queue, update, now()).await.unwrap();
}

async fn pause_pool(store: &DynStore, pool: &str, paused: bool) {
    let update = WorkPoolUpdate {
        is_paused: Some(paused),
        ..Default::default()
    };
    store.update_work_pool(pool, update, now()).await.unwrap();
}

/// What one poll of `pool` hands out at `t`.
async fn handed(store: &DynStore, pool: &str, t: Micros) -> Vec<Uuid> {
    ids(&store
        .get_scheduled_flow_runs(&poll(pool, 10, "w"), t)
        .await
        .unwrap()
        .0)
}

fn ids(handed: &[HandedOutRun]) -> Vec<Uuid> {
    handed.iter().map(|h| h.run.id).collect()
}

on_each_backend!(
    a_pool_comes_with_its_default_queue_and_refuses_a_second_of_its_name,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t = now();
        let created = store
            .create_work_pool(pool("pool1", Some(5)), t)
            .await
            .unwrap();
        assert_eq!(created.status, PoolStatus::NotReady);
        assert_eq!(created.concurrency_limit, Some(5));
        assert_eq!(
            created.base_job_template["job_configuration"]["command"],
            "{{ command }}"
        );
        let default = store
            .read_work_queue(created.default_queue_id, t)
            .await
            .unwrap();
        assert_eq!((default.name.as_str(), default.priority), ("default", 1));
        assert_eq!(default.description, "The work pool's default queue.");
        assert!(matches!(
            store.create_work_pool(pool("pool1", None), t).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.read_work_pool("nope", t).await,
            Err(StoreError::NotFound {
                kind: "work pool",
                ..
            })
        ));
        let paused = store
            .update_work_pool(
                "pool1",
                WorkPoolUpdate {
                    is_paused: Some(true),
                    ..Default::default()
                },
                t,
            )
            .await
            .unwrap();
        assert_eq!(paused.status, PoolStatus::Paused);
        assert_eq!(
            store
                .count_work_pools(&WorkPoolFilter::default())
                .await
                .unwrap(),
            1
        );
        store.delete_work_pool("pool1").await.unwrap();
        assert!(
            store
                .read_work_queue(created.default_queue_id, t)
                .await
                .is_err()
        );
    }
);

on_each_backend!(
    queue_priorities_shift_as_prefects_do,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t = now();
        let p = store
            .create_work_pool(pool("pool1", None), t)
            .await
            .unwrap();
        let high = store
            .create_work_queue("pool1", queue("high", Some(1), Some(2)), t)
            .await
            .unwrap();
        store
            .create_work_queue("pool1", queue("low", Some(5), None), t)
            .await
            .unwrap();
        store
            .create_work_queue("pool1", queue("last", None, None), t)
            .await
            .unwrap();
        let order = |qs: Vec<WorkQueue>| {
            qs.iter()
                .map(|q| (q.name.clone(), q.priority))
                .collect::<Vec<_>>()
        };
        let listed = store
            .filter_work_queues(Some("pool1"), &Default::default(), Page::default(), t)
            .await
            .unwrap();
        assert_eq!(
            order(listed),
            [
                ("high".into(), 1),
                ("default".into(), 2),
                ("low".into(), 5),
                ("last".into(), 6)
            ]
        );
        // Moving "last" to 2 pushes default down and leaves the gap before "low" alone.
        let last = store
            .read_work_queue_by_name("pool1", "last", t)
            .await
            .unwrap();
        store
            .update_work_queue(
                last.id,
                WorkQueueUpdate {
                    priority: Some(2),
                    ..Default::default()
                },
                t,
            )
            .await
            .unwrap();
        let listed = store
            .filter_work_queues(Some("pool1"), &Default::default(), Page::default(), t)
            .await
            .unwrap();
        assert_eq!(
            order(listed),
            [
                ("high".into(), 1),
                ("last".into(), 2),
                ("default".into(), 3),
                ("low".into(), 5)
            ]
        );
        assert!(matches!(
            store
                .create_work_queue("pool1", queue("high", None, None), t)
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.delete_work_queue(p.default_queue_id).await,
            Err(StoreError::Invalid(_))
        ));
        store.delete_work_queue(high.id).await.unwrap();
        assert!(matches!(
            store
                .create_work_queue("nope", queue("x", None, None), t)
                .await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

on_each_backend!(
    heartbeats_make_workers_online_and_the_pool_ready,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t = now();
        store
            .create_work_pool(pool("pool1", None), t)
            .await
            .unwrap();
        let w = store
            .worker_heartbeat("pool1", "w1", Some(30.0), t)
            .await
            .unwrap();
        assert_eq!(w.status, WorkerStatus::Online);
        store
            .worker_heartbeat("pool1", "w1", Some(30.0), t)
            .await
            .unwrap();
        assert_eq!(
            store.read_work_pool("pool1", t).await.unwrap().status,
            PoolStatus::Ready
        );
        let later = t.plus_seconds(91.0);
        assert_eq!(
            store.read_work_pool("pool1", later).await.unwrap().status,
            PoolStatus::NotReady
        );
        let workers = store
            .filter_workers("pool1", Page::default(), later)
            .await
            .unwrap();
        assert_eq!(workers.len(), 1);
        assert_eq!(workers[0].status, WorkerStatus::Offline);
        store.delete_worker("pool1", "w1").await.unwrap();
        assert!(store.delete_worker("pool1", "w1").await.is_err());
    }
);

on_each_backend!(
    runs_go_out_by_priority_then_time_within_every_limit,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t = now();
        let p = store
            .create_work_pool(pool("pool1", Some(3)), t)
            .await
            .unwrap();
        let high = store
            .create_work_queue("pool1", queue("high", Some(1), Some(2)), t)
            .await
            .unwrap();
        let f = flow(&store, "deployed-flow").await;
        let early = t.plus_seconds(-60.0);
        let low_run = due_run(&store, f, p.default_queue_id, early).await;
        let mut high_runs = Vec::new();
        for i in 0..3 {
            high_runs.push(due_run(&store, f, high.id, t.plus_seconds(-30.0 + i as f64)).await);
        }
        let future = due_run(&store, f, high.id, t.plus_seconds(3600.0)).await;

        // High first, two of them (its limit), then the default queue's run; the pool's limit is 3.
        let first = store
            .get_scheduled_flow_runs(&poll("pool1", 10, "w1"), t)
            .await
            .unwrap()
            .0;
        assert_eq!(ids(&first), [high_runs[0].id, high_runs[1].id, low_run.id]);
        assert_eq!(first[0].work_queue_name, "high");
        let q = store.read_work_queue(high.id, t).await.unwrap();
        assert_eq!((q.active_slots, q.status), (2, QueueStatus::Ready));
        // Claimed runs are not handed out again, and the limits are full.
        assert!(
            store
                .get_scheduled_flow_runs(&poll("pool1", 10, "w2"), t)
                .await
                .unwrap()
                .0
                .is_empty()
        );
        // One finishes: its slot frees and the next high run goes out; the future run never does.
        move_to(&store, high_runs[0].id, StateType::Pending).await;
        move_to(&store, high_runs[0].id, StateType::Running).await;
        move_to(&store, high_runs[0].id, StateType::Completed).await;
        let next = store
            .get_scheduled_flow_runs(&poll("pool1", 10, "w2"), t)
            .await
            .unwrap()
            .0;
        assert_eq!(ids(&next), [high_runs[2].id]);
        assert!(!ids(&next).contains(&future.id));
        // A claim that lapses (the worker never started the run) hands the run out again.
        let lapsed = t.plus_seconds(3.0 * 60.0);
        move_to(&store, high_runs[1].id, StateType::Pending).await;
        let again = store
            .get_scheduled_flow_runs(&poll("pool1", 10, "w3"), lapsed)
            .await
            .unwrap()
            .0;
        assert_eq!(ids(&again), [high_runs[2].id, low_run.id]);
    }
);

on_each_backend!(
    paused_pools_and_queues_hand_out_nothing,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t = now();
        let p = store
            .create_work_pool(pool("pool1", None), t)
            .await
            .unwrap();
        let f = flow(&store, "f").await;
        let run = due_run(&store, f, p.default_queue_id, t).await;
        pause_queue(&store, p.default_queue_id, true).await;
        assert!(handed(&store, "pool1", t).await.is_empty());
        pause_queue(&store, p.default_queue_id, false).await;
        pause_pool(&store, "pool1", true).await;
        assert!(handed(&store, "pool1", t).await.is_empty());
        pause_pool(&store, "pool1", false).await;
        assert_eq!(
            ids(&store
                .get_scheduled_flow_runs(&poll("pool1", 10, "w"), t)
                .await
                .unwrap()
                .0),
            [run.id]
        );
        assert!(matches!(
            store
                .get_scheduled_flow_runs(&poll("nope", 10, "w"), t)
                .await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

on_each_backend!(
    eight_workers_racing_for_500_due_runs_get_each_exactly_once,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t = now();
        let p = store.create_work_pool(pool("race", None), t).await.unwrap();
        let f = flow(&store, "race-flow").await;
        let mut want = HashSet::new();
        for i in 0..500 {
            want.insert(
                due_run(&store, f, p.default_queue_id, t.plus_seconds(-(i as f64)))
                    .await
                    .id,
            );
        }
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        let batch = store
                            .get_scheduled_flow_runs(&poll("race", 7, &format!("w{w}")), now())
                            .await
                            .unwrap()
                            .0;
                        if batch.is_empty() {
                            return got;
                        }
                        for h in batch {
                            move_to(&store, h.run.id, StateType::Pending).await;
                            got.push(h.run.id);
                        }
                    }
                })
            })
            .collect();
        let mut seen = Vec::new();
        for w in workers {
            seen.extend(w.await.unwrap());
        }
        let unique: HashSet<_> = seen.iter().copied().collect();
        assert_eq!(seen.len(), 500, "every run handed out once, none twice");
        assert_eq!(unique, want);
    }
);

on_each_backend!(
    a_queued_run_remembers_its_queue_and_pool_and_is_found_by_them,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t = now();
        store.create_work_pool(pool("etl", None), t).await.unwrap();
        store.create_work_pool(pool("ml", None), t).await.unwrap();
        let urgent = store
            .create_work_queue("etl", queue("urgent", Some(1), None), t)
            .await
            .unwrap();
        let ml = store
            .filter_work_queues(Some("ml"), &Default::default(), Page::default(), t)
            .await
            .unwrap()[0]
            .clone();
        let f = flow(&store, "f").await;
        let in_etl = due_run(&store, f, urgent.id, t).await;
        let in_ml = due_run(&store, f, ml.id, t).await;
        let place = in_etl
            .queue
            .clone()
            .expect("the created run knows its queue");
        assert_eq!(
            (place.work_queue_id, place.work_pool_name.as_str()),
            (urgent.id, "etl")
        );
        move_to(&store, in_etl.id, StateType::Completed).await;
        let read = store.read_flow_run(in_etl.id).await.unwrap();
        assert_eq!(read.queue, Some(place), "kept after the run left its queue");

        let found = |filter: FlowRunFilter| {
            let store = store.clone();
            async move {
                let runs = store
                    .filter_flow_runs(&filter, FlowRunSort::IdDesc, Page::default())
                    .await
                    .unwrap();
                runs.into_iter().map(|r| r.id).collect::<Vec<_>>()
            }
        };
        let by_pool = FlowRunFilter {
            work_pool: Some(WorkPoolFilter {
                names: Some(vec!["etl".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(found(by_pool).await, vec![in_etl.id]);
        let by_queue = FlowRunFilter {
            work_queue: Some(WorkQueueFilter {
                name_prefixes: Some(vec!["def".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(found(by_queue).await, vec![in_ml.id]);
        let all_queues = store
            .filter_work_queues(None, &Default::default(), Page::default(), t)
            .await
            .unwrap();
        let names: Vec<_> = all_queues
            .iter()
            .map(|q| format!("{}/{}", q.work_pool_name, q.name))
            .collect();
        assert_eq!(names, ["etl/urgent", "etl/default", "ml/default"]);
    }
);
