//! `POST /flow_runs/history`: a window's runs counted by state per interval in one query, the
//! same numbers the count route gives, and a window it cannot draw refused with the reason.

use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};

use crate::support::{TestServer, id};

/// The runs of each state type in a history's answer, summed over its intervals.
fn totals(history: &Value) -> std::collections::BTreeMap<String, i64> {
    let mut totals = std::collections::BTreeMap::new();
    for interval in history.as_array().expect("a list of intervals") {
        for state in interval["states"].as_array().expect("states") {
            *totals
                .entry(state["state_type"].as_str().unwrap().to_owned())
                .or_default() += state["count_runs"].as_i64().unwrap();
        }
    }
    totals
}

on_each_backend!(
    history_counts_a_windows_runs_by_state_like_the_count_route,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let etl = s.create_flow("etl").await;
        let other = s.create_flow("other").await;
        for (flow, name, last) in [
            (&etl, "a", "COMPLETED"),
            (&etl, "b", "COMPLETED"),
            (&etl, "c", "FAILED"),
            (&etl, "d", "RUNNING"),
            (&other, "e", "COMPLETED"),
        ] {
            let run = id(&s.create_flow_run(flow, name).await);
            s.set_flow_run_state(&run, "RUNNING", json!({}), json!({}))
                .await
                .expect(201);
            if last != "RUNNING" {
                s.set_flow_run_state(&run, last, json!({}), json!({}))
                    .await
                    .expect(201);
            }
        }
        let now = jiff::Timestamp::now();
        let window = |flows: Value| {
            json!({
                "history_start": (now - jiff::SignedDuration::from_hours(1)).to_string(),
                "history_end": (now + jiff::SignedDuration::from_hours(1)).to_string(),
                "history_interval_seconds": 600,
                "flows": flows,
            })
        };
        let all = s
            .post_json("/flow_runs/history", &window(Value::Null))
            .await
            .expect(200);
        assert_eq!(
            all.as_array().unwrap().len(),
            12,
            "every interval is listed"
        );
        let by_state = totals(&all);
        assert_eq!(
            by_state,
            [("COMPLETED", 3), ("FAILED", 1), ("RUNNING", 1)]
                .map(|(k, v)| (k.to_owned(), v))
                .into()
        );
        for (state, n) in &by_state {
            let filter = json!({"flow_runs": {"state": {"type": {"any_": [state]}}}});
            assert_eq!(s.count("/flow_runs/count", filter).await, *n, "{state}");
        }
        let first = &all[0];
        assert_eq!(first["states"], json!([]));
        let etl_only = s
            .post_json(
                "/flow_runs/history",
                &window(json!({"name": {"any_": ["etl"]}})),
            )
            .await
            .expect(200);
        assert_eq!(totals(&etl_only).values().sum::<i64>(), 4);

        let mut bad = window(Value::Null);
        bad["history_interval_seconds"] = json!(0);
        s.post_json("/flow_runs/history", &bad)
            .await
            .expect_error(422, &["history_interval_seconds must be above 0"]);
        bad["history_interval_seconds"] = json!(1);
        s.post_json("/flow_runs/history", &bad)
            .await
            .expect_error(422, &["7200 intervals", "longer interval"]);
        s.stop().await;
    }
);
