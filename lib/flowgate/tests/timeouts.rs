//! Sync and async tasks share one attempt driver: a timeout, a retry and a panic mean the same
//! in both. A synchronous body cannot be interrupted, so at its timeout the attempt is over and
//! the caller moves on while the body's thread runs to its end (its value is dropped).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use flowgate::testing::harness;
use flowgate::{StateType, TaskError, flow, task};

/// Set when the test lets the stubborn body go on.
static RELEASED: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());
/// Set when the stubborn body returns.
static FINISHED: AtomicBool = AtomicBool::new(false);

fn wait_for_release() {
    let (lock, cv) = &RELEASED;
    let guard = lock.lock().unwrap();
    // Bounded, so that an SDK waiting for the body fails the test instead of hanging it.
    let _ = cv
        .wait_timeout_while(guard, Duration::from_secs(10), |released| !*released)
        .unwrap();
}

fn release() {
    let (lock, cv) = &RELEASED;
    *lock.lock().unwrap() = true;
    cv.notify_all();
}

#[task(timeout = 0.2)]
fn stubborn() -> i64 {
    wait_for_release();
    FINISHED.store(true, Ordering::SeqCst);
    1
}

#[flow]
fn waits_for_stubborn() -> Result<i64, TaskError> {
    stubborn::run()
}

#[test]
fn a_sync_tasks_timeout_ends_the_attempt_without_waiting_for_the_body() {
    let h = harness();
    let err = waits_for_stubborn().unwrap_err();
    let finished_before_the_caller_went_on = FINISHED.load(Ordering::SeqCst);
    release();
    assert!(
        matches!(err, TaskError::TimedOut { after, .. } if after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(
        !finished_before_the_caller_went_on,
        "the caller moved on at the timeout, before the body returned"
    );
    let task = &h.task_runs_of("stubborn")[0];
    assert_eq!(task.state, StateType::Failed);
    assert_eq!(task.message.as_deref(), Some("timed out after 0.2 s"));
    assert_eq!(
        h.flow_runs_of("waits-for-stubborn")[0].state,
        StateType::Failed,
        "a flow returning Err fails"
    );
}

#[task(timeout = 0.2, retries = 1)]
async fn hangs() -> i64 {
    std::future::pending::<()>().await;
    1
}

#[flow]
async fn awaits_a_hang() -> String {
    match hangs::run().await {
        Err(TaskError::TimedOut { after, .. }) => format!("timed out after {after:?}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_tasks_timeout_is_a_timeout_and_the_flow_goes_on() {
    let h = harness();
    assert_eq!(awaits_a_hang().await, "timed out after 200ms");
    let task = &h.task_runs_of("hangs")[0];
    assert_eq!(
        (task.state, task.run_count, task.message.as_deref()),
        (StateType::Failed, 2, Some("timed out after 0.2 s")),
        "the same record as a sync task's timeout, retried as asked"
    );
    assert_eq!(
        h.flow_runs_of("awaits-a-hang")[0].state,
        StateType::Completed
    );
}

static ASYNC_FLAKY: AtomicU32 = AtomicU32::new(0);

#[task(retries = 2, retry_delay = 0.01)]
async fn async_flaky() -> Result<u32, String> {
    tokio::task::yield_now().await;
    match ASYNC_FLAKY.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => Err("not yet".to_owned()),
        n => Ok(n),
    }
}

#[task(retries = 1)]
async fn async_explode() -> i64 {
    tokio::task::yield_now().await;
    panic!("async boom")
}

#[flow]
async fn async_failures() -> (u32, String) {
    let flaky = async_flaky::run().await.unwrap();
    let exploded = async_explode::run().await.unwrap_err().to_string();
    (flaky, exploded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_retries_and_panics_are_recorded_like_sync_ones() {
    let h = harness();
    let (flaky, exploded) = async_failures().await;
    assert_eq!(flaky, 2);
    assert!(exploded.contains("panicked: async boom (at "), "{exploded}");
    let flaky = &h.task_runs_of("async_flaky")[0];
    assert_eq!((flaky.state, flaky.run_count), (StateType::Completed, 3));
    let exploded = &h.task_runs_of("async_explode")[0];
    assert_eq!((exploded.state, exploded.run_count), (StateType::Failed, 2));
    assert!(
        exploded
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("panicked: async boom")),
        "{exploded:?}"
    );
}

static FLOW_RELEASED: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

#[flow(timeout = 0.2)]
fn slow_flow() -> i64 {
    let (lock, cv) = &FLOW_RELEASED;
    let guard = lock.lock().unwrap();
    let _ = cv
        .wait_timeout_while(guard, Duration::from_secs(10), |released| !*released)
        .unwrap();
    1
}

#[test]
fn a_flows_timeout_is_a_timed_out_error_and_a_failed_run() {
    let h = harness();
    let outcome = slow_flow::run();
    let (lock, cv) = &FLOW_RELEASED;
    *lock.lock().unwrap() = true;
    cv.notify_all();
    assert!(
        matches!(outcome, Err(flowgate::FlowError::TimedOut(after)) if after == Duration::from_millis(200)),
        "{outcome:?}"
    );
    let run = &h.flow_runs_of("slow-flow")[0];
    assert_eq!(run.state, StateType::Failed);
    assert_eq!(
        run.message.as_deref(),
        Some("Flow run timed out after 0.2 s")
    );
}
