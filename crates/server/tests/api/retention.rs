//! The `retention` service on a manual clock: when the server's time passes, what aged out is
//! removed (here events older than the default 7 days) and what is recent stays.

use super::*;

on_each_backend!(
    the_retention_service_prunes_what_aged_out_as_the_clock_moves,
    async |db: TestDatabase| {
        let s = TestServer::start_on_manual_clock(db).await;
        let now = jiff::Timestamp::now();
        let run = Uuid::new_v4().to_string();
        let aged = json!({
            "id": Uuid::now_v7(),
            "occurred": stamp(now - jiff::SignedDuration::from_hours(8 * 24)),
            "event": "measured.long-ago",
            "resource": {"prefect.resource.id": format!("prefect.flow-run.{run}")},
        });
        let mut ws = s.ws_connect_authenticated("/events/in").await;
        send_json(&mut ws, &aged).await;
        send_json(&mut ws, &plain_event("measured.just-now", &run)).await;
        sync(&mut ws).await;
        let names = |events: Vec<Value>| -> Vec<String> {
            events
                .iter()
                .map(|e| e["event"].as_str().unwrap().to_owned())
                .collect()
        };
        let since_2000 = json!({"occurred": {"since": "2000-01-01T00:00:00Z"}});
        assert_eq!(s.events(since_2000.clone()).await.1, 2);

        // A minute passes on the server's clock (perhaps a few, if the service had not begun
        // its first wait yet): the aged event goes, the recent one stays.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            s.clock.advance(Duration::from_secs(61));
            let (events, _) = s.events(since_2000.clone()).await;
            if events.len() == 1 {
                assert_eq!(names(events), ["measured.just-now"]);
                break;
            }
            assert!(Instant::now() < deadline, "the aged event was not pruned");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let metrics = s.metrics().await;
        assert!(
            metrics.contains("flowgate_retention_pruned_total{kind=\"events\"} 1"),
            "{metrics}"
        );
        // Each batch's duration is measured (passes after the one that pruned found nothing).
        let batches = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix("flowgate_retention_batch_seconds_count{kind=\"events\"} ")
            })
            .and_then(|n| n.parse::<u64>().ok());
        assert!(batches.is_some_and(|n| n >= 1), "{metrics}");
        s.stop().await;
    }
);
