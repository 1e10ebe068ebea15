//! `/automations/…` as `prefect` speaks it (the bodies are the client's, from
//! `f_automations.py`): create with server-assigned trigger ids, read, list, count, replace,
//! enable and disable, delete, related-to and owned-by; bad triggers and actions, and a blank
//! name, refused with the field named.

use super::*;

fn completed(flow: &str) -> Value {
    json!({"type": "event", "match": {"prefect.resource.id": "prefect.flow-run.*"},
           "match_related": {"prefect.resource.role": "flow", "prefect.resource.name": flow},
           "after": [], "expect": ["prefect.flow-run.Completed"], "for_each": [],
           "posture": "Reactive", "threshold": 1, "within": 0.0})
}

fn automation(name: &str, trigger: Value, actions: Value) -> Value {
    json!({"name": name, "description": "", "enabled": true, "tags": [], "trigger": trigger,
           "actions": actions, "actions_on_trigger": [], "actions_on_resolve": [],
           "owner_resource": null})
}

async fn deployment(s: &TestServer) -> String {
    let flow = s.create_flow("deployed-flow").await;
    let dep = s
        .post_json("/deployments/", &json!({"name": "dep1", "flow_id": flow}))
        .await
        .expect(201);
    id(&dep)
}

async fn send(s: &TestServer, method: Method, path: &str, body: &Value) -> support::Reply {
    let body = ("application/json", body.to_string().into_bytes());
    s.request(method, path, Some(body)).await
}

on_each_backend!(
    automations_are_created_with_trigger_ids_listed_replaced_toggled_and_deleted,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let dep = deployment(&s).await;
        let compound = json!({"type": "compound", "require": "all", "within": 300.0,
                              "triggers": [completed("train-model"), completed("validation-flow")]});
        let actions = json!([{"type": "run-deployment", "source": "selected",
                              "deployment_id": dep, "parameters": {"n": 42},
                              "job_variables": null, "schedule_after": 0.0}]);
        let created = s
            .post_json(
                "/automations/",
                &automation("both-done", compound, actions.clone()),
            )
            .await
            .expect(201);
        let a = id(&created);
        let trigger = &created["trigger"];
        assert!(trigger["id"].is_string(), "{trigger}");
        assert!(trigger["triggers"][1]["id"].is_string());
        assert_eq!(
            trigger["triggers"][0]["match_related"]["prefect.resource.name"],
            "train-model"
        );
        assert_eq!(created["actions"], actions);
        assert_eq!(
            s.get(&format!("/automations/{a}")).await.expect(200),
            created
        );

        let seq = json!({"type": "sequence", "within": 600.0,
                         "triggers": [completed("train-model"), completed("validation-flow")]});
        let resume = s
            .post_json(
                "/automations/",
                &automation("auto-resume", seq, json!([{"type": "resume-flow-run"}])),
            )
            .await
            .expect(201);
        let listed = s
            .post_json(
                "/automations/filter",
                &json!({"automations": null, "sort": null, "limit": null, "offset": 0}),
            )
            .await
            .expect(200);
        let names: Vec<_> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["auto-resume", "both-done"]);
        let by_name = json!({"automations": {"name": {"any_": ["both-done"]}}});
        assert_eq!(
            s.post_json("/automations/count", &by_name)
                .await
                .expect(200),
            json!(1)
        );
        assert_eq!(
            s.post_json("/automations/count", &json!({}))
                .await
                .expect(200),
            json!(2)
        );

        let related = s
            .get(&format!("/automations/related-to/prefect.deployment.{dep}"))
            .await
            .expect(200);
        assert_eq!(related.as_array().unwrap().len(), 1);
        assert_eq!(related[0]["id"], a.as_str());

        send(
            &s,
            Method::PATCH,
            &format!("/automations/{a}"),
            &json!({"enabled": false}),
        )
        .await
        .expect(204);
        assert_eq!(
            s.get(&format!("/automations/{a}")).await.expect(200)["enabled"],
            false
        );
        let replacement = automation("renamed", completed("x"), json!([{"type": "do-nothing"}]));
        send(&s, Method::PUT, &format!("/automations/{a}"), &replacement)
            .await
            .expect(204);
        let replaced = s.get(&format!("/automations/{a}")).await.expect(200);
        assert_eq!(replaced["name"], "renamed");
        assert_ne!(replaced["trigger"]["id"], created["trigger"]["id"]);
        assert!(
            s.get(&format!("/automations/related-to/prefect.deployment.{dep}"))
                .await
                .expect(200)
                .as_array()
                .unwrap()
                .is_empty()
        );

        s.delete(&format!("/automations/{}", id(&resume)))
            .await
            .expect(204);
        s.delete(&format!("/automations/{}", id(&resume)))
            .await
            .expect_error(404, &["automation"]);
        s.stop().await;
    }
);

on_each_backend!(
    a_deployment_deletes_the_automations_it_owns,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let owner = "prefect.deployment.6f1b2a8e-0000-4000-8000-000000000001";
        let mut owned = automation("owned", completed("x"), json!([{"type": "do-nothing"}]));
        owned["owner_resource"] = json!(owner);
        s.post_json("/automations/", &owned).await.expect(201);
        s.post_json(
            "/automations/",
            &automation("free", completed("x"), json!([])),
        )
        .await
        .expect(201);
        s.delete(&format!("/automations/owned-by/{owner}"))
            .await
            .expect(202);
        s.delete(&format!("/automations/owned-by/{owner}"))
            .await
            .expect(202);
        let left = s
            .post_json("/automations/filter", &json!({}))
            .await
            .expect(200);
        assert_eq!(left.as_array().unwrap().len(), 1);
        assert_eq!(left[0]["name"], "free");
        s.stop().await;
    }
);

on_each_backend!(
    bad_triggers_and_actions_are_refused_with_the_field_named,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let mut proactive = completed("x");
        proactive["posture"] = json!("Proactive");
        proactive["within"] = json!(5.0);
        let bad = json!({"type": "sequence", "within": -1.0, "triggers": [proactive]});
        s.post_json("/automations/", &automation("a", bad, json!([])))
            .await
            .expect_error(
                422,
                &[
                    "trigger.within",
                    "trigger.triggers[0].within",
                    "at least 10 seconds",
                ],
            );
        let unknown = json!({"type": "telepathy"});
        s.post_json("/automations/", &automation("a", unknown, json!([])))
            .await
            .expect_error(422, &["trigger"]);
        let missing = json!([{"type": "do-nothing"},
                             {"type": "pause-work-pool", "source": "selected",
                              "work_pool_id": "6f1b2a8e-0000-4000-8000-000000000001"}]);
        s.post_json("/automations/", &automation("a", completed("x"), missing))
            .await
            .expect_error(422, &["actions[1].work_pool_id", "no work pool"]);
        let unselected = json!([{"type": "run-deployment", "source": "selected"}]);
        s.post_json(
            "/automations/",
            &automation("a", completed("x"), unselected),
        )
        .await
        .expect_error(422, &["actions[0].deployment_id", "inferred"]);
        let metric = json!({"type": "metric", "match": {"prefect.resource.id": "prefect.flow-run.*"},
            "match_related": {"prefect.resource.role": "flow", "prefect.resource.name": ["train-model"]},
            "posture": "Metric",
            "metric": {"name": "successes", "threshold": 70, "operator": "<", "range": 600.0, "firing_for": 300.0}});
        s.post_json("/automations/", &automation("a", metric.clone(), json!([])))
            .await
            .expect_error(422, &["trigger.metric.threshold", "0.7"]);
        let mut fine = metric;
        fine["metric"]["threshold"] = json!(0.7);
        let made = s
            .post_json(
                "/automations/",
                &automation("low-success", fine.clone(), json!([])),
            )
            .await
            .expect(201);
        // A name is required, on creation and on replacement; the stored one is kept.
        for blank in ["", "   "] {
            let nameless = automation(blank, fine.clone(), json!([]));
            s.post_json("/automations/", &nameless)
                .await
                .expect_error(422, &["name", "needs a name"]);
            send(
                &s,
                Method::PUT,
                &format!("/automations/{}", id(&made)),
                &nameless,
            )
            .await
            .expect_error(422, &["name", "needs a name"]);
        }
        let kept = s
            .get(&format!("/automations/{}", id(&made)))
            .await
            .expect(200);
        assert_eq!(kept["name"], "low-success");
        assert_eq!(s.count("/automations/count", json!({})).await, 1);
        s.stop().await;
    }
);

/// Completes a new run of flow `flow` (its `prefect.flow-run.Completed` event names the flow).
async fn complete(s: &TestServer, flow: &str) {
    let created = s.post_json("/flows/", &json!({"name": flow})).await;
    assert!(created.status.is_success(), "{:?}", created.body);
    let run = s
        .create_flow_run(&id(&created.body), &format!("{flow}-run"))
        .await;
    for state in ["RUNNING", "COMPLETED"] {
        s.set_flow_run_state(&id(&run), state, json!({}), json!({}))
            .await
            .expect(201);
    }
}

/// Waits until automation `a` has fired `n` times (its `prefect.automation.triggered` events).
async fn fired(s: &TestServer, a: &str, n: usize) {
    let filter = json!({"event": {"name": ["prefect.automation.triggered"]},
                        "resource": {"id": [format!("prefect.automation.{a}")]}});
    s.eventually(&format!("{n} firings of {a}"), || async {
        (s.events(filter.clone()).await.0.len() >= n).then_some(())
    })
    .await;
}

/// An automation firing on `sentinel` events: once it has fired, every event sent before the
/// sentinel has been evaluated (the engine takes events in order).
async fn sentinel(s: &TestServer) -> String {
    let body = automation(
        "sentinel",
        json!({"type": "event", "expect": ["test.sentinel"]}),
        json!([{"type": "do-nothing"}]),
    );
    id(&s.post_json("/automations/", &body).await.expect(201))
}

async fn send_sentinel(s: &TestServer) {
    let mut ws = s.ws_connect_authenticated("/events/in").await;
    support::send_json(
        &mut ws,
        &support::plain_event("test.sentinel", "test.thing"),
    )
    .await;
    support::sync(&mut ws).await;
}

async fn runs_of(s: &TestServer, dep: &str) -> Vec<Value> {
    let body = json!({"flow_runs": {"deployment_id": {"any_": [dep]}}});
    let runs = s.post_json("/flow_runs/filter", &body).await.expect(200);
    runs.as_array().unwrap().clone()
}

on_each_backend!(
    a_compound_fires_in_any_order_and_runs_a_deployment_with_its_parameters,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let dep = deployment(&s).await;
        let compound = json!({"type": "compound", "require": "all", "within": 300.0,
                              "triggers": [completed("train-model"), completed("validation-flow")]});
        let actions = json!([{"type": "run-deployment", "source": "selected",
                              "deployment_id": dep, "parameters": {"n": 42}}]);
        let a = id(&s
            .post_json("/automations/", &automation("both-done", compound, actions))
            .await
            .expect(201));
        complete(&s, "validation-flow").await;
        complete(&s, "train-model").await;
        fired(&s, &a, 1).await;
        let runs = s
            .eventually("the deployment's run", || async {
                let runs = runs_of(&s, &dep).await;
                (!runs.is_empty()).then_some(runs)
            })
            .await;
        assert_eq!(runs[0]["parameters"]["n"], 42);
        let executed = json!({"event": {"name": ["prefect.automation.action.executed"]},
                              "resource": {"id": [format!("prefect.automation.{a}")]}});
        s.eventually("the action's outcome", || async {
            (s.events(executed.clone()).await.0.len() == 1).then_some(())
        })
        .await;
        s.stop().await;
    }
);

on_each_backend!(
    a_sequence_fires_only_in_order_and_pauses_a_work_pool,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let pool = s
            .post_json("/work_pools/", &json!({"name": "pool1", "type": "process"}))
            .await
            .expect(201);
        let seq = json!({"type": "sequence", "within": 600.0,
                         "triggers": [completed("train-model"), completed("validation-flow")]});
        let actions =
            json!([{"type": "pause-work-pool", "source": "selected", "work_pool_id": id(&pool)}]);
        let a = id(&s
            .post_json("/automations/", &automation("in-order", seq, actions))
            .await
            .expect(201));
        let done = sentinel(&s).await;
        complete(&s, "validation-flow").await;
        complete(&s, "train-model").await;
        send_sentinel(&s).await;
        fired(&s, &done, 1).await;
        assert_eq!(
            s.get("/work_pools/pool1").await.expect(200)["is_paused"],
            false,
            "out of order: no firing"
        );
        complete(&s, "validation-flow").await;
        fired(&s, &a, 1).await;
        s.eventually("the pool paused", || async {
            (s.get("/work_pools/pool1").await.expect(200)["is_paused"] == true).then_some(())
        })
        .await;
        s.stop().await;
    }
);

on_each_backend!(
    a_paused_flow_run_is_resumed_by_an_automation,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let trigger = json!({"type": "event", "expect": ["prefect.flow-run.Paused"],
                             "match": {"prefect.resource.id": "prefect.flow-run.*"}});
        s.post_json(
            "/automations/",
            &automation("auto-resume", trigger, json!([{"type": "resume-flow-run"}])),
        )
        .await
        .expect(201);
        let flow = s.create_flow("waits").await;
        let run = id(&s.create_flow_run(&flow, "waiting").await);
        s.set_flow_run_state(&run, "RUNNING", json!({}), json!({}))
            .await
            .expect(201);
        s.set_flow_run_state(&run, "PAUSED", json!({"pause_timeout": support::stamp(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600))}), json!({}))
            .await
            .expect(201);
        s.eventually("the run resumed", || async {
            let state =
                s.get(&format!("/flow_runs/{run}")).await.expect(200)["state"]["type"].clone();
            (state == "RUNNING").then_some(())
        })
        .await;
        s.stop().await;
    }
);

on_each_backend!(
    a_restart_between_two_events_of_a_compound_still_fires,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let compound = json!({"type": "compound", "require": "all", "within": 300.0,
                              "triggers": [completed("train-model"), completed("validation-flow")]});
        let a = id(&s
            .post_json(
                "/automations/",
                &automation("both-done", compound, json!([{"type": "do-nothing"}])),
            )
            .await
            .expect(201));
        let done = sentinel(&s).await;
        complete(&s, "train-model").await;
        send_sentinel(&s).await;
        fired(&s, &done, 1).await;
        let s = s.restart().await;
        let why = s.get(&format!("/automations/{a}/state")).await.expect(200);
        let parts = &why["trigger_state"]["trigger"]["parts"];
        assert_eq!(
            (parts[0]["satisfied"].clone(), parts[1]["satisfied"].clone()),
            (json!(true), json!(false)),
            "the stored state says which part matched: {why}"
        );
        assert!(why["firings"].as_array().unwrap().is_empty());
        complete(&s, "validation-flow").await;
        fired(&s, &a, 1).await;
        let why = s
            .eventually("the firing's outcome", || async {
                let why = s.get(&format!("/automations/{a}/state")).await.expect(200);
                (why["firings"][0]["actions"][0]["ok"] == true).then_some(why)
            })
            .await;
        assert_eq!(why["firings"][0]["state"], "Triggered", "{why}");
        s.stop().await;
    }
);

on_each_backend!(
    automations_matching_every_event_neither_feed_on_their_own_nor_cycle_forever,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let anything = json!({"type": "event", "match": {}, "expect": []});
        for name in ["watcher-a", "watcher-b"] {
            s.post_json(
                "/automations/",
                &automation(name, anything.clone(), json!([{"type": "do-nothing"}])),
            )
            .await
            .expect(201);
        }
        let mut ws = s.ws_connect_authenticated("/events/in").await;
        support::send_json(&mut ws, &support::plain_event("test.start", "test.thing")).await;
        support::sync(&mut ws).await;
        // Each firing records three events one level deeper than what fired it; only the other
        // automation takes them, and nothing takes depth 3: 2 + 6 + 18 firings.
        let triggered = json!({"event": {"name": ["prefect.automation.triggered"]}});
        let count = || async { s.events(triggered.clone()).await.1 };
        s.eventually("the cascade's 26 firings", || async {
            (count().await >= 26).then_some(())
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(count().await, 26, "the cascade stopped at its depth limit");
        s.stop().await;
    }
);
