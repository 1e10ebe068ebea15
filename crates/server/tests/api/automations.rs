//! `/automations/…` as `prefect` speaks it (the bodies are the client's, from
//! `f_automations.py`): create with server-assigned trigger ids, read, list, count, replace,
//! enable and disable, delete, related-to and owned-by; bad triggers and actions refused with
//! the field named.

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
        s.post_json("/automations/", &automation("low-success", fine, json!([])))
            .await
            .expect(201);
        s.stop().await;
    }
);
