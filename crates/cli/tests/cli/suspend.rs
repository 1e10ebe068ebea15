//! Suspending for input without holding a process: a deployed Rust flow (this test binary,
//! run by `flowgate worker start` as `<this binary> --exact suspend::suspending_flow_program`)
//! completes two tasks, suspends for an approval and exits; resumed with input from the CLI, the
//! worker runs it again, the completed tasks are not run a second time (their recorded results
//! are used), and the flow finishes with the input.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use flowgate::{Deployments, Pause, RunInput, flow, suspend_flow_run_for, task};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::*;

/// Set in the deployment's job variables: this process is the worker's flow program.
const AS_FLOW: &str = "FLOWGATE_E2E_SUSPENDING_FLOW";
/// A file each task body appends a line to when it runs.
const EXECUTIONS: &str = "FLOWGATE_E2E_EXECUTIONS";

#[derive(Serialize, Deserialize, flowgate::schemars::JsonSchema, RunInput, Debug)]
#[schemars(crate = "flowgate::schemars")]
struct Approval {
    approved: bool,
    note: String,
}

/// Notes that a task body ran.
fn executed(what: &str) {
    use std::io::Write;
    let path = std::env::var(EXECUTIONS).expect("the deployment sets it");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("the executions file opens");
    writeln!(file, "{what}").expect("the executions file is written");
}

#[task]
fn fetch(n: i64) -> i64 {
    executed(&format!("fetch {n}"));
    n * 10
}

#[task]
fn publish(total: i64, note: String) -> String {
    executed("publish");
    format!("{total}: {note}")
}

#[flow(name = "approval")]
fn approval(n: i64) -> String {
    let total = fetch(n) + fetch(n + 1);
    let answer: Approval = suspend_flow_run_for(
        Pause::new()
            .description("Publish the total?")
            .timeout(Duration::from_secs(600)),
    )
    .expect("resumed with an approval");
    if !answer.approved {
        return "not published".to_owned();
    }
    publish(total, answer.note)
}

/// The flow program: runs the run the worker started it for.
#[test]
fn suspending_flow_program() {
    if std::env::var(AS_FLOW).is_err() {
        return;
    }
    let code = Deployments::new().with(approval::deployment("rust")).main();
    assert_eq!(code, ExitCode::SUCCESS);
}

fn executions(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

on_each_backend!(
    a_suspended_rust_flow_exits_and_after_resume_reruns_without_repeating_its_tasks,
    |db: TestDatabase| {
        let s = Server::start(&db);
        s.cmd(&["work-pool", "create", "rust-pool"]).ok();
        let log = s._home.path().join("executions");
        let exe = std::env::current_exe().expect("the test binary's path");
        let _sdk = flowgate::testing::connect(&s.process.api);
        approval::deployment("rust")
            .work_pool("rust-pool")
            .command(format!(
                "'{}' --exact suspend::suspending_flow_program --nocapture --test-threads=1",
                exe.display()
            ))
            .env(AS_FLOW, "1")
            .env(EXECUTIONS, log.to_str().unwrap())
            .env("FLOWGATE_LOGGING_LEVEL", "WARNING")
            .apply()
            .expect("the deployment is applied");
        let worker = Running::start(&s.args(&["worker", "start", "--pool", "rust-pool"]));
        worker.next_line();

        let run = s.ask_for_with("approval/rust", &["n=2"]);
        let suspended = s.wait_for_run(&run, "suspended", |r| r["state_type"] == "PAUSED");
        assert_eq!(suspended["state_name"], "Suspended");
        assert_eq!(
            suspended["state"]["state_details"]["pause_reschedule"],
            true
        );
        // The process exited: the worker says the run kept the state the flow gave it.
        let ended = loop {
            let line = worker.next_line();
            if line.contains("(not changed by the worker)") {
                break line;
            }
        };
        assert!(ended.contains("Suspended"), "{ended}");
        assert_eq!(executions(&log), ["fetch 2", "fetch 3"]);

        // What the run waits for, and the resume with input.
        let inspect = s.cmd(&["flow-run", "inspect", &run]);
        assert!(inspect.ok().contains("approved"), "{inspect:#?}");
        let input = json!({"approved": true, "note": "ok"}).to_string();
        s.cmd(&["flow-run", "resume", &run, "--input", &input]).ok();

        let done = s.wait_for_run(&run, "completed", |r| r["state_type"] == "COMPLETED");
        assert_eq!(done["state"]["data"]["value"], "50: ok", "{done:#}");
        assert_eq!(done["run_count"], 2, "it ran twice: {done:#}");
        assert_eq!(
            executions(&log),
            ["fetch 2", "fetch 3", "publish"],
            "the tasks completed before the suspension did not run again"
        );
        let (_, tasks) = s.api.post(
            "/task_runs/filter",
            &json!({"flow_runs": {"id": {"any_": [run]}}}),
        );
        assert_eq!(tasks.as_array().unwrap().len(), 3, "{tasks:#}");
        let (_, runs) = s.api.post("/flow_runs/filter", &json!({}));
        assert_eq!(runs.as_array().unwrap().len(), 1, "one run: {runs:#}");
    }
);
