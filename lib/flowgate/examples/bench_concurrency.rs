//! Concurrency slots through the SDK against a test harness (an in-process server on a
//! temporary SQLite file): the acquire + release round trip of one uncontended slot, and
//! acquisitions per second when `--threads` threads contend for a limit of `--limit` slots
//! (checking, inside the program, that the limit is never exceeded). Prints one JSON line.
//!
//! `cargo run --release -p flowgate --example bench_concurrency -- --threads 8 --limit 4`

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flowgate::concurrency;
use serde_json::json;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (threads, limit) = (arg("--threads", 8), arg("--limit", 4));
    let round_trips = arg("--round-trips", 2000);
    let seconds = arg("--seconds", 5);
    let h = flowgate::testing::harness();
    h.post(
        "/v2/concurrency_limits/",
        json!({"name": "round-trip", "limit": 1}),
    );
    h.post(
        "/v2/concurrency_limits/",
        json!({"name": "contended", "limit": limit}),
    );

    // Round trip: take the free slot, give it back, one after another.
    let mut micros = Vec::new();
    for i in 0..round_trips + 200 {
        let started = Instant::now();
        let slot = concurrency("round-trip", 1).acquire().expect("a slot");
        slot.release().expect("given back");
        if i >= 200 {
            micros.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    micros.sort_by(f64::total_cmp);
    let median = micros[micros.len() / 2];
    let p99 = micros[micros.len() * 99 / 100];

    // Contention: every thread takes and gives back a slot as fast as it can.
    let (inside, most, taken) = (AtomicU32::new(0), AtomicU32::new(0), AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let _served = h.enter();
                while Instant::now() < deadline {
                    let slot = concurrency("contended", 1).acquire().expect("a slot");
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    slot.release().expect("given back");
                    taken.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let left = h.get("/v2/concurrency_limits/contended")["active_slots"].clone();
    println!(
        "{}",
        json!({
            "round_trip_us_median": median.round(),
            "round_trip_us_p99": p99.round(),
            "threads": threads,
            "limit": limit,
            "acquisitions": taken.load(Ordering::Relaxed),
            "acquisitions_per_s": (taken.load(Ordering::Relaxed) as f64 / elapsed).round(),
            "most_holders_at_once": most.load(Ordering::SeqCst),
            "slots_left_held": left,
        })
    );
    assert!(
        most.load(Ordering::SeqCst) <= limit as u32,
        "the limit was exceeded"
    );
}
