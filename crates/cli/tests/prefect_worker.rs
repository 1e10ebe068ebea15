//! The real `prefect worker start --type process` runs deployment runs the real `prefect` client
//! asked for (`tests/prefect_client/work_pool_setup.py`), against a Flowgate server: higher
//! priority queues first, no queue's or pool's limit ever exceeded (sampled while they run), every
//! run Completed. And `flow.serve()` runs its own deployment's run (`serve_flow.py`). And the
//! `prefect` CLI's read and control commands work against the same server.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Api, ServerProcess, Worker, prefect, prefect_python};
use serde_json::{Value, json};

fn programs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/prefect_client")
}

fn deployment_runs(api: &Api) -> Vec<Value> {
    let (status, body) = api.post(
        "/flow_runs/filter",
        &json!({"flows": {"name": {"any_": ["priority-flow"]}}, "limit": 200}),
    );
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

/// When a run was handed to its worker: its Pending state's time.
fn pending_at(api: &Api, run: &str) -> String {
    let (_, states) = api.get(&format!("/flow_run_states/?flow_run_id={run}"));
    states
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["type"] == "PENDING")
        .and_then(|s| s["timestamp"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("run {run} never went Pending: {states}"))
}

#[test]
fn a_prefect_worker_runs_queues_by_priority_within_their_limits() {
    let Some(python) = prefect_python("prefect worker tests") else {
        return;
    };
    let db = flowgate_testkit::sqlite();
    let home = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(home.path(), &db.url);
    let api = Api::new(&server.api);

    // Pool limit 2, queue "high" (priority 1) unlimited, "low" (priority 5) limited to 1.
    let setup = prefect(&python, &server, home.path())
        .arg(programs().join("work_pool_setup.py"))
        .args(["pool1", "2", "1", "2", "none", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&setup.stdout);
    assert!(
        setup.status.success(),
        "setup failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let made: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(made["queues"], json!({"high": 1, "default": 2, "low": 5}));
    let runs = made["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 3);

    let worker_bin = PathBuf::from(&python).with_file_name("prefect");
    let mut cmd = prefect(&python, &server, home.path());
    let cmd = cmd
        .arg(worker_bin)
        .args(["worker", "start", "--pool", "pool1", "--type", "process"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _worker = Worker(cmd.spawn().unwrap());

    let deadline = Instant::now() + Duration::from_secs(150);
    let mut most_running = (0, 0, 0);
    loop {
        let all = deployment_runs(&api);
        let running = |queue: Option<&str>| {
            all.iter()
                .filter(|r| {
                    ["PENDING", "RUNNING"].contains(&r["state_type"].as_str().unwrap_or(""))
                })
                .filter(|r| queue.is_none_or(|q| r["work_queue_name"] == q))
                .count()
        };
        let now = (running(None), running(Some("high")), running(Some("low")));
        assert!(
            now.0 <= 2 && now.2 <= 1,
            "limits exceeded: (pool, high, low) = {now:?}"
        );
        most_running = (
            most_running.0.max(now.0),
            most_running.1.max(now.1),
            most_running.2.max(now.2),
        );
        let finished = all
            .iter()
            .filter(|r| r["state_type"] == "COMPLETED")
            .count();
        if finished == runs.len() {
            break;
        }
        assert!(
            all.iter().all(|r| !["FAILED", "CRASHED", "CANCELLED"]
                .contains(&r["state_type"].as_str().unwrap_or(""))),
            "a run did not complete: {all:#?}"
        );
        assert!(
            Instant::now() < deadline,
            "runs did not finish in time: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(most_running.0, 2, "the pool ran two at once at some point");

    // Every high-priority run went to the worker before any low-priority one, although the
    // low-priority runs were asked for first.
    let handed = |queue: &str| -> Vec<String> {
        runs.iter()
            .filter(|r| r["queue"] == queue)
            .map(|r| pending_at(&api, r["id"].as_str().unwrap()))
            .collect()
    };
    let (high, low) = (handed("high"), handed("low"));
    let last_high = high.iter().max().unwrap();
    let first_low = low.iter().min().unwrap();
    assert!(last_high <= first_low, "high {high:?} vs low {low:?}");

    the_client_finds_runs_by_deployment_pool_queue_and_task_run(&python, &server, home.path());
}

/// The client's filters of the deployment model (`run_filters.py`), over the two runs in queue
/// "high" (deployment `to-high`) and the one in "low" of pool1, all completed with a task run.
fn the_client_finds_runs_by_deployment_pool_queue_and_task_run(
    python: &str,
    server: &ServerProcess,
    home: &std::path::Path,
) {
    let out = prefect(python, server, home)
        .arg(programs().join("run_filters.py"))
        .arg("pool1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        found,
        json!({
            "runs": 3, "by_deployment": 2, "count_by_deployment": 2, "by_pool": 3,
            "by_other_pool": 0, "by_queue_prefix": 1, "by_queue_name": 1,
            "with_completed_tasks": 3, "deployments_like": ["to-high"], "deployments_in_pool": 2,
            "queues": ["pool1/default", "pool1/high", "pool1/low"], "pools_of_runs": ["pool1"],
            "queues_known": true,
        })
    );
}

#[test]
fn a_served_flow_runs_its_deployments_run() {
    let Some(python) = prefect_python("prefect worker tests") else {
        return;
    };
    let db = flowgate_testkit::sqlite();
    let home = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(home.path(), &db.url);
    let api = Api::new(&server.api);
    let serving = prefect(&python, &server, home.path())
        .arg(programs().join("serve_flow.py"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _serving = Worker(serving);
    // The serving process creates its deployment first.
    api.eventually(Duration::from_secs(60), |api| {
        (api.get("/deployments/name/served-flow/served").0 == 200).then_some(())
    })
    .expect("flow.serve() creates its deployment");
    let asked = prefect(&python, &server, home.path())
        .arg(programs().join("run_served.py"))
        .arg("hi")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&asked.stdout);
    assert!(
        asked.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&asked.stderr)
    );
    assert_eq!(
        stdout.lines().last(),
        Some("COMPLETED Completed"),
        "{stdout}"
    );
}

/// Runs `prefect ARGS…` (wide output, so tables are not cut) and returns its stdout; fails the
/// test when the command fails.
fn prefect_cli(
    python: &str,
    server: &ServerProcess,
    home: &std::path::Path,
    args: &[&str],
) -> String {
    let out = prefect(python, server, home)
        .arg(PathBuf::from(python).with_file_name("prefect"))
        .args(args)
        .env("COLUMNS", "250")
        .output()
        .expect("prefect runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "prefect {args:?} failed:\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `prefect` CLI commands README lists as covered, against Flowgate: runs listed,
/// inspected, their logs read and a scheduled one cancelled; deployments listed and run; a
/// pool listed, inspected, paused and resumed; global limits, automations, variables and
/// artifacts listed. (The CLI's answers do not depend on the database: one backend is enough.)
#[test]
fn the_prefect_cli_reads_and_controls_runs_pools_and_deployments() {
    let Some(python) = prefect_python("prefect CLI tests") else {
        return;
    };
    let db = flowgate_testkit::sqlite();
    let home = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(home.path(), &db.url);
    let api = Api::new(&server.api);
    let run = |args: &[&str]| prefect_cli(&python, &server, home.path(), args);
    let program = |args: &[&str]| {
        let out = prefect(&python, &server, home.path())
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    program(&[programs().join("plain_flow.py").to_str().unwrap()]);
    program(&[
        programs().join("work_pool_setup.py").to_str().unwrap(),
        "pool1",
        "1",
        "0",
        "none",
        "none",
        "none",
    ]);
    let done = deployment_runs(&api);
    let (_, plain) = api.post(
        "/flow_runs/filter",
        &json!({"flows": {"name": {"any_": ["plain-flow"]}}}),
    );
    let plain_id = plain[0]["id"].as_str().unwrap().to_owned();

    assert!(run(&["flow-run", "ls"]).contains(&plain_id));
    assert!(run(&["flow-run", "inspect", &plain_id]).contains("state_name='Completed'"));
    assert!(run(&["flow-run", "logs", &plain_id]).contains("result 10"));
    let scheduled = done[0]["id"].as_str().unwrap().to_owned();
    run(&["flow-run", "cancel", &scheduled]);
    let (_, cancelled) = api.get(&format!("/flow_runs/{scheduled}"));
    // Prefect's CLI proposes Cancelling; nothing runs a Scheduled run, so it ends at once.
    assert_eq!(cancelled["state_type"], "CANCELLED", "{cancelled}");

    let (_, deployments) = api.post("/deployments/filter", &json!({}));
    let name = format!("priority-flow/{}", deployments[0]["name"].as_str().unwrap());
    assert!(run(&["deployment", "ls"]).contains(&name));
    run(&["deployment", "run", &name]);
    let runs = deployment_runs(&api);
    assert_eq!(runs.len(), done.len() + 1);
    let waiting = runs
        .iter()
        .find(|r| r["state_type"] == "SCHEDULED")
        .expect("the run just asked for waits")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let all_queues = run(&["work-queue", "ls"]);
    for queue in ["default", "high", "low"] {
        assert!(all_queues.contains(queue), "{queue} missing:\n{all_queues}");
    }
    assert!(all_queues.contains("pool1"), "{all_queues}");
    assert!(run(&["work-queue", "ls", "--pool", "pool1"]).contains("high"));
    assert!(run(&["work-queue", "ls", "--match", "hi"]).contains("high"));
    let inspected = run(&["work-queue", "inspect", "high"]);
    assert!(inspected.contains("name='high'"), "{inspected}");
    assert!(inspected.contains("healthy="), "{inspected}");
    assert!(run(&["work-queue", "inspect", "low", "--pool", "pool1"]).contains("name='low'"));
    // Previews only look: the run stays for a worker to take.
    assert!(run(&["work-queue", "preview", "high"]).contains(&waiting));
    assert!(run(&["work-queue", "preview", "high", "--pool", "pool1"]).contains(&waiting));
    assert!(run(&["work-pool", "preview", "pool1"]).contains(&waiting));
    let (_, handed) = api.post(
        "/work_pools/pool1/get_scheduled_flow_runs",
        &json!({"worker_name": "w1"}),
    );
    assert_eq!(handed[0]["flow_run"]["id"], waiting.as_str(), "{handed}");

    assert!(run(&["work-pool", "ls"]).contains("pool1"));
    assert!(run(&["work-pool", "inspect", "pool1"]).contains("name='pool1'"));
    run(&["work-pool", "pause", "pool1"]);
    assert_eq!(api.get("/work_pools/pool1").1["is_paused"], true);
    run(&["work-pool", "resume", "pool1"]);
    assert_eq!(api.get("/work_pools/pool1").1["is_paused"], false);

    api.post(
        "/v2/concurrency_limits/",
        &json!({"name": "warehouse", "limit": 2}),
    );
    assert!(run(&["gcl", "ls"]).contains("warehouse"));
    run(&["automation", "ls"]);
    run(&["variable", "set", "batch-size", "3"]);
    assert_eq!(run(&["variable", "get", "batch-size"]).trim(), "3");
    api.post(
        "/artifacts/",
        &json!({"key": "daily-report", "type": "markdown", "data": "# ok"}),
    );
    assert!(run(&["artifact", "ls"]).contains("daily-report"));
}
