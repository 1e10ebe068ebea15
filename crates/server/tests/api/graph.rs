//! `GET /flow_runs/{id}/graph-v2`: a run's task runs as nodes with what a timeline draws, their
//! dependencies from task inputs in both directions, and a subflow's parent task run standing
//! for the subflow run.

use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};

use crate::support::{TestServer, id};

on_each_backend!(
    a_runs_graph_holds_its_task_runs_their_dependencies_and_subflows,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("graphed").await;
        let run = id(&s.create_flow_run(&flow, "parent").await);
        let task = |name: &str, key: &str, inputs: Value| {
            json!({"flow_run_id": run, "name": name, "task_key": key, "dynamic_key": "0",
                   "task_inputs": inputs, "state": {"type": "RUNNING"}})
        };
        let extract = id(&s
            .post_json("/task_runs/", &task("extract", "extract", json!({})))
            .await
            .expect(201));
        let load = id(&s
            .post_json(
                "/task_runs/",
                &task(
                    "load",
                    "load",
                    json!({"rows": [{"input_type": "task_run", "id": extract}]}),
                ),
            )
            .await
            .expect(201));
        let stands_for = id(&s
            .post_json("/task_runs/", &task("child-flow", "child", json!({})))
            .await
            .expect(201));
        let child = s
            .post_json(
                "/flow_runs/",
                &json!({"flow_id": flow, "name": "child-run", "parent_task_run_id": stands_for}),
            )
            .await
            .expect(201);
        let graph = s
            .get(&format!("/flow_runs/{run}/graph-v2"))
            .await
            .expect(200);
        let nodes: Vec<(String, Value)> = graph["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| (pair[0].as_str().unwrap().to_owned(), pair[1].clone()))
            .collect();
        let node = |id: &str| &nodes.iter().find(|(n, _)| n == id).expect(id).1;
        assert_eq!(nodes.len(), 3);
        assert_eq!(node(&extract)["kind"], "task-run");
        assert_eq!(node(&extract)["state_type"], "RUNNING");
        assert!(node(&extract)["start_time"].is_string());
        assert_eq!(node(&extract)["children"], json!([{"id": load}]));
        assert_eq!(node(&load)["parents"], json!([{"id": extract}]));
        let sub = node(child["id"].as_str().unwrap());
        assert_eq!(
            (&sub["kind"], &sub["label"]),
            (&json!("flow-run"), &json!("child-run"))
        );
        let mut roots: Vec<&str> = graph["root_node_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        roots.sort_unstable();
        let mut expected = vec![extract.as_str(), child["id"].as_str().unwrap()];
        expected.sort_unstable();
        assert_eq!(roots, expected);
        s.get(&format!("/flow_runs/{}/graph-v2", uuid::Uuid::now_v7()))
            .await
            .expect_error(404, &["flow run"]);
        s.stop().await;
    }
);
