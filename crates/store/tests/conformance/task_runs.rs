//! Task runs the server sets: a subflow's parent follows its child, and a state reported over
//! REST folds with concurrent ingest instead of overwriting it.

use super::*;

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

on_each_backend!(
    a_rest_state_change_and_ingest_never_overwrite_each_other,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let run = new_run(&store, "f").await;
        let t0 = now();
        let tasks: Vec<Uuid> = (0..24).map(|_| Uuid::now_v7()).collect();
        let pending: Vec<_> = tasks
            .iter()
            .map(|t| task_event(*t, run.id, "PENDING", t0, 0, 0))
            .collect();
        store.ingest(&pending, &[], t0).await.unwrap();
        // Each task run gets, at once, a Running report from ingest (with a tag the PENDING
        // report lacked) and a later Completed state over REST.
        let mut writers = Vec::new();
        for task in tasks.clone() {
            let (store, ingest_store) = (store.clone(), store.clone());
            let mut running = task_event(task, run.id, "RUNNING", t0, 100, 1);
            let mut payload = running.payload.value();
            payload["task_run"]["tags"] = json!(["late-tag"]);
            running.payload = flowgate_core::Payload::from_value(&payload);
            writers.push(tokio::spawn(async move {
                ingest_store
                    .ingest(&[running], &[], now())
                    .await
                    .map(|_| ())
            }));
            let done = State::new(
                Uuid::now_v7(),
                StateType::Completed,
                Micros(t0.0 + 1_000_000),
            );
            writers.push(tokio::spawn(async move {
                store
                    .set_task_run_state(task, done, now())
                    .await
                    .map(|_| ())
            }));
        }
        for w in writers {
            w.await.unwrap().unwrap();
        }
        for task in tasks {
            let rec = store.read_task_run(task).await.unwrap().record;
            assert_eq!(
                rec.state.state_type,
                StateType::Completed,
                "the REST state survives the fold"
            );
            assert_eq!(
                rec.tags,
                ["late-tag"],
                "the ingested report survives the REST change"
            );
            assert_eq!(rec.run_count, 1);
        }
        let missing = store
            .set_task_run_state(Uuid::now_v7(), state(StateType::Running), now())
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound { .. })));
    }
);
