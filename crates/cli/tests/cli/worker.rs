//! `flowgate worker start` running a deployed Rust flow binary: the flow program is this test
//! binary itself, deployed with the SDK's builder (`deployed::deployment("rust")`) and run by the
//! worker as `<this binary> --exact worker::deployed_flow_program`, whose `Deployments::main`
//! runs the run the worker was handed (the test does nothing unless the worker started it). The
//! flow reports into that run with its parameters read back into typed arguments; a killed
//! process ends Crashed; `flow-run cancel` stops the process and ends the run Cancelled; SIGTERM
//! stops the worker.

use std::process::ExitCode;
use std::time::Duration;

use flowgate::{Deployments, flow, task};
use serde_json::{Value, json};

use crate::*;

/// Set in the deployment's job variables: this process is the worker's flow program.
const AS_FLOW: &str = "FLOWGATE_E2E_DEPLOYED_FLOW";

#[task]
fn double(x: i64) -> i64 {
    x * 2
}

#[flow(name = "deployed")]
fn deployed(x: i64, hang: bool) -> i64 {
    let y = double(x);
    println!("doubled {x} to {y}");
    if hang {
        println!("hanging");
        std::thread::sleep(Duration::from_secs(600));
    }
    y
}

/// The flow program, as a user writes its `main`: runs the run the worker started it for.
#[test]
fn deployed_flow_program() {
    if std::env::var(AS_FLOW).is_err() {
        return;
    }
    let code = Deployments::new().with(deployed::deployment("rust")).main();
    assert_eq!(code, ExitCode::SUCCESS);
}

/// The command that runs [`deployed_flow_program`].
fn flow_program() -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    format!(
        "'{}' --exact worker::deployed_flow_program --nocapture --test-threads=1",
        exe.display()
    )
}

impl Server {
    /// The run `id` as the API reads it.
    pub(crate) fn read_run(&self, id: &str) -> Value {
        let (status, run) = self.api.get(&format!("/flow_runs/{id}"));
        assert_eq!(status, 200, "{run}");
        run
    }

    /// Waits until `check` holds for the run, failing after a minute.
    #[track_caller]
    pub(crate) fn wait_for_run(
        &self,
        id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let found = self.api.eventually(Duration::from_secs(60), |_| {
            let run = self.read_run(id);
            check(&run).then_some(run)
        });
        found.unwrap_or_else(|| panic!("run {id} never {what}: {}", self.read_run(id)))
    }

    /// Whether a line of the run's logs ends with `message` (the test harness prints the test's
    /// name at the start of its first line).
    fn logged(&self, id: &str, message: &str) -> bool {
        let (_, logs) = self.api.post(
            "/logs/filter",
            &json!({"logs": {"flow_run_id": {"any_": [id]}}, "limit": 200}),
        );
        logs.as_array()
            .into_iter()
            .flatten()
            .any(|l| l["message"].as_str().is_some_and(|m| m.ends_with(message)))
    }

    /// Asks for a run of `deployed/rust` with these parameters; returns its id.
    fn ask(&self, params: &[&str]) -> String {
        self.ask_for_with("deployed/rust", params)
    }

    /// Asks for a run of `deployment`; returns its id.
    fn ask_for(&self, deployment: &str) -> String {
        self.ask_for_with(deployment, &[])
    }

    pub(crate) fn ask_for_with(&self, deployment: &str, params: &[&str]) -> String {
        let mut args = vec!["deployment", "run", deployment, "--json"];
        for p in params {
            args.extend(["-p", p]);
        }
        id(&serde_json::from_str(self.cmd(&args).ok()).expect("run --json prints the run"))
    }
}

on_each_backend!(
    a_deployed_rust_flow_is_run_by_flowgate_worker_start,
    |db: TestDatabase| {
        let s = Server::start(&db);
        s.cmd(&["work-pool", "create", "rust-pool"]).ok();
        let _sdk = flowgate::testing::connect(&s.process.api);
        deployed::deployment("rust")
            .work_pool("rust-pool")
            .parameter("x", 1)
            .parameter("hang", false)
            .command(flow_program())
            .env(AS_FLOW, "1")
            .env("FLOWGATE_LOGGING_LEVEL", "WARNING")
            .apply()
            .expect("the deployment is applied");
        let worker = Running::start(&s.args(&[
            "worker",
            "start",
            "--pool",
            "rust-pool",
            "--limit",
            "2",
            "--name",
            "w1",
        ]));
        assert!(
            worker
                .next_line()
                .starts_with("Worker \"w1\" takes runs from pool")
        );

        // A run asked for from the command line, watched to its end.
        let out = s.cmd(&[
            "deployment",
            "run",
            "deployed/rust",
            "-p",
            "x=21",
            "--watch",
        ]);
        assert!(out.ok().trim_end().ends_with("Completed"), "{out:#?}");
        let (_, runs) = s.api.post(
            "/flow_runs/filter",
            &json!({"flows": {"name": {"any_": ["deployed"]}}}),
        );
        let runs = runs.as_array().unwrap();
        assert_eq!(
            runs.len(),
            1,
            "the flow reported into the worker's run: {runs:#?}"
        );
        let run = &runs[0];
        assert_eq!(run["state_name"], "Completed");
        assert!(run["infrastructure_pid"].as_str().is_some(), "{run}");
        let (_, tasks) = s.api.post(
            "/task_runs/filter",
            &json!({"flow_runs": {"id": {"any_": [run["id"]]}}}),
        );
        assert_eq!(
            tasks[0]["task_key"].as_str().map(|k| k.ends_with("double")),
            Some(true)
        );
        // The flow ends its run itself; its output reaches the run's logs as the process exits.
        let logged = s.api.eventually(Duration::from_secs(30), |_| {
            s.logged(&id(run), "doubled 21 to 42").then_some(())
        });
        assert!(
            logged.is_some(),
            "the process's output is the run's log: {:#}",
            s.api
                .post(
                    "/logs/filter",
                    &json!({"logs": {"flow_run_id": {"any_": [run["id"]]}}})
                )
                .1
        );

        // The parameters' schema came from the flow's argument types: the server refuses others.
        let refused = s.cmd(&["deployment", "run", "deployed/rust", "-p", "x=lots"]);
        refused.fails_with(&["'x'"]);

        // A killed flow process: the run is Crashed.
        let doomed = s.ask(&["hang=true"]);
        let hanging = s.wait_for_run(&doomed, "hung", |r| {
            r["state_type"] == "RUNNING" && s.logged(&doomed, "hanging")
        });
        let pid = hanging["infrastructure_pid"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_owned();
        let killed = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        assert!(killed.unwrap().success());
        let crashed = s.wait_for_run(&doomed, "crashed", |r| r["state_type"] == "CRASHED");
        assert!(
            crashed["state"]["message"]
                .as_str()
                .unwrap()
                .contains("killed by signal 9"),
            "{crashed}"
        );

        // A cancellation reaches the process; the run ends Cancelled.
        let cancelled = s.ask(&["hang=true"]);
        s.wait_for_run(&cancelled, "hung", |r| {
            r["state_type"] == "RUNNING" && s.logged(&cancelled, "hanging")
        });
        // `flow-run cancel` asks the worker to stop it (Cancelling), as Prefect's CLI does.
        let asked = s.cmd(&["flow-run", "cancel", &cancelled]);
        assert!(asked.ok().contains("Cancelling flow run"), "{asked:?}");
        s.wait_for_run(&cancelled, "was cancelled", |r| {
            r["state_type"] == "CANCELLED"
        });

        // SIGTERM: the worker stops taking work and exits once it holds nothing.
        let pid = worker.pid().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let out = worker.finish();
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert!(out.stdout.contains("Worker \"w1\" stopped"), "{out:#?}");
    }
);

on_each_backend!(
    a_run_without_a_command_fails_and_a_failing_one_says_its_exit_code,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let flow = s.flow("shell");
        s.cmd(&["work-pool", "create", "sh"]).ok();
        for (name, entrypoint) in [("none", json!(null)), ("three", json!("echo out; exit 3"))] {
            let body = json!({"name": name, "flow_id": flow, "work_pool_name": "sh",
                              "entrypoint": entrypoint});
            s.post("/deployments/", body, 201);
        }
        let worker = Running::start(&s.args(&["worker", "start", "--pool", "sh"]));
        worker.next_line();
        let out = s.cmd(&["deployment", "run", "shell/none", "--watch"]);
        out.fails_with(&["ended Failed", "no entrypoint"]);
        let out = s.cmd(&["deployment", "run", "shell/three", "--watch"]);
        out.fails_with(&["ended Failed", "exited with code 3"]);
        // A worker for a pool that does not exist yet creates it.
        let other = Running::start(&s.args(&["worker", "start", "--pool", "made-by-worker"]));
        assert_eq!(other.next_line(), "Created work pool \"made-by-worker\"");
        s.cmd(&["work-pool", "inspect", "made-by-worker"]).ok();
    }
);

#[test]
fn a_worker_keeps_its_process_through_a_server_restart_and_carries_on() {
    let db = flowgate_testkit::sqlite();
    let s = Server::start(&db);
    let flow = s.flow("shell");
    s.cmd(&["work-pool", "create", "sh"]).ok();
    let marker = s._home.path().join("go");
    // The process waits for the test's word, so it is surely running while the server is away.
    let waits = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done; echo done",
        marker.display()
    );
    s.post(
        "/deployments/",
        json!({"name": "waits", "flow_id": flow, "work_pool_name": "sh", "entrypoint": waits}),
        201,
    );
    s.post(
        "/deployments/",
        json!({"name": "quick", "flow_id": flow, "work_pool_name": "sh", "entrypoint": "true"}),
        201,
    );
    let worker = Running::start(&s.args(&["worker", "start", "--pool", "sh"]));
    worker.next_line();
    let held = s.ask_for("shell/waits");
    s.wait_for_run(&held, "started", |r| r["state_type"] == "RUNNING");

    // The server dies; the process runs on; a new server on the same port and database.
    let Server {
        process,
        api: _,
        _home: home,
    } = s;
    let port = process.port();
    process.kill();
    std::fs::write(&marker, "").unwrap();
    let process = ServerProcess::start_on(home.path(), &db.url, port);
    let s = Server {
        api: Api::new(&process.api),
        process,
        _home: home,
    };
    s.wait_for_run(&held, "completed after the restart", |r| {
        r["state_type"] == "COMPLETED"
    });
    let logged = s.api.eventually(Duration::from_secs(30), |_| {
        s.logged(&held, "done").then_some(())
    });
    assert!(logged.is_some(), "its output was kept and recorded");
    let again = s.ask_for("shell/quick");
    s.wait_for_run(&again, "completed", |r| r["state_type"] == "COMPLETED");
    let (_, runs) = s.api.post("/flow_runs/filter", &json!({}));
    assert_eq!(
        runs.as_array().unwrap().len(),
        2,
        "nothing ran twice: {runs:#}"
    );
    drop(worker);
}
