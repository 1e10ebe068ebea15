//! The `flowgate` commands end to end: the real binary against a real `flowgate server start`
//! process (on SQLite and on PostgreSQL), with the data set up over HTTP and the command's exit
//! code, stdout and stderr checked as a person or a script would see them. One module per
//! command group.

mod auth;
mod automations;
#[path = "../common/mod.rs"]
mod common;
mod concurrency_limits;
mod deployments;
mod flow_runs;
mod server_log;
mod stopping;
mod suspend;
mod work_pools;
mod worker;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Api, ServerProcess};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};

/// How long one command may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// An API URL where nothing listens (port 9, discard).
const NOWHERE: &str = "http://127.0.0.1:9/api";

/// A running `flowgate` command whose stdout is read line by line as it comes.
struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

/// What a finished command did.
#[derive(Debug)]
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Running {
    /// Starts `flowgate ARGS`, with no API URL or key from the environment.
    fn start(args: &[&str]) -> Running {
        Running::start_with_env(args, &[])
    }

    /// [`Running::start`] with these environment variables.
    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .args(args)
            .env_remove("FLOWGATE_API_URL")
            .env_remove("PREFECT_API_URL")
            .env_remove("FLOWGATE_API_KEY")
            .env_remove("PREFECT_API_KEY")
            .env_remove("FLOWGATE_API_KEYS")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the flowgate binary starts");
        let (tx, stdout) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("stdout is piped"));
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Running {
            child,
            stdout,
            stderr: Some(stderr),
        }
    }

    /// The command's process id.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line on stdout, failing the test if none comes within [`PATIENCE`].
    fn next_line(&self) -> String {
        self.stdout
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no line on stdout within {PATIENCE:?} ({e})"))
    }

    /// Waits for the command to exit by itself, killing it and failing the test after
    /// [`PATIENCE`]. The stdout returned holds the lines not yet taken with `next_line`.
    fn finish(mut self) -> Finished {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the command can be waited on") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the command did not exit within {PATIENCE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout: String = self.stdout.iter().map(|l| l + "\n").collect();
        let stderr = self.stderr.take().expect("stderr is read once");
        let stderr = stderr.join().expect("stderr is read");
        Finished {
            code: status.code(),
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    /// A command left running by a failed test is killed, not leaked.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `flowgate ARGS` to completion.
fn flowgate(args: &[&str]) -> Finished {
    Running::start(args).finish()
}

impl Finished {
    /// Asserts exit code 0 and returns stdout.
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts exit code 1 with a message on stderr mentioning every needle.
    #[track_caller]
    fn fails_with(&self, needles: &[&str]) {
        assert_eq!(self.code, Some(1), "expected exit code 1: {self:#?}");
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr does not mention {needle:?}: {self:#?}"
            );
        }
    }
}

/// A server process on its own home directory and a client to set up data through its API.
struct Server {
    process: ServerProcess,
    api: Api,
    _home: tempfile::TempDir,
}

impl Server {
    /// Starts `flowgate server start` on `db`.
    fn start(db: &TestDatabase) -> Server {
        let home = tempfile::tempdir().expect("a temporary home");
        let process = ServerProcess::start(home.path(), &db.url);
        let api = Api::new(&process.api);
        Server {
            process,
            api,
            _home: home,
        }
    }

    /// Runs `flowgate ARGS --api-url <this server>` to completion.
    fn cmd(&self, args: &[&str]) -> Finished {
        Running::start(&self.args(args)).finish()
    }

    /// Runs `flowgate flow-run ARGS --api-url <this server>` to completion.
    fn flow_run(&self, args: &[&str]) -> Finished {
        self.cmd(&[&["flow-run"][..], args].concat())
    }

    /// Starts `flowgate flow-run ARGS --api-url <this server>` without waiting for it.
    fn spawn_flow_run(&self, args: &[&str]) -> Running {
        Running::start(&self.args(&[&["flow-run"][..], args].concat()))
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        all.extend(["--api-url", &self.process.api]);
        all
    }

    /// `POST path`, asserting the status, returning the body.
    #[track_caller]
    fn post(&self, path: &str, body: Value, status: u16) -> Value {
        let (got, reply) = self.api.post(path, &body);
        assert_eq!(got, status, "POST {path} {body} answered {reply}");
        reply
    }

    /// Creates the flow `name` and returns its id.
    fn flow(&self, name: &str) -> String {
        id(&self.post("/flows/", json!({"name": name}), 201))
    }

    /// Creates a run of `flow_id` named `name` with up to `retries` retries; returns its id.
    fn run(&self, flow_id: &str, name: &str, retries: u32) -> String {
        let body = json!({"flow_id": flow_id, "name": name,
            "empirical_policy": {"retries": retries}});
        id(&self.post("/flow_runs/", body, 201))
    }

    /// Proposes a state of type `ty` for a run and returns the name of the state it is then in.
    fn set_state(&self, run: &str, ty: &str) -> String {
        let path = format!("/flow_runs/{run}/set_state");
        let (status, reply) = self.api.post(&path, &json!({"state": {"type": ty}}));
        assert!(
            status == 200 || status == 201,
            "{ty} for {run}: {status} {reply}"
        );
        let (status, read) = self.api.get(&format!("/flow_runs/{run}"));
        assert_eq!(status, 200, "{read}");
        read["state_name"]
            .as_str()
            .expect("a state name")
            .to_owned()
    }

    /// Posts one log line of `run` at `level`, stamped 2026-11-27T03:07:`second`.123456Z.
    fn log(&self, run: &str, level: u8, message: &str, second: u8) {
        let line = json!({"name": "prefect.flow_runs", "level": level, "message": message,
            "timestamp": format!("2026-11-27T03:07:{second:02}.123456Z"),
            "flow_run_id": run, "task_run_id": null});
        self.post("/logs/", json!([line]), 201);
    }
}

/// The `id` of a record as the API returns it.
fn id(record: &Value) -> String {
    record["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {record}"))
        .to_owned()
}

/// The rows of a table printed by a command, after checking its header; each row split at
/// whitespace (so only the columns before the first cell with spaces are exact).
#[track_caller]
fn rows(stdout: &str, header: &[&str]) -> Vec<Vec<String>> {
    let mut lines = stdout.lines();
    let first: Vec<_> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        first,
        header.join(" ").split(' ').collect::<Vec<_>>(),
        "{stdout}"
    );
    lines
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}
