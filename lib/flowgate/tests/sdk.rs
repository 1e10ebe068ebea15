//! The SDK against a real in-process server (the test harness): what each flow and task call
//! records, runners, futures, retries, panics, subflows and harness isolation.

mod concurrency;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use flowgate::testing::{Harness, harness};
use flowgate::{Input, TaskError, ThreadPoolTaskRunner, as_completed, flow, logger, task, wait};
use serde_json::{Value, json};

fn runs_of(h: &Harness, flow: &str) -> Vec<Value> {
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": [flow]}}, "sort": "CREATED_DESC"}),
    );
    runs.as_array().cloned().unwrap_or_default()
}

fn task_runs(h: &Harness, flow_run_id: &Value) -> Vec<Value> {
    let body =
        json!({"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "EXPECTED_START_TIME_ASC"});
    h.post("/task_runs/filter", body)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn logs(h: &Harness, flow_run_id: &Value) -> Vec<String> {
    let body = json!({"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "TIMESTAMP_ASC"});
    h.post("/logs/filter", body)
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect()
}

#[task]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[flow]
fn my_favorite_flow() -> i64 {
    42
}

#[flow(name = "adder", tags = ["math"])]
fn adder(a: i64) -> i64 {
    let b = add(a, 1);
    add(b, 2)
}

#[test]
fn the_seeds_test_in_rust() {
    let _h = harness();
    assert_eq!(my_favorite_flow(), 42);
}

#[test]
fn a_flow_and_its_tasks_are_recorded_by_the_time_it_returns() {
    let h = harness();
    assert_eq!(adder(10), 13);
    let runs = runs_of(&h, "adder");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["state_type"], "COMPLETED");
    assert_eq!(run["parameters"], json!({"a": 10}));
    assert_eq!(run["tags"], json!(["math"]));
    assert_eq!(run["state"]["data"]["value"], 13);
    let tasks = task_runs(&h, &run["id"]);
    assert_eq!(
        tasks.len(),
        2,
        "no waiting: every task run is stored when the flow returns"
    );
    assert_eq!(tasks[0]["parameters"], json!({"x": 10, "y": 1}));
    assert_eq!(tasks[1]["parameters"], json!({"x": 11, "y": 2}));
    for t in &tasks {
        assert_eq!(t["state_type"], "COMPLETED");
        assert!(t["name"].as_str().unwrap().starts_with("add-"));
        assert!(t["start_time"].is_string() && t["end_time"].is_string());
    }
    assert_eq!(tasks[1]["state"]["data"]["value"], 13);
    let lines = logs(&h, &run["id"]);
    assert!(
        lines.iter().any(|l| l == "Finished in state Completed()"),
        "{lines:?}"
    );
}

#[test]
fn harnesses_are_isolated() {
    let first = harness();
    assert_eq!(my_favorite_flow(), 42);
    let other = std::thread::spawn(|| {
        let second = harness();
        assert_eq!(my_favorite_flow(), 42);
        assert_eq!(my_favorite_flow(), 42);
        runs_of(&second, "my-favorite-flow").len()
    })
    .join()
    .unwrap();
    assert_eq!(other, 2);
    assert_eq!(runs_of(&first, "my-favorite-flow").len(), 1);
}

/// How many elevator stops have started; each waits until all three have.
static ARRIVED: (Mutex<u64>, Condvar) = (Mutex::new(0), Condvar::new());

#[task]
fn stop_at_floor(floor: u64) -> bool {
    logger().info(format!("elevator moving to floor {floor}"));
    let mut arrived = ARRIVED.0.lock().unwrap();
    *arrived += 1;
    ARRIVED.1.notify_all();
    // Bounded: run one at a time, the stops would never all arrive.
    let (arrived, waited) = ARRIVED
        .1
        .wait_timeout_while(arrived, Duration::from_secs(10), |n| *n < 3)
        .unwrap();
    drop(arrived);
    !waited.timed_out()
}

#[flow(task_runner = ThreadPoolTaskRunner::new(3))]
fn elevator() -> Vec<bool> {
    let floors: Vec<_> = (1..=3).rev().map(stop_at_floor::submit).collect();
    wait(&floors);
    floors.iter().map(|f| f.result().unwrap()).collect()
}

#[test]
fn the_elevators_stops_run_at_once_on_a_thread_pool() {
    let h = harness();
    assert_eq!(
        elevator(),
        [true, true, true],
        "all three stops were running at the same time"
    );
    let run = &runs_of(&h, "elevator")[0];
    let tasks = task_runs(&h, &run["id"]);
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t["state_type"] == "COMPLETED"));
}

#[task]
fn square(x: i64) -> i64 {
    x * x
}

/// The gates `gated_square` runs wait at; a test opens them one by one.
static GATES: (Mutex<Vec<i64>>, Condvar) = (Mutex::new(Vec::new()), Condvar::new());

fn open_gate(x: i64) {
    GATES.0.lock().unwrap().push(x);
    GATES.1.notify_all();
}

#[task]
fn gated_square(x: i64) -> i64 {
    let open = GATES.0.lock().unwrap();
    // Bounded, so that a broken test fails instead of hanging.
    let _open = GATES
        .1
        .wait_timeout_while(open, Duration::from_secs(10), |open| !open.contains(&x))
        .unwrap();
    x * x
}

#[flow(task_runner = ThreadPoolTaskRunner::new(4))]
fn futures_flow() -> (Vec<i64>, Vec<i64>, i64) {
    let futures: Vec<_> = (1..=4).map(gated_square::submit).collect();
    // Released one at a time, largest first: as_completed yields each as it finishes.
    let mut done = as_completed(futures.clone());
    let first_done: Vec<i64> = [4, 3, 2, 1]
        .into_iter()
        .map(|x| {
            open_gate(x);
            done.next().unwrap().result().unwrap()
        })
        .collect();
    let mapped: Vec<i64> = square::map([2, 3])
        .iter()
        .map(|f| f.result().unwrap())
        .collect();
    let total = add::submit_with(
        Input::from(futures[0].clone()),
        Input::from(futures[3].clone()),
    );
    (first_done, mapped, total.result().unwrap())
}

#[test]
fn futures_wait_complete_in_order_map_and_feed_other_tasks() {
    let h = harness();
    let (first_done, mapped, total) = futures_flow();
    assert_eq!(
        first_done,
        [16, 9, 4, 1],
        "as_completed yields the runs in the order they finish"
    );
    assert_eq!(mapped, [4, 9]);
    assert_eq!(total, 17);
    let run = &runs_of(&h, "futures-flow")[0];
    let tasks = task_runs(&h, &run["id"]);
    assert_eq!(tasks.len(), 7);
    let sum = tasks
        .iter()
        .find(|t| t["name"].as_str().unwrap().starts_with("add-"))
        .unwrap();
    let upstream: Vec<&Value> = ["x", "y"]
        .iter()
        .map(|p| &sum["task_inputs"][p][0]["id"])
        .collect();
    assert!(
        upstream.iter().all(|id| id.is_string()),
        "futures passed as inputs are recorded upstream: {sum}"
    );
    assert_eq!(sum["parameters"], json!({"x": 1, "y": 16}));
}

static FLAKY: AtomicU32 = AtomicU32::new(0);

#[task(retries = 2, retry_delay = 0.05)]
fn flaky() -> Result<String, String> {
    match FLAKY.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => Err("not yet".to_owned()),
        _ => Ok("finally".to_owned()),
    }
}

#[task]
fn explode(n: i64) -> i64 {
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[task(retries = 1)]
fn always_wrong() -> Result<i64, std::io::Error> {
    Err(std::io::Error::other("disk on fire"))
}

#[flow(task_runner = ThreadPoolTaskRunner::new(2))]
fn failures_flow() -> (String, TaskError, String) {
    let ok = flaky().unwrap();
    let panicked = explode::submit(3).result().unwrap_err();
    let failed = always_wrong::submit().result().unwrap_err().to_string();
    (ok, panicked, failed)
}

#[test]
fn retries_failures_and_panics_are_recorded() {
    let h = harness();
    let (ok, panicked, failed) = failures_flow();
    assert_eq!(ok, "finally");
    assert!(
        matches!(panicked, TaskError::Panicked { ref message, .. } if message.starts_with("boom 3 (at ")),
        "{panicked:?}"
    );
    assert!(failed.contains("disk on fire"), "{failed}");
    let run = &runs_of(&h, "failures-flow")[0];
    assert_eq!(
        run["state_type"], "COMPLETED",
        "the flow handled its tasks' failures"
    );
    let tasks = task_runs(&h, &run["id"]);
    let by_prefix = |p: &str| {
        tasks
            .iter()
            .find(|t| t["name"].as_str().unwrap().starts_with(p))
            .unwrap()
            .clone()
    };
    let flaky = by_prefix("flaky-");
    assert_eq!(
        (flaky["state_type"].as_str(), flaky["run_count"].as_i64()),
        (Some("COMPLETED"), Some(3))
    );
    let exploded = by_prefix("explode-");
    assert_eq!(exploded["state_type"], "FAILED");
    assert!(
        exploded["state"]["message"]
            .as_str()
            .unwrap()
            .contains("boom 3")
    );
    let wrong = by_prefix("always_wrong-");
    assert_eq!(
        (wrong["state_type"].as_str(), wrong["run_count"].as_i64()),
        (Some("FAILED"), Some(2))
    );
    let events = h.post(
        "/events/filter",
        json!({"filter": {"resource": {"id": [format!("prefect.task-run.{}", flaky["id"].as_str().unwrap())]}, "order": "ASC"}}),
    );
    let names: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "prefect.task-run.Pending",
            "prefect.task-run.Running",
            "prefect.task-run.AwaitingRetry",
            "prefect.task-run.Running",
            "prefect.task-run.AwaitingRetry",
            "prefect.task-run.Running",
            "prefect.task-run.Completed"
        ],
        "each attempt is recorded"
    );
}

#[flow]
fn panicking_flow() -> i64 {
    explode(1)
}

#[test]
fn a_panic_fails_the_flow_run_and_is_recorded() {
    let h = harness();
    let caught = std::panic::catch_unwind(panicking_flow);
    assert!(
        caught.is_err(),
        "a direct call re-raises the task's panic after recording it"
    );
    let run = &runs_of(&h, "panicking-flow")[0];
    assert_eq!(run["state_type"], "FAILED");
    assert!(
        run["state"]["message"].as_str().unwrap().contains("boom 1"),
        "{run}"
    );
    let tasks = task_runs(&h, &run["id"]);
    assert_eq!(tasks[0]["state_type"], "FAILED");
}

#[flow]
fn child(x: i64) -> i64 {
    add(x, 100)
}

#[flow]
fn parent() -> i64 {
    let a = add(1, 1);
    child(a)
}

#[test]
fn a_flow_called_in_a_flow_is_a_subflow() {
    let h = harness();
    assert_eq!(parent(), 102);
    let parent_run = &runs_of(&h, "parent")[0];
    let child_run = &runs_of(&h, "child")[0];
    assert_eq!(child_run["state_type"], "COMPLETED");
    let link = child_run["parent_task_run_id"].clone();
    let parent_tasks = task_runs(&h, &parent_run["id"]);
    let linked = parent_tasks
        .iter()
        .find(|t| t["id"] == link)
        .expect("the parent task run is in the parent flow run");
    assert_eq!(linked["state_type"], "COMPLETED");
    assert_eq!(task_runs(&h, &child_run["id"]).len(), 1);
}

#[flow(task_runner = ThreadPoolTaskRunner::new(2))]
fn forgetful() -> i64 {
    let _never_waited = square::submit(2);
    7
}

#[test]
fn futures_left_unresolved_are_awaited_with_a_warning() {
    let h = harness();
    assert_eq!(forgetful(), 7);
    let run = &runs_of(&h, "forgetful")[0];
    let tasks = task_runs(&h, &run["id"]);
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0]["state_type"], "COMPLETED",
        "the flow waited for it"
    );
    let lines = logs(&h, &run["id"]);
    assert!(
        lines.iter().any(|l| l.contains("not waited for")),
        "{lines:?}"
    );
}

#[task(timeout = 0.05)]
fn slow() -> i64 {
    std::thread::sleep(Duration::from_millis(120));
    1
}

#[flow]
fn timeout_flow() -> Result<i64, TaskError> {
    slow::submit().result()
}

#[test]
fn a_task_over_its_timeout_fails() {
    let h = harness();
    let err = timeout_flow().unwrap_err();
    assert!(matches!(err, TaskError::TimedOut { .. }), "{err:?}");
    let run = &runs_of(&h, "timeout-flow")[0];
    assert_eq!(run["state_type"], "FAILED", "a flow returning Err fails");
}

#[test]
fn tasks_outside_flows_are_plain_calls() {
    assert_eq!(add(2, 3), 5);
    assert_eq!(add::submit(2, 3).result().unwrap(), 5);
}

#[flow]
async fn async_flow(n: i64) -> i64 {
    async_double(n).await + add(0, 1)
}

#[task]
async fn async_double(n: i64) -> i64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    n * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_flows_and_tasks_are_recorded() {
    let h = harness();
    assert_eq!(async_flow(20).await, 41);
    let run = &runs_of(&h, "async-flow")[0];
    assert_eq!(run["state_type"], "COMPLETED");
    let tasks = task_runs(&h, &run["id"]);
    assert_eq!(tasks.len(), 2);
}

#[task]
fn tally(counts: std::collections::HashMap<(u8, u8), u32>) -> u32 {
    counts.values().sum()
}

#[flow]
fn unserialisable() -> String {
    let counts = std::collections::HashMap::from([((1, 2), 3)]);
    tally::submit(counts).result().unwrap_err().to_string()
}

#[test]
fn an_argument_that_cannot_be_recorded_is_named() {
    let h = harness();
    let message = unserialisable();
    assert!(
        message.contains("parameter `counts`") && message.contains("cannot be serialised"),
        "{message}"
    );
    let run = &runs_of(&h, "unserialisable")[0];
    let tasks = task_runs(&h, &run["id"]);
    assert_eq!(tasks[0]["state_type"], "FAILED");
}
