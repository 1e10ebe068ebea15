//! Blocks: types by slug, schemas by checksum, documents by type and name, updates that
//! keep secrets sent back obfuscated.

use super::*;

on_each_backend!(
    block_documents_are_found_by_type_and_name_and_keep_their_secrets,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let new_type = NewBlockType {
            name: "Secret".into(),
            slug: "secret".into(),
            about: BlockTypeAbout::default(),
        };
        let ty = store.create_block_type(&new_type, now()).await.unwrap();
        assert!(matches!(
            store.create_block_type(&new_type, now()).await,
            Err(StoreError::Conflict(m)) if m.contains("\"secret\"")
        ));
        let new_schema = NewBlockSchema {
            checksum: "sha256:abc".into(),
            fields: json!({"secret_fields": ["value"], "properties": {"value": {}}}),
            version: "1".into(),
            capabilities: vec![],
            block_type_id: ty.id,
        };
        let (schema, created) = store.create_block_schema(&new_schema, now()).await.unwrap();
        assert!(created);
        let (again, created) = store.create_block_schema(&new_schema, now()).await.unwrap();
        assert_eq!((again.id, created), (schema.id, false));
        let by_checksum = store
            .read_block_schema_by_checksum("sha256:abc", None)
            .await
            .unwrap();
        assert_eq!(
            (by_checksum.id, by_checksum.block_type.slug.as_str()),
            (schema.id, "secret")
        );
        let doc = NewBlockDocument {
            name: "api-key".into(),
            data: json!({"value": "s3cr3t", "note": "n"}),
            is_anonymous: false,
            block_schema_id: schema.id,
            block_type_id: ty.id,
        };
        let made = store.create_block_document(&doc, now()).await.unwrap();
        assert!(matches!(
            store.create_block_document(&doc, now()).await,
            Err(StoreError::Conflict(m)) if m.contains("\"api-key\"")
        ));
        let read = store
            .read_block_document_by_name("secret", "api-key")
            .await
            .unwrap();
        assert_eq!(read, made);
        // Written back obfuscated, the secret stays; other fields merge.
        let update = BlockDocumentUpdate {
            block_schema_id: None,
            data: Some(json!({"value": flowgate_core::blocks::OBFUSCATED, "extra": 1})),
            merge_existing_data: true,
        };
        let changed = store
            .update_block_document(made.id, &update, now())
            .await
            .unwrap();
        assert_eq!(
            changed.data,
            json!({"value": "s3cr3t", "note": "n", "extra": 1})
        );
        assert_eq!(
            store.read_block_document(made.id).await.unwrap().data,
            changed.data
        );
        let of_type = BlockDocumentFilter {
            block_type_slugs: Some(vec!["secret".into()]),
            ..Default::default()
        };
        assert_eq!(store.count_block_documents(&of_type).await.unwrap(), 1);
        let listed = store
            .filter_block_documents(&of_type, Page::default())
            .await
            .unwrap();
        assert_eq!(listed[0].schema.block_type.id, ty.id);
        store.delete_block_document(made.id).await.unwrap();
        assert!(matches!(
            store.read_block_document_by_name("secret", "api-key").await,
            Err(StoreError::NotFound { .. })
        ));
        let types = store
            .filter_block_types(Some(&["secret".to_owned()]), None, Page::default())
            .await
            .unwrap();
        assert_eq!(types.len(), 1);
    }
);

on_each_backend!(
    secret_values_are_sealed_at_rest_and_plain_ones_from_before_are_sealed_on_open,
    async |db: TestDatabase| {
        let key = SecretKey::generate().unwrap();
        let store = open(&db.url, &key).await.unwrap();
        let ty = store
            .create_block_type(
                &NewBlockType {
                    name: "Secret".into(),
                    slug: "secret".into(),
                    about: BlockTypeAbout::default(),
                },
                now(),
            )
            .await
            .unwrap();
        let new_schema = NewBlockSchema {
            checksum: "sha256:abc".into(),
            fields: json!({"secret_fields": ["value"], "properties": {"value": {}}}),
            version: "1".into(),
            capabilities: vec![],
            block_type_id: ty.id,
        };
        let (schema, _) = store.create_block_schema(&new_schema, now()).await.unwrap();
        let doc = |name: &str, value: &str| NewBlockDocument {
            name: name.into(),
            data: json!({"value": value, "note": "visible"}),
            is_anonymous: false,
            block_schema_id: schema.id,
            block_type_id: ty.id,
        };
        let made = store
            .create_block_document(&doc("api-key", "hunter2"), now())
            .await
            .unwrap();
        assert_eq!(made.data["value"], "hunter2");
        let stored = || db.raw("SELECT data FROM block_documents");
        let rows = stored().await;
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].contains("hunter2"), "{rows:?}");
        assert!(
            rows[0].contains("visible"),
            "only secrets are sealed: {rows:?}"
        );
        // An update (secret sent back obfuscated) keeps it sealed and readable.
        let update = BlockDocumentUpdate {
            block_schema_id: None,
            data: Some(json!({"value": flowgate_core::blocks::OBFUSCATED})),
            merge_existing_data: true,
        };
        let changed = store
            .update_block_document(made.id, &update, now())
            .await
            .unwrap();
        assert_eq!(changed.data["value"], "hunter2");
        assert!(!stored().await[0].contains("hunter2"));

        // A row as a version before sealing left it: read as it is, sealed on the next open.
        let old = store
            .create_block_document(&doc("old", "placeholder"), now())
            .await
            .unwrap();
        db.raw(&format!(
            "UPDATE block_documents SET data = '{{\"value\": \"plain-old\"}}' WHERE id = '{}'",
            old.id
        ))
        .await;
        let read = store.read_block_document(old.id).await.unwrap();
        assert_eq!(read.data["value"], "plain-old");
        drop(store);
        let reopened = open(&db.url, &key).await.unwrap();
        assert!(
            stored().await.iter().all(|d| !d.contains("plain-old")),
            "{:?}",
            stored().await
        );
        let read = reopened.read_block_document(old.id).await.unwrap();
        assert_eq!(read.data["value"], "plain-old");

        // Another key does not open them: the store refuses to open, saying which key to use
        // and without the secret.
        drop(reopened);
        match open(&db.url, &SecretKey::generate().unwrap()).await {
            Err(StoreError::Corrupt(m)) => {
                assert!(
                    m.contains("secret key") && m.contains("FLOWGATE_SECRET_KEY"),
                    "{m}"
                );
                assert!(!m.contains("hunter2") && !m.contains("plain-old"));
            }
            Err(other) => panic!("expected Corrupt, got {other:?}"),
            Ok(_) => panic!("a store opened with the wrong secret key"),
        }
        // The right key still opens it: nothing was changed by the refused start.
        let again = open(&db.url, &key).await.unwrap();
        assert_eq!(
            again.read_block_document(made.id).await.unwrap().data["value"],
            "hunter2"
        );
    }
);

on_each_backend!(
    deleting_a_block_type_or_schema_takes_its_documents_and_capabilities_are_listed,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let mut made = Vec::new();
        for (slug, capability) in [("secret", "notify"), ("warehouse", "read")] {
            let ty = store
                .create_block_type(
                    &NewBlockType {
                        name: slug.into(),
                        slug: slug.into(),
                        about: BlockTypeAbout::default(),
                    },
                    now(),
                )
                .await
                .unwrap();
            let schema = NewBlockSchema {
                checksum: format!("sha256:{slug}"),
                fields: json!({"properties": {}}),
                version: "1".into(),
                capabilities: vec![capability.into(), "notify".into()],
                block_type_id: ty.id,
            };
            let (schema, _) = store.create_block_schema(&schema, now()).await.unwrap();
            let doc = NewBlockDocument {
                name: "one".into(),
                data: json!({}),
                is_anonymous: false,
                block_schema_id: schema.id,
                block_type_id: ty.id,
            };
            let doc = store.create_block_document(&doc, now()).await.unwrap();
            made.push((ty, schema, doc));
        }
        assert!(
            made[0].0.is_protected,
            "Prefect's own block types are protected"
        );
        assert!(!made[1].0.is_protected);
        assert_eq!(
            store.block_capabilities().await.unwrap(),
            ["notify", "read"]
        );
        store.delete_block_schema(made[0].1.id).await.unwrap();
        assert!(matches!(
            store.read_block_document(made[0].2.id).await,
            Err(StoreError::NotFound { .. })
        ));
        store.delete_block_type(made[1].0.id).await.unwrap();
        assert!(matches!(
            store.read_block_document(made[1].2.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.delete_block_type(made[1].0.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(store.block_capabilities().await.unwrap().is_empty());
    }
);
