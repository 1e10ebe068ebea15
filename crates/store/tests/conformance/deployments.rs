//! Deployments, their runs and limits in the hand-out, the scheduler and late runs.

use std::collections::BTreeSet;

use flowgate_core::deployment::{CollisionStrategy, LateRunPolicy};
use flowgate_core::schedule::Schedule;
use flowgate_core::scheduler::Horizon;

use super::*;

async fn setup(store: &DynStore) -> Uuid {
    let pool = NewWorkPool {
        name: "pool1".into(),
        pool_type: "process".into(),
        ..Default::default()
    };
    store.create_work_pool(pool, now()).await.unwrap();
    store
        .create_flow("deployed-flow", &[], &json!({}), now())
        .await
        .unwrap()
        .0
        .id
}

fn deployment(flow: Uuid, name: &str, limit: Option<u32>) -> NewDeployment {
    NewDeployment {
        flow_id: flow,
        name: name.to_owned(),
        parameters: json!({"n": 7}),
        parameter_openapi_schema: json!({"type": "object"}),
        tags: vec!["dep-tag".into()],
        work_pool_name: Some("pool1".into()),
        concurrency_limit: limit,
        ..Default::default()
    }
}

fn scheduled_now() -> NewFlowRun {
    let t = now();
    let mut state = State::new(Uuid::now_v7(), StateType::Scheduled, t);
    state
        .details
        .insert("scheduled_time".into(), json!(t.to_string()));
    NewFlowRun {
        parameters: json!({"n": 1}),
        state: Some(state),
        ..Default::default()
    }
}

async fn run_of(store: &DynStore, deployment: Uuid) -> FlowRun {
    store
        .create_deployment_flow_run(deployment, scheduled_now(), None, now())
        .await
        .unwrap()
}

/// A deployment `name` in pool1 (its work pool set up first) and one run of it, waiting in its
/// queue: the deployment's id and the run.
async fn a_run_of_a_new_deployment(store: &DynStore, name: &str) -> (Uuid, FlowRun) {
    let flow = setup(store).await;
    let (dep, _) = store
        .upsert_deployment(deployment(flow, name, None), now())
        .await
        .unwrap();
    (dep.id, run_of(store, dep.id).await)
}

async fn poll_ids(store: &DynStore, limit: usize) -> Vec<Uuid> {
    let poll = Poll {
        pool: "pool1".into(),
        limit,
        worker: Some("w".into()),
        lease_seconds: 30.0,
        ..Default::default()
    };
    let handed = store.get_scheduled_flow_runs(&poll, now()).await.unwrap().0;
    handed.iter().map(|h| h.run.id).collect()
}

async fn set(store: &DynStore, run: Uuid, t: StateType) {
    store
        .set_flow_run_state(run, state(t), false, now())
        .await
        .unwrap();
}

on_each_backend!(
    a_deployment_is_upserted_by_flow_and_name,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let flow = setup(&store).await;
        let (first, created) = store
            .upsert_deployment(deployment(flow, "dep1", None), now())
            .await
            .unwrap();
        assert!(created);
        assert_eq!(first.work_queue_name.as_deref(), Some("default"));
        assert_eq!(first.work_pool_name.as_deref(), Some("pool1"));
        assert_eq!(first.labels["prefect.flow.id"], flow.to_string());
        let mut again = deployment(flow, "dep1", Some(2));
        again.parameters = json!({"n": 8});
        let (second, created) = store.upsert_deployment(again, now()).await.unwrap();
        assert!(!created);
        assert_eq!(second.id, first.id);
        assert_eq!(
            (second.parameters["n"].clone(), second.concurrency_limit),
            (json!(8), Some(2))
        );
        let by_name = store
            .read_deployment_by_name("deployed-flow", "dep1", now())
            .await
            .unwrap();
        assert_eq!(by_name.id, first.id);
        let mut unknown = deployment(flow, "dep2", None);
        unknown.work_pool_name = Some("nope".into());
        assert!(matches!(
            store.upsert_deployment(unknown, now()).await,
            Err(StoreError::NotFound {
                kind: "work pool",
                ..
            })
        ));
        let filter = DeploymentFilter {
            work_pool: Some(WorkPoolFilter {
                names: Some(vec!["pool1".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(store.count_deployments(&filter).await.unwrap(), 1);
        store.delete_deployment(first.id).await.unwrap();
        assert!(store.read_deployment(first.id, now()).await.is_err());
    }
);

on_each_backend!(
    a_deployment_run_waits_in_its_queue_with_the_deployments_tags,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let (dep, run) = a_run_of_a_new_deployment(&store, "dep1").await;
        assert_eq!(run.deployment_id, Some(dep));
        assert_eq!(run.work_queue_name.as_deref(), Some("default"));
        assert!(run.tags.contains(&"dep-tag".to_owned()));
        assert_eq!(run.labels["prefect.deployment.id"], dep.to_string());
        assert_eq!(poll_ids(&store, 10).await, [run.id]);
        let polled = store.read_deployment(dep, now()).await.unwrap();
        assert_eq!(polled.status.as_str(), "READY");
    }
);

on_each_backend!(
    a_full_deployment_never_starves_the_others_in_its_queue,
    async |db: TestDatabase| {
        // Prefect #19403: 300 runs of a deployment limited to 1 wait ahead of another
        // deployment's run in the same queue; that run goes out at once.
        let store = store(&db).await;
        let flow = setup(&store).await;
        let (limited, _) = store
            .upsert_deployment(deployment(flow, "limited", Some(1)), now())
            .await
            .unwrap();
        let (other, _) = store
            .upsert_deployment(deployment(flow, "other", None), now())
            .await
            .unwrap();
        let mut lined_up = Vec::new();
        for _ in 0..300 {
            lined_up.push(run_of(&store, limited.id).await.id);
        }
        let theirs = run_of(&store, other.id).await;
        let first = poll_ids(&store, 5).await;
        assert_eq!(first, [lined_up[0], theirs.id]);
        set(&store, lined_up[0], StateType::Pending).await;
        assert!(
            poll_ids(&store, 5).await.is_empty(),
            "the limit of 1 is held"
        );
        // A lowered limit counts at once (#19404): with the run going, a limit of 0 hands out nothing
        // even after the first finishes.
        store
            .update_deployment(
                limited.id,
                DeploymentUpdate {
                    concurrency_limit: Some(Some(0)),
                    ..Default::default()
                },
                now(),
            )
            .await
            .unwrap();
        set(&store, lined_up[0], StateType::Running).await;
        set(&store, lined_up[0], StateType::Completed).await;
        assert!(poll_ids(&store, 5).await.is_empty());
        store
            .update_deployment(
                limited.id,
                DeploymentUpdate {
                    concurrency_limit: Some(Some(1)),
                    ..Default::default()
                },
                now(),
            )
            .await
            .unwrap();
        assert_eq!(
            poll_ids(&store, 5).await,
            [lined_up[1]],
            "the next in line keeps its place"
        );
    }
);

on_each_backend!(
    cancel_new_cancels_runs_beyond_the_limit,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let flow = setup(&store).await;
        let mut new = deployment(flow, "dep1", Some(1));
        new.collision_strategy = CollisionStrategy::CancelNew;
        let (dep, _) = store.upsert_deployment(new, now()).await.unwrap();
        let running = run_of(&store, dep.id).await;
        assert_eq!(poll_ids(&store, 5).await, [running.id]);
        set(&store, running.id, StateType::Pending).await;
        let extra = run_of(&store, dep.id).await;
        let poll = Poll {
            pool: "pool1".into(),
            limit: 5,
            lease_seconds: 30.0,
            ..Default::default()
        };
        let (handed, events) = store.get_scheduled_flow_runs(&poll, now()).await.unwrap();
        assert!(handed.is_empty());
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "prefect.flow-run.Cancelled");
        let cancelled = store.read_flow_run(extra.id).await.unwrap();
        let state = cancelled.state.unwrap();
        assert_eq!(state.state_type, StateType::Cancelled);
        assert!(state.message.unwrap().contains("CANCEL_NEW"));
    }
);

fn every_ten_minutes(flow: Uuid) -> NewDeployment {
    let mut new = deployment(flow, "cron", None);
    new.schedules = vec![NewDeploymentSchedule {
        schedule: Schedule::cron("*/10 * * * *", Some("Europe/Berlin"), true).unwrap(),
        active: true,
        max_scheduled_runs: None,
        parameters: json!({"n": 3}),
        slug: None,
    }];
    new
}

async fn scheduled_times(store: &DynStore, deployment: Uuid) -> Vec<Micros> {
    let filter = FlowRunFilter {
        deployment_ids: Some(vec![deployment]),
        ..Default::default()
    };
    let runs = store
        .filter_flow_runs(
            &filter,
            FlowRunSort::ExpectedStartTimeAsc,
            Page {
                limit: 1000,
                offset: 0,
            },
        )
        .await
        .unwrap();
    runs.iter()
        .filter_map(|r| r.state.as_ref().and_then(State::scheduled_time))
        .collect()
}

on_each_backend!(
    the_scheduler_creates_runs_ahead_once_even_from_two_replicas,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let replica = super::store(&db).await;
        let flow = setup(&store).await;
        let (dep, _) = store
            .upsert_deployment(every_ten_minutes(flow), now())
            .await
            .unwrap();
        let t = now();
        let horizon = Horizon::default();
        let (a, b) = tokio::join!(
            store.schedule_runs(t, &horizon, 10),
            replica.schedule_runs(t, &horizon, 10)
        );
        let created = a.unwrap().runs_created + b.unwrap().runs_created;
        let times = scheduled_times(&store, dep.id).await;
        let unique: BTreeSet<_> = times.iter().collect();
        assert_eq!(unique.len(), times.len(), "one run per time");
        assert_eq!(created, times.len());
        assert!((6..=7).contains(&times.len()), "{times:?}");
        // Nothing more to do until the first run passes.
        assert_eq!(
            store
                .schedule_runs(t, &horizon, 10)
                .await
                .unwrap()
                .deployments,
            0
        );
        let later = times[0].plus_seconds(1.0);
        let pass = store.schedule_runs(later, &horizon, 10).await.unwrap();
        assert_eq!(pass.deployments, 1);
        assert_eq!(
            scheduled_times(&store, dep.id).await.len(),
            times.len() + pass.runs_created
        );
        // The schedule's parameters override the deployment's.
        let any = store
            .filter_flow_runs(
                &FlowRunFilter {
                    deployment_ids: Some(vec![dep.id]),
                    ..Default::default()
                },
                FlowRunSort::IdDesc,
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(any[0].parameters, json!({"n": 3}));
    }
);

on_each_backend!(
    late_runs_are_marked_and_newest_only_skips_the_backlog,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let flow = setup(&store).await;
        let mut new = every_ten_minutes(flow);
        new.late_run_policy = LateRunPolicy::NewestOnly;
        let (dep, _) = store.upsert_deployment(new, now()).await.unwrap();
        let manual = run_of(&store, dep.id).await;
        let t = now();
        store
            .schedule_runs(t, &Horizon::default(), 10)
            .await
            .unwrap();
        let times = scheduled_times(&store, dep.id).await;
        // An hour later nobody has run anything: the automatic backlog keeps its newest run.
        let later = t.plus_seconds(3600.0 + 30.0);
        // Every run is overdue by then: the manual one and the automatic ones.
        let overdue = times
            .iter()
            .filter(|at| later.seconds_since(**at) > 15.0)
            .count();
        assert_eq!(overdue, times.len());
        let pass = store.mark_late_runs(later, 1000).await.unwrap();
        assert_eq!(pass.skipped, overdue - 2);
        assert_eq!(
            pass.events.len(),
            pass.marked_late + pass.skipped,
            "one state event each"
        );
        assert_eq!(
            pass.marked_late, 2,
            "the newest automatic run and the manual one"
        );
        let manual = store.read_flow_run(manual.id).await.unwrap().state.unwrap();
        assert_eq!(
            (manual.state_type, manual.name.as_str()),
            (StateType::Scheduled, "Late")
        );
        assert_eq!(
            store.mark_late_runs(later, 1000).await.unwrap(),
            LatePass::default()
        );
    }
);

on_each_backend!(
    a_late_run_put_back_in_schedule_is_marked_late_again,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let (_, run) = a_run_of_a_new_deployment(&store, "manual").await;
        let later = now().plus_seconds(3600.0);
        // A pass at `later`: how many runs it marked Late, and the run's state name after it.
        let pass = async || {
            let marked = store.mark_late_runs(later, 10).await.unwrap().marked_late;
            let state = store.read_flow_run(run.id).await.unwrap().state.unwrap();
            (marked, state.name)
        };
        assert_eq!(pass().await, (1, "Late".to_owned()));
        // Marked Late, it is not marked again; put back in schedule, it is (the pass's index
        // leaves Late runs out, so the mark must not outlive the Late state).
        assert_eq!(pass().await, (0, "Late".to_owned()));
        let back = State::new(Uuid::now_v7(), StateType::Scheduled, later);
        store
            .set_flow_run_state(run.id, back, true, later)
            .await
            .unwrap();
        assert_eq!(pass().await, (1, "Late".to_owned()));
    }
);

on_each_backend!(
    a_served_deployments_runs_go_to_its_process,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let flow = setup(&store).await;
        let mut new = deployment(flow, "served", None);
        new.work_pool_name = None;
        let (dep, _) = store.upsert_deployment(new, now()).await.unwrap();
        assert_eq!(dep.work_queue_name, None);
        let run = run_of(&store, dep.id).await;
        assert!(poll_ids(&store, 10).await.is_empty(), "not a pool's run");
        let served = store
            .served_scheduled_flow_runs(&[dep.id], now(), 10, now())
            .await
            .unwrap()
            .0;
        assert_eq!(served.iter().map(|r| r.id).collect::<Vec<_>>(), [run.id]);
        assert!(
            store
                .served_scheduled_flow_runs(&[dep.id], now(), 10, now())
                .await
                .unwrap()
                .0
                .is_empty()
        );
    }
);
