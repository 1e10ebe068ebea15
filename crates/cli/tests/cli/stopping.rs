//! A running Rust flow suspended from outside: a deployed flow (this test binary, run by
//! `flowgate worker start` as `<this binary> --exact stopping::ticking_flow_program`) ticks
//! until a file exists; `flowgate flow-run suspend` stops it at its next task call, its process
//! exits leaving the run Suspended, and after `flowgate flow-run resume` the worker runs it
//! again to completion without repeating its completed tasks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use flowgate::{Deployments, flow, task};

use crate::*;

/// Set in the deployment's job variables: this process is the worker's flow program.
const AS_FLOW: &str = "FLOWGATE_E2E_TICKING_FLOW";
/// A file each task body appends a line to when it runs.
const EXECUTIONS: &str = "FLOWGATE_E2E_TICK_EXECUTIONS";
/// The file whose existence ends the ticking.
const GO: &str = "FLOWGATE_E2E_TICK_GO";

fn env_path(var: &str) -> PathBuf {
    PathBuf::from(std::env::var(var).expect("the deployment sets it"))
}

/// Notes that a task body ran.
fn executed(what: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(env_path(EXECUTIONS))
        .expect("the executions file opens");
    writeln!(file, "{what}").expect("the executions file is written");
}

#[task]
fn first() -> i64 {
    executed("first");
    100
}

#[task]
fn tick(i: i64) -> i64 {
    executed("tick");
    i
}

#[task]
fn second(total: i64) -> i64 {
    executed("second");
    total
}

#[flow(name = "ticking")]
fn ticking() -> i64 {
    let mut total = first();
    let mut i = 0;
    while !env_path(GO).exists() {
        total += tick(i);
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    second(total)
}

/// The flow program: runs the run the worker started it for.
#[test]
fn ticking_flow_program() {
    if std::env::var(AS_FLOW).is_err() {
        return;
    }
    let code = Deployments::new().with(ticking::deployment("rust")).main();
    assert_eq!(code, ExitCode::SUCCESS);
}

fn count(path: &Path, what: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == what)
        .count()
}

on_each_backend!(
    a_running_rust_flow_suspended_from_outside_stops_at_its_next_task_and_finishes_after_resume,
    |db: TestDatabase| {
        let s = Server::start(&db);
        s.cmd(&["work-pool", "create", "tick-pool"]).ok();
        let log = s._home.path().join("executions");
        let go = s._home.path().join("go");
        let exe = std::env::current_exe().expect("the test binary's path");
        let _sdk = flowgate::testing::connect(&s.process.api);
        ticking::deployment("rust")
            .work_pool("tick-pool")
            .command(format!(
                "'{}' --exact stopping::ticking_flow_program --nocapture --test-threads=1",
                exe.display()
            ))
            .env(AS_FLOW, "1")
            .env(EXECUTIONS, log.to_str().unwrap())
            .env(GO, go.to_str().unwrap())
            .env("FLOWGATE_LOGGING_LEVEL", "WARNING")
            .apply()
            .expect("the deployment is applied");
        let worker = Running::start(&s.args(&["worker", "start", "--pool", "tick-pool"]));
        worker.next_line();

        let run = s.ask_for_with("ticking/rust", &[]);
        s.api
            .eventually(Duration::from_secs(60), |_| {
                (count(&log, "tick") > 1).then_some(())
            })
            .expect("the worker starts the flow, which ticks");

        let said = s.flow_run(&["suspend", &run]);
        assert!(said.ok().contains("Suspended flow run"), "{said:#?}");
        let suspended = s.wait_for_run(&run, "suspended", |r| r["state_type"] == "PAUSED");
        assert_eq!(suspended["state_name"], "Suspended");
        // The process stopped at its next task call and exited without a final state.
        let ended = loop {
            let line = worker.next_line();
            if line.contains("(not changed by the worker)") {
                break line;
            }
        };
        assert!(ended.contains("Suspended"), "{ended}");
        let ticked = count(&log, "tick");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(count(&log, "tick"), ticked, "the ticks stopped");
        assert_eq!(
            s.read_run(&run)["state_name"],
            "Suspended",
            "still suspended"
        );

        // A run that is not running cannot be suspended: the server's reason, exit code 1.
        s.flow_run(&["suspend", &run])
            .fails_with(&["was not suspended", "not currently running"]);

        std::fs::write(&go, "").unwrap();
        s.flow_run(&["resume", &run]).ok();
        let done = s.wait_for_run(&run, "completed", |r| r["state_type"] == "COMPLETED");
        assert_eq!(done["run_count"], 2, "it ran twice: {done:#}");
        assert_eq!(done["state"]["data"]["value"], 100, "{done:#}");
        assert_eq!(
            (
                count(&log, "first"),
                count(&log, "tick"),
                count(&log, "second")
            ),
            (1, ticked, 1),
            "the tasks completed before the suspension did not run again"
        );
    }
);
