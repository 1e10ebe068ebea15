//! Task runs the server sets: a subflow's parent follows its child.

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
