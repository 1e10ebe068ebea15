//! End-to-end tests of the HTTP API and the event websockets: each test starts a real server on
//! a fresh database, once on SQLite and once on PostgreSQL (see `flowgate-testkit`), and talks to
//! it as the `prefect` client does, over HTTP and websockets.

#[path = "../support/mod.rs"]
mod support;

mod artifacts;
mod auth;
mod automations;
mod blocks;
mod edge;
mod events;
mod graph;
mod history;
mod metrics;
mod pauses;
mod retention;
mod slot_channel;
mod sockets;
mod variables;

use std::time::Duration;

use flowgate_testkit::{TestDatabase, on_each_backend};
use futures_util::SinkExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

use support::{
    PATIENCE, Stage, TaskRun, TestServer, id, next_json, next_message, plain_event, send_json,
    stamp, sync, task_event,
};

/// The `prefect.resource.id` of a flow run.
fn flow_run_resource(run_id: &str) -> String {
    format!("prefect.flow-run.{run_id}")
}

/// The `event` names of a list of events.
fn names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

on_each_backend!(
    start_up_probes_answer_like_prefect,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        assert_eq!(s.get("/health").await.expect(200), json!(true));
        assert_eq!(s.get("/admin/version").await.expect(200), json!("3.9.1"));
        s.get("/csrf-token?client=x")
            .await
            .expect_error(422, &["CSRF protection is disabled."]);
        assert_eq!(
            s.get("/admin/storage").await.expect(200),
            json!({"default_result_storage_block_id": null})
        );
        s.stop().await;
    }
);

on_each_backend!(
    flows_are_created_once_read_filtered_and_deleted,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let created = s
            .post_json("/flows/", &json!({"name": "etl", "tags": ["nightly"]}))
            .await
            .expect(201);
        let flow = id(&created);
        assert_eq!(created["name"], "etl");
        assert_eq!(created["tags"], json!(["nightly"]));
        let again = s
            .post_json("/flows/", &json!({"name": "etl"}))
            .await
            .expect(200);
        assert_eq!(again["id"], flow.as_str(), "the same name is the same flow");
        s.create_flow("other").await;

        assert_eq!(
            s.get(&format!("/flows/{flow}")).await.expect(200)["name"],
            "etl"
        );
        assert_eq!(
            s.get("/flows/name/etl").await.expect(200)["id"],
            flow.as_str()
        );
        let by_name = json!({"flows": {"name": {"any_": ["etl"]}}});
        let found = s.post_json("/flows/filter", &by_name).await.expect(200);
        assert_eq!(found.as_array().unwrap().len(), 1);
        assert_eq!(found[0]["id"], flow.as_str());
        assert_eq!(s.count("/flows/count", by_name.clone()).await, 1);
        assert_eq!(s.count("/flows/count", json!({})).await, 2);

        // Deleting a flow deletes its runs.
        let run = s.create_flow_run(&flow, "doomed").await;
        s.delete(&format!("/flows/{flow}")).await.expect(204);
        s.get(&format!("/flows/{flow}"))
            .await
            .expect_error(404, &[&flow]);
        s.get("/flows/name/etl").await.expect_error(404, &["etl"]);
        s.delete(&format!("/flows/{flow}"))
            .await
            .expect_error(404, &[&flow]);
        s.get(&format!("/flow_runs/{}", id(&run)))
            .await
            .expect_error(404, &[]);
        assert_eq!(s.count("/flows/count", json!({})).await, 1);
        assert_eq!(s.count("/flow_runs/count", json!({})).await, 0);
        s.stop().await;
    }
);

on_each_backend!(
    flow_runs_are_filtered_counted_and_paginated,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let first = s.create_flow_run(&flow, "first").await;
        assert_eq!(first["state_type"], "PENDING");
        assert_eq!(first["flow_id"], flow.as_str());
        let first_id = id(&first);
        let read = s.get(&format!("/flow_runs/{first_id}")).await.expect(200);
        assert_eq!(
            (read["id"].as_str(), read["name"].as_str()),
            (Some(first_id.as_str()), Some("first"))
        );

        let second_id = id(&s.create_flow_run(&flow, "second").await);
        s.set_flow_run_state(&second_id, "RUNNING", json!({}), json!({}))
            .await
            .expect(201);

        let running = json!({"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}});
        let found = s.post_json("/flow_runs/filter", &running).await.expect(200);
        let found: Vec<_> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(found, [second_id]);
        assert_eq!(s.count("/flow_runs/count", running).await, 1);
        assert_eq!(s.count("/flow_runs/count", json!({})).await, 2);

        let page = s
            .post_json(
                "/flow_runs/paginate",
                &json!({"limit": 1, "page": 2, "sort": "NAME_ASC"}),
            )
            .await
            .expect(200);
        assert_eq!(
            (
                &page["count"],
                &page["limit"],
                &page["pages"],
                &page["page"]
            ),
            (&json!(2), &json!(1), &json!(2), &json!(2))
        );
        let results = page["results"].as_array().unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(
            results[0]["name"], "second",
            "page 2 of the runs sorted by name"
        );
        s.stop().await;
    }
);

on_each_backend!(
    flow_run_states_are_orchestrated_recorded_and_emitted,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let propose = |ty: &'static str, details: Value, options: Value| {
            s.set_flow_run_state(&run, ty, details, options)
        };

        let accepted = propose("RUNNING", json!({}), json!({})).await.expect(201);
        assert_eq!(accepted["status"], "ACCEPT");
        assert_eq!(accepted["state"]["type"], "RUNNING");
        assert_eq!(
            propose("COMPLETED", json!({}), json!({})).await.expect(201)["status"],
            "ACCEPT"
        );

        let aborted = propose("RUNNING", json!({}), json!({})).await.expect(200);
        assert_eq!(aborted["status"], "ABORT");
        let reason = aborted["details"]["reason"].as_str().unwrap();
        assert!(reason.contains("terminal"), "{reason}");
        assert_eq!(
            aborted["state"]["type"], "COMPLETED",
            "an aborted proposal changes nothing"
        );

        let forced = propose("RUNNING", json!({}), json!({"force": true}))
            .await
            .expect(201);
        assert_eq!(forced["status"], "ACCEPT");

        let transition = json!({"transition_id": Uuid::new_v4()});
        let done = propose("COMPLETED", transition.clone(), json!({}))
            .await
            .expect(201);
        assert_eq!(done["status"], "ACCEPT");
        let repeated = propose("COMPLETED", transition, json!({}))
            .await
            .expect(200);
        assert_eq!(repeated["status"], "REJECT");
        assert!(
            repeated["details"]["reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );

        let history = s
            .get(&format!("/flow_run_states/?flow_run_id={run}"))
            .await
            .expect(200);
        let types: Vec<_> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|st| st["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["PENDING", "RUNNING", "COMPLETED", "RUNNING", "COMPLETED"]
        );

        let read = s.get(&format!("/flow_runs/{run}")).await.expect(200);
        assert_eq!(read["state_type"], "COMPLETED");
        assert_eq!(read["run_count"], 2);
        assert!(
            read["start_time"].is_string() && read["end_time"].is_string(),
            "{read}"
        );

        let (events, total) = s
            .events(json!({"resource": {"id": [flow_run_resource(&run)]}}))
            .await;
        assert_eq!(
            names(&events),
            [
                "prefect.flow-run.Pending",
                "prefect.flow-run.Running",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Running",
                "prefect.flow-run.Completed",
            ]
        );
        assert_eq!(total, 5);
        let flow_resource = format!("prefect.flow.{flow}");
        for e in &events {
            let related = e["related"].as_array().unwrap();
            assert!(
                related.iter().any(|r| r["prefect.resource.role"] == "flow"
                    && r["prefect.resource.id"] == flow_resource.as_str()
                    && r["prefect.resource.name"] == "etl"),
                "event does not relate its flow: {e}"
            );
        }
        s.stop().await;
    }
);

/// A request that must be refused.
struct BadRequest {
    method: Method,
    path: String,
    body: Option<(&'static str, Vec<u8>)>,
    status: u16,
    detail: &'static [&'static str],
}

impl BadRequest {
    fn new(
        method: Method,
        path: impl Into<String>,
        status: u16,
        detail: &'static [&'static str],
    ) -> Self {
        BadRequest {
            method,
            path: path.into(),
            body: None,
            status,
            detail,
        }
    }

    fn post(
        path: impl Into<String>,
        body: impl Into<Vec<u8>>,
        status: u16,
        detail: &'static [&'static str],
    ) -> Self {
        let body = Some(("application/json", body.into()));
        BadRequest {
            body,
            ..BadRequest::new(Method::POST, path, status, detail)
        }
    }

    fn post_json(
        path: impl Into<String>,
        body: Value,
        status: u16,
        detail: &'static [&'static str],
    ) -> Self {
        BadRequest::post(path, body.to_string(), status, detail)
    }
}

on_each_backend!(
    bad_requests_get_a_4xx_with_a_detail_and_write_nothing,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let nobody = Uuid::now_v7();
        let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(17 * 1024 * 1024));
        let good_event = plain_event("test.ok", "test.resource.1");
        let cases = [
            BadRequest::post("/flows/", r#"{"name": "#, 400, &["not valid JSON"]),
            BadRequest::post_json("/flow_runs/", json!({"flow_id": 5}), 422, &["flow_id"]),
            BadRequest::post_json("/flows/", json!({"tags": []}), 422, &["name"]),
            BadRequest::post_json("/flows/", json!({"name": "  "}), 422, &["empty"]),
            BadRequest::post_json("/flow_runs/", json!({"flow_id": nobody}), 404, &["flow"]),
            BadRequest::new(
                Method::GET,
                "/flow_runs/not-a-uuid",
                422,
                &["not-a-uuid", "UUID"],
            ),
            BadRequest::new(
                Method::GET,
                format!("/flow_runs/{nobody}"),
                404,
                &["flow run"],
            ),
            BadRequest::new(
                Method::DELETE,
                format!("/flow_runs/{nobody}"),
                404,
                &["flow run"],
            ),
            BadRequest::post_json(
                format!("/flow_runs/{run}/set_state"),
                json!({"state": {"type": "DONE"}}),
                422,
                &["DONE"],
            ),
            BadRequest::post_json(
                format!("/flow_runs/{nobody}/set_state"),
                json!({"state": {"type": "RUNNING"}}),
                404,
                &["flow run"],
            ),
            BadRequest::post_json(
                "/flow_runs/filter",
                json!({"flow_runs": {"colour": {"any_": ["x"]}}}),
                422,
                &["colour"],
            ),
            BadRequest::post_json(
                "/flow_runs/filter",
                json!({"limit": 1_000_000}),
                422,
                &["limit"],
            ),
            BadRequest::post_json("/flow_runs/paginate", json!({"page": 0}), 422, &["page"]),
            BadRequest::post("/flows/", huge, 413, &["too large"]),
            BadRequest::new(
                Method::GET,
                "/nope",
                404,
                &["nope", "not a Flowgate API route"],
            ),
            BadRequest {
                body: Some(("text/plain", br#"{"name": "etl2"}"#.to_vec())),
                ..BadRequest::new(
                    Method::POST,
                    "/flows/",
                    415,
                    &["Content-Type: application/json"],
                )
            },
            BadRequest::new(Method::GET, "/flows/filter", 405, &["GET"]),
            BadRequest::new(Method::PUT, format!("/flow_runs/{run}"), 405, &["PUT"]),
            BadRequest::new(Method::GET, "/flows/%FF", 400, &["UTF-8"]),
            BadRequest::new(
                Method::GET,
                "/flow_run_states/?flow_run_id=a&flow_run_id=b",
                400,
                &["flow_run_id"],
            ),
            BadRequest::new(Method::GET, "/events/in", 400, &["upgrade"]),
            BadRequest::new(Method::GET, "/flow_run_states/", 422, &["flow_run_id"]),
            BadRequest::post_json(
                "/events",
                json!([good_event, {"id": Uuid::now_v7(), "occurred": "2026-01-01T00:00:00Z",
                "event": "test.bad", "resource": {}}]),
                422,
                &["prefect.resource.id"],
            ),
            BadRequest::post_json(
                "/logs/",
                json!([{"name": "x", "level": 20, "message": "m", "timestamp": "yesterday",
                "flow_run_id": run}]),
                422,
                &["yesterday"],
            ),
        ];
        let before = s.census().await;
        for case in cases {
            let what = format!("{} {}", case.method, case.path);
            let reply = s.request(case.method, &case.path, case.body).await;
            let status = reply.status;
            reply.expect_error(case.status, case.detail);
            assert_eq!(
                s.census().await,
                before,
                "{what} ({status}) changed what is stored"
            );
        }
        s.stop().await;
    }
);

/// `n` distinct uuids.
fn uuids(n: usize) -> Vec<Uuid> {
    (0..n).map(|_| Uuid::new_v4()).collect()
}

/// `n` distinct strings.
fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i}")).collect()
}

on_each_backend!(
    the_largest_filters_allowed_are_answered_and_larger_ones_refused,
    async |db: TestDatabase| {
        // Flowgate allows 30,000 list items per filter, and 100 per tag, prefix or related-id list.
        let s = TestServer::start(db).await;
        let tags = json!({"all_": words(100)});
        // Task runs nest flow runs and flows: the deepest query, here with the most parameters.
        let mut tasks = json!({
            "flows": {"tags": tags},
            "flow_runs": {"tags": tags, "id": {"any_": uuids(10_000)}, "name": {"any_": words(9_700)}},
            "task_runs": {"tags": tags, "id": {"any_": uuids(10_000)}},
        });
        assert_eq!(s.count("/task_runs/count", tasks.clone()).await, 0);
        tasks["flows"]["name"] = json!({"any_": ["one too many"]});
        s.post_json("/task_runs/count", &tasks)
            .await
            .expect_error(422, &["30000", "split"]);

        let events = json!({"filter": {
            "event": {"prefix": words(100)}, "resource": {"id_prefix": words(100)},
            "related": {"id": words(100)},
        }});
        assert_eq!(
            s.post_json("/events/filter", &events).await.expect(200)["total"],
            0
        );
        let too_many_patterns = [
            (
                "/flows/count",
                json!({"flows": {"tags": {"all_": words(101)}}}),
                "body.flows.tags.all_",
            ),
            (
                "/events/filter",
                json!({"filter": {"event": {"prefix": words(101)}}}),
                "body.filter.event.prefix",
            ),
            (
                "/events/filter",
                json!({"filter": {"related": {"id": words(101)}}}),
                "body.filter.related.id",
            ),
        ];
        for (path, body, field) in too_many_patterns {
            s.post_json(path, &body)
                .await
                .expect_error(422, &[field, "at most 100"]);
        }
        s.stop().await;
    }
);

on_each_backend!(
    logs_are_filtered_by_flow_run_in_time_order,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("etl").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let other = id(&s.create_flow_run(&flow, "other").await);
        let log = |message: &str, second: u32, run: &str| {
            json!({"name": "prefect.flow_runs", "level": 20, "message": message,
            "timestamp": format!("2026-11-27T03:07:{second:02}.000001Z"), "flow_run_id": run})
        };
        let batch = json!([
            log("third", 30, &run),
            log("first", 10, &run),
            log("elsewhere", 20, &other),
            log("second", 20, &run)
        ]);
        s.post_json("/logs/", &batch).await.expect(201);

        let filter = |sort: &str| json!({"logs": {"flow_run_id": {"any_": [run]}}, "sort": sort});
        let messages = |logs: Value| -> Vec<String> {
            logs.as_array()
                .unwrap()
                .iter()
                .map(|l| l["message"].as_str().unwrap().to_owned())
                .collect()
        };
        let ascending = s
            .post_json("/logs/filter", &filter("TIMESTAMP_ASC"))
            .await
            .expect(200);
        assert!(
            ascending
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["flow_run_id"] == run.as_str())
        );
        assert_eq!(ascending[0]["timestamp"], "2026-11-27T03:07:10.000001Z");
        assert_eq!(messages(ascending), ["first", "second", "third"]);
        let descending = s
            .post_json("/logs/filter", &filter("TIMESTAMP_DESC"))
            .await
            .expect(200);
        assert_eq!(messages(descending), ["third", "second", "first"]);
        s.stop().await;
    }
);
