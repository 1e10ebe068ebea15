//! Blocks over HTTP as `Block.save` / `Block.load` use them: a type by slug, a schema by
//! checksum, documents whose secret fields read `********` unless asked for; bad input named.

use super::*;

/// A block type `token-store` with a schema whose `token` is secret; returns both ids.
async fn token_type(s: &TestServer) -> (String, String) {
    let ty = s
        .post_json(
            "/block_types/",
            &json!({"name": "Token store", "slug": "token-store"}),
        )
        .await
        .expect(201);
    let fields = json!({"title": "TokenStore", "type": "object", "secret_fields": ["token"],
                        "properties": {"token": {"type": "string"}, "url": {"type": "string"}}});
    let body =
        json!({"fields": fields, "block_type_id": ty["id"], "capabilities": [], "version": "1"});
    let schema = s.post_json("/block_schemas/", &body).await.expect(201);
    assert!(schema["checksum"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        s.post_json("/block_schemas/", &body).await.expect(200)["id"],
        schema["id"]
    );
    let path = format!(
        "/block_schemas/checksum/{}?version=1",
        schema["checksum"].as_str().unwrap()
    );
    assert_eq!(s.get(&path).await.expect(200)["id"], schema["id"]);
    (id(&ty), id(&schema))
}

on_each_backend!(
    block_documents_hide_their_secrets_unless_asked,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let (ty, schema) = token_type(&s).await;
        let body = json!({"name": "prod", "data": {"token": "t0ps3cret", "url": "https://x"},
                          "block_schema_id": schema, "block_type_id": ty});
        let made = s.post_json("/block_documents/", &body).await.expect(201);
        assert_eq!(
            made["data"],
            json!({"token": "********", "url": "https://x"})
        );
        assert_eq!(made["block_type"]["slug"], "token-store");
        assert_eq!(made["block_schema"]["id"], json!(schema));
        s.post_json("/block_documents/", &body)
            .await
            .expect_error(409, &["\"prod\" already exists"]);
        let by_name = "/block_types/slug/token-store/block_documents/name/prod";
        assert_eq!(
            s.get(by_name).await.expect(200)["data"]["token"],
            "********"
        );
        let secret = s
            .get(&format!("{by_name}?include_secrets=true"))
            .await
            .expect(200);
        assert_eq!(secret["data"]["token"], "t0ps3cret");
        // Writing back what was read keeps the secret.
        let path = format!("/block_documents/{}", id(&made));
        s.patch_json(
            &path,
            &json!({"data": {"token": "********", "url": "https://y"},
                                    "merge_existing_data": false}),
        )
        .await
        .expect(204);
        let after = s
            .get(&format!("{path}?include_secrets=true"))
            .await
            .expect(200);
        assert_eq!(
            after["data"],
            json!({"token": "t0ps3cret", "url": "https://y"})
        );
        let listed = s
            .post_json(
                "/block_documents/filter",
                &json!({"block_types": {"slug": {"any_": ["token-store"]}}}),
            )
            .await
            .expect(200);
        assert_eq!(listed[0]["data"]["token"], "********");
        assert_eq!(s.count("/block_documents/count", json!({})).await, 1);
        let of_type = s
            .get("/block_types/slug/token-store/block_documents")
            .await
            .expect(200);
        assert_eq!(of_type.as_array().unwrap().len(), 1);
        s.delete(&path).await.expect(204);
        s.get(by_name).await.expect(404);
        s.stop().await;
    }
);

on_each_backend!(
    bad_blocks_are_refused_without_showing_data,
    async |db: TestDatabase| {
        let s = TestServer::start(db).await;
        let (ty, schema) = token_type(&s).await;
        s.post_json(
            "/block_types/",
            &json!({"name": "Other", "slug": "token-store"}),
        )
        .await
        .expect_error(409, &["slug \"token-store\""]);
        s.post_json("/block_types/", &json!({"name": "Bad", "slug": "Bad Slug"}))
            .await
            .expect_error(422, &["lowercase letters, numbers, and dashes"]);
        let unknown_type = json!({"fields": {}, "block_type_id": Uuid::now_v7()});
        s.post_json("/block_schemas/", &unknown_type)
            .await
            .expect_error(422, &["block type", "does not exist"]);
        let other = s
            .post_json("/block_types/", &json!({"name": "Other", "slug": "other"}))
            .await
            .expect(201);
        let mismatched = json!({"name": "x", "data": {"token": "t0ps3cret"},
                                "block_schema_id": schema, "block_type_id": other["id"]});
        let reply = s.post_json("/block_documents/", &mismatched).await;
        assert!(
            !reply.body.to_string().contains("t0ps3cret"),
            "{}",
            reply.body
        );
        reply.expect_error(422, &["token-store"]);
        let bad_name = json!({"name": "Prod Key", "data": {"token": "t0ps3cret"},
                              "block_schema_id": schema, "block_type_id": ty});
        s.post_json("/block_documents/", &bad_name)
            .await
            .expect_error(422, &["block document name"]);
        s.get("/block_types/slug/nope")
            .await
            .expect_error(404, &["\"nope\""]);
        s.stop().await;
    }
);
