//! Concurrency limits: settings, leases across restarts, batches of slot operations, many
//! concurrent holders, and reaping once with two stores on one database.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use flowgate_core::concurrency::book::{LeaseTerms, SlotOp, SlotOutcome};
use flowgate_core::concurrency::{Holder, HolderKind, LeaseDuration, LimitSettings, Mode};

use super::*;

const SEC: i64 = 1_000_000;

fn new_limit(name: &str, limit: i64, decay: f64) -> NewLimit {
    NewLimit {
        name: name.to_owned(),
        settings: LimitSettings::new(limit, decay, true).unwrap(),
        slot_decay_per_second: decay,
        active_slots: 0,
        denied_slots: 0,
    }
}

fn take(name: &str, lease: Option<(u128, f64)>) -> SlotOp {
    SlotOp::Acquire {
        names: vec![name.to_owned()],
        slots: 1,
        mode: Mode::Concurrency,
        lease: lease.map(|(id, s)| LeaseTerms {
            id: Uuid::from_u128(id),
            duration: LeaseDuration::seconds(s).unwrap(),
            holder: None,
        }),
    }
}

async fn one(store: &DynStore, op: SlotOp, at: Micros) -> SlotOutcome {
    let (mut outcomes, _) = store.apply_slot_ops(&[op], at).await.unwrap();
    outcomes.remove(0)
}

async fn active(store: &DynStore, name: &str, at: Micros) -> u64 {
    store
        .read_limit(&LimitKey::Name(name.to_owned()))
        .await
        .unwrap()
        .active_slots(at)
}

on_each_backend!(
    limits_are_created_read_listed_updated_and_deleted,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        let db_limit = store
            .create_limit(&new_limit("db", 2, 0.0), t0)
            .await
            .unwrap();
        store
            .create_limit(&new_limit("tag:etl", 1, 0.0), t0)
            .await
            .unwrap();
        let dup = store.create_limit(&new_limit("db", 5, 0.0), t0).await;
        assert!(matches!(dup, Err(StoreError::Conflict(m)) if m.contains("already exists")));
        let by_id = store.read_limit(&LimitKey::Id(db_limit.id)).await.unwrap();
        assert_eq!(by_id, db_limit);
        assert_eq!(
            LimitKey::parse(&db_limit.id.to_string()),
            LimitKey::Id(db_limit.id)
        );
        let names = |ls: Vec<ConcurrencyLimit>| ls.into_iter().map(|l| l.name).collect::<Vec<_>>();
        let page = Page::default();
        assert_eq!(
            names(store.read_limits(LimitKind::All, page).await.unwrap()),
            ["db", "tag:etl"]
        );
        assert_eq!(
            names(store.read_limits(LimitKind::Global, page).await.unwrap()),
            ["db"]
        );
        assert_eq!(
            names(store.read_limits(LimitKind::Tag, page).await.unwrap()),
            ["tag:etl"]
        );

        let update = LimitUpdate {
            limit: Some(4),
            slot_decay_per_second: Some(2.0),
            active: Some(false),
            ..Default::default()
        };
        let key = LimitKey::Name("db".into());
        let updated = store.update_limit(&key, &update, t0).await.unwrap();
        assert_eq!(updated.settings.limit, 4);
        assert!(!updated.settings.active);
        assert_eq!(updated.slot_decay_per_second, 2.0);
        let rename = LimitUpdate {
            name: Some("tag:etl".into()),
            ..Default::default()
        };
        assert!(matches!(
            store.update_limit(&key, &rename, t0).await,
            Err(StoreError::Conflict(_))
        ));
        let negative = LimitUpdate {
            slot_decay_per_second: Some(-1.0),
            ..Default::default()
        };
        assert!(matches!(
            store.update_limit(&key, &negative, t0).await,
            Err(StoreError::Invalid(_))
        ));
        store.delete_limit(&key).await.unwrap();
        assert!(matches!(
            store.read_limit(&key).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.delete_limit(&key).await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

on_each_backend!(
    a_lease_survives_a_restart_until_its_deadline_and_not_after,
    async |db: TestDatabase| {
        let t0 = now();
        {
            let store = store(&db).await;
            store
                .create_limit(&new_limit("db", 1, 0.0), t0)
                .await
                .unwrap();
            let got = one(&store, take("db", Some((1, 10.0))), t0).await;
            assert!(
                matches!(got, SlotOutcome::Granted { lease: Some(_), .. }),
                "{got:?}"
            );
        }
        // A new store on the same database: what a server restart sees.
        let store = store(&db).await;
        let before = Micros(t0.0 + 9 * SEC);
        assert_eq!(active(&store, "db", before).await, 1);
        let leases = store
            .leases_of_limit(
                store
                    .read_limit(&LimitKey::Name("db".into()))
                    .await
                    .unwrap()
                    .id,
                before,
            )
            .await
            .unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].expires_at, Micros(t0.0 + 10 * SEC));
        assert!(matches!(
            one(&store, take("db", None), before).await,
            SlotOutcome::Busy(_)
        ));
        // Past its deadline the dead lease blocks nobody, reaper or not.
        let after = Micros(t0.0 + 10 * SEC);
        assert!(matches!(
            one(&store, take("db", None), after).await,
            SlotOutcome::Granted { .. }
        ));
        let renew = SlotOp::Renew {
            lease: Uuid::from_u128(1),
            duration: LeaseDuration::seconds(10.0).unwrap(),
        };
        assert_eq!(one(&store, renew, after).await, SlotOutcome::LeaseGone);
        assert!(store.next_lease_expiry().await.unwrap().is_none());
    }
);

on_each_backend!(
    renewals_releases_and_decrements_keep_counts_exact,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        store
            .create_limit(&new_limit("db", 3, 0.0), t0)
            .await
            .unwrap();
        one(&store, take("db", Some((1, 5.0))), t0).await;
        one(&store, take("db", None), t0).await;
        let renew = SlotOp::Renew {
            lease: Uuid::from_u128(1),
            duration: LeaseDuration::seconds(5.0).unwrap(),
        };
        let later = Micros(t0.0 + 4 * SEC);
        assert_eq!(
            one(&store, renew, later).await,
            SlotOutcome::Renewed {
                expires_at: Micros(later.0 + 5 * SEC)
            }
        );
        assert_eq!(
            store.next_lease_expiry().await.unwrap(),
            Some(Micros(later.0 + 5 * SEC))
        );
        let decrement = |slots| SlotOp::Decrement {
            names: vec!["db".into()],
            slots,
            occupancy_seconds: Some(1.0),
        };
        assert!(matches!(
            one(&store, decrement(2), later).await,
            SlotOutcome::DecrementRefused(_)
        ));
        assert_eq!(active(&store, "db", later).await, 2);
        assert!(matches!(
            one(&store, decrement(1), later).await,
            SlotOutcome::Decremented(_)
        ));
        let (outcomes, freed) = store
            .apply_slot_ops(
                &[SlotOp::Release {
                    lease: Uuid::from_u128(1),
                }],
                later,
            )
            .await
            .unwrap();
        assert_eq!(outcomes, [SlotOutcome::Released(true)]);
        assert_eq!(freed.len(), 1);
        assert_eq!(active(&store, "db", later).await, 0);
        let again = one(
            &store,
            SlotOp::Release {
                lease: Uuid::from_u128(1),
            },
            later,
        )
        .await;
        assert_eq!(again, SlotOutcome::Released(false));
        let db_limit = store
            .read_limit(&LimitKey::Name("db".into()))
            .await
            .unwrap();
        // The average learned 1 s from the decrement, then 4 s from the lease (over 2 × 3 samples).
        let learned = 2.0 + (1.0 - 2.0) / 6.0;
        let learned = learned + (4.0 - learned) / 6.0;
        assert!(
            (db_limit.avg_slot_occupancy_seconds - learned).abs() < 1e-9,
            "{db_limit:?}"
        );
    }
);

on_each_backend!(
    rate_limit_slots_drain_at_the_stored_decay,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        store
            .create_limit(&new_limit("rl", 1, 4.0), t0)
            .await
            .unwrap();
        let rate = || SlotOp::Acquire {
            names: vec!["rl".into()],
            slots: 1,
            mode: Mode::RateLimit,
            lease: None,
        };
        assert!(matches!(
            one(&store, rate(), t0).await,
            SlotOutcome::Granted { .. }
        ));
        match one(&store, rate(), Micros(t0.0 + 100_000)).await {
            SlotOutcome::Busy(b) => {
                assert_eq!(b.drains_in, Some(std::time::Duration::from_millis(150)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            one(&store, rate(), Micros(t0.0 + 250_000)).await,
            SlotOutcome::Granted { .. }
        ));
        let deny = SlotOp::Deny {
            names: vec!["rl".into()],
            slots: 1,
        };
        one(&store, deny, t0).await;
        let rl = store
            .read_limit(&LimitKey::Name("rl".into()))
            .await
            .unwrap();
        assert_eq!(rl.denied_slots, 1);
    }
);

on_each_backend!(
    many_concurrent_holders_never_exceed_the_limit,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        store
            .create_limit(&new_limit("hot", 3, 0.0), t0)
            .await
            .unwrap();
        let holders = Arc::new(AtomicI64::new(0));
        let most = Arc::new(AtomicI64::new(0));
        let mut tasks = Vec::new();
        for worker in 0..8u128 {
            let (store, holders, most) = (store.clone(), holders.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let mut granted = 0;
                for i in 0..25u128 {
                    let lease = worker * 1000 + i + 1;
                    let got = one(&store, take("hot", Some((lease, 60.0))), now()).await;
                    if !matches!(got, SlotOutcome::Granted { .. }) {
                        continue;
                    }
                    granted += 1;
                    let inside = holders.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(inside, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    holders.fetch_sub(1, Ordering::SeqCst);
                    let release = SlotOp::Release {
                        lease: Uuid::from_u128(lease),
                    };
                    assert_eq!(
                        one(&store, release, now()).await,
                        SlotOutcome::Released(true)
                    );
                }
                granted
            }));
        }
        let mut granted = 0;
        for t in tasks {
            granted += t.await.unwrap();
        }
        assert!(granted > 0);
        assert!(
            most.load(Ordering::SeqCst) <= 3,
            "{} holders at once",
            most.load(Ordering::SeqCst)
        );
        assert_eq!(
            active(&store, "hot", now()).await,
            0,
            "no slot lost or kept"
        );
    }
);

on_each_backend!(
    two_stores_reaping_at_once_free_each_lease_once,
    async |db: TestDatabase| {
        let (a, b) = (store(&db).await, store(&db).await);
        let t0 = now();
        a.create_limit(&new_limit("shared", 30, 0.0), t0)
            .await
            .unwrap();
        for i in 0..20 {
            one(&a, take("shared", Some((i + 1, 1.0))), t0).await;
        }
        for _ in 0..5 {
            one(&a, take("shared", None), t0).await;
        }
        let later = Micros(t0.0 + 2 * SEC);
        let (ra, rb) = tokio::join!(a.reap_leases(later, 4), b.reap_leases(later, 4));
        ra.unwrap();
        rb.unwrap();
        while !a.reap_leases(later, 100).await.unwrap().is_empty() {}
        assert_eq!(
            active(&a, "shared", later).await,
            5,
            "the 20 leased slots are freed once each; the 5 lease-less ones stay"
        );
    }
);

on_each_backend!(
    leases_of_finished_runs_are_reaped,
    async |db: TestDatabase| {
        let store = store(&db).await;
        let t0 = now();
        let run = new_run(&store, "f").await;
        let task = Uuid::now_v7();
        store
            .ingest(&[task_event(task, run.id, "COMPLETED", t0, 10, 1)], &[], t0)
            .await
            .unwrap();
        store
            .create_limit(&new_limit("tag:etl", 2, 0.0), t0)
            .await
            .unwrap();
        let held_by = |id| SlotOp::Acquire {
            names: vec!["tag:etl".into()],
            slots: 1,
            mode: Mode::Concurrency,
            lease: Some(LeaseTerms {
                id: Uuid::now_v7(),
                duration: LeaseDuration::seconds(60.0).unwrap(),
                holder: Some(Holder {
                    kind: HolderKind::TaskRun,
                    id,
                }),
            }),
        };
        one(&store, held_by(task), t0).await;
        one(&store, held_by(Uuid::now_v7()), t0).await;
        assert_eq!(store.reap_leases(t0, 100).await.unwrap().len(), 1);
        assert_eq!(
            active(&store, "tag:etl", t0).await,
            1,
            "only the finished run's slot is freed"
        );
        let limit = store
            .read_limit(&LimitKey::Name("tag:etl".into()))
            .await
            .unwrap();
        let reset = store
            .reset_limit(&LimitKey::Id(limit.id), &[task], t0)
            .await
            .unwrap();
        assert_eq!(reset.ledger.held, 1);
        let leases = store.leases_of_limit(limit.id, t0).await.unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].holder.map(|h| h.id), Some(task));
    }
);
