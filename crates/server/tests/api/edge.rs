//! The HTTP edge: text a database cannot hold is refused by field, one client's bad record
//! never costs another its events or its connection, and every filter route refuses fields it
//! does not apply.

use super::*;

on_each_backend!(
    a_poisoned_sender_never_costs_an_honest_one_its_events,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let mut poisoned = s.ws_connect_authenticated("/events/in").await;
        let mut honest = s.ws_connect_authenticated("/events/in").await;
        let bad = plain_event("test.poisoned\u{0}name", "test.poisoned");
        let sender = async {
            for i in 0..10 {
                let event = if i == 4 {
                    bad.clone()
                } else {
                    plain_event("test.poisoned", "test.poisoned")
                };
                send_json(&mut poisoned, &event).await;
            }
            sync(&mut poisoned).await
        };
        let flood = async {
            for _ in 0..2000 {
                send_json(&mut honest, &plain_event("test.honest", "test.honest")).await;
            }
            sync(&mut honest).await
        };
        let (poisoned_frames, honest_frames) = tokio::join!(sender, flood);
        assert!(honest_frames.is_empty(), "{honest_frames:?}");
        assert_eq!(poisoned_frames.len(), 1, "{poisoned_frames:?}");
        let detail = poisoned_frames[0]["detail"].as_str().unwrap();
        assert!(
            detail.contains(bad["id"].as_str().unwrap()) && detail.contains("NUL"),
            "the refusal names the event and what is wrong: {detail}"
        );
        let stored = |name: &str| s.events(json!({"event": {"name": [name]}}));
        assert_eq!(
            stored("test.honest").await.1,
            2000,
            "the honest sender lost nothing"
        );
        assert_eq!(
            stored("test.poisoned").await.1,
            9,
            "only the offender was refused"
        );
        // Both connections are still open and acknowledged.
        assert!(sync(&mut honest).await.is_empty());
        assert!(sync(&mut poisoned).await.is_empty());
        s.stop().await;
    }
);

on_each_backend!(
    text_a_database_cannot_hold_is_a_422_naming_the_field,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let nul = "bad\u{0}text";
        let line = json!({"name": "prefect.flow_runs", "level": 20, "message": nul,
            "timestamp": stamp(jiff::Timestamp::now()), "flow_run_id": run});
        let cases = [
            ("/flows/", json!({"name": nul}), &["name", "NUL"][..]),
            (
                "/flow_runs/",
                json!({"flow_id": flow, "name": nul}),
                &["name", "NUL"],
            ),
            ("/logs/", json!([line]), &["line 0", "message", "NUL"]),
            (
                "/events",
                json!([plain_event(nul, "test.resource")]),
                &["event", "NUL"],
            ),
            (
                "/task_runs/",
                json!({"task_key": nul, "flow_run_id": run}),
                &["task_key", "NUL"],
            ),
            (
                &format!("/flow_runs/{run}/set_state"),
                json!({"state": {"type": "RUNNING", "name": nul}}),
                &["state.name", "NUL"],
            ),
            (
                &format!("/flow_runs/{run}/input"),
                json!({"key": "k", "value": nul}),
                &["value", "NUL"],
            ),
            (
                &format!("/flow_runs/{run}/input"),
                json!({"key": "k", "value": ""}),
                &["value", "JSON"],
            ),
        ];
        let before = s.census().await;
        for (path, body, needles) in cases {
            s.post_json(path, &body).await.expect_error(422, needles);
        }
        assert_eq!(s.census().await, before, "nothing was half-written");
        let mut ws = s.ws_connect_authenticated("/events/in").await;
        let log_frame = json!({"type": "log", "log": line});
        send_json(&mut ws, &log_frame).await;
        let refused = sync(&mut ws).await;
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0]["detail"].as_str().unwrap().contains("message"),
            "{refused:?}"
        );
        s.stop().await;
    }
);

on_each_backend!(
    every_filter_route_refuses_fields_it_does_not_apply,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let input_filter = format!("/flow_runs/{run}/input/filter");
        let cases = [
            (
                "/flows/filter",
                json!({"flows": {"colour": {"any_": ["x"]}}}),
                "body.flows.colour",
            ),
            ("/flows/filter", json!({"sort": "COLOUR_ASC"}), "COLOUR_ASC"),
            ("/flows/count", json!({"limit": 5}), "body.limit"),
            (
                "/flow_runs/filter",
                json!({"task_runs": {"subflow_runs": {"exists_": true}}}),
                "body.task_runs.subflow_runs",
            ),
            (
                "/flow_runs/count",
                json!({"flow_runs": {"id": {"all_": []}}}),
                "body.flow_runs.id.all_",
            ),
            ("/flow_runs/paginate", json!({"offset": 3}), "body.offset"),
            (
                "/task_runs/filter",
                json!({"task_runs": {"name": {"like_": "x"}}}),
                "body.task_runs.name.like_",
            ),
            (
                "/task_runs/count",
                json!({"work_pools": {"id": {"any_": []}}}),
                "body.work_pools",
            ),
            (
                "/logs/filter",
                json!({"logs": {"message": {"like_": "x"}}}),
                "body.logs.message",
            ),
            (
                "/events/filter",
                json!({"filter": {"payload": {"x": 1}}}),
                "body.filter.payload",
            ),
            (
                &input_filter,
                json!({"prefix": "paused", "key_like": "x"}),
                "body.key_like",
            ),
        ];
        for (path, body, field) in cases {
            s.post_json(path, &body).await.expect_error(422, &[field]);
        }
        let sorted = s
            .post_json("/flows/filter", &json!({"sort": "NAME_DESC"}))
            .await
            .expect(200);
        assert_eq!(sorted[0]["name"], "etl");
        s.stop().await;
    }
);
