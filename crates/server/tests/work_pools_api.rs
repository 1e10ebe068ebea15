//! Work pools, queues, workers, deployments and the hand-out over HTTP and the worker channel,
//! as `prefect` and `prefect worker` speak them; bad input answered with the field named.

mod support;

use std::time::Duration;

use flowgate_testkit::{TestDatabase, on_each_backend};
use reqwest::Method;
use serde_json::{Value, json};

use support::{TestServer, id, next_json, send_json};

async fn patch(s: &TestServer, path: &str, body: Value) -> support::Reply {
    let body = ("application/json", body.to_string().into_bytes());
    s.request(Method::PATCH, path, Some(body)).await
}

/// A pool `pool1` (limit 5) with queues `high` (priority 1, limit 2) and `low` (priority 5).
async fn pool_with_queues(s: &TestServer) -> Value {
    let pool = s
        .post_json(
            "/work_pools/",
            &json!({"name": "pool1", "type": "process", "concurrency_limit": 5}),
        )
        .await
        .expect(201);
    for (name, priority, limit) in [("high", 1, json!(2)), ("low", 5, Value::Null)] {
        let body = json!({"name": name, "description": null, "is_paused": false,
                          "concurrency_limit": limit, "priority": priority, "filter": null});
        s.post_json("/work_pools/pool1/queues", &body)
            .await
            .expect(201);
    }
    pool
}

/// The body deploying `flow` to `pool1`'s queue `high`, with a parameter schema.
fn deployment_body(flow: &str) -> Value {
    json!({
        "name": "dep1", "flow_id": flow, "paused": false, "schedules": [],
        "enforce_parameter_schema": true,
        "parameter_openapi_schema": {"title": "Parameters", "type": "object",
            "properties": {"n": {"default": 1, "position": 0, "title": "n", "type": "integer"}}},
        "parameters": {"n": 7}, "tags": [], "labels": {},
        "pull_steps": [{"prefect.deployments.steps.set_working_directory": {"directory": "."}}],
        "work_queue_name": "high", "work_pool_name": "pool1", "entrypoint": "flow.py:deployed_flow",
        "job_variables": {}, "version": "1"
    })
}

/// A deployment of a new flow `deployed-flow` (see [`deployment_body`]).
async fn deployment(s: &TestServer) -> Value {
    let flow = s.create_flow("deployed-flow").await;
    s.post_json("/deployments/", &deployment_body(&flow))
        .await
        .expect(201)
}

fn scheduled_now() -> Value {
    json!({"type": "SCHEDULED", "name": "Scheduled", "message": null,
           "state_details": {"scheduled_time": support::stamp(jiff::Timestamp::now())}})
}

on_each_backend!(
    pools_queues_and_workers_speak_prefects_json,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let pool = pool_with_queues(&s).await;
        assert_eq!(
            (pool["status"].clone(), pool["active_slots"].clone()),
            (json!("NOT_READY"), json!(0))
        );
        s.post_json("/work_pools/", &json!({"name": "pool1"}))
            .await
            .expect_error(409, &["pool1"]);
        s.post_json(
            "/work_pools/",
            &json!({"name": "p2", "concurrency_limit": -1}),
        )
        .await
        .expect_error(422, &["concurrency_limit"]);
        s.get("/work_pools/nope")
            .await
            .expect_error(404, &["work pool", "nope"]);
        s.post_json(
            "/work_pools/pool1/queues",
            &json!({"name": "bad", "priority": 0}),
        )
        .await
        .expect_error(422, &["priority"]);

        let queues = s
            .post_json(
                "/work_pools/pool1/queues/filter",
                &json!({"work_queues": null, "limit": null, "offset": null}),
            )
            .await
            .expect(200);
        let order: Vec<_> = queues
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (q["name"].clone(), q["priority"].clone()))
            .collect();
        assert_eq!(
            order,
            [
                (json!("high"), json!(1)),
                (json!("default"), json!(2)),
                (json!("low"), json!(5))
            ]
        );
        let default = &queues[1];
        assert_eq!(default["description"], "The work pool's default queue.");
        assert_eq!(
            default["active_slots"],
            Value::Null,
            "no limit, no slot count (as Prefect)"
        );

        patch(
            &s,
            "/work_pools/pool1/queues/low",
            json!({"priority": 1, "concurrency_limit": 3}),
        )
        .await
        .expect(204);
        let low = s.get("/work_pools/pool1/queues/low").await.expect(200);
        assert_eq!(
            (low["priority"].clone(), low["concurrency_limit"].clone()),
            (json!(1), json!(3))
        );
        assert_eq!(
            s.get(&format!("/work_queues/{}", id(&low)))
                .await
                .expect(200)["name"],
            "low"
        );
        patch(
            &s,
            "/work_pools/pool1/queues/low",
            json!({"concurrency_limit": null}),
        )
        .await
        .expect(204);
        assert_eq!(
            s.get("/work_pools/pool1/queues/low").await.expect(200)["concurrency_limit"],
            Value::Null
        );

        s.post_json(
            "/work_pools/pool1/workers/heartbeat",
            &json!({"name": "w1", "heartbeat_interval_seconds": 30}),
        )
        .await
        .expect(204);
        let online = s.post_json("/work_pools/pool1/workers/filter", &json!({"workers": {"status": {"any_": ["ONLINE"]}}, "offset": null, "limit": null})).await.expect(200);
        assert_eq!(online[0]["name"], "w1");
        assert_eq!(
            s.get("/work_pools/pool1").await.expect(200)["status"],
            "READY"
        );
        patch(&s, "/work_pools/pool1", json!({"is_paused": true}))
            .await
            .expect(204);
        assert_eq!(
            s.get("/work_pools/pool1").await.expect(200)["status"],
            "PAUSED"
        );
        assert_eq!(
            s.post_json("/work_pools/count", &json!({}))
                .await
                .expect(200),
            json!(1)
        );
        s.delete("/work_pools/pool1/workers/w1").await.expect(204);
        s.delete("/work_pools/pool1").await.expect(204);
        s.delete("/work_pools/pool1")
            .await
            .expect_error(404, &["pool1"]);
        s.stop().await;
    }
);

on_each_backend!(
    deployment_runs_are_checked_queued_and_handed_out_once,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        pool_with_queues(&s).await;
        let dep = deployment(&s).await;
        assert_eq!(
            (dep["work_queue_name"].clone(), dep["status"].clone()),
            (json!("high"), json!("NOT_READY"))
        );
        let again = s.post_json("/deployments/", &json!({"name": "dep1", "flow_id": dep["flow_id"], "work_pool_name": "pool1", "work_queue_name": "high"})).await.expect(200);
        assert_eq!(again["id"], dep["id"], "upserted by flow and name");
        let flow = dep["flow_id"].as_str().unwrap();
        s.post_json("/deployments/", &deployment_body(flow))
            .await
            .expect(200);
        let by_name = s
            .get("/deployments/name/deployed-flow/dep1")
            .await
            .expect(200);
        assert_eq!(by_name["parameters"], json!({"n": 7}));
        let dep_id = id(&by_name);

        let run_path = format!("/deployments/{dep_id}/create_flow_run");
        s.post_json(
            &run_path,
            &json!({"state": scheduled_now(), "parameters": {"n": "seven"}}),
        )
        .await
        .expect_error(422, &["'n'"]);
        let run = s
            .post_json(
                &run_path,
                &json!({"state": scheduled_now(), "parameters": {"n": 0}}),
            )
            .await
            .expect(201);
        assert_eq!(
            (run["state_type"].clone(), run["work_queue_name"].clone()),
            (json!("SCHEDULED"), json!("high"))
        );
        assert_eq!(run["labels"]["prefect.deployment.id"], json!(dep_id));

        let poll =
            json!({"work_queue_names": [], "scheduled_before": "2999-01-01 00:00:00.000000+00:00"});
        let looked = s
            .post_json("/work_pools/pool1/get_scheduled_flow_runs", &poll)
            .await
            .expect(200);
        assert_eq!(
            looked[0]["flow_run"]["id"], run["id"],
            "a look sees the run"
        );
        let mut poll = poll;
        poll["worker_name"] = json!("w1");
        let handed = s
            .post_json("/work_pools/pool1/get_scheduled_flow_runs", &poll)
            .await
            .expect(200);
        assert_eq!(handed.as_array().unwrap().len(), 1);
        assert_eq!(handed[0]["flow_run"]["id"], run["id"]);
        assert_eq!(handed[0]["work_queue_id"], by_name["work_queue_id"]);
        assert_eq!(handed[0]["flow_run"]["work_pool_name"], "pool1");
        let again = s
            .post_json("/work_pools/pool1/get_scheduled_flow_runs", &poll)
            .await
            .expect(200);
        assert_eq!(again, json!([]), "a handed-out run is not handed out twice");
        assert_eq!(
            s.get(&format!("/deployments/{dep_id}")).await.expect(200)["status"],
            "READY"
        );

        patch(
            &s,
            &format!("/flow_runs/{}", id(&run)),
            json!({"infrastructure_pid": "4242"}),
        )
        .await
        .expect(204);
        patch(
            &s,
            &format!("/flow_runs/{}/labels", id(&run)),
            json!({"prefect.worker.name": "w"}),
        )
        .await
        .expect(204);
        let read = s.get(&format!("/flow_runs/{}", id(&run))).await.expect(200);
        assert_eq!(
            (
                read["infrastructure_pid"].clone(),
                read["labels"]["prefect.worker.name"].clone()
            ),
            (json!("4242"), json!("w"))
        );

        s.post_json("/work_pools/nope/get_scheduled_flow_runs", &json!({}))
            .await
            .expect_error(404, &["nope"]);
        s.post_json(
            "/deployments/",
            &json!({"name": "x", "flow_id": dep["flow_id"], "work_pool_name": "nope"}),
        )
        .await
        .expect_error(404, &["nope"]);
        let unknown_flow = "514037c0-0a1d-2d1f-b476-621da5b5b5f6";
        s.post_json(
            "/deployments/",
            &json!({"name": "x", "flow_id": unknown_flow}),
        )
        .await
        .expect_error(404, &["flow", unknown_flow]);
        s.stop().await;
    }
);

on_each_backend!(
    bad_schedules_are_refused_naming_the_field,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("f").await;
        for (schedule, needle) in [
            (json!({"cron": "every day"}), "schedules[0].schedule.cron"),
            (
                json!({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}),
                "timezone",
            ),
            (json!({"interval": -5}), "interval"),
            (json!({"rrule": "FREQ=DAILY"}), "rrule"),
            (json!({}), "exactly one"),
        ] {
            let body = json!({"name": "d", "flow_id": flow, "schedules": [{"schedule": schedule, "active": true}]});
            s.post_json("/deployments/", &body)
                .await
                .expect_error(422, &[needle]);
        }
        s.stop().await;
    }
);

on_each_backend!(
    the_scheduler_creates_runs_and_a_waiting_worker_gets_new_work,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        pool_with_queues(&s).await;
        let flow = s.create_flow("every-minute").await;
        let body = json!({"name": "cron", "flow_id": flow, "work_pool_name": "pool1",
                          "schedules": [{"schedule": {"cron": "* * * * *", "timezone": "Europe/Berlin"}, "active": true}]});
        let dep = s.post_json("/deployments/", &body).await.expect(201);
        assert_eq!(dep["schedules"][0]["schedule"]["cron"], "* * * * *");
        let filter = json!({"flows": {"name": {"any_": ["every-minute"]}}});
        let mut created = 0;
        for _ in 0..100 {
            created = s.count("/flow_runs/count", filter.clone()).await;
            if created > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            created >= 60,
            "the scheduler fills the next hour: {created}"
        );

        // A worker long-polling the empty high queue gets a run created after it started waiting.
        let waiting = {
            let url = s.url("/work_pools/pool1/get_scheduled_flow_runs");
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .json(&json!({"work_queue_names": ["high"], "wait_seconds": 20}))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            })
        };
        let other = deployment(&s).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let run = s
            .post_json(
                &format!("/deployments/{}/create_flow_run", id(&other)),
                &json!({"state": scheduled_now()}),
            )
            .await
            .expect(201);
        let got = waiting.await.unwrap();
        assert_eq!(got[0]["flow_run"]["id"], run["id"]);
        s.stop().await;
    }
);

on_each_backend!(
    a_worker_says_hello_on_its_channel_and_the_pool_is_made,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let mut ws = s
            .ws_connect_authenticated("/work_pools/made-by-worker/workers/connect")
            .await;
        let template = json!({"job_configuration": {"command": "{{ command }}"}, "variables": {"properties": {}}});
        send_json(&mut ws, &json!({"type": "worker.hello.v1", "id": uuid::Uuid::now_v7(), "sent_at": support::stamp(jiff::Timestamp::now()),
            "payload": {"consumer_id": "01a21afb-4cfa-7972-b0a4-764f1af9eb0e", "worker_name": "ProcessWorker 1",
                        "worker_type": "process", "heartbeat_interval_seconds": 30,
                        "supported_channel_versions": ["work_pool_worker_channel.v1"],
                        "requested_capabilities": ["worker_heartbeat.v1", "work_pool_snapshot.v1", "something.v9"],
                        "work_queue_names": [], "create_pool_if_not_found": true,
                        "default_base_job_template": template}})).await;
        let ready = next_json(&mut ws).await;
        assert_eq!(ready["type"], "worker.ready.v1", "{ready}");
        let payload = &ready["payload"];
        assert_eq!(
            payload["consumer_id"],
            "01a21afb-4cfa-7972-b0a4-764f1af9eb0e"
        );
        assert_eq!(payload["rejected_capabilities"], json!(["something.v9"]));
        assert_eq!(payload["resolved_work_queues"][0]["name"], "default");
        assert_eq!(
            payload["initial_snapshot"]["work_pool"]["base_job_template"],
            template
        );
        let pool = s.get("/work_pools/made-by-worker").await.expect(200);
        assert_eq!(
            (pool["type"].clone(), pool["status"].clone()),
            (json!("process"), json!("READY"))
        );
        s.stop().await;
    }
);

on_each_backend!(
    a_queue_read_by_name_without_a_pool_is_the_default_pools_as_in_prefect,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        for pool in ["etl", "ml"] {
            s.post_json("/work_pools/", &json!({"name": pool, "type": "process"}))
                .await
                .expect(201);
        }
        // Without Prefect's default pool, the first pool's (by name) queue answers.
        let first = s.get("/work_queues/name/default").await.expect(200);
        assert_eq!(first["work_pool_name"], "etl", "{first}");
        let none = s.get("/work_queues/name/nowhere").await.expect(404);
        assert!(
            none["detail"]
                .as_str()
                .unwrap()
                .contains("\"nowhere\" not found"),
            "{none}"
        );

        // Once `default-agent-pool` exists, only its queues are read by name alone.
        s.post_json(
            "/work_pools/",
            &json!({"name": "default-agent-pool", "type": "process"}),
        )
        .await
        .expect(201);
        let queue = s.get("/work_queues/name/default").await.expect(200);
        assert_eq!(queue["work_pool_name"], "default-agent-pool", "{queue}");
        let body = json!({"name": "gpu", "priority": 2});
        s.post_json("/work_pools/ml/queues", &body)
            .await
            .expect(201);
        let missing = s.get("/work_queues/name/gpu").await.expect(404);
        let detail = missing["detail"].as_str().unwrap();
        assert!(
            detail.contains("\"gpu\" not found in the default work pool \"default-agent-pool\""),
            "{detail}"
        );
        s.stop().await;
    }
);
