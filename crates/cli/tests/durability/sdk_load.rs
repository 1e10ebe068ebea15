//! Rust SDK flows under kills: two threads run a flow of three tasks and three log lines again
//! and again against the server while it is killed and restarted on the same port. A flow that
//! returned its value must be Completed on the server with everything it reported: the SDK
//! declares a run finished only after a flush confirmed its events and logs were stored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flowgate::{current_flow_run_id, flow, logger, task};
use serde_json::json;
use uuid::Uuid;

use crate::common::Api;

/// The flow run of each `sdk_soak` call, by its argument (unique across the test binary).
static RUNS: Mutex<Option<HashMap<i64, Uuid>>> = Mutex::new(None);
static NEXT: AtomicI64 = AtomicI64::new(1);

#[task]
fn cube(x: i64) -> i64 {
    x * x * x
}

#[flow]
fn sdk_soak(n: i64) -> i64 {
    let id = current_flow_run_id().expect("in a flow");
    RUNS.lock().unwrap().get_or_insert_default().insert(n, id);
    let mut total = 0;
    for k in 0..3 {
        total += cube(n + k);
        logger().info(format!("sdk soak step {k} of flow {n}"));
    }
    total
}

fn expected(n: i64) -> i64 {
    (0..3).map(|k| (n + k).pow(3)).sum()
}

/// How each call ended: its argument and the value or the error.
type Outcome = (i64, Result<i64, String>);

/// The running flow threads.
pub struct SdkLoad {
    stop: Arc<AtomicBool>,
    /// Flow calls that returned their value so far.
    pub finished: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Vec<Outcome>>>,
}

/// What the SDK's flows came to.
#[derive(Debug, Default)]
pub struct SdkTally {
    /// Calls that returned their value, each checked on the server.
    pub completed: usize,
    /// Calls that failed (the server was away longer than the SDK waits), with their errors.
    pub failed: Vec<String>,
}

impl SdkLoad {
    /// Starts two threads running `sdk_soak` against `api_url` until stopped.
    pub fn start(api_url: &str) -> SdkLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicUsize::new(0));
        let threads = (0..2)
            .map(|_| {
                let url = api_url.to_owned();
                let (stop, finished) = (stop.clone(), finished.clone());
                std::thread::spawn(move || {
                    let _served = flowgate::testing::connect(&url);
                    let mut outcomes = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let n = NEXT.fetch_add(1, Ordering::Relaxed);
                        let outcome = sdk_soak::run(n).map_err(|e| e.to_string());
                        if outcome.is_ok() {
                            finished.fetch_add(1, Ordering::Relaxed);
                        }
                        outcomes.push((n, outcome));
                    }
                    outcomes
                })
            })
            .collect();
        SdkLoad {
            stop,
            finished,
            threads,
        }
    }

    /// Stops the threads after their current flow and checks every flow that returned: its
    /// value is right, and its run is Completed with three Completed task runs and three logs.
    pub fn stop_and_check(self, api: &Api) -> SdkTally {
        self.stop.store(true, Ordering::Relaxed);
        let mut tally = SdkTally::default();
        for thread in self.threads {
            for (n, outcome) in thread.join().expect("an SDK flow thread ends") {
                let value = match outcome {
                    Ok(value) => value,
                    Err(e) => {
                        tally.failed.push(e);
                        continue;
                    }
                };
                assert_eq!(value, expected(n));
                let run = RUNS.lock().unwrap().as_ref().unwrap()[&n].to_string();
                let (_, stored) = api.get(&format!("/flow_runs/{run}"));
                assert_eq!(
                    stored["state_type"], "COMPLETED",
                    "SDK flow {n} returned, so its run is Completed: {stored:#}"
                );
                assert_eq!(completed_task_runs(api, &run), 3, "run {run}'s task runs");
                let logs = logs_containing(api, &run, "sdk soak step");
                assert_eq!(logs.len(), 3, "run {run}'s log lines, each once: {logs:?}");
                tally.completed += 1;
            }
        }
        tally
    }
}

/// How many of the flow run's task runs are Completed.
pub fn completed_task_runs(api: &Api, run: &str) -> usize {
    let (status, tasks) = api.post(
        "/task_runs/filter",
        &json!({"flow_runs": {"id": {"any_": [run]}},
                "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}),
    );
    assert_eq!(status, 200, "{tasks}");
    tasks.as_array().unwrap().len()
}

/// The flow run's log lines containing `text`.
pub fn logs_containing(api: &Api, run: &str, text: &str) -> Vec<String> {
    let (status, logs) = api.post(
        "/logs/filter",
        &json!({"logs": {"flow_run_id": {"any_": [run]}}, "limit": 200}),
    );
    assert_eq!(status, 200, "{logs}");
    logs.as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .filter(|m| m.contains(text))
        .map(str::to_owned)
        .collect()
}
