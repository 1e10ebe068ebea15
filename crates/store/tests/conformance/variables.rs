//! Variables: unique names, reads by id or name, updates, filters, deletion.

use super::*;

fn var(name: &str, value: serde_json::Value, tags: &[&str]) -> NewVariable {
    NewVariable {
        name: name.into(),
        value,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

on_each_backend!(
    variables_are_unique_by_name_and_keep_any_json,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let a = store
            .create_variable(
                &var("limits", json!({"max": 3, "on": [true, null]}), &["x"]),
                now(),
            )
            .await
            .unwrap();
        assert_eq!(a.value, json!({"max": 3, "on": [true, null]}));
        let err = store
            .create_variable(&var("limits", json!(1), &[]), now())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict(m) if m.contains("\"limits\" already exists")),
            "{err:?}"
        );
        let null = store
            .create_variable(&var("nothing", serde_json::Value::Null, &[]), now())
            .await
            .unwrap();
        assert_eq!(
            store
                .read_variable(&VariableKey::Name("nothing".into()))
                .await
                .unwrap(),
            null
        );
        assert_eq!(
            store.read_variable(&VariableKey::Id(a.id)).await.unwrap(),
            a
        );
        assert!(matches!(
            store.read_variable(&VariableKey::Name("nope".into())).await,
            Err(StoreError::NotFound {
                kind: "variable",
                ..
            })
        ));
    }
);

on_each_backend!(
    a_variable_update_changes_only_what_it_names,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let a = store
            .create_variable(&var("a", json!("one"), &["t"]), now())
            .await
            .unwrap();
        store
            .create_variable(&var("b", json!(2), &[]), now())
            .await
            .unwrap();
        let later = Micros(a.updated.0 + 1);
        let key = VariableKey::Name("a".into());
        let value_only = VariableUpdate {
            value: Some(json!([1, 2])),
            ..Default::default()
        };
        let changed = store
            .update_variable(&key, &value_only, later)
            .await
            .unwrap();
        assert_eq!(
            (changed.value.clone(), changed.tags.clone()),
            (json!([1, 2]), vec!["t".to_owned()])
        );
        assert_eq!((changed.created, changed.updated), (a.created, later));
        let rename = VariableUpdate {
            name: Some("b".into()),
            ..Default::default()
        };
        assert!(matches!(
            store.update_variable(&key, &rename, later).await,
            Err(StoreError::Conflict(m)) if m.contains("\"b\"")
        ));
        let rename = VariableUpdate {
            name: Some("c".into()),
            value: Some(serde_json::Value::Null),
            tags: Some(vec![]),
        };
        let renamed = store
            .update_variable(&VariableKey::Id(a.id), &rename, later)
            .await
            .unwrap();
        assert_eq!(
            (
                renamed.name.as_str(),
                renamed.value.clone(),
                renamed.tags.len()
            ),
            ("c", serde_json::Value::Null, 0)
        );
        assert!(matches!(
            store.update_variable(&key, &rename, later).await,
            Err(StoreError::NotFound { .. })
        ));
        store
            .delete_variable(&VariableKey::Name("c".into()))
            .await
            .unwrap();
        assert!(matches!(
            store.delete_variable(&VariableKey::Id(a.id)).await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

on_each_backend!(
    variables_filter_by_name_and_tags_and_sort,
    async |db: TestDatabase| {
        let store = store(&db).await;
        for (i, (name, tags)) in [("b_50%", vec!["x", "y"]), ("a", vec!["x"]), ("c", vec![])]
            .into_iter()
            .enumerate()
        {
            store
                .create_variable(&var(name, json!(i), &tags), Micros(now().0 + i as i64))
                .await
                .unwrap();
        }
        let names =
            |found: Vec<Variable>| -> Vec<String> { found.into_iter().map(|v| v.name).collect() };
        let all = VariableFilter::default();
        let sorted = store
            .filter_variables(&all, VariableSort::NameAsc, Page::default())
            .await
            .unwrap();
        assert_eq!(names(sorted), ["a", "b_50%", "c"]);
        let newest = store
            .filter_variables(
                &all,
                VariableSort::CreatedDesc,
                Page {
                    limit: 2,
                    offset: 0,
                },
            )
            .await
            .unwrap();
        assert_eq!(names(newest), ["c", "a"]);
        let tagged = VariableFilter {
            tags_all: Some(vec!["x".into(), "y".into()]),
            ..Default::default()
        };
        assert_eq!(store.count_variables(&tagged).await.unwrap(), 1);
        let untagged = VariableFilter {
            tags_empty: Some(true),
            ..Default::default()
        };
        let found = store
            .filter_variables(&untagged, VariableSort::NameAsc, Page::default())
            .await
            .unwrap();
        assert_eq!(names(found), ["c"]);
        let like = VariableFilter {
            name_like: Some("50%".into()),
            tags_empty: Some(false),
            ..Default::default()
        };
        assert_eq!(store.count_variables(&like).await.unwrap(), 1);
        let by_name = VariableFilter {
            names: Some(vec!["a".into(), "c".into()]),
            ..Default::default()
        };
        assert_eq!(store.count_variables(&by_name).await.unwrap(), 2);
    }
);
