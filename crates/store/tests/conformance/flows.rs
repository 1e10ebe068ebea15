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
            .filter_flows(&like, FlowSort::NameAsc, Page::default())
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

on_each_backend!(flows_sort_by_name_or_age, async |db: TestDatabase| {
    let store = store(&db).await;
    for (i, name) in ["b", "c", "a"].into_iter().enumerate() {
        store
            .create_flow(name, &[], &json!({}), Micros(now().0 + i as i64))
            .await
            .unwrap();
    }
    let names = |sort| {
        let store = store.clone();
        async move {
            let all = FlowFilter::default();
            let flows = store.filter_flows(&all, sort, Page::default()).await;
            flows
                .unwrap()
                .into_iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names(FlowSort::NameAsc).await, ["a", "b", "c"]);
    assert_eq!(names(FlowSort::NameDesc).await, ["c", "b", "a"]);
    assert_eq!(names(FlowSort::CreatedDesc).await, ["a", "c", "b"]);
    assert_eq!(names(FlowSort::UpdatedDesc).await, ["a", "c", "b"]);
});
