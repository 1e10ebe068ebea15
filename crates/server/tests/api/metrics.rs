//! `/metrics`: requests by route template and status, open websockets, paused runs, ingest and
//! service health, in Prometheus' text format; behind the API keys when there are some.

use super::*;

/// The value of the series `line_start` (its name and labels) in `text`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

on_each_backend!(
    metrics_count_requests_sockets_paused_runs_and_ingest,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("measured").await;
        s.get(&format!("/flows/{flow}")).await.expect(200);
        s.get(&format!("/flows/{flow}")).await.expect(200);
        s.get(&format!("/flows/{}", Uuid::new_v4()))
            .await
            .expect(404);
        let run = id(&s.create_flow_run(&flow, "r").await);
        s.set_flow_run_state(&run, "RUNNING", json!({}), json!({}))
            .await
            .expect(201);
        s.set_flow_run_state(&run, "PAUSED", json!({"pause_key": "1"}), json!({}))
            .await
            .expect(201);
        let mut ws = s.ws_connect_authenticated("/events/in").await;
        send_json(&mut ws, &plain_event("measured.happened", &run)).await;
        sync(&mut ws).await;

        let text = s.metrics().await;
        let route = r#"route="/api/flows/{id}",method="GET""#;
        for (series, expected) in [
            (
                format!(r#"flowgate_http_requests_total{{{route},status="200"}}"#),
                2.0,
            ),
            (
                format!(r#"flowgate_http_requests_total{{{route},status="404"}}"#),
                1.0,
            ),
            (
                format!(r#"flowgate_http_request_duration_seconds_count{{{route}}}"#),
                3.0,
            ),
            (
                format!(r#"flowgate_http_request_duration_seconds_bucket{{{route},le="+Inf"}}"#),
                3.0,
            ),
            (
                r#"flowgate_websocket_connections{route="/api/events/in"}"#.to_owned(),
                1.0,
            ),
            ("flowgate_paused_flow_runs".to_owned(), 1.0),
            (
                r#"flowgate_service_up{service="event-ingest"}"#.to_owned(),
                1.0,
            ),
            (
                r#"flowgate_service_up{service="scheduler"}"#.to_owned(),
                1.0,
            ),
            ("flowgate_ingest_queue_depth".to_owned(), 0.0),
        ] {
            assert_eq!(
                value(&text, &series),
                Some(expected),
                "{series} in:\n{text}"
            );
        }
        let stored = value(&text, r#"flowgate_ingested_total{kind="event"}"#).unwrap();
        assert!(stored >= 1.0, "{text}");
        assert!(text.contains("# TYPE flowgate_http_request_duration_seconds histogram"));
        drop(ws);
        s.stop().await;
    }
);

on_each_backend!(
    metrics_need_the_key_when_keys_are_required,
    async |db: TestDatabase| {
        let s = TestServer::start_with_keys(
            db,
            &["ops=metrics-key-0123456789"],
            "metrics-key-0123456789",
        )
        .await;
        assert!(s.metrics().await.contains("flowgate_service_up"));
        let url = s.url("").replace("/api", "/metrics");
        let refused = reqwest::get(url).await.unwrap();
        assert_eq!(refused.status().as_u16(), 401);
        s.stop().await;
    }
);

on_each_backend!(
    the_checkpoint_service_runs_where_the_database_needs_one,
    async |db: TestDatabase| {
        let sqlite = db.backend == "sqlite";
        let s = TestServer::start(db).await;
        s.create_flow("checkpointed").await;
        let up = r#"flowgate_service_up{service="checkpoint"}"#;
        if !sqlite {
            // PostgreSQL checkpoints on its own: no such service.
            let text = s.metrics().await;
            assert_eq!(value(&text, up), None, "{text}");
            s.stop().await;
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let text = loop {
            let text = s.metrics().await;
            if value(&text, "flowgate_checkpoint_seconds_count").is_some_and(|n| n >= 1.0) {
                break text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within 10 s:\n{text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(value(&text, up), Some(1.0), "{text}");
        let pages = value(&text, "flowgate_wal_pages").expect("the log's size is reported");
        assert!(
            pages < 1000.0,
            "a flow's creation left {pages} pages in the log"
        );
        s.stop().await;
    }
);
