//! Small things a first program trips over: a task named like an imported module, a result
//! that is not `Clone`, the `schemars` the SDK reads, and a thread pool of zero workers.

use std::process;

use flowgate::testing::harness;
use flowgate::{FlowError, RunInput, StateType, ThreadPoolTaskRunner, flow, task};
use serde::{Deserialize, Serialize};

/// Named like the `std::process` module imported above: the import wins the name, and the
/// task's generated module no longer collides with it.
#[task]
fn process(item: u32) -> u32 {
    item + 1
}

#[flow]
fn pipeline() -> (u32, u32) {
    (process(1), process::id())
}

#[test]
fn a_task_may_share_its_name_with_an_imported_module() {
    let h = harness();
    let (processed, pid) = pipeline();
    assert_eq!((processed, pid), (2, std::process::id()));
    assert_eq!(h.task_runs_of("process").len(), 1);
}

/// Not `Clone`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Report {
    lines: Vec<String>,
}

#[task]
fn report(n: usize) -> Report {
    Report {
        lines: vec!["line".to_owned(); n],
    }
}

#[flow(task_runner = ThreadPoolTaskRunner::new(2))]
fn reports() -> usize {
    let first = report::submit(3).into_result().unwrap();
    let more: usize = report::map([1, 2])
        .into_iter()
        .map(|f| f.into_result().unwrap().lines.len())
        .sum();
    first.lines.len() + more
}

#[test]
fn a_result_that_is_not_clone_is_moved_out_of_its_future() {
    let _h = harness();
    assert_eq!(reports(), 6);
}

/// Derived with the `schemars` flowgate re-exports, without depending on schemars.
#[derive(Serialize, Deserialize, flowgate::schemars::JsonSchema, RunInput)]
#[schemars(crate = "flowgate::schemars")]
struct Approval {
    approved: bool,
}

#[test]
fn run_input_types_can_derive_the_reexported_schemars() {
    let schema = serde_json::to_value(flowgate::schemars::schema_for!(Approval)).unwrap();
    assert_eq!(schema["properties"]["approved"]["type"], "boolean");
}

#[flow(task_runner = ThreadPoolTaskRunner::new(workers))]
fn sized(workers: usize) -> usize {
    workers
}

#[test]
fn an_invalid_runner_is_a_value_not_a_panic() {
    let h = harness();
    assert_eq!(sized::run(2).unwrap(), 2);
    match sized::run(0) {
        Err(FlowError::Invalid(message)) => assert!(message.contains("at least 1"), "{message}"),
        other => panic!("expected an invalid runner, got {other:?}"),
    }
    let runs = h.flow_runs_of("sized");
    assert_eq!(
        runs.len(),
        1,
        "no run is created for a call that cannot start"
    );
    assert_eq!(runs[0].state, StateType::Completed);
}
