use proptest::prelude::*;

use super::*;
use crate::concurrency::lease::HolderKind;
use crate::concurrency::ledger::SlotLedger;
use crate::concurrency::settings::LimitSettings;

const SEC: i64 = 1_000_000;

fn limit(n: u128, name: &str, max: u32, rate: f64, active: bool) -> LimitState {
    LimitState {
        slots: LimitSlots {
            id: Uuid::from_u128(n),
            name: name.to_owned(),
            settings: LimitSettings::new(i64::from(max), rate, active).unwrap(),
            ledger: SlotLedger::empty(),
        },
        denied_slots: 0,
        average_occupancy_seconds: 2.0,
    }
}

fn terms(n: u128, seconds: f64) -> Option<LeaseTerms> {
    Some(LeaseTerms {
        id: Uuid::from_u128(n),
        duration: LeaseDuration::seconds(seconds).unwrap(),
        holder: None,
    })
}

fn take(names: &[&str], slots: u32, lease: Option<LeaseTerms>) -> SlotOp {
    SlotOp::Acquire {
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        slots,
        mode: Mode::Concurrency,
        lease,
    }
}

fn held(book: Book, n: u128) -> u32 {
    book.changes()
        .limits
        .iter()
        .find(|l| l.slots.id == Uuid::from_u128(n))
        .map_or(u32::MAX, |l| l.slots.ledger.held)
}

#[test]
fn a_lease_takes_slots_and_its_release_gives_them_back() {
    let now = Micros(0);
    let mut book = Book::new(vec![limit(1, "db", 2, 0.0, true)], vec![]);
    let SlotOutcome::Granted { limits, lease } = book.apply(&take(&["db"], 1, terms(9, 60.0)), now)
    else {
        panic!()
    };
    assert_eq!(limits[0].name, "db");
    let lease = lease.unwrap();
    assert_eq!(lease.limits, vec![Uuid::from_u128(1)]);
    let release = SlotOp::Release { lease: lease.id };
    assert_eq!(
        book.apply(&release, Micros(SEC)),
        SlotOutcome::Released(true)
    );
    assert_eq!(
        book.apply(&release, Micros(SEC)),
        SlotOutcome::Released(false)
    );
    let changes = book.changes();
    assert!(
        changes.inserted.is_empty() && changes.deleted.is_empty(),
        "{changes:?}"
    );
    assert_eq!(changes.limits[0].slots.ledger.held, 0);
    assert!(changes.limits[0].average_occupancy_seconds < 2.0);
    assert_eq!(changes.freed, vec!["db".to_owned()]);
}

#[test]
fn unknown_names_are_ignored_and_nothing_named_takes_nothing() {
    let mut book = Book::new(vec![limit(1, "db", 1, 0.0, true)], vec![]);
    let got = book.apply(&take(&["nope"], 1, terms(9, 60.0)), Micros(0));
    assert_eq!(
        got,
        SlotOutcome::Granted {
            limits: vec![],
            lease: None
        }
    );
    let SlotOutcome::Granted { limits, .. } =
        book.apply(&take(&["db", "nope"], 1, None), Micros(0))
    else {
        panic!()
    };
    assert_eq!(limits.len(), 1);
    assert_eq!(held(book, 1), 1);
}

#[test]
fn inactive_limits_are_reported_but_not_charged() {
    let mut book = Book::new(vec![limit(1, "off", 0, 0.0, false)], vec![]);
    let SlotOutcome::Granted { limits, lease } =
        book.apply(&take(&["off"], 1, terms(9, 60.0)), Micros(0))
    else {
        panic!()
    };
    assert_eq!(limits.len(), 1);
    assert!(lease.unwrap().limits.is_empty());
    assert!(book.changes().limits.is_empty());
}

#[test]
fn a_batch_never_lets_a_later_request_overtake_an_earlier_one() {
    let mut book = Book::new(vec![limit(1, "db", 2, 0.0, true)], vec![]);
    book.apply(&take(&["db"], 1, None), Micros(0));
    assert!(matches!(
        book.apply(&take(&["db"], 2, None), Micros(0)),
        SlotOutcome::Busy(_)
    ));
    // One slot is free, but the request for two came first.
    assert!(matches!(
        book.apply(&take(&["db"], 1, None), Micros(0)),
        SlotOutcome::Busy(_)
    ));
    let changes = book.changes();
    assert_eq!(changes.limits[0].slots.ledger.held, 1);
    assert!(changes.freed.is_empty(), "taking slots frees nothing");
}

#[test]
fn renewal_extends_a_live_lease_and_an_expired_one_is_gone_and_freed() {
    let mut book = Book::new(vec![limit(1, "db", 1, 0.0, true)], vec![]);
    book.apply(&take(&["db"], 1, terms(9, 10.0)), Micros(0));
    let renew = |s: f64| SlotOp::Renew {
        lease: Uuid::from_u128(9),
        duration: LeaseDuration::seconds(s).unwrap(),
    };
    assert_eq!(
        book.apply(&renew(10.0), Micros(5 * SEC)),
        SlotOutcome::Renewed {
            expires_at: Micros(15 * SEC)
        }
    );
    assert_eq!(
        book.apply(&renew(10.0), Micros(15 * SEC)),
        SlotOutcome::LeaseGone
    );
    assert!(matches!(
        book.apply(&take(&["db"], 1, None), Micros(15 * SEC)),
        SlotOutcome::Granted { .. }
    ));
    let unknown = SlotOp::Renew {
        lease: Uuid::from_u128(77),
        duration: LeaseDuration::seconds(10.0).unwrap(),
    };
    assert_eq!(
        book.apply(&unknown, Micros(15 * SEC)),
        SlotOutcome::LeaseGone
    );
}

#[test]
fn stored_leases_that_expired_are_reaped_without_touching_the_average() {
    let dead = Lease::grant(
        Uuid::from_u128(9),
        vec![Uuid::from_u128(1)],
        1,
        None,
        Micros(0),
        LeaseDuration::seconds(3.0).unwrap(),
    );
    let mut db = limit(1, "db", 1, 0.0, true);
    db.slots.ledger.held = 1;
    let mut book = Book::new(vec![db], vec![dead]);
    assert!(book.reap_expired(Micros(2 * SEC)).is_empty());
    assert_eq!(book.reap_expired(Micros(3 * SEC)), vec![Uuid::from_u128(9)]);
    let changes = book.changes();
    assert_eq!(changes.deleted, vec![Uuid::from_u128(9)]);
    assert_eq!(changes.limits[0].slots.ledger.held, 0);
    assert_eq!(changes.limits[0].average_occupancy_seconds, 2.0);
}

#[test]
fn decrements_free_only_unleased_slots_and_learn_the_occupancy() {
    let mut book = Book::new(vec![limit(1, "db", 3, 0.0, true)], vec![]);
    book.apply(&take(&["db"], 1, terms(9, 60.0)), Micros(0));
    book.apply(&take(&["db"], 1, None), Micros(0));
    let dec = |slots| SlotOp::Decrement {
        names: vec!["db".into()],
        slots,
        occupancy_seconds: Some(0.5),
    };
    assert!(matches!(
        book.apply(&dec(2), Micros(0)),
        SlotOutcome::DecrementRefused(_)
    ));
    assert!(matches!(
        book.apply(&dec(1), Micros(0)),
        SlotOutcome::Decremented(_)
    ));
    let changes = book.changes();
    assert_eq!(changes.limits[0].slots.ledger.held, 1);
    assert_eq!(
        changes.limits[0].average_occupancy_seconds,
        2.0 + (0.5 - 2.0) / 6.0
    );
}

#[test]
fn the_v1_decrement_releases_what_a_task_run_holds_on_its_tags() {
    let run = Holder {
        kind: HolderKind::TaskRun,
        id: Uuid::from_u128(50),
    };
    let mut book = Book::new(
        vec![
            limit(1, "tag:a", 1, 0.0, true),
            limit(2, "tag:b", 1, 0.0, true),
        ],
        vec![],
    );
    let mut lease = terms(9, 60.0);
    lease.as_mut().unwrap().holder = Some(run);
    book.apply(&take(&["tag:a", "tag:b"], 1, lease), Micros(0));
    let SlotOutcome::Decremented(limits) = book.apply(
        &SlotOp::ReleaseHeldBy {
            holder: run.id,
            names: vec!["tag:a".into()],
        },
        Micros(0),
    ) else {
        panic!()
    };
    assert_eq!(limits.len(), 1);
    let changes = book.changes();
    assert!(changes.limits.iter().all(|l| l.slots.ledger.held == 0));
    assert!(changes.inserted.is_empty());
}

#[test]
fn denials_are_counted_on_active_limits() {
    let mut book = Book::new(
        vec![limit(1, "on", 1, 0.0, true), limit(2, "off", 1, 0.0, false)],
        vec![],
    );
    let deny = SlotOp::Deny {
        names: vec!["on".into(), "off".into()],
        slots: 2,
    };
    assert_eq!(book.apply(&deny, Micros(0)), SlotOutcome::Denied);
    let changes = book.changes();
    assert_eq!(changes.limits.len(), 1);
    assert_eq!(changes.limits[0].denied_slots, 2);
}

proptest! {
    /// Any sequence of acquisitions (with and without leases), releases, renewals, decrements
    /// and expiries keeps every limit within its slots, and its held count equals what live
    /// leases hold plus what lease-less acquisitions hold.
    #[test]
    fn held_slots_always_match_the_leases_and_never_exceed_the_limit(
        ops in prop::collection::vec((0u8..5, 1u32..3, 0u128..6, 0i64..3 * SEC), 1..80),
    ) {
        let mut book = Book::new(vec![limit(1, "a", 3, 0.0, true), limit(2, "b", 2, 0.0, true)], vec![]);
        let mut now = Micros(0);
        let mut unleased = [0u32; 2];
        let mut next_lease = 100u128;
        for (kind, slots, pick, gap) in ops {
            now = Micros(now.0 + gap);
            book.reap_expired(now);
            let names: &[&str] = match pick % 3 { 0 => &["a"], 1 => &["b"], _ => &["a", "b"] };
            match kind {
                0 => {
                    next_lease += 1;
                    book.apply(&take(names, slots, terms(next_lease, 2.0)), now);
                }
                1 => {
                    if let SlotOutcome::Granted { limits, .. } = book.apply(&take(names, slots, None), now) {
                        for l in limits {
                            unleased[usize::try_from(l.id.as_u128()).unwrap() - 1] += slots;
                        }
                    }
                }
                2 => {
                    book.apply(&SlotOp::Release { lease: Uuid::from_u128(100 + pick) }, now);
                }
                3 => {
                    book.apply(&SlotOp::Renew {
                        lease: Uuid::from_u128(100 + pick),
                        duration: LeaseDuration::seconds(2.0).unwrap(),
                    }, now);
                }
                _ => {
                    let op = SlotOp::Decrement { names: names.iter().map(|n| (*n).to_owned()).collect(), slots, occupancy_seconds: None };
                    if let SlotOutcome::Decremented(limits) = book.apply(&op, now) {
                        for l in limits {
                            unleased[usize::try_from(l.id.as_u128()).unwrap() - 1] -= slots;
                        }
                    }
                }
            }
            for (i, l) in book.limits.iter().enumerate() {
                let leased = book.leased_slots(l.slots.id);
                prop_assert_eq!(l.slots.ledger.held, leased + unleased[i]);
                prop_assert!(l.slots.ledger.held <= l.slots.settings.limit);
            }
        }
    }
}
