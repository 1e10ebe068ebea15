//! Flows: unique names, filters, deletion.

use super::*;

on_each_backend!(flows_are_unique_by_name, async |db: TestDatabase| {
    let store = store(&db).await;
    let (a, created) = store
        .create_flow("etl", &["x".into()], &json!({}), now())
        .await
        .unwrap();
    assert!(created);
    let (b, created_again) = store
        .create_flow("etl", &[], &json!({}), now())
        .await
        .unwrap();
    assert!(!created_again);
    assert_eq!(a.id, b.id);
    assert_eq!(store.read_flow_by_name("etl").await.unwrap().id, a.id);
    store
        .create_flow("Report_50%", &[], &json!({}), now())
        .await
        .unwrap();
    let like = FlowFilter {
        name_like: Some("50%".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .filter_flows(&like, Page::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let underscore = FlowFilter {
        name_like: Some("t_5".into()),
        ..Default::default()
    };
    assert_eq!(store.count_flows(&underscore).await.unwrap(), 1);
    let tagged = FlowFilter {
        tags_all: Some(vec!["x".into()]),
        ..Default::default()
    };
    assert_eq!(store.count_flows(&tagged).await.unwrap(), 1);
    store.delete_flow(a.id).await.unwrap();
    assert!(matches!(
        store.read_flow(a.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_flow(a.id).await,
        Err(StoreError::NotFound { .. })
    ));
});
