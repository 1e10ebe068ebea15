//! Variables over HTTP as `Variable.set` / `Variable.get` and `prefect variable` use them: by
//! id and by name, duplicate names refused with a 409, Prefect's name rules and size limit.

use super::*;

on_each_backend!(
    variables_are_created_read_changed_and_deleted_by_name_or_id,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let body = json!({"name": "answer", "value": {"n": 42, "ok": [true, null]}, "tags": ["t"]});
        let made = s.post_json("/variables/", &body).await.expect(201);
        assert_eq!(made["value"], json!({"n": 42, "ok": [true, null]}));
        assert_eq!(made["tags"], json!(["t"]));
        s.post_json("/variables/", &json!({"name": "answer", "value": 1}))
            .await
            .expect_error(409, &["\"answer\" already exists"]);
        let by_name = s.get("/variables/name/answer").await.expect(200);
        assert_eq!(by_name, made);
        let by_id = s
            .get(&format!("/variables/{}", id(&made)))
            .await
            .expect(200);
        assert_eq!(by_id, made);

        // Only what the body names changes; an explicit null stores null.
        s.patch_json("/variables/name/answer", &json!({"value": null}))
            .await
            .expect(204);
        let changed = s.get("/variables/name/answer").await.expect(200);
        assert_eq!(
            (&changed["value"], &changed["tags"]),
            (&Value::Null, &json!(["t"]))
        );
        s.patch_json(
            &format!("/variables/{}", id(&made)),
            &json!({"name": "renamed", "tags": []}),
        )
        .await
        .expect(204);
        s.get("/variables/name/answer")
            .await
            .expect_error(404, &["variable \"answer\" not found"]);
        s.patch_json("/variables/name/answer", &json!({"value": 1}))
            .await
            .expect(404);
        s.delete("/variables/name/renamed").await.expect(204);
        s.delete(&format!("/variables/{}", id(&made)))
            .await
            .expect(404);
        s.get("/variables/not-a-uuid")
            .await
            .expect_error(422, &["variable id"]);
        s.stop().await;
    }
);

on_each_backend!(
    variables_are_listed_counted_and_filtered_by_name_and_tags,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        for (name, tags) in [
            ("b", json!(["x", "y"])),
            ("a", json!(["x"])),
            ("c", json!([])),
        ] {
            s.post_json(
                "/variables/",
                &json!({"name": name, "value": name, "tags": tags}),
            )
            .await
            .expect(201);
        }
        let names = |found: Value| -> Vec<String> {
            found
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["name"].as_str().unwrap().to_owned())
                .collect()
        };
        // The client lists with `{"limit": null}`.
        let all = s
            .post_json("/variables/filter", &json!({"limit": null}))
            .await
            .expect(200);
        assert_eq!(names(all), ["a", "b", "c"]);
        let sorted = s
            .post_json(
                "/variables/filter",
                &json!({"sort": "NAME_DESC", "limit": 2}),
            )
            .await
            .expect(200);
        assert_eq!(names(sorted), ["c", "b"]);
        let tagged = json!({"variables": {"tags": {"all_": ["x"]}, "name": {"like_": "B"}}});
        assert_eq!(
            names(s.post_json("/variables/filter", &tagged).await.expect(200)),
            ["b"]
        );
        assert_eq!(
            s.count(
                "/variables/count",
                json!({"variables": {"tags": {"is_null_": true}}})
            )
            .await,
            1
        );
        assert_eq!(s.count("/variables/count", json!({})).await, 3);
        s.post_json(
            "/variables/filter",
            &json!({"variables": {"value": {"any_": [1]}}}),
        )
        .await
        .expect_error(422, &["body.variables.value"]);
        s.stop().await;
    }
);

on_each_backend!(
    bad_variables_are_refused_naming_the_rule,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        s.post_json("/variables/", &json!({"name": "My Var", "value": 1}))
            .await
            .expect_error(
                422,
                &["lowercase letters, numbers, and dashes or underscores"],
            );
        let long_name = "a".repeat(256);
        s.post_json("/variables/", &json!({"name": long_name, "value": 1}))
            .await
            .expect_error(422, &["at most 255 characters"]);
        let big = "x".repeat(5000);
        s.post_json("/variables/", &json!({"name": "big", "value": big}))
            .await
            .expect_error(422, &["less than 5000 characters"]);
        s.post_json(
            "/variables/",
            &json!({"name": "fits", "value": "x".repeat(4998)}),
        )
        .await
        .expect(201);
        s.patch_json("/variables/name/fits", &json!({"value": big}))
            .await
            .expect_error(422, &["5000"]);
        s.patch_json("/variables/name/fits", &json!({"name": "Bad"}))
            .await
            .expect_error(422, &["lowercase"]);
        s.post_json("/variables/", &json!({"name": "novalue"}))
            .await
            .expect_error(422, &["value"]);
        s.stop().await;
    }
);
