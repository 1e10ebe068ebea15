//! The event websockets: `/events/in` stores what it is sent before it answers a ping,
//! `/events/out` streams what matches a subscription, and both close cleanly at shutdown.

use super::*;

on_each_backend!(
    events_in_stores_out_of_order_task_run_events_before_the_pong,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let (a, b) = (TaskRun::new(&run), TaskRun::new(&run));
        let [a_pending, a_running, a_completed] =
            [Stage::Pending, Stage::Running, Stage::Completed].map(|st| task_event(&a, st));
        let [b_pending, b_running, b_completed] =
            [Stage::Pending, Stage::Running, Stage::Completed].map(|st| task_event(&b, st));

        let mut ws = s.ws_connect_authenticated("/events/in").await;
        // Completed before Pending, and two events twice.
        for e in [
            &a_completed,
            &b_completed,
            &a_running,
            &a_pending,
            &b_pending,
            &a_completed,
            &b_running,
            &b_pending,
        ] {
            send_json(&mut ws, e).await;
        }
        assert_eq!(
            sync(&mut ws).await,
            Vec::<Value>::new(),
            "no frame was refused"
        );

        let of_run = json!({"flow_runs": {"id": {"any_": [run]}}});
        assert_eq!(s.count("/task_runs/count", of_run).await, 2);
        for t in [&a, &b] {
            let read = s.get(&format!("/task_runs/{}", t.id)).await.expect(200);
            assert_eq!(read["state_type"], "COMPLETED", "{read}");
            assert_eq!(read["start_time"], t.at(Stage::Running).as_str(), "{read}");
            assert_eq!(read["end_time"], t.at(Stage::Completed).as_str(), "{read}");
            assert_eq!(read["flow_run_id"], run.as_str());
            assert_eq!(read["name"], t.name().as_str());
            assert_eq!(read["run_count"], 1);
            let resource = format!("prefect.task-run.{}", t.id);
            let (events, total) = s.events(json!({"resource": {"id": [resource]}})).await;
            assert_eq!(total, 3, "each event is stored once");
            assert_eq!(
                names(&events),
                [
                    "prefect.task-run.Pending",
                    "prefect.task-run.Running",
                    "prefect.task-run.Completed"
                ]
            );
        }
        s.stop().await;
    }
);

on_each_backend!(
    events_in_answers_bad_frames_with_an_error_and_keeps_going,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let mut ws = s.ws_connect_authenticated("/events/in").await;

        ws.send(Message::text("not json")).await.unwrap();
        let mut no_resource = task_event(&TaskRun::new(&run), Stage::Pending);
        no_resource.as_object_mut().unwrap().remove("resource");
        send_json(&mut ws, &no_resource).await;
        let refused = sync(&mut ws).await;
        assert_eq!(refused.len(), 2, "one error per bad frame: {refused:?}");
        for (frame, needle) in refused.iter().zip(["not a valid event", "resource"]) {
            assert_eq!(frame["type"], "error", "{frame}");
            let detail = frame["detail"].as_str().unwrap();
            assert!(
                detail.contains(needle),
                "{detail:?} does not mention {needle:?}"
            );
        }

        let good = TaskRun::new(&run);
        send_json(&mut ws, &task_event(&good, Stage::Pending)).await;
        assert!(sync(&mut ws).await.is_empty());
        assert_eq!(
            s.get(&format!("/task_runs/{}", good.id)).await.expect(200)["state_type"],
            "PENDING"
        );
        assert_eq!(s.count("/task_runs/count", json!({})).await, 1);
        s.stop().await;
    }
);

on_each_backend!(
    websockets_refuse_a_connection_that_does_not_authenticate_first,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        for path in ["/events/in", "/events/out"] {
            let mut ws = s.ws_connect(path).await;
            send_json(&mut ws, &plain_event("test.too-early", "test.resource")).await;
            let refusal = next_json(&mut ws).await;
            assert_eq!(refusal["type"], "auth_failure", "{path}: {refusal}");
            match next_message(&mut ws).await {
                Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Policy),
                other => panic!("{path}: expected a close frame, got {other:?}"),
            }
        }
        assert_eq!(
            s.events(json!({})).await.1,
            0,
            "nothing sent before auth is stored"
        );
        s.stop().await;
    }
);

on_each_backend!(posted_events_are_stored_once, async |db: TestDatabase| {
    let s = TestServer::start(db).await;
    let batch: Vec<Value> = (0..3)
        .map(|i| plain_event(&format!("test.step.{i}"), "test.batch"))
        .collect();
    let batch = Value::Array(batch);
    let of_batch = json!({"resource": {"id": ["test.batch"]}});
    s.post_json("/events", &batch).await.expect(204);
    let (events, total) = s.events(of_batch.clone()).await;
    assert_eq!(total, 3);
    assert_eq!(
        names(&events),
        ["test.step.0", "test.step.1", "test.step.2"]
    );
    assert_eq!(events[0]["id"], batch[0]["id"]);

    s.post_json("/events", &batch).await.expect(204);
    assert_eq!(s.events(of_batch).await.1, 3, "a resent batch adds nothing");
    s.stop().await;
});

on_each_backend!(
    events_out_streams_flow_run_state_events_live,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let mut ws = s.ws_connect_authenticated("/events/out").await;
        send_json(
            &mut ws,
            &json!({"type": "filter", "filter": {"event": {"prefix": ["prefect.flow-run."]}}}),
        )
        .await;

        // The server does not acknowledge the filter: post probe events until one streams back, so
        // the subscription is known to be live before the state change.
        let probe = plain_event("prefect.flow-run.Probe", "test.probe");
        let deadline = Instant::now() + PATIENCE;
        'live: loop {
            assert!(
                Instant::now() < deadline,
                "the subscription never went live"
            );
            s.post_json("/events", &json!([probe])).await.expect(204);
            let attempt = Instant::now() + Duration::from_millis(200);
            while let Ok(frame) = tokio::time::timeout_at(attempt, next_json(&mut ws)).await {
                if frame["event"]["id"] == probe["id"] {
                    break 'live;
                }
            }
        }

        s.set_flow_run_state(&run, "RUNNING", json!({}), json!({}))
            .await
            .expect(201);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let frame = tokio::time::timeout_at(deadline, next_json(&mut ws))
                .await
                .expect("the Running event streams within 5 s");
            assert_eq!(frame["type"], "event", "{frame}");
            let event = &frame["event"];
            assert!(
                event["event"]
                    .as_str()
                    .unwrap()
                    .starts_with("prefect.flow-run."),
                "{frame}"
            );
            if event["event"] == "prefect.flow-run.Running" {
                assert_eq!(
                    event["resource"]["prefect.resource.id"],
                    flow_run_resource(&run).as_str()
                );
                assert_eq!(
                    event["payload"]["intended"],
                    json!({"from": "PENDING", "to": "RUNNING"})
                );
                break;
            }
        }
        s.stop().await;
    }
);

on_each_backend!(
    stop_closes_open_websockets_instead_of_waiting_for_them,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let mut ingest = s.ws_connect_authenticated("/events/in").await;
        let mut subscriber = s.ws_connect_authenticated("/events/out").await;
        send_json(&mut subscriber, &json!({"type": "filter", "filter": {}})).await;
        send_json(
            &mut ingest,
            &plain_event("test.before-stop", "test.resource"),
        )
        .await;
        assert!(sync(&mut ingest).await.is_empty());

        s.stop().await;
        for ws in [&mut ingest, &mut subscriber] {
            // The subscriber may first get the event sent above; then the close must follow.
            let closing = loop {
                match next_message(ws).await {
                    Some(Message::Text(_)) => continue,
                    other => break other,
                }
            };
            match closing {
                Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Away),
                other => panic!("expected a going-away close frame, got {other:?}"),
            }
        }
    }
);

on_each_backend!(
    log_lines_on_the_events_socket_are_stored_by_the_next_flush,
    async |db: TestDatabase| {
        let server = TestServer::start(db).await;
        let flow_id = server.create_flow("socket-logs").await;
        let run = server.create_flow_run(&flow_id, "r").await;
        let run_id = id(&run);
        let mut ws = server.ws_connect_authenticated("/events/in").await;
        for (i, message) in ["first over the socket", "second over the socket"]
            .iter()
            .enumerate()
        {
            let at = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(i as i64);
            let line = json!({"type": "log", "log": {"name": "prefect.flow_runs", "level": 20,
                "message": message, "timestamp": stamp(at), "flow_run_id": run_id, "task_run_id": null}});
            send_json(&mut ws, &line).await;
        }
        let errors = sync(&mut ws).await;
        assert!(errors.is_empty(), "log frames are accepted: {errors:?}");
        let logs = server
            .post_json(
                "/logs/filter",
                &json!({"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"}),
            )
            .await
            .expect(200);
        let messages: Vec<&str> = logs
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["message"].as_str().unwrap())
            .collect();
        assert_eq!(
            messages,
            ["first over the socket", "second over the socket"],
            "stored once the pong came back"
        );
        send_json(&mut ws, &json!({"type": "log", "log": {"level": "loud"}})).await;
        let errors = sync(&mut ws).await;
        assert_eq!(
            errors.len(),
            1,
            "a malformed log frame is reported: {errors:?}"
        );
        server.stop().await;
    }
);

on_each_backend!(
    a_log_line_sent_again_with_its_id_is_stored_once,
    async |db: TestDatabase| {
        // A client whose connection died before the pong resends what was not acknowledged,
        // over a new connection: lines carrying their own id are stored once.
        let server = TestServer::start(db).await;
        let flow_id = server.create_flow("resent-logs").await;
        let run_id = id(&server.create_flow_run(&flow_id, "r").await);
        let line_id = uuid::Uuid::now_v7();
        let line = json!({"type": "log", "log": {"id": line_id, "name": "prefect.flow_runs",
            "level": 20, "message": "sent twice", "timestamp": stamp(jiff::Timestamp::now()),
            "flow_run_id": run_id}});
        for _ in 0..2 {
            let mut ws = server.ws_connect_authenticated("/events/in").await;
            send_json(&mut ws, &line).await;
            assert!(sync(&mut ws).await.is_empty());
        }
        let logs = server
            .post_json(
                "/logs/filter",
                &json!({"logs": {"flow_run_id": {"any_": [run_id]}}}),
            )
            .await
            .expect(200);
        let logs = logs.as_array().unwrap();
        assert_eq!(logs.len(), 1, "stored once: {logs:?}");
        assert_eq!(logs[0]["id"], json!(line_id), "under the client's id");
        server.stop().await;
    }
);

on_each_backend!(
    stop_does_not_wait_for_a_socket_that_never_authenticates,
    async |db: TestDatabase| {
        let server = TestServer::start(db).await;
        let mut silent = server.ws_connect("/events/in").await;
        // `stop` fails the test if it takes longer than PATIENCE (5 s), half the 10 s a socket
        // has to authenticate: it must not wait for that timeout.
        server.stop().await;
        // The connection is gone: reading ends (or errors) instead of waiting for the auth timeout.
        let next = tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(&mut silent)).await;
        assert!(
            next.is_ok(),
            "the unauthenticated socket was closed by the shutdown"
        );
    }
);
