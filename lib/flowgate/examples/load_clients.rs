//! The Rust SDK's half of `scripts/bench load`: `--threads` threads each loop for `--seconds`,
//! taking turns at four kinds of work against `FLOWGATE_API_URL`: a flow calling five tasks
//! and logging, a flow mapping eight tasks over a thread pool, an event emitted, and a slot of
//! the global concurrency limit `--limit-name` taken and given back. Every failure is an error
//! (the server is expected to answer all of it). Prints one JSON line: operations and errors
//! by kind, each kind's client-side p50 / p99 in milliseconds, and the first few errors.
//!
//! `FLOWGATE_API_URL=http://127.0.0.1:4200/api cargo run --release -p flowgate --example
//! load_clients -- --threads 40 --seconds 180`

use std::sync::Mutex;
use std::time::{Duration, Instant};

use flowgate::{ThreadPoolTaskRunner, concurrency, emit_event, flow, logger, task};
use serde_json::json;

#[task]
fn add(x: u64, y: u64) -> u64 {
    x + y
}

#[flow(name = "load-sequential")]
fn sequential(n: u64) -> u64 {
    logger().info(format!("load flow {n}"));
    (0..5).fold(0, add)
}

#[flow(name = "load-threadpool", task_runner = ThreadPoolTaskRunner::new(4))]
fn pooled() -> u64 {
    add::map((0..8).map(|i| (i, 1)))
        .iter()
        .map(|f| f.result().expect("a mapped task's result"))
        .sum()
}

/// The kinds of work, in the order threads take turns at them.
const KINDS: [&str; 4] = [
    "flow_5_tasks",
    "flow_threadpool_8_tasks",
    "event",
    "concurrency",
];

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// One piece of work of `kind` (an index into [`KINDS`]); `Err` describes what failed.
fn work(kind: usize, n: u64, limit: &str) -> Result<(), String> {
    match kind {
        0 => match sequential::run(n) {
            Ok(10) => Ok(()),
            Ok(other) => Err(format!("sequential flow returned {other}, not 10")),
            Err(e) => Err(format!("sequential flow: {e}")),
        },
        1 => match pooled::run() {
            Ok(36) => Ok(()),
            Ok(other) => Err(format!("thread-pool flow returned {other}, not 36")),
            Err(e) => Err(format!("thread-pool flow: {e}")),
        },
        2 => emit_event("load.rust", format!("load.thread.{n}"), json!({"n": n}))
            .map(|_| ())
            .map_err(|e| format!("event: {e}")),
        _ => concurrency(limit, 1)
            .strict()
            .max_wait(Duration::from_secs(30))
            .acquire()
            .and_then(|slot| slot.release())
            .map_err(|e| format!("concurrency: {e}")),
    }
}

/// The `q` quantile of sorted `ms`.
fn quantile(ms: &[f64], q: f64) -> f64 {
    if ms.is_empty() {
        return f64::NAN;
    }
    let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1;
    (ms[i] * 10.0).round() / 10.0
}

fn main() {
    let threads: usize = arg("--threads", "40").parse().expect("--threads N");
    let seconds: u64 = arg("--seconds", "60").parse().expect("--seconds N");
    let limit = arg("--limit-name", "load");
    assert!(
        std::env::var("FLOWGATE_API_URL").is_ok(),
        "set FLOWGATE_API_URL to the server under load"
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    // Per kind: the durations of the successes, and the failures.
    let timings: Mutex<Vec<Vec<f64>>> = Mutex::new(vec![Vec::new(); KINDS.len()]);
    let errors: Mutex<Vec<Vec<String>>> = Mutex::new(vec![Vec::new(); KINDS.len()]);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (timings, errors, limit) = (&timings, &errors, &limit);
            s.spawn(move || {
                let mut n = t as u64;
                for turn in t.. {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let kind = turn % KINDS.len();
                    let started = Instant::now();
                    match work(kind, n, limit) {
                        Ok(()) => timings.lock().unwrap()[kind]
                            .push(started.elapsed().as_secs_f64() * 1e3),
                        Err(e) => errors.lock().unwrap()[kind].push(e),
                    }
                    n += threads as u64;
                }
            });
        }
    });
    let (mut timings, errors) = (timings.into_inner().unwrap(), errors.into_inner().unwrap());
    let mut kinds = serde_json::Map::new();
    for (i, kind) in KINDS.iter().enumerate() {
        timings[i].sort_by(f64::total_cmp);
        kinds.insert(
            (*kind).to_owned(),
            json!({
                "ok": timings[i].len(), "errors": errors[i].len(),
                "p50_ms": quantile(&timings[i], 0.5), "p99_ms": quantile(&timings[i], 0.99),
            }),
        );
    }
    let all_errors: Vec<&String> = errors.iter().flatten().collect();
    println!(
        "{}",
        json!({
            "client": "rust-sdk", "threads": threads, "seconds": seconds,
            "operations": timings.iter().map(Vec::len).sum::<usize>() + all_errors.len(),
            "errors": all_errors.len(), "first_errors": all_errors.iter().take(5).collect::<Vec<_>>(),
            "kinds": kinds,
        })
    );
}
