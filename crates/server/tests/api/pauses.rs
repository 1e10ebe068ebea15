//! Pauses: a pause nobody resumes fails at its deadline (on a clock the test moves), a
//! resume's input is accepted only once it can be checked against the stored schema, and a
//! resume sent just before the paused flow stores that schema waits for it.

use super::*;

/// A flow run moved to Running, then Paused with `details`.
async fn paused_run(s: &TestServer, flow: &str, details: Value) -> String {
    let flow_id = s.create_flow(flow).await;
    let run_id = id(&s.create_flow_run(&flow_id, "r").await);
    s.set_flow_run_state(&run_id, "RUNNING", json!({}), json!({}))
        .await
        .expect(201);
    s.set_flow_run_state(&run_id, "PAUSED", details, json!({}))
        .await
        .expect(201);
    run_id
}

/// A flow run paused for an hour for input under the keys `paused-1-schema`, `-description`
/// and `-response`, none of them stored yet.
async fn paused_for_input(s: &TestServer, flow: &str) -> String {
    let keys = json!({"schema": "paused-1-schema", "description": "paused-1-description",
                      "response": "paused-1-response"});
    let timeout = stamp(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1));
    paused_run(
        s,
        flow,
        json!({"pause_key": "1", "pause_timeout": timeout, "run_input_keyset": keys}),
    )
    .await
}

/// The server clock's time `hours` from now, as Prefect writes times.
fn hours_ahead(s: &TestServer, hours: f64) -> String {
    s.clock.now().plus_seconds(hours * 3600.0).to_string()
}

on_each_backend!(
    a_paused_run_nobody_resumes_fails_at_its_timeout,
    async |db: TestDatabase| {
        let s = TestServer::start_on_manual_clock(db).await;
        let since = s.clock.now();
        let soon = hours_ahead(&s, 1.0);
        let later = hours_ahead(&s, 3.0);
        let expiring = paused_run(
            &s,
            "waits",
            json!({"pause_key": "1", "pause_timeout": soon}),
        )
        .await;
        let waiting = paused_run(
            &s,
            "waits-longer",
            json!({"pause_key": "1", "pause_timeout": later}),
        )
        .await;
        let mut failures = s.ws_connect_authenticated("/events/out").await;
        let subscription = json!({"type": "filter", "filter": {
            "event": {"name": ["prefect.flow-run.Failed"]},
            "occurred": {"since": since.to_string()},
        }});
        send_json(&mut failures, &subscription).await;

        // Two hours pass on the server's clock (none on the test's): the first pause is over.
        s.clock.advance(Duration::from_secs(2 * 3600));
        let failed = next_json(&mut failures).await;
        assert_eq!(
            failed["event"]["resource"]["prefect.resource.id"],
            flow_run_resource(&expiring).as_str(),
            "{failed}"
        );
        let run = s.get(&format!("/flow_runs/{expiring}")).await.expect(200);
        let message = run["state"]["message"].as_str().unwrap();
        assert!(
            message.contains("nobody resumed it") && message.contains("timed out"),
            "{message}"
        );
        let other = s.get(&format!("/flow_runs/{waiting}")).await.expect(200);
        assert_eq!(other["state_type"], "PAUSED", "its pause has an hour left");
        s.post_json(&format!("/flow_runs/{expiring}/resume"), &json!({}))
            .await
            .expect_error(409, &["not paused"]);
        s.stop().await;
    }
);

on_each_backend!(
    a_resume_is_accepted_only_once_its_input_can_be_checked,
    async |db: TestDatabase| {
        let server = TestServer::start(db).await;
        let s = &server;
        let run = paused_for_input(s, "asks").await;
        let resume = |input: Value| {
            let path = format!("/flow_runs/{run}/resume");
            let body = json!({"run_input": input});
            async move { s.post_json(&path, &body).await.expect(200) }
        };
        let unchecked = resume(json!({"size": "small"})).await;
        assert_eq!(unchecked["status"], "REJECT", "{unchecked}");
        assert!(
            unchecked["details"]["reason"]
                .as_str()
                .unwrap()
                .contains("has not stored its input schema (key \"paused-1-schema\") within 2s"),
            "{unchecked}"
        );
        let store = |value: &str| {
            let path = format!("/flow_runs/{run}/input");
            let body = json!({"key": "paused-1-schema", "value": value});
            async move { s.post_json(&path, &body).await.expect(201) }
        };
        // A value must be JSON now; one stored before that rule is planted.
        let path = format!("/flow_runs/{run}/input");
        s.post_json(
            &path,
            &json!({"key": "paused-1-schema", "value": "{not json"}),
        )
        .await
        .expect_error(422, &["value", "JSON"]);
        store("{}").await;
        s.raw("UPDATE flow_run_inputs SET value = '{not json' WHERE key = 'paused-1-schema'")
            .await;
        let broken = resume(json!({"size": "small"})).await;
        assert_eq!(broken["status"], "REJECT");
        assert!(
            broken["details"]["reason"]
                .as_str()
                .unwrap()
                .contains("not JSON"),
            "{broken}"
        );
        s.delete(&format!("/flow_runs/{run}/input/paused-1-schema"))
            .await
            .expect(204);
        store(r#"{"type": "object", "required": ["size"], "properties": {"size": {"enum": ["small", "large"]}}}"#).await;
        let wrong = resume(json!({"size": "huge"})).await;
        assert_eq!(wrong["status"], "REJECT");
        let accepted = s
            .post_json(
                &format!("/flow_runs/{run}/resume"),
                &json!({"run_input": {"size": "large"}}),
            )
            .await
            .expect(201);
        assert_eq!(accepted["status"], "ACCEPT");
        let stored = s
            .get(&format!("/flow_runs/{run}/input/paused-1-response"))
            .await
            .expect(200);
        assert_eq!(stored, json!({"size": "large"}));
        server.stop().await;
    }
);

on_each_backend!(
    a_resume_sent_just_before_the_schema_is_stored_waits_for_it,
    async |db: TestDatabase| {
        let server = TestServer::start(db).await;
        let s = &server;
        let run = paused_for_input(s, "asks-quickly").await;
        let resume_path = format!("/flow_runs/{run}/resume");
        let resume_body = json!({"run_input": {"size": "large"}});
        let resume = s.post_json(&resume_path, &resume_body);
        let input_path = format!("/flow_runs/{run}/input");
        let schema = json!({"key": "paused-1-schema", "value": r#"{"type": "object", "required": ["size"]}"#});
        let store_late = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.post_json(&input_path, &schema).await.expect(201);
        };
        let (resumed, ()) = tokio::join!(resume, store_late);
        let resumed = resumed.expect(201);
        assert_eq!(resumed["status"], "ACCEPT", "{resumed}");
        let run = s.get(&format!("/flow_runs/{run}")).await.expect(200);
        assert_ne!(run["state_type"], "PAUSED", "{run}");
        server.stop().await;
    }
);
