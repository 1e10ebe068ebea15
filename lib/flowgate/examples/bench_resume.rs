//! Resume latency: a flow pauses `--pauses` times; each time, this program resumes it through
//! the API and measures from the accepted resume to the flow's next statement. Prints one JSON
//! line with the median and maximum in milliseconds. Runs against a test harness.
//!
//! `cargo run --release -p flowgate --example bench_resume -- --pauses 20`

use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use flowgate::{flow, pause_flow_run};
use serde_json::json;

/// Where the flow reports the instant it continued.
static CONTINUED: OnceLock<Mutex<Sender<Instant>>> = OnceLock::new();

#[flow]
fn waits(pauses: u64) {
    for _ in 0..pauses {
        pause_flow_run(Duration::from_secs(60)).expect("resumed");
        let _ = CONTINUED
            .get()
            .expect("set before the flow")
            .lock()
            .unwrap()
            .send(Instant::now());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pauses: u64 = args
        .iter()
        .position(|a| a == "--pauses")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let (tx, rx) = channel();
    CONTINUED.set(Mutex::new(tx)).expect("set once");
    let h = flowgate::testing::harness();
    let mut latencies = Vec::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            let _serve = h.enter();
            waits(pauses)
        });
        for n in 1..=pauses as usize {
            let run = loop {
                let runs = h.post(
                    "/flow_runs/filter",
                    json!({"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}}),
                );
                if let Some(r) = runs.as_array().unwrap().iter().find(|r| {
                    r["empirical_policy"]["pause_keys"].as_array().map(Vec::len) == Some(n)
                }) {
                    break r.clone();
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            let answer = h.post(
                &format!("/flow_runs/{}/resume", run["id"].as_str().unwrap()),
                json!({}),
            );
            let accepted = Instant::now();
            assert_eq!(answer["status"], "ACCEPT");
            let continued = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the flow continued");
            latencies.push(continued.saturating_duration_since(accepted).as_secs_f64() * 1e3);
        }
    });
    latencies.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"pauses": pauses, "resume_to_next_statement_ms_median": (latencies[latencies.len() / 2] * 10.0).round() / 10.0,
               "max_ms": (latencies[latencies.len() - 1] * 10.0).round() / 10.0})
    );
}
