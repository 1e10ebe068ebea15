//! Deployment runs steered from outside while the real `prefect worker start --type process`
//! runs them (`tests/prefect_client/deployed/controlled_flow.py`): a run suspended with the
//! client's `suspend_flow_run` stops at its next task boundary and, resumed, is run again by the
//! worker to completion without repeating its finished tasks; `prefect flow-run cancel` stops a
//! run inside its subflow and runs both flows' `on_cancellation` hooks. Both on SQLite and
//! PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Api, ServerProcess, Worker, prefect, prefect_python};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};
use tempfile::TempDir;

fn programs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/prefect_client")
}

/// A server, the pool `cpool` with both deployments, and a `prefect worker` serving it; the
/// flows leave their marks in `marks`.
struct Setup {
    python: String,
    home: TempDir,
    marks: TempDir,
    server: ServerProcess,
    api: Api,
    _worker: Worker,
    _db: TestDatabase,
}

impl Setup {
    fn start(python: String, db: TestDatabase) -> Setup {
        let home = tempfile::tempdir().unwrap();
        let marks = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(home.path(), &db.url);
        let api = Api::new(&server.api);
        let mut setup = Setup {
            _worker: Worker(
                prefect(&python, &server, home.path())
                    .arg(PathBuf::from(&python).with_file_name("prefect"))
                    .args(["worker", "start", "--pool", "cpool", "--type", "process"])
                    .env("FLOWGATE_TEST_MARKS", marks.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            ),
            python,
            home,
            marks,
            server,
            api,
            _db: db,
        };
        setup.run_program("control_setup.py", &["cpool"]);
        setup
    }

    /// Runs `tests/prefect_client/<program>` and returns its last line.
    fn run_program(&mut self, program: &str, args: &[&str]) -> String {
        let out = prefect(&self.python, &self.server, self.home.path())
            .arg(programs().join(program))
            .args(args)
            .env("COLUMNS", "250")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{program} {args:?}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.lines().last().unwrap_or_default().to_owned()
    }

    /// How many times the flow left mark `name`.
    fn marks(&self, name: &str) -> usize {
        read_marks(self.marks.path(), name)
    }

    fn run(&self, id: &str) -> Value {
        self.api.get(&format!("/flow_runs/{id}")).1
    }

    /// Waits for run `id` to satisfy `check`, failing with `what` and the run.
    fn wait_for(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let found = self.api.eventually(Duration::from_secs(120), |api| {
            let run = api.get(&format!("/flow_runs/{id}")).1;
            check(&run).then_some(run)
        });
        found.unwrap_or_else(|| panic!("{what}: {:#}", self.run(id)))
    }
}

fn read_marks(dir: &Path, name: &str) -> usize {
    std::fs::read_to_string(dir.join(name))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn state(run: &Value) -> (String, String) {
    let text = |k: &str| run[k].as_str().unwrap_or_default().to_owned();
    (text("state_type"), text("state_name"))
}

on_each_backend!(
    a_run_suspended_from_outside_stops_at_its_next_task_and_finishes_after_resume,
    |db: TestDatabase| {
        let Some(python) = prefect_python("prefect suspension tests") else {
            return;
        };
        let mut s = Setup::start(python, db);
        let id = s.run_program("control_setup.py", &["cpool", "suspendable"]);
        let marks = s.marks.path().to_owned();
        s.api
            .eventually(Duration::from_secs(120), |_| {
                (read_marks(&marks, "tick") > 0).then_some(())
            })
            .expect("the worker starts the flow, which ticks");

        s.run_program("suspend_run.py", &[&id]);
        let suspended = s.wait_for(&id, "suspended", |r| r["state_name"] == "Suspended");
        assert_eq!(state(&suspended).0, "PAUSED");
        // The flow stops at its next task: the ticks stop, and its process exits.
        let stopped = s
            .api
            .eventually(Duration::from_secs(60), |_| {
                let before = read_marks(&marks, "tick");
                std::thread::sleep(Duration::from_secs(2));
                (read_marks(&marks, "tick") == before).then_some(before)
            })
            .expect("the ticks stop");
        assert_eq!(s.marks("second"), 0, "the flow did not go on");
        assert_eq!(state(&s.run(&id)), state(&suspended), "still suspended");

        std::fs::write(marks.join("go"), "").unwrap();
        s.run_program("suspend_run.py", &[&id, "resume"]);
        let done = s.wait_for(&id, "completed after the resume", |r| {
            r["state_type"] == "COMPLETED"
        });
        assert_eq!(
            (s.marks("first"), s.marks("tick"), s.marks("second")),
            (1, stopped, 1),
            "finished tasks are found in their persisted results, not run again"
        );
        let (_, states) = s.api.get(&format!("/flow_run_states/?flow_run_id={id}"));
        let names: Vec<_> = states
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap_or_default())
            .collect();
        let resuming = names.iter().position(|n| *n == "Resuming");
        assert!(
            resuming.is_some_and(|at| names[..at].contains(&"Suspended")),
            "the resume rescheduled the run for the worker: {names:?}"
        );
        assert_eq!(done["run_count"], json!(2), "{done:#}");
    }
);

on_each_backend!(
    cancelling_a_workers_run_runs_the_hooks_of_the_flow_and_its_subflow,
    |db: TestDatabase| {
        let Some(python) = prefect_python("prefect cancellation tests") else {
            return;
        };
        let mut s = Setup::start(python, db);
        let id = s.run_program("control_setup.py", &["cpool", "hooked_parent"]);
        let marks = s.marks.path().to_owned();
        s.api
            .eventually(Duration::from_secs(120), |_| {
                (read_marks(&marks, "child-started") > 0).then_some(())
            })
            .expect("the worker starts the flow and its subflow");

        let prefect_bin = PathBuf::from(&s.python).with_file_name("prefect");
        let asked = s.run_program(prefect_bin.to_str().unwrap(), &["flow-run", "cancel", &id]);
        assert!(asked.contains("scheduled for cancellation"), "{asked}");
        s.wait_for(&id, "cancelled", |r| r["state_type"] == "CANCELLED");
        s.api
            .eventually(Duration::from_secs(60), |_| {
                (read_marks(&marks, "parent-hook") == 1 && read_marks(&marks, "child-hook") == 1)
                    .then_some(())
            })
            .unwrap_or_else(|| {
                panic!(
                    "hooks: parent {}, child {}",
                    s.marks("parent-hook"),
                    s.marks("child-hook")
                )
            });
        let (_, runs) = s.api.post("/flow_runs/filter", &json!({}));
        let states: Vec<_> = runs.as_array().unwrap().iter().map(state).collect();
        assert_eq!(
            states,
            vec![("CANCELLED".to_owned(), "Cancelled".to_owned()); 2],
            "the subflow's run is cancelled too"
        );
    }
);
