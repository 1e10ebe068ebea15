//! Ingest: events stored once, task-run events folded in any order, big batches whole.

use super::*;

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
            .ingest(std::slice::from_ref(&completed), &[], now())
            .await
            .unwrap();
        assert_eq!((out.stored, out.task_runs), (1, 1));
        let out = store
            .ingest(
                &[running.clone(), pending.clone(), running.clone()],
                &[],
                now(),
            )
            .await
            .unwrap();
        assert_eq!((out.stored, out.duplicates), (2, 1));
        let out = store
            .ingest(&[pending, running, completed], &[], now())
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
        let out = store.ingest(&[bad], &[], now()).await.unwrap();
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
    let out = store.ingest(&events, &[], now()).await.unwrap();
    assert_eq!((out.stored, out.task_runs), (1200, 400));
    let done = TaskRunFilter {
        state_types: Some(vec![StateType::Completed]),
        ..Default::default()
    };
    assert_eq!(store.count_task_runs(&done).await.unwrap(), 400);
});
