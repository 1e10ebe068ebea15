//! The `flowgate flow-run` commands end to end: the real binary against a real
//! `flowgate server start` process (on SQLite and on PostgreSQL), with the data set up over HTTP
//! and the command's exit code, stdout and stderr checked as a person or a script would see them.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Api, ServerProcess};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};
use uuid::Uuid;

/// How long one command may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// An API URL where nothing listens (port 9, discard).
const NOWHERE: &str = "http://127.0.0.1:9/api";

/// The columns of `flow-run ls`.
const HEADER: [&str; 6] = ["ID", "FLOW", "NAME", "STATE", "STARTED", "DURATION"];

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
    /// Starts `flowgate ARGS`, with no API URL from the environment.
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .args(args)
            .env_remove("FLOWGATE_API_URL")
            .env_remove("PREFECT_API_URL")
            .env_remove("RUST_LOG")
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

    /// Runs `flowgate flow-run ARGS --api-url <this server>` to completion.
    fn flow_run(&self, args: &[&str]) -> Finished {
        Running::start(&self.flow_run_args(args)).finish()
    }

    /// Starts `flowgate flow-run ARGS --api-url <this server>` without waiting for it.
    fn spawn_flow_run(&self, args: &[&str]) -> Running {
        Running::start(&self.flow_run_args(args))
    }

    fn flow_run_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["flow-run"];
        all.extend(args);
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

/// The rows of an `ls` table after checking its header, each cut to its first four columns
/// (ID, FLOW, NAME, STATE: the ones without spaces).
#[track_caller]
fn table(stdout: &str) -> Vec<[String; 4]> {
    let mut lines = stdout.lines();
    let header: Vec<_> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, HEADER, "{stdout}");
    lines
        .map(|line| {
            let cells: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            assert!(cells.len() >= 6, "short row {line:?} in\n{stdout}");
            [0, 1, 2, 3].map(|i| cells[i].clone())
        })
        .collect()
}

/// The ids listed by `ls`, in order.
#[track_caller]
fn listed(stdout: &str) -> Vec<String> {
    table(stdout).into_iter().map(|[id, ..]| id).collect()
}

on_each_backend!(
    ls_lists_runs_newest_first_and_filters_them,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let (etl, report) = (s.flow("etl"), s.flow("report"));
        let done = s.run(&etl, "done", 0);
        let retrying = s.run(&etl, "retrying", 1);
        let running = s.run(&report, "running", 0);
        assert_eq!(s.set_state(&done, "RUNNING"), "Running");
        assert_eq!(s.set_state(&done, "COMPLETED"), "Completed");
        assert_eq!(s.set_state(&retrying, "RUNNING"), "Running");
        assert_eq!(
            s.set_state(&retrying, "FAILED"),
            "AwaitingRetry",
            "a failed run with a retry left awaits it"
        );
        assert_eq!(s.set_state(&running, "RUNNING"), "Running");

        let all = s.flow_run(&["ls"]);
        assert_eq!(
            table(all.ok()),
            [
                [running.as_str(), "report", "running", "Running"],
                [retrying.as_str(), "etl", "retrying", "AwaitingRetry"],
                [done.as_str(), "etl", "done", "Completed"],
            ]
            .map(|row| row.map(str::to_owned)),
            "{all:#?}"
        );

        let cases: [(&[&str], &[&String]); 8] = [
            (&["--state", "COMPLETED"], &[&done]),
            (
                &["--state", "RUNNING", "--state", "AwaitingRetry"],
                &[&running, &retrying],
            ),
            (&["--state", "completed"], &[&done]),
            (&["--state", "AwaitingRetry"], &[&retrying]),
            (
                &["--state", "COMPLETED", "--state", "running"],
                &[&running, &done],
            ),
            (&["--flow", "etl"], &[&retrying, &done]),
            (&["--flow", "report", "--state", "RUNNING"], &[&running]),
            (&["--limit", "1"], &[&running]),
        ];
        for (args, expected) in cases {
            let out = s.flow_run(&[&["ls"][..], args].concat());
            let ids = listed(out.ok());
            assert_eq!(
                ids.iter().collect::<Vec<_>>(),
                expected,
                "ls {args:?}: {out:#?}"
            );
        }

        let out = s.flow_run(&["ls", "--json"]);
        let runs: Vec<Value> =
            serde_json::from_str(out.ok()).expect("ls --json prints a JSON array");
        assert_eq!(runs[1]["state_name"], "AwaitingRetry");
        let ids: Vec<String> = runs.iter().map(id).collect();
        assert_eq!(ids, [running, retrying, done]);
    }
);

on_each_backend!(ls_says_when_there_is_nothing_to_list, |db: TestDatabase| {
    let s = Server::start(&db);
    let out = s.flow_run(&["ls"]);
    assert_eq!(out.ok(), "", "nothing on stdout");
    assert_eq!(out.stderr.trim(), "No flow runs found.");

    let etl = s.flow("etl");
    s.run(&etl, "pending", 0);
    let out = s.flow_run(&["ls", "--state", "COMPLETED"]);
    assert_eq!(out.ok(), "");
    assert_eq!(out.stderr.trim(), "No flow runs found.");
    let out = s.flow_run(&["ls", "--flow", "nope", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(out.ok()).expect("JSON"),
        json!([])
    );
});

on_each_backend!(inspect_shows_one_run, |db: TestDatabase| {
    let s = Server::start(&db);
    let run = s.run(&s.flow("etl"), "nightly-1", 0);
    assert_eq!(s.set_state(&run, "RUNNING"), "Running");
    assert_eq!(s.set_state(&run, "COMPLETED"), "Completed");

    let out = s.flow_run(&["inspect", &run]);
    let mut lines = out.ok().lines();
    assert_eq!(lines.next(), Some("etl > nightly-1"), "{out:#?}");
    let fields: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    for field in [["ID", run.as_str()], ["State", "Completed"]] {
        assert!(
            fields.iter().any(|f| f[..] == field),
            "no {field:?} line: {out:#?}"
        );
    }

    let out = s.flow_run(&["inspect", &run, "--json"]);
    let read: Value = serde_json::from_str(out.ok()).expect("inspect --json prints JSON");
    assert_eq!(read["id"], run.as_str());
    assert_eq!(read["name"], "nightly-1");
    assert_eq!(read["state_type"], "COMPLETED");

    let unknown = Uuid::now_v7().to_string();
    s.flow_run(&["inspect", &unknown])
        .fails_with(&["not found", &unknown]);
});

on_each_backend!(logs_print_one_run_in_timestamp_order, |db: TestDatabase| {
    let s = Server::start(&db);
    let etl = s.flow("etl");
    let (run, other) = (s.run(&etl, "r", 0), s.run(&etl, "other", 0));
    s.log(&run, 40, "second", 49);
    s.log(&other, 20, "elsewhere", 48);
    s.log(&run, 20, "first", 47);

    let out = s.flow_run(&["logs", &run]);
    assert_eq!(
        out.ok(),
        "03:07:47.123 | INFO     | prefect.flow_runs - first\n\
         03:07:49.123 | ERROR    | prefect.flow_runs - second\n"
    );

    let out = s.flow_run(&["logs", &run, "--json"]);
    let lines: Vec<Value> = out
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let summary: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["message"].as_str().unwrap(),
                l["level"].as_i64().unwrap(),
                l["flow_run_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("first", 20, run.as_str()), ("second", 40, run.as_str())]
    );

    let unknown = Uuid::now_v7().to_string();
    s.flow_run(&["logs", &unknown]).fails_with(&["not found"]);
});

on_each_backend!(logs_follow_a_run_until_it_finishes, |db: TestDatabase| {
    let s = Server::start(&db);
    let run = s.run(&s.flow("etl"), "r", 0);
    assert_eq!(s.set_state(&run, "RUNNING"), "Running");
    s.log(&run, 20, "one", 1);

    let follower = s.spawn_flow_run(&["logs", &run, "--follow"]);
    assert_eq!(
        follower.next_line(),
        "03:07:01.123 | INFO     | prefect.flow_runs - one"
    );
    s.log(&run, 20, "two", 2);
    assert_eq!(
        follower.next_line(),
        "03:07:02.123 | INFO     | prefect.flow_runs - two",
        "a line posted while following is printed"
    );
    // The last line lands just before the run finishes: it must still be printed, once, and
    // the command must then exit by itself (`finish` fails the test if it does not).
    s.log(&run, 30, "three", 3);
    assert_eq!(s.set_state(&run, "COMPLETED"), "Completed");
    let out = follower.finish();
    assert_eq!(
        out.ok(),
        "03:07:03.123 | WARNING  | prefect.flow_runs - three\n",
        "{out:#?}"
    );
});

#[test]
fn an_unreachable_server_is_reported_with_a_hint() {
    let unknown = Uuid::now_v7().to_string();
    for command in [
        &["ls"][..],
        &["inspect", &unknown],
        &["logs", &unknown, "--follow"],
    ] {
        let args = [&["flow-run", "--api-url", NOWHERE][..], command].concat();
        flowgate(&args).fails_with(&["could not reach", NOWHERE, "flowgate server start"]);
    }
}

#[test]
fn version_and_usage_errors() {
    let version = flowgate(&["--version"]);
    assert!(version.ok().starts_with("flowgate "), "{version:#?}");

    flowgate(&["frobnicate"]).fails_with(&["frobnicate"]);
    flowgate(&["flow-run", "inspect", "not-a-uuid", "--api-url", NOWHERE])
        .fails_with(&["not-a-uuid"]);
    flowgate(&["flow-run", "ls", "--limit", "many"]).fails_with(&["many"]);
}

on_each_backend!(
    logs_print_every_line_of_a_busy_second,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let run = s.run(&s.flow("busy"), "busy-1", 0);
        let lines: Vec<Value> = (0..2500)
        .map(|i| {
            json!({"name": "prefect.task_runs", "level": 20, "message": format!("line {i:04}"),
                   "timestamp": format!("2026-11-27T03:07:01.{i:06}Z"), "flow_run_id": run, "task_run_id": null})
        })
        .collect();
        s.post("/logs/", Value::Array(lines), 201);
        let out = s.flow_run(&["logs", &run, "--json"]);
        let printed: Vec<Value> = out
            .ok()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(
            printed.len(),
            2500,
            "more than a page of lines within one second are all printed, once"
        );
        assert_eq!(printed[0]["message"], "line 0000");
        assert_eq!(printed[2499]["message"], "line 2499");
    }
);
