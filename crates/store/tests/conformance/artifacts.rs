//! Artifacts: versions under a key, the latest of each key, updates, filters, deletion.

use super::*;

fn markdown(key: Option<&str>, text: &str, run: Option<Uuid>) -> NewArtifact {
    NewArtifact {
        key: key.map(str::to_owned),
        artifact_type: Some("markdown".into()),
        data: json!(text),
        flow_run_id: run,
        ..Default::default()
    }
}

on_each_backend!(
    the_newest_artifact_of_a_key_is_its_latest,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        let at = |i: i64| Micros(t0.0 + i);
        let run = Uuid::now_v7();
        let v1 = store
            .create_artifact(&markdown(Some("report"), "v1", Some(run)), at(0))
            .await
            .unwrap();
        let v2 = store
            .create_artifact(&markdown(Some("report"), "v2", None), at(1))
            .await
            .unwrap();
        store
            .create_artifact(&markdown(None, "loose", Some(run)), at(2))
            .await
            .unwrap();
        let other = store
            .create_artifact(&markdown(Some("other"), "o", None), at(3))
            .await
            .unwrap();
        assert_eq!(store.read_latest_artifact("report").await.unwrap(), v2);
        let latest = ArtifactFilter {
            latest_only: true,
            ..Default::default()
        };
        let found = store
            .filter_artifacts(&latest, ArtifactSort::KeyAsc, Page::default())
            .await
            .unwrap();
        assert_eq!(found, [other.clone(), v2.clone()]);
        assert_eq!(store.count_artifacts(&latest).await.unwrap(), 2);
        assert_eq!(
            store
                .count_artifacts(&ArtifactFilter::default())
                .await
                .unwrap(),
            4
        );
        // A filter on the latest applies to the latest version only.
        let latest_of_run = ArtifactFilter {
            latest_only: true,
            flow_run_ids: Some(vec![run]),
            ..Default::default()
        };
        assert_eq!(store.count_artifacts(&latest_of_run).await.unwrap(), 0);
        let of_run = ArtifactFilter {
            flow_run_ids: Some(vec![run]),
            ..Default::default()
        };
        assert_eq!(store.count_artifacts(&of_run).await.unwrap(), 2);
        store.delete_artifact(v2.id).await.unwrap();
        assert_eq!(store.read_latest_artifact("report").await.unwrap(), v1);
        assert_eq!(store.count_artifacts(&latest_of_run).await.unwrap(), 1);
        assert!(matches!(
            store.delete_artifact(v2.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.read_latest_artifact("nope").await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

on_each_backend!(
    an_artifact_update_changes_only_what_it_names,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let new = NewArtifact {
            artifact_type: Some("progress".into()),
            description: Some("loading".into()),
            data: json!(0.0),
            metadata: Some([("rows".to_owned(), "10".to_owned())].into()),
            ..Default::default()
        };
        let made = store.create_artifact(&new, now()).await.unwrap();
        assert_eq!(store.read_artifact(made.id).await.unwrap(), made);
        let later = Micros(made.updated.0 + 5);
        let progress = ArtifactUpdate {
            data: Some(json!(50.0)),
            ..Default::default()
        };
        let changed = store
            .update_artifact(made.id, &progress, later)
            .await
            .unwrap();
        assert_eq!(changed.data, json!(50.0));
        assert_eq!(changed.description.as_deref(), Some("loading"));
        assert_eq!(changed.metadata, made.metadata);
        assert_eq!((changed.created, changed.updated), (made.created, later));
        let clear = ArtifactUpdate {
            description: Some(None),
            metadata: Some(None),
            ..Default::default()
        };
        let cleared = store.update_artifact(made.id, &clear, later).await.unwrap();
        assert_eq!((cleared.description, cleared.metadata), (None, None));
        assert_eq!(
            store.read_artifact(made.id).await.unwrap().data,
            json!(50.0)
        );
        assert!(matches!(
            store.update_artifact(Uuid::now_v7(), &clear, later).await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

on_each_backend!(
    artifacts_filter_by_key_and_type,
    async |db: TestDatabase| {
        let store = store(&db).await;
        for (key, ty) in [
            (Some("a-1"), Some("table")),
            (Some("b-50"), Some("markdown")),
            (None, None),
        ] {
            let new = NewArtifact {
                key: key.map(str::to_owned),
                artifact_type: ty.map(str::to_owned),
                data: json!("x"),
                ..Default::default()
            };
            store.create_artifact(&new, now()).await.unwrap();
        }
        let count = |f: ArtifactFilter| {
            let store = store.clone();
            async move { store.count_artifacts(&f).await.unwrap() }
        };
        let keyless = ArtifactFilter {
            key_exists: Some(false),
            ..Default::default()
        };
        assert_eq!(count(keyless).await, 1);
        let like = ArtifactFilter {
            key_like: Some("B-5".into()),
            ..Default::default()
        };
        assert_eq!(count(like).await, 1);
        let not_tables = ArtifactFilter {
            types_not: Some(vec!["table".into()]),
            ..Default::default()
        };
        assert_eq!(count(not_tables).await, 2);
        let tables = ArtifactFilter {
            types: Some(vec!["table".into()]),
            keys: Some(vec!["a-1".into(), "b-50".into()]),
            ..Default::default()
        };
        assert_eq!(count(tables).await, 1);
    }
);
