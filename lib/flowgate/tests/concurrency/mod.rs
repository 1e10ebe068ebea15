//! Concurrency limits through the SDK against a real server: held slots never exceed the
//! limit however many threads hammer it, no slot is lost or granted twice, rate limits space
//! calls, strict mode and the maximum wait, lease renewal, and tag limits on task runs.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use flowgate::testing::{Harness, harness};
use flowgate::{ConcurrencyError, ThreadPoolTaskRunner, concurrency, flow, rate_limit, task, wait};
use serde_json::{Value, json};

fn create_limit(h: &Harness, name: &str, limit: i64, decay: f64) {
    h.post(
        "/v2/concurrency_limits/",
        json!({"name": name, "limit": limit, "slot_decay_per_second": decay}),
    );
}

fn limit(h: &Harness, name: &str) -> Value {
    h.get(&format!("/v2/concurrency_limits/{name}"))
}

fn leases(h: &Harness, name: &str) -> Vec<Value> {
    h.get(&format!("/v2/concurrency_limits/{name}/holders"))["leases"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Counts holders between acquisition and release, remembering the most seen at once.
#[derive(Default)]
struct Occupancy {
    inside: AtomicU32,
    most: AtomicU32,
}

impl Occupancy {
    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn most(&self) -> u32 {
        self.most.load(Ordering::SeqCst)
    }
}

#[test]
fn many_threads_hammering_one_limit_never_exceed_it_and_no_slot_is_lost_or_granted_twice() {
    let h = harness();
    create_limit(&h, "hammered", 3, 0.0);
    let (threads, rounds) = (12, 40);
    let occupancy = Occupancy::default();
    let leases_granted = Mutex::new(HashSet::new());
    std::thread::scope(|s| {
        for t in 0..threads {
            let (h, occupancy, leases_granted) = (&h, &occupancy, &leases_granted);
            s.spawn(move || {
                let _served = h.enter();
                for round in 0..rounds {
                    let guard = concurrency("hammered", 1).acquire().expect("a slot");
                    occupancy.enter();
                    let lease = guard
                        .lease_id()
                        .expect("the limit exists, so a lease holds");
                    assert!(
                        leases_granted.lock().unwrap().insert(lease),
                        "lease {lease} granted twice"
                    );
                    occupancy.leave();
                    // Both ways of giving back: explicitly, and by dropping the guard.
                    if (t + round) % 2 == 0 {
                        guard.release().expect("given back");
                    } else {
                        drop(guard);
                    }
                }
            });
        }
    });
    assert!(
        occupancy.most() <= 3,
        "{} holders at once",
        occupancy.most()
    );
    assert_eq!(leases_granted.lock().unwrap().len(), threads * rounds);
    assert_eq!(limit(&h, "hammered")["active_slots"], 0, "a slot was lost");
    assert_eq!(leases(&h, "hammered"), Vec::<Value>::new());
}

#[test]
fn async_holders_share_a_limit_and_give_every_slot_back() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // Started in the runtime, the harness serves every task spawned on it.
        let h = harness();
        create_limit(&h, "async-limit", 2, 0.0);
        let occupancy = std::sync::Arc::new(Occupancy::default());
        let mut holders = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let occupancy = occupancy.clone();
            holders.spawn(async move {
                for _ in 0..10 {
                    let guard = concurrency("async-limit", 1).await.expect("a slot");
                    occupancy.enter();
                    tokio::task::yield_now().await;
                    occupancy.leave();
                    guard.release_async().await.expect("given back");
                }
            });
        }
        while let Some(done) = holders.join_next().await {
            done.expect("a holder finished");
        }
        assert!(
            occupancy.most() <= 2,
            "{} holders at once",
            occupancy.most()
        );
        assert_eq!(limit(&h, "async-limit")["active_slots"], 0);
    });
}

#[test]
fn a_missing_limit_limits_nothing_unless_strict() {
    let _h = harness();
    let guard = concurrency("nobody-made-me", 1)
        .acquire()
        .expect("not strict");
    assert_eq!(guard.lease_id(), None);
    match concurrency("nobody-made-me", 1).strict().acquire() {
        Err(ConcurrencyError::NoSuchLimit { name }) => assert_eq!(name, "nobody-made-me"),
        other => panic!(
            "expected NoSuchLimit, got {:?}",
            other.map(|g| g.lease_id())
        ),
    }
    match rate_limit("nobody-made-me", 1).strict().acquire() {
        Err(ConcurrencyError::NoSuchLimit { .. }) => {}
        other => panic!("expected NoSuchLimit, got {other:?}"),
    }
}

#[test]
fn a_full_limit_times_out_after_the_maximum_wait_and_frees_for_the_next() {
    let h = harness();
    create_limit(&h, "single", 1, 0.0);
    let held = concurrency("single", 1).acquire().expect("the free slot");
    let started = Instant::now();
    match concurrency("single", 1)
        .max_wait(Duration::from_millis(300))
        .acquire()
    {
        Err(e @ ConcurrencyError::TimedOut { .. }) => {
            assert!(e.to_string().contains("0.3 s"), "{e}");
        }
        other => panic!("expected TimedOut, got {:?}", other.map(|g| g.lease_id())),
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    held.release().expect("given back");
    let next = concurrency("single", 1)
        .max_wait(Duration::ZERO)
        .acquire()
        .expect("free again at once");
    assert!(next.lease_id().is_some());
}

#[test]
fn asking_for_more_slots_than_the_limit_has_is_refused_at_once() {
    let h = harness();
    create_limit(&h, "pair", 2, 0.0);
    match concurrency("pair", 3).acquire() {
        Err(ConcurrencyError::Refused(reason)) => assert!(reason.contains("pair"), "{reason}"),
        other => panic!("expected Refused, got {:?}", other.map(|g| g.lease_id())),
    }
    match rate_limit("pair", 1).acquire() {
        Err(ConcurrencyError::Refused(reason)) => {
            assert!(reason.contains("no slot decay"), "{reason}")
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[test]
fn rate_limited_calls_are_spaced_by_the_decay() {
    let h = harness();
    create_limit(&h, "paced", 1, 10.0);
    let started = Instant::now();
    for _ in 0..5 {
        rate_limit("paced", 1).acquire().expect("a slot");
    }
    // The first is free; each later one waits for a tenth of a second of decay.
    assert!(
        started.elapsed() >= Duration::from_millis(390),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_held_lease_is_renewed_while_its_guard_lives() {
    let h = harness();
    create_limit(&h, "renewed", 1, 0.0);
    assert_renewed(&h, "renewed");
}

#[test]
fn a_short_lease_is_renewed_in_time_behind_a_long_one() {
    let h = harness();
    create_limit(&h, "long", 1, 0.0);
    create_limit(&h, "short", 1, 0.0);
    // One task renews every guard's lease: the 3 s lease must not wait for the 60 s one's turn.
    let long = concurrency("long", 1)
        .lease_duration(Duration::from_secs(60))
        .acquire()
        .expect("a slot");
    assert_renewed(&h, "short");
    let long_lease = leases(&h, "long");
    assert_eq!(long_lease.len(), 1, "{long_lease:?}");
    drop(long);
    assert!(leases(&h, "long").is_empty());
}

/// Holds a slot of `name` under a 3 s lease until the lease's deadline moves, then gives it back.
fn assert_renewed(h: &Harness, name: &str) {
    let guard = concurrency(name, 1)
        .lease_duration(Duration::from_secs(3))
        .acquire()
        .expect("a slot");
    let first = leases(h, name)[0]["expires_at"].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let renewed = loop {
        let now = leases(h, name);
        assert_eq!(now.len(), 1, "the lease lapsed: {now:?}");
        assert_eq!(now[0]["id"], json!(guard.lease_id().expect("a lease")));
        if now[0]["expires_at"] != first {
            break now[0]["expires_at"].clone();
        }
        assert!(Instant::now() < deadline, "never renewed");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(renewed.as_str() > first.as_str(), "{renewed} after {first}");
    drop(guard);
    assert!(leases(h, name).is_empty());
}

static SERIAL: Occupancy = Occupancy {
    inside: AtomicU32::new(0),
    most: AtomicU32::new(0),
};

#[task(tags = ["one-at-a-time"])]
fn serialised(n: u32) -> u32 {
    SERIAL.enter();
    std::thread::sleep(Duration::from_millis(20));
    SERIAL.leave();
    assert!(n != 3, "task 3 panics, and its slot still goes back");
    n
}

#[flow(task_runner = ThreadPoolTaskRunner::new(4))]
fn tagged_flow() -> usize {
    let runs: Vec<_> = (0..6).map(serialised::submit).collect();
    wait(&runs);
    runs.iter().filter(|r| r.result().is_ok()).count()
}

#[test]
fn a_tag_limit_of_one_serialises_tagged_task_runs_and_every_slot_goes_back() {
    let h = harness();
    h.post(
        "/concurrency_limits/",
        json!({"tag": "one-at-a-time", "concurrency_limit": 1}),
    );
    assert_eq!(tagged_flow(), 5);
    assert_eq!(SERIAL.most(), 1, "tagged runs overlapped");
    let tag = h.get("/concurrency_limits/tag/one-at-a-time");
    assert_eq!(tag["active_slots"], json!([]), "{tag}");
    assert_eq!(limit(&h, "tag:one-at-a-time")["active_slots"], 0);
}
