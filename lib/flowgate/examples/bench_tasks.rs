//! Task throughput benchmark. Prints one JSON line.
//!
//! ```text
//! cargo run --release -p flowgate --example bench_tasks -- --tasks 10000 --workers 8
//! cargo run --release -p flowgate --example bench_tasks -- --flows 200 --tasks 10
//! ```
//!
//! With `--workers N` one flow submits `--tasks` no-op tasks to `ThreadPoolTaskRunner::new(N)`;
//! otherwise `--flows` flows each call `--tasks` no-op tasks in sequence. `recorded` is the number
//! of task runs the server reports for the run(s) when the flows have returned. Also reports
//! the test harness's start time and the median duration of a sequential task call (over 1000
//! calls in a separate flow). Runs against `FLOWGATE_API_URL`, or a test harness (an embedded
//! server on a temporary database).

use std::time::Instant;

use flowgate::{ThreadPoolTaskRunner, flow, task};
use serde_json::json;

#[task]
fn noop(i: u64) -> u64 {
    i
}

#[flow(name = "bench-threadpool", task_runner = ThreadPoolTaskRunner::new(workers))]
fn pool_flow(tasks: u64, workers: usize) -> u64 {
    let _ = workers; // used by the task_runner option
    noop::map(0..tasks)
        .iter()
        .map(|f| f.result().expect("no-op"))
        .sum()
}

#[flow(name = "bench-seq")]
fn seq_flow(tasks: u64) -> u64 {
    (0..tasks).map(noop).sum()
}

/// Each sequential task call's duration in microseconds, as seen by the flow.
#[flow(name = "bench-overhead")]
fn overhead_flow(tasks: u64) -> Vec<f64> {
    (0..tasks)
        .map(|i| {
            let t = Instant::now();
            noop(i);
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v}"))
        })
        .unwrap_or(default)
}

fn main() {
    let tasks = arg("--tasks", 10_000);
    let workers = arg("--workers", 0) as usize;
    let flows = arg("--flows", 1);
    let harness_started = Instant::now();
    let harness = if std::env::var("FLOWGATE_API_URL").is_ok() {
        None
    } else {
        Some(flowgate::testing::harness())
    };
    let harness_ms = harness_started.elapsed().as_secs_f64() * 1e3;
    let mut per_call = overhead_flow(1000);
    per_call.sort_by(f64::total_cmp);
    let started = Instant::now();
    let result = if workers > 0 {
        pool_flow(tasks, workers)
    } else {
        (0..flows).map(|_| seq_flow(tasks)).sum()
    };
    let seconds = started.elapsed().as_secs_f64();
    let expected: u64 = if workers > 0 {
        (0..tasks).sum()
    } else {
        flows * (0..tasks).sum::<u64>()
    };
    assert_eq!(result, expected);
    let recorded = match &harness {
        Some(h) => {
            let bench = json!({"flows": {"name": {"any_": ["bench-seq", "bench-threadpool"]}}});
            h.post("/task_runs/count", bench).as_i64().unwrap_or(-1)
        }
        None => -1,
    };
    let total = if workers > 0 { tasks } else { flows * tasks };
    println!(
        "{}",
        json!({
            "mode": if workers > 0 { "threadpool" } else { "sequential" },
            "flows": if workers > 0 { 1 } else { flows }, "tasks": total, "workers": workers,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "tasks_per_s": (total as f64 / seconds).round(),
            "flow_runs_per_s": if workers > 0 { json!(null) } else { json!((flows as f64 / seconds * 10.0).round() / 10.0) },
            "recorded": recorded,
            "harness_start_ms": harness.as_ref().map(|_| (harness_ms * 10.0).round() / 10.0),
            "sequential_task_call_us_median": (per_call[per_call.len() / 2] * 10.0).round() / 10.0,
        })
    );
}
