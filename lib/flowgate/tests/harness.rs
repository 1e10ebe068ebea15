//! Tests cannot escape the harness: it serves every thread and tokio task the test starts,
//! refuses (never guesses, never uses the default database) when it cannot tell, answers with
//! typed records, and the SDK's output stays inside the test runner's capture.
//!
//! The tests here that start a harness hold `SERIAL`, so that within this binary at most one
//! harness is active at a time unless a test starts two on purpose.

use std::process::Command;
use std::sync::Mutex;

use flowgate::testing::harness;
use flowgate::{ApiError, FlowError, StateType, flow, task};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[task]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[flow]
fn sync_answer() -> i64 {
    add(40, 2)
}

#[flow]
async fn async_answer() -> i64 {
    add(20, 1) * 2
}

/// What `#[tokio::test(flavor = "multi_thread")]` does, with the test's lock held outside.
fn on_a_multi_threaded_runtime(test: impl std::future::Future<Output = ()>) {
    let _serial = serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(test);
}

#[test]
fn flows_spawned_on_the_tests_runtime_are_seen_by_its_harness() {
    on_a_multi_threaded_runtime(async {
        let h = harness();
        assert_eq!(tokio::spawn(async_answer()).await.unwrap(), 42);
        assert_eq!(tokio::task::spawn_blocking(sync_answer).await.unwrap(), 42);
        let runs = h.flow_runs();
        let flows: Vec<&str> = runs.iter().map(|r| r.flow.as_str()).collect();
        assert_eq!(flows, ["async-answer", "sync-answer"]);
        assert!(runs.iter().all(|r| r.state == StateType::Completed));
        assert_eq!(h.task_runs_of("add").len(), 2);
    });
}

#[test]
fn a_thread_the_test_starts_is_served_by_the_only_active_harness() {
    let _serial = serial();
    let h = harness();
    let answer = std::thread::spawn(sync_answer).join().unwrap();
    assert_eq!(answer, 42);
    assert_eq!(h.flow_runs_of("sync-answer").len(), 1);
}

#[flow]
fn unclaimed() -> i64 {
    1
}

#[test]
fn with_several_harnesses_a_thread_none_claims_is_refused() {
    let _serial = serial();
    let first = harness();
    let second = harness();
    let outcome = std::thread::spawn(unclaimed::run).join().unwrap();
    match outcome {
        Err(FlowError::Infrastructure(ApiError::NotServed(message))) => {
            assert!(message.contains("flowgate::spawn_thread"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(first.flow_runs().is_empty() && second.flow_runs().is_empty());
}

#[task]
fn shout(text: String) -> String {
    text.to_uppercase()
}

#[flow(name = "typed", tags = ["t"])]
fn typed(text: String) -> String {
    let loud = shout(text);
    add(1, 2);
    loud
}

#[test]
fn the_harness_answers_with_typed_records() {
    let _serial = serial();
    let h = harness();
    assert_eq!(typed("hi".to_owned()), "HI");
    let run = &h.flow_runs_of("typed")[0];
    assert_eq!(run.state, StateType::Completed);
    assert_eq!(run.state_name, "Completed");
    assert_eq!(run.tags, ["t"]);
    assert_eq!(run.parameters, serde_json::json!({"text": "hi"}));
    assert_eq!(run.result::<String>().as_deref(), Some("HI"));
    assert_eq!(h.flow_run(run.id).as_ref(), Some(run));
    let shouts = h.task_runs_of("shout");
    assert_eq!(shouts.len(), 1);
    assert_eq!(shouts[0].result::<String>().as_deref(), Some("HI"));
    assert_eq!(shouts[0].flow_run_id, Some(run.id));
    assert_eq!(h.task_runs_in(run).len(), 2);
    let logs = h.logs_of(run);
    assert!(
        logs.iter()
            .any(|l| l.message == "Finished in state Completed()")
    );
}

#[task(retries = 2)]
fn always_panics() -> i64 {
    panic!("this panic is recorded, not printed")
}

#[flow(log_prints)]
fn chatty() -> i64 {
    println!("hello from chatty");
    always_panics::run().unwrap_or(0)
}

/// The probe the output tests run in a child process; on its own, a test of what `chatty`
/// records.
#[test]
fn chatty_records_its_print_once_and_its_panics_per_attempt() {
    let _serial = serial();
    let h = harness();
    assert_eq!(chatty(), 0);
    let run = &h.flow_runs_of("chatty")[0];
    let printed = h
        .logs_of(run)
        .into_iter()
        .filter(|l| l.message == "hello from chatty")
        .count();
    assert_eq!(printed, 1);
    let task = &h.task_runs_of("always_panics")[0];
    assert_eq!((task.state, task.run_count), (StateType::Failed, 3));
}

/// Runs one test of this binary in a child process; returns its stdout and stderr.
fn run_alone(test: &str, extra: &[&str]) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1"])
        .args(extra)
        .env_remove("FLOWGATE_LOGGING_LEVEL")
        .output()
        .expect("the test binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{test} failed:\n{text}");
    assert!(text.contains("test result: ok. 1 passed"), "{text}");
    text
}

#[test]
fn the_sdks_console_lines_stay_inside_the_test_runners_capture() {
    let text = run_alone(
        "chatty_records_its_print_once_and_its_panics_per_attempt",
        &[],
    );
    for line in [
        "Beginning flow run",
        "Finished in state",
        "hello from chatty",
    ] {
        assert!(
            !text.contains(line),
            "{line:?} escaped the capture:\n{text}"
        );
    }
}

#[test]
fn a_caught_panic_is_not_printed_and_a_print_appears_once() {
    let text = run_alone(
        "chatty_records_its_print_once_and_its_panics_per_attempt",
        &["--nocapture"],
    );
    assert_eq!(
        text.matches("hello from chatty").count(),
        1,
        "log_prints prints each line once:\n{text}"
    );
    assert!(
        !text.contains("panicked at"),
        "the default panic message is not printed for recorded panics:\n{text}"
    );
    assert_eq!(
        text.matches("Retry ").count(),
        2,
        "each retried attempt is one log line:\n{text}"
    );
}
