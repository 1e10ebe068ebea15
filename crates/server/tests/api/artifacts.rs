//! Artifacts over HTTP as the `create_*_artifact` helpers and `Artifact.get` use them:
//! versions under a key, the latest of each key, progress updates, filters, bad input.

use super::*;

on_each_backend!(
    artifact_versions_share_a_key_and_the_newest_is_latest,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let flow = s.create_flow("reporting").await;
        let run = id(&s.create_flow_run(&flow, "r").await);
        let table = json!([{"a": 1, "b": null}]).to_string();
        let v1 = s
            .post_json(
                "/artifacts/",
                &json!({"key": "daily-report", "type": "table", "data": table,
                        "description": "# Rows", "flow_run_id": run,
                        "metadata_": {"long": "x".repeat(600)}}),
            )
            .await
            .expect(201);
        assert_eq!(v1["data"], json!(table));
        assert_eq!(v1["metadata_"]["long"].as_str().unwrap().len(), 503);
        let v2 = s
            .post_json(
                "/artifacts/",
                &json!({"key": "daily-report", "type": "markdown", "data": "**v2**"}),
            )
            .await
            .expect(201);
        s.post_json(
            "/artifacts/",
            &json!({"type": "progress", "data": 0.0, "flow_run_id": run}),
        )
        .await
        .expect(201);
        let latest = s.get("/artifacts/daily-report/latest").await.expect(200);
        assert_eq!(latest, v2);
        assert_eq!(
            s.get(&format!("/artifacts/{}", id(&v1))).await.expect(200),
            v1
        );
        let collections = s
            .post_json("/artifacts/latest/filter", &json!({"sort": "KEY_ASC"}))
            .await
            .expect(200);
        let collections = collections.as_array().unwrap();
        assert_eq!(collections.len(), 1);
        assert_eq!(
            (
                &collections[0]["key"],
                &collections[0]["latest_id"],
                &collections[0]["data"]
            ),
            (&json!("daily-report"), &v2["id"], &json!("**v2**"))
        );
        let collection_id = collections[0]["id"].clone();
        assert_ne!(collection_id, v2["id"], "a collection has an id of its own");
        assert_eq!(s.count("/artifacts/latest/count", json!({})).await, 1);
        assert_eq!(s.count("/artifacts/count", json!({})).await, 3);
        let of_run = json!({"artifacts": {"flow_run_id": {"any_": [run]}}, "sort": "CREATED_DESC"});
        let found = s.post_json("/artifacts/filter", &of_run).await.expect(200);
        let types: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["progress", "table"]);
        // Artifact.get: the newest version of a key by update time.
        let get = json!({"artifacts": {"key": {"any_": ["daily-report"]}}, "sort": "UPDATED_DESC",
                         "limit": 1, "offset": 0, "flow_runs": null, "task_runs": null, "flows": null});
        let got = s.post_json("/artifacts/filter", &get).await.expect(200);
        assert_eq!(got[0]["id"], v2["id"]);
        s.delete(&format!("/artifacts/{}", id(&v2)))
            .await
            .expect(204);
        assert_eq!(
            s.get("/artifacts/daily-report/latest").await.expect(200)["id"],
            v1["id"]
        );
        let after = s
            .post_json("/artifacts/latest/filter", &json!({}))
            .await
            .expect(200);
        assert_eq!(
            (&after[0]["id"], &after[0]["latest_id"]),
            (&collection_id, &v1["id"]),
            "the collection keeps its id while its latest version changes"
        );
        s.delete(&format!("/artifacts/{}", id(&v2)))
            .await
            .expect(404);
        s.get("/artifacts/no-such-key/latest")
            .await
            .expect_error(404, &["\"no-such-key\""]);
        s.stop().await;
    }
);

on_each_backend!(
    a_progress_artifact_is_updated_in_place,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let made = s
            .post_json(
                "/artifacts/",
                &json!({"type": "progress", "data": 0.0, "description": "load"}),
            )
            .await
            .expect(201);
        let path = format!("/artifacts/{}", id(&made));
        s.patch_json(&path, &json!({"data": 50.0}))
            .await
            .expect(204);
        let read = s.get(&path).await.expect(200);
        assert_eq!(
            (&read["data"], &read["description"]),
            (&json!(50.0), &json!("load"))
        );
        s.patch_json(&path, &json!({"description": null}))
            .await
            .expect(204);
        assert_eq!(s.get(&path).await.expect(200)["description"], Value::Null);
        s.patch_json(
            &format!("/artifacts/{}", Uuid::now_v7()),
            &json!({"data": 1}),
        )
        .await
        .expect(404);
        s.stop().await;
    }
);

on_each_backend!(
    bad_artifacts_are_refused_naming_the_rule,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        s.post_json("/artifacts/", &json!({"key": "Daily_Report", "data": "x"}))
            .await
            .expect_error(422, &["lowercase letters, numbers, and dashes"]);
        let huge = "x".repeat(1024 * 1024);
        s.post_json("/artifacts/", &json!({"type": "markdown", "data": huge}))
            .await
            .expect_error(422, &["at most 1048576 bytes"]);
        s.post_json(
            "/artifacts/filter",
            &json!({"artifacts": {"key": {"not_any_": ["a"]}}}),
        )
        .await
        .expect_error(422, &["body.artifacts.key.not_any_"]);
        s.post_json(
            "/artifacts/filter",
            &json!({"flow_runs": {"id": {"any_": [Uuid::now_v7()]}}}),
        )
        .await
        .expect_error(422, &["flow_runs"]);
        s.stop().await;
    }
);
