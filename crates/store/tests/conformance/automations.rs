//! Automations: definitions, owned-by and related-to, and the trigger engine's persistence
//! with two stores on one database (one lease holder, fenced checkpoints, firings recorded
//! once).

use std::time::Duration;

use flowgate_core::automations::AutomationState;

use super::*;

fn spec(name: &str) -> AutomationSpec {
    AutomationSpec {
        name: name.to_owned(),
        description: String::new(),
        enabled: true,
        tags: vec!["t".into()],
        trigger: json!({"type": "event", "id": Uuid::now_v7(), "expect": ["x"]}),
        actions: json!([{"type": "do-nothing"}]),
        actions_on_trigger: json!([]),
        actions_on_resolve: json!([]),
    }
}

fn event_at(received: Micros) -> Event {
    Event {
        id: Uuid::now_v7(),
        occurred: received,
        event: "x".into(),
        resource: flowgate_core::event::labels([("prefect.resource.id", "r".to_owned())]),
        related: vec![],
        payload: flowgate_core::Payload::from_value(&json!({})),
        follows: None,
        received,
    }
}

on_each_backend!(
    automations_are_created_read_listed_replaced_toggled_and_deleted,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        let b = store
            .create_automation(&spec("b"), &[], None, t0)
            .await
            .unwrap();
        let a = store
            .create_automation(&spec("a"), &[], None, t0)
            .await
            .unwrap();
        assert_eq!(store.read_automation(a.id).await.unwrap(), a);
        let all = AutomationFilter::default();
        let names = |v: Vec<Automation>| v.into_iter().map(|a| a.spec.name).collect::<Vec<_>>();
        let listed = store
            .filter_automations(&all, AutomationSort::NameAsc, Page::default())
            .await
            .unwrap();
        assert_eq!(names(listed), ["a", "b"]);
        let by_name = AutomationFilter {
            names: Some(vec!["b".into()]),
            ..Default::default()
        };
        assert_eq!(store.count_automations(&by_name).await.unwrap(), 1);
        let mut changed = spec("a2");
        changed.enabled = false;
        let replaced = store
            .replace_automation(a.id, &changed, &[], Micros(t0.0 + 1))
            .await
            .unwrap();
        assert_eq!(replaced.spec, changed);
        assert_eq!(replaced.created, t0);
        let on = store
            .set_automation_enabled(a.id, true, Micros(t0.0 + 2))
            .await
            .unwrap();
        assert!(on.spec.enabled);
        store.delete_automation(b.id).await.unwrap();
        assert!(matches!(
            store.delete_automation(b.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.read_automation(b.id).await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

on_each_backend!(
    an_owner_deletes_its_automations_and_related_to_finds_owned_and_referred,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        let dep = "prefect.deployment.1".to_owned();
        let owned = store
            .create_automation(&spec("owned"), &[], Some(&dep), t0)
            .await
            .unwrap();
        let refers = store
            .create_automation(&spec("refers"), std::slice::from_ref(&dep), None, t0)
            .await
            .unwrap();
        let related = store.automations_related_to(&dep).await.unwrap();
        assert_eq!(
            related.iter().map(|a| a.id).collect::<Vec<_>>(),
            [owned.id, refers.id]
        );
        // Created after the cut-off: kept.
        let later = store
            .delete_automations_owned_by(&dep, Micros(t0.0 - 1))
            .await
            .unwrap();
        assert!(later.is_empty());
        let deleted = store.delete_automations_owned_by(&dep, t0).await.unwrap();
        assert_eq!(deleted, [owned.id]);
        assert!(store.read_automation(refers.id).await.is_ok());
        // Replacing drops the references its actions no longer make.
        store
            .replace_automation(refers.id, &spec("refers"), &[], t0)
            .await
            .unwrap();
        assert!(store.automations_related_to(&dep).await.unwrap().is_empty());
    }
);

on_each_backend!(
    one_replica_holds_the_engine_and_a_replica_without_the_lease_writes_nothing,
    async |db: TestDatabase| {
        let (one, two) = (store(&db).await, store(&db).await);
        let (h1, h2) = (Uuid::now_v7(), Uuid::now_v7());
        let ttl = Duration::from_secs(10);
        let t0 = now();
        let a = one
            .create_automation(&spec("a"), &[], None, t0)
            .await
            .unwrap();
        let start = one.claim_engine(h1, t0, t0, ttl).await.unwrap().unwrap();
        assert_eq!(start.received, t0, "a first claim starts at the present");
        assert!(two.claim_engine(h2, t0, t0, ttl).await.unwrap().is_none());
        let state = AutomationState {
            firings: 3,
            ..Default::default()
        };
        let checkpoint = EngineCheckpoint {
            position: FeedPosition {
                received: Micros(t0.0 + 5),
                ids: vec![Uuid::from_u128(7)],
            },
            states: vec![(a.id, state.clone())],
        };
        assert!(!two.save_engine(h2, &checkpoint, t0, ttl).await.unwrap());
        assert!(one.save_engine(h1, &checkpoint, t0, ttl).await.unwrap());
        let loaded = two.engine_automations().await.unwrap();
        assert_eq!(loaded[0].state.as_ref(), Some(&state));
        // The lease lapses: the other replica takes over where the first stopped.
        let later = Micros(t0.0 + 11_000_000);
        let taken = two.claim_engine(h2, t0, later, ttl).await.unwrap();
        assert_eq!(taken, Some(checkpoint.position.clone()));
        assert!(!one.save_engine(h1, &checkpoint, later, ttl).await.unwrap());
        two.release_engine(h2).await.unwrap();
        assert!(
            one.claim_engine(h1, t0, later, ttl)
                .await
                .unwrap()
                .is_some()
        );
        // A disabled automation is not the engine's.
        one.set_automation_enabled(a.id, false, later)
            .await
            .unwrap();
        assert!(one.engine_automations().await.unwrap().is_empty());
    }
);

on_each_backend!(
    a_firing_is_recorded_once_and_the_feed_resumes_after_its_position,
    async |db: TestDatabase| {
        let (one, two) = (store(&db).await, store(&db).await);
        let t0 = now();
        let a = one
            .create_automation(&spec("a"), &[], None, t0)
            .await
            .unwrap();
        let firing = FiringRecord {
            automation_id: a.id,
            key: "k/0".into(),
            id: Uuid::now_v7(),
            state: "Triggered".into(),
            occurred: t0,
            decided: t0,
            triggering_event: None,
            outcomes: serde_json::Value::Null,
        };
        let (x, y) = tokio::join!(one.record_firing(&firing), two.record_firing(&firing));
        assert!(x.unwrap() ^ y.unwrap(), "exactly one replica records it");
        one.finish_firing(a.id, "k/0", &json!([{"ok": true}]))
            .await
            .unwrap();
        let firings = one.automation_firings(a.id, 10).await.unwrap();
        assert_eq!(firings[0].outcomes, json!([{"ok": true}]));

        let (e1, e2, e3) = (event_at(t0), event_at(t0), event_at(Micros(t0.0 + 1)));
        one.ingest(&[e1.clone(), e2.clone(), e3.clone()], &[], t0)
            .await
            .unwrap();
        let position = FeedPosition {
            received: t0,
            ids: vec![e1.id],
        };
        let next = one.events_after(&position, 10).await.unwrap();
        assert_eq!(
            next.iter().map(|e| e.id).collect::<Vec<_>>(),
            [e2.id, e3.id]
        );
        assert_eq!(one.events_after(&position, 1).await.unwrap()[0].id, e2.id);
    }
);
