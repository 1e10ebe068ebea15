//! Failures are values: `my_flow::run` and `my_task::run` return what went wrong (the body's own
//! error, typed; a panic; a cancellation; the server's trouble) instead of panicking, keep a
//! computed value when only its report fails, and survive answers lost on the network.

mod common;

use std::fmt;
use std::sync::Barrier;

use common::proxy::LossyProxy;
use flowgate::testing::{connect, harness};
use flowgate::{
    ApiError, Fallible, FlowError, StateType, TaskError, ThreadPoolTaskRunner, flow, task,
};

#[task]
fn explode(n: i64) -> i64 {
    panic!("boom {n}")
}

#[flow]
fn fragile() -> i64 {
    explode(1)
}

#[flow]
fn careful() -> String {
    match explode::run(2) {
        Err(TaskError::Panicked { message, .. }) => message,
        other => format!("{other:?}"),
    }
}

#[test]
fn a_panicking_task_is_a_value_for_run_and_never_unwinds_into_the_caller() {
    let h = harness();
    let Err(FlowError::Panicked(message)) = fragile::run() else {
        panic!("a task's panic fails the flow run as a value");
    };
    assert!(message.starts_with("boom 1 (at "), "{message}");
    assert!(message.contains("failures.rs"), "says where: {message}");
    let caught = careful();
    assert!(caught.starts_with("boom 2 (at "), "{caught}");
    assert_eq!(h.flow_runs_of("fragile")[0].state, StateType::Failed);
    assert_eq!(h.flow_runs_of("careful")[0].state, StateType::Completed);
    let exploded = h.task_runs_of("explode");
    assert_eq!(exploded.len(), 2);
    assert!(exploded.iter().all(|t| t.state == StateType::Failed));
}

/// A bank's own error type.
#[derive(Debug, PartialEq)]
struct Overdrawn {
    missing: u64,
}

impl fmt::Display for Overdrawn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "overdrawn by {}", self.missing)
    }
}

#[task]
fn withdraw(amount: u64) -> Result<u64, Overdrawn> {
    match amount.checked_sub(100) {
        Some(missing) if missing > 0 => Err(Overdrawn { missing }),
        _ => Ok(100 - amount),
    }
}

#[flow(task_runner = ThreadPoolTaskRunner::new(2))]
fn bank(amount: u64) -> Result<u64, TaskError> {
    withdraw::submit(amount).result()
}

#[test]
fn a_submitted_tasks_own_error_type_is_kept_through_the_flow() {
    let h = harness();
    assert_eq!(bank::run(30).unwrap(), 70);
    let Err(FlowError::Failed(error)) = bank::run(500) else {
        panic!("the flow returned Err");
    };
    let task_error = error
        .downcast_ref::<TaskError>()
        .expect("the flow's own error");
    assert_eq!(
        task_error.user_error::<Overdrawn>(),
        Some(&Overdrawn { missing: 400 }),
        "the task's error keeps its type: {task_error}"
    );
    let runs = h.flow_runs_of("bank");
    assert_eq!(
        runs.iter().map(|r| r.state).collect::<Vec<_>>(),
        [StateType::Completed, StateType::Failed]
    );
    assert_eq!(
        runs[1]
            .message
            .as_deref()
            .map(|m| m.contains("overdrawn by 400")),
        Some(true)
    );
}

type Res<T> = Result<T, String>;

#[task(retries = 1)]
fn always_no() -> Res<i64> {
    Err("no, through an alias".to_owned())
}

/// A verdict type of the user's own, fallible by implementing the trait.
enum Verdict {
    Pass(u32),
    Fail(String),
}

impl Fallible for Verdict {
    type Value = u32;
    type Error = String;
    fn into_result(self) -> Result<u32, String> {
        match self {
            Verdict::Pass(n) => Ok(n),
            Verdict::Fail(why) => Err(why),
        }
    }
    fn from_result(result: Result<u32, String>) -> Self {
        match result {
            Ok(n) => Verdict::Pass(n),
            Err(why) => Verdict::Fail(why),
        }
    }
}

#[task]
fn judge(score: u32) -> Verdict {
    if score >= 50 {
        Verdict::Pass(score)
    } else {
        Verdict::Fail(format!("{score} is below 50"))
    }
}

#[flow]
fn verdicts() -> (String, u32, String) {
    let alias = always_no::run().unwrap_err().to_string();
    let passed = judge::run(70).unwrap();
    let failed = judge::run(20).unwrap_err().to_string();
    (alias, passed, failed)
}

#[test]
fn fallibility_follows_the_fallible_trait_not_the_type_name() {
    let h = harness();
    let (alias, passed, failed) = verdicts();
    assert!(alias.contains("no, through an alias"), "{alias}");
    assert_eq!(passed, 70);
    assert!(failed.contains("20 is below 50"), "{failed}");
    let alias_run = &h.task_runs_of("always_no")[0];
    assert_eq!(
        (alias_run.state, alias_run.run_count),
        (StateType::Failed, 2),
        "an Err through `type Res<T> = Result<T, String>` is a failure, and retried"
    );
    let judged: Vec<StateType> = h.task_runs_of("judge").iter().map(|t| t.state).collect();
    assert_eq!(judged, [StateType::Completed, StateType::Failed]);
}

#[flow]
fn unreachable() -> i64 {
    7
}

#[test]
fn an_unreachable_server_is_an_infrastructure_error_not_a_panic() {
    let _nowhere = connect("http://127.0.0.1:9/api");
    match unreachable::run() {
        Err(FlowError::Infrastructure(ApiError::Unreachable { url, .. })) => {
            assert_eq!(url, "http://127.0.0.1:9/api")
        }
        other => panic!("expected an unreachable server, got {other:?}"),
    }
}

static BODY_STARTED: Barrier = Barrier::new(2);
static SERVER_GONE: Barrier = Barrier::new(2);

#[flow]
fn outlives_its_server() -> i64 {
    BODY_STARTED.wait();
    SERVER_GONE.wait();
    42
}

#[test]
fn a_value_computed_before_the_server_died_is_handed_over_with_the_error() {
    let h = harness();
    std::thread::scope(|s| {
        let flow = s.spawn(|| {
            let _serve = h.enter();
            outlives_its_server::run()
        });
        BODY_STARTED.wait();
        h.stop_server();
        SERVER_GONE.wait();
        match flow.join().expect("no panic") {
            Err(FlowError::Unrecorded { value, cause }) => {
                assert_eq!(value, 42);
                assert!(matches!(cause, ApiError::Unreachable { .. }), "{cause}");
            }
            other => panic!("expected the value with the error, got {other:?}"),
        }
    });
}

static CANCEL_ME: Barrier = Barrier::new(2);
static CANCELLED: Barrier = Barrier::new(2);

#[flow]
fn long_job() -> i64 {
    CANCEL_ME.wait();
    CANCELLED.wait();
    1
}

#[test]
fn a_run_cancelled_while_it_runs_is_a_cancellation() {
    let h = harness();
    std::thread::scope(|s| {
        let flow = s.spawn(|| {
            let _serve = h.enter();
            long_job::run()
        });
        CANCEL_ME.wait();
        let run = &h.flow_runs_of("long-job")[0];
        let answer = h.post(
            &format!("/flow_runs/{}/set_state", run.id),
            serde_json::json!({"state": {"type": "CANCELLED", "message": "not needed any more"}}),
        );
        assert_eq!(answer["status"], "ACCEPT");
        CANCELLED.wait();
        match flow.join().expect("no panic") {
            Err(FlowError::Cancelled(reason)) => assert_eq!(reason, "not needed any more"),
            other => panic!("expected a cancellation, got {other:?}"),
        }
    });
    assert_eq!(h.flow_runs_of("long-job")[0].state, StateType::Cancelled);
}

#[flow]
fn created_once() -> i64 {
    5
}

#[test]
fn a_run_is_created_once_when_the_answer_to_its_creation_is_lost() {
    let h = harness();
    let proxy = LossyProxy::start(&h.api_url(), &["POST /api/flow_runs/ HTTP"]);
    let through = connect(&proxy.api_url());
    assert_eq!(created_once::run().unwrap(), 5);
    drop(through);
    assert_eq!(
        proxy.lost().len(),
        1,
        "the answer was lost: {:?}",
        proxy.lost()
    );
    let runs = h.flow_runs_of("created-once");
    assert_eq!(runs.len(), 1, "the resent request found the first run");
    assert_eq!(runs[0].state, StateType::Completed);
}

#[flow]
fn started_once() -> i64 {
    6
}

#[test]
fn a_state_proposal_resent_after_a_lost_answer_is_recognised() {
    let h = harness();
    // The first state proposal is the run's Running.
    let proxy = LossyProxy::start(&h.api_url(), &["/set_state HTTP"]);
    let through = connect(&proxy.api_url());
    assert_eq!(started_once::run().unwrap(), 6);
    drop(through);
    let lost = proxy.lost();
    assert!(
        lost.len() == 1 && lost[0].contains("/set_state"),
        "the Running proposal's answer was lost: {lost:?}"
    );
    let run = &h.flow_runs_of("started-once")[0];
    assert_eq!(
        (run.state, run.run_count),
        (StateType::Completed, 1),
        "the server recognised the resent proposal (REJECT, same transition) and the SDK took it as accepted"
    );
}
