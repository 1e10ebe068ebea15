//! The distributed runner across processes: a flow in this process, task workers in two child
//! processes, the server in between; a worker killed mid-task loses nothing.

use std::collections::HashSet;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use flowgate::testing::{Harness, harness};
use flowgate_sdk_e2e::{async_fan_out, fan_out, odd_one_out, one_long_task};
use serde_json::json;

/// A task-worker process, killed when dropped.
struct Worker(Child);

impl Worker {
    fn start(h: &Harness) -> Worker {
        let child = Command::new(env!("CARGO_BIN_EXE_e2e-task-worker"))
            .env("FLOWGATE_API_URL", h.api_url())
            .env("FLOWGATE_TASK_LEASE_SECONDS", "1.5")
            .env("FLOWGATE_WORKER_CONCURRENCY", "2")
            .env("FLOWGATE_LOGGING_LEVEL", "WARNING")
            .spawn()
            .expect("the worker starts");
        Worker(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn tasks_run_in_two_worker_processes_and_are_recorded() {
    let h = harness();
    let (a, b) = (Worker::start(&h), Worker::start(&h));
    let out = fan_out(8);
    assert_eq!(
        out.iter().map(|(sq, _)| *sq).collect::<Vec<_>>(),
        (0..8).map(|x| x * x).collect::<Vec<_>>()
    );
    let pids: HashSet<u32> = out.iter().map(|(_, pid)| *pid).collect();
    assert!(
        pids.is_subset(&HashSet::from([a.pid(), b.pid()])),
        "{pids:?}"
    );
    assert_eq!(pids.len(), 2, "both workers took tasks: {pids:?}");
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": ["fan-out"]}}}),
    );
    let run_id = runs[0]["id"].clone();
    assert_eq!(runs[0]["state_type"], "COMPLETED");
    let tasks = h.post(
        "/task_runs/filter",
        json!({"flow_runs": {"id": {"any_": [run_id]}}}),
    );
    let tasks = tasks.as_array().unwrap();
    assert_eq!(
        tasks.len(),
        8,
        "each call recorded once, by the worker that ran it"
    );
    assert!(tasks.iter().all(|t| t["state_type"] == "COMPLETED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_task_runs_in_a_worker_process() {
    let h = harness();
    let worker = Worker::start(&h);
    let out = async_fan_out(3).await;
    assert_eq!(
        out,
        (1..=3).map(|x| (x, worker.pid())).collect::<Vec<_>>(),
        "each call ran, with its timer, in the worker"
    );
    let run = &h.flow_runs_of("async-fan-out")[0];
    let tasks = h.task_runs_in(run);
    assert_eq!(tasks.len(), 3);
    assert!(
        tasks
            .iter()
            .all(|t| t.state == flowgate::StateType::Completed)
    );
}

#[test]
fn a_failure_in_a_worker_reaches_the_flow() {
    let h = harness();
    let _w = Worker::start(&h);
    let message = odd_one_out();
    assert!(message.contains("3 is odd"), "{message}");
}

#[test]
fn a_worker_killed_mid_task_loses_nothing() {
    let h = harness();
    let mut first = Worker::start(&h);
    std::thread::scope(|s| {
        let flow = s.spawn(|| {
            let _serve_this_thread = h.enter();
            one_long_task(2000)
        });
        // Wait until the first worker runs the task, then kill it.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let tasks = h.post(
                "/task_runs/filter",
                json!({"task_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}),
            );
            if tasks.as_array().is_some_and(|t| !t.is_empty()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the first worker never started the task"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        first.kill();
        let second = Worker::start(&h);
        let pid = flow.join().expect("the flow finished");
        assert_eq!(
            pid,
            second.pid(),
            "the second worker took the task over after the lease lapsed"
        );
    });
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": ["one-long-task"]}}}),
    );
    assert_eq!(runs[0]["state_type"], "COMPLETED");
    let tasks = h.post(
        "/task_runs/filter",
        json!({"flow_runs": {"id": {"any_": [runs[0]["id"]]}}}),
    );
    assert_eq!(tasks[0]["state_type"], "COMPLETED");
}

#[test]
fn a_worker_without_a_server_stops_with_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_e2e-task-worker"))
        .env("FLOWGATE_API_URL", "http://127.0.0.1:9/api")
        .output()
        .expect("the worker runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the Flowgate server at http://127.0.0.1:9/api"),
        "{stderr}"
    );
}

/// Against a server requiring API keys, a program and its task workers send `FLOWGATE_API_KEY`
/// from their environment (on HTTP and on the event websocket: every task run is recorded);
/// without it the program fails with the server's explanation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_sends_the_api_key_from_its_environment() {
    const KEY: &str = "sdk-key-0123456789abcdef";
    let db = flowgate_testkit::sqlite();
    let mut config = flowgate_server::ServerConfig::new(([127, 0, 0, 1], 0).into(), db.url.clone());
    config.api_keys = flowgate_server::ApiKeys::parse([format!("sdk={KEY}").as_str()]).unwrap();
    let server = flowgate_server::start(config).await.unwrap();
    let program = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_e2e-task-worker"));
        command
            .env("FLOWGATE_API_URL", server.api_url())
            .env("FLOWGATE_LOGGING_LEVEL", "WARNING")
            .env_remove("FLOWGATE_API_KEY")
            .env_remove("PREFECT_API_KEY")
            .kill_on_drop(true);
        command
    };
    let _worker = program().env("FLOWGATE_API_KEY", KEY).spawn().unwrap();
    let out = program()
        .args(["fan-out", "4"])
        .env("FLOWGATE_API_KEY", KEY)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "[0, 1, 4, 9]");

    let refused = program().args(["fan-out", "1"]).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("API key"),
        "{stderr}"
    );

    // The workers' reports of their task runs may trail the flow's result by a moment.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tasks: serde_json::Value = http
            .post(format!("{}/task_runs/filter", server.api_url()))
            .bearer_auth(KEY)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tasks = tasks.as_array().expect("task runs");
        if tasks.len() == 4 && tasks.iter().all(|t| t["state_type"] == "COMPLETED") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "task runs not all recorded: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await.unwrap();
}
