//! The seed's human-in-the-loop programs (tests/prefect_client/pause_*.py), run by the real
//! `prefect==3.9.1` client, paused, and resumed through Flowgate's API and CLI.
//!
//! SQLite only: Prefect's client checks for a resume every 10 s, so each case takes seconds;
//! resuming itself is covered on both backends by the storage suite.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Api, ServerProcess};
use serde_json::{Value, json};

/// A server and one program paused on it.
struct Session {
    server: ServerProcess,
    api: Api,
    program: Child,
    _home: tempfile::TempDir,
    _db: flowgate_testkit::TestDatabase,
}

impl Session {
    fn start(program: &str) -> Option<Session> {
        let python = common::prefect_python("pause tests")?;
        let home = tempfile::tempdir().unwrap();
        let db = flowgate_testkit::sqlite();
        let server = ServerProcess::start(home.path(), &db.url);
        let child = common::prefect_program(&python, program, &server.api, home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        let api = Api::new(&server.api);
        Some(Session {
            server,
            api,
            program: child,
            _home: home,
            _db: db,
        })
    }

    /// Waits until the program's flow run is paused for the `pauses`-th time.
    fn paused(&self, pauses: usize) -> Value {
        self.api
            .eventually(Duration::from_secs(60), |api| {
                let (_, runs) = api.post(
                    "/flow_runs/filter",
                    &json!({"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}}),
                );
                runs.as_array()?
                    .iter()
                    .find(|r| {
                        r["empirical_policy"]["pause_keys"].as_array().map(Vec::len) == Some(pauses)
                    })
                    .cloned()
            })
            .unwrap_or_else(|| panic!("the flow did not pause (pause {pauses})"))
    }

    /// The value the paused flow stored under its keyset's `which` key (stored just after the
    /// pause, so waited for).
    fn input(&self, run: &Value, which: &str) -> Value {
        let key = run["state"]["state_details"]["run_input_keyset"][which]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/flow_runs/{}/input/{key}", run["id"].as_str().unwrap());
        self.api
            .eventually(Duration::from_secs(10), |api| {
                let (status, value) = api.get(&path);
                (status == 200).then_some(value)
            })
            .unwrap_or_else(|| panic!("input {key} was never stored"))
    }

    fn resume(&self, run: &Value, input: Value) -> (u16, Value) {
        self.api.post(
            &format!("/flow_runs/{}/resume", run["id"].as_str().unwrap()),
            &json!({"run_input": input}),
        )
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .args(args)
            .args(["--api-url", &self.server.api])
            .output()
            .expect("flowgate runs")
    }

    /// Waits for the program to end; returns its stdout.
    fn finish(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.program.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the program did not finish after the resume"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut out = String::new();
        self.program
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        self.program
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(status.success(), "program failed:\n{out}\n{err}");
        out
    }
}

fn logs(api: &Api, run: &Value) -> Vec<String> {
    let (_, logs) = api.post(
        "/logs/filter",
        &json!({"logs": {"flow_run_id": {"any_": [run["id"]]}}, "sort": "TIMESTAMP_ASC"}),
    );
    logs.as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_plain_string_pause_is_resumed_from_the_cli() {
    let Some(mut s) = Session::start("pause_greet") else {
        return;
    };
    let run = s.paused(1);
    assert_eq!(
        s.input(&run, "schema")["properties"]["value"]["type"],
        "string"
    );
    let id = run["id"].as_str().unwrap();
    let ok = s.cli(&["flow-run", "resume", id, "--input", r#"{"value": "Jeff"}"#]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (status, again) = s.resume(&run, json!({"value": "Bob"}));
    assert_eq!(
        status, 409,
        "a run already resumed cannot be resumed again: {again}"
    );
    let out = s.finish();
    assert!(out.contains("RESULT Jeff"), "{out}");
    let lines = logs(&s.api, &run);
    assert!(lines.iter().any(|l| l == "Hello, Jeff!"), "{lines:?}");
    let (_, events) = s.api.post(
        "/events/filter",
        &json!({"filter": {"event": {"name": ["prefect.flow-run.Resumed"]}}}),
    );
    assert_eq!(events["total"], 1);
    let who = events["events"][0]["payload"]["resumed_by"]
        .as_str()
        .unwrap_or_default();
    assert!(
        who.ends_with("(flowgate CLI)"),
        "who resumed is recorded: {who}"
    );
}

#[test]
fn initial_data_prefills_the_form_schema() {
    let Some(mut s) = Session::start("pause_default") else {
        return;
    };
    let run = s.paused(1);
    assert_eq!(
        s.input(&run, "schema")["properties"]["name"]["default"],
        "anonymous"
    );
    let (status, answer) = s.resume(&run, json!({"name": "Jeff"}));
    assert_eq!(
        (status, answer["status"].as_str()),
        (201, Some("ACCEPT")),
        "{answer}"
    );
    assert_eq!(answer["state"]["type"], "RUNNING");
    let out = s.finish();
    assert!(out.contains("RESULT Jeff"), "{out}");
}

#[test]
fn invalid_input_is_rejected_by_field_and_a_validator_failure_pauses_again() {
    let Some(mut s) = Session::start("pause_shirt") else {
        return;
    };
    let run = s.paused(1);
    let schema = s.input(&run, "schema");
    assert_eq!(
        schema["properties"]["size"]["enum"],
        json!(["small", "medium", "large", "xlarge"])
    );
    let (status, answer) = s.resume(&run, json!({"size": "huge", "color": "red"}));
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("REJECT")),
        "{answer}"
    );
    let reason = answer["details"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("field 'size'") && reason.contains("huge"),
        "{reason}"
    );
    let (status, _) = s.resume(&run, json!({"size": "small", "color": "green"}));
    assert_eq!(
        status, 201,
        "passes the schema; the flow's own validator refuses it"
    );
    let run = s.paused(2);
    // The client stores the new pause's schema just after pausing: wait for it, as a person
    // reading the run's page would.
    s.input(&run, "schema");
    let id = run["id"].as_str().unwrap();
    let refused = s.cli(&[
        "flow-run",
        "resume",
        id,
        "--input",
        r#"{"size": "small", "color": "purple"}"#,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("field 'color'") && stderr.contains("purple"),
        "{stderr}"
    );
    let (status, _) = s.resume(&run, json!({"size": "medium", "color": "red"}));
    assert_eq!(status, 201);
    let out = s.finish();
    assert!(out.contains("RESULT ('medium', 'red')"), "{out}");
    let lines = logs(&s.api, &run);
    assert!(
        lines
            .iter()
            .any(|l| l == "Invalid shirt order. Please try again."),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "Shirt order: size='medium' color='red'"),
        "{lines:?}"
    );
}
