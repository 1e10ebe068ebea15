//! Flow-run inputs and resuming a paused run.

use super::*;

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
    let paused = out.state.unwrap().id;
    let mut racers = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            let resume = Resume {
                paused,
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
    let mut again = state(StateType::Paused);
    again.details.insert("pause_key".into(), "2".into());
    store
        .set_flow_run_state(run.id, again, false, now())
        .await
        .unwrap();
    let stale = Resume {
        paused,
        input: None,
        resumed_by: None,
    };
    match store.resume_flow_run(run.id, stale, now()).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("paused again"), "{m}"),
        other => panic!("a resume checked against an earlier pause must conflict: {other:?}"),
    }
});

on_each_backend!(
    every_expired_pause_is_found_and_failed_once,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        let at = |s: i64| Micros(t0.0 + s * 1_000_000);
        let mut runs = Vec::new();
        for timeout in [Some(1), Some(2), Some(10), None] {
            let run = new_run(&store, "f").await;
            store
                .set_flow_run_state(run.id, state(StateType::Running), false, t0)
                .await
                .unwrap();
            let mut pause = state(StateType::Paused);
            if let Some(s) = timeout {
                pause
                    .details
                    .insert("pause_timeout".into(), at(s).to_string().into());
            }
            store
                .set_flow_run_state(run.id, pause, false, t0)
                .await
                .unwrap();
            runs.push(run.id);
        }
        assert_eq!(store.expired_pauses(at(5), 1).await.unwrap(), [runs[0]]);
        assert_eq!(
            store.expired_pauses(at(5), 10).await.unwrap(),
            [runs[0], runs[1]],
            "earliest deadline first; no pause without a timeout, none not yet due"
        );
        assert!(store.expire_pause(runs[2], at(5)).await.unwrap().is_none());
        let events = store.expire_pause(runs[0], at(5)).await.unwrap().unwrap();
        assert_eq!(events[0].event, "prefect.flow-run.Failed");
        assert!(
            store.expire_pause(runs[0], at(5)).await.unwrap().is_none(),
            "a failed run is not failed again (another replica got there first)"
        );
        let paused = store
            .read_flow_run(runs[1])
            .await
            .unwrap()
            .state
            .unwrap()
            .id;
        let resume = Resume {
            paused,
            input: None,
            resumed_by: None,
        };
        store.resume_flow_run(runs[1], resume, at(3)).await.unwrap();
        assert!(
            store.expired_pauses(at(5), 10).await.unwrap().is_empty(),
            "a resumed run has no deadline"
        );
        assert!(store.expire_pause(runs[1], at(5)).await.unwrap().is_none());
    }
);
