//! The real `prefect` client under kills: `tests/prefect_client/kill_soak.py` runs small flows
//! (three tasks and three log lines each) one after another while the server is killed and
//! restarted on the same port, and writes down how each flow call ended.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Api};
use crate::sdk_load::{completed_task_runs, logs_containing};

/// The running Python program.
pub struct PrefectLoad {
    child: Child,
    out: PathBuf,
    stop: PathBuf,
}

/// What the program's flows came to.
#[derive(Debug, Default)]
pub struct PrefectTally {
    /// Flow calls that returned Completed, each checked on the server.
    pub completed: usize,
    /// Flow calls that returned another final state, each checked on the server.
    pub other: usize,
    /// Flow calls the client gave up on, with its error: the `prefect` client retries a
    /// refused connection only once it has connected, and a flow that starts while the server
    /// is down starts with a new client.
    pub gave_up: Vec<String>,
    /// Log lines of completed flows stored twice (a `POST /logs/` retried by the client).
    pub duplicate_logs: usize,
    /// Log lines of completed flows the client dropped after failing to send them.
    pub logs_dropped_by_client: usize,
    /// Task runs of completed flows not Completed on the server because the client's events
    /// worker dropped their events after failing to send them.
    pub task_runs_dropped_by_client: usize,
    /// Task runs of completed flows not Completed on the server, the flow having ended just
    /// before a kill: their events were on the client's websocket, never acknowledged (the
    /// events protocol has no acknowledgement), and the client sent nothing more that would
    /// have made it reconnect and send them again.
    pub task_runs_in_flight_at_a_kill: usize,
}

/// How close before or after a flow's end a kill may fall and take its task runs' unconfirmed
/// events with it: the client's events worker sends them in the background around the end.
const IN_FLIGHT: (f64, f64) = (3.0, 5.0);

impl PrefectLoad {
    /// Starts the program against `api_url` with its files in `home`; `None` when no Python
    /// with prefect is configured (see `common::prefect_python`).
    pub fn start(api_url: &str, home: &std::path::Path) -> Option<PrefectLoad> {
        let python = common::prefect_python("the kill soak's prefect client")?;
        let (out, stop) = (home.join("prefect-flows.jsonl"), home.join("prefect-stop"));
        let child = common::prefect_program(&python, "kill_soak", api_url, home)
            .args([&out, &stop])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(home.join("prefect-stderr.txt")).unwrap())
            .spawn()
            .expect("python starts");
        Some(PrefectLoad { child, out, stop })
    }

    /// The flow calls finished so far (however they ended).
    pub fn finished(&self) -> usize {
        std::fs::read_to_string(&self.out).map_or(0, |t| t.lines().count())
    }

    /// Asks the program to stop after its current flow, waits for it to exit, and checks every
    /// flow it ran: a call that returned Completed has its value, and on the server the run is
    /// Completed with its three task runs Completed and its three log lines; a call that
    /// returned another state finds the run in that state. `kills` are when the server was
    /// killed (Unix seconds).
    pub fn stop_and_check(mut self, api: &Api, kills: &[f64]) -> PrefectTally {
        std::fs::write(&self.stop, "").unwrap();
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the prefect program did not stop"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let stderr = self.out.with_file_name("prefect-stderr.txt");
        let stderr = std::fs::read_to_string(stderr).unwrap_or_default();
        assert!(status.success(), "kill_soak.py failed:\n{stderr}");
        let mut tally = PrefectTally::default();
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        for line in text.lines() {
            let flow: Value = serde_json::from_str(line).unwrap();
            let Some(run) = flow["run"].as_str() else {
                tally
                    .gave_up
                    .push(flow["error"].as_str().unwrap_or_default().to_owned());
                continue;
            };
            let (status, stored) = api.get(&format!("/flow_runs/{run}"));
            assert_eq!(status, 200, "flow run {run} the client ran is stored");
            let state = flow["state"].as_str().unwrap();
            assert_eq!(
                stored["state_type"], state,
                "the client saw run {run} end {state}; the server has {stored:#}\n{stderr}"
            );
            if state != "COMPLETED" {
                tally.other += 1;
                continue;
            }
            assert_eq!(flow["value"], flow["expected"], "{flow}");
            // The client sends task runs and logs in the background; they may still be landing.
            let tasks = api.eventually(Duration::from_secs(20), |api| {
                let n = completed_task_runs(api, run);
                (n == 3).then_some(n)
            });
            // The client's events worker drops an event it could not send, saying so on
            // stderr; only then may a task run's report be missing.
            let ended = flow["ended"].as_f64().unwrap();
            let killed_around_the_end = kills
                .iter()
                .any(|&k| k > ended - IN_FLIGHT.0 && k < ended + IN_FLIGHT.1);
            if tasks != Some(3) && stderr.contains("EventsWorker") {
                tally.task_runs_dropped_by_client += 3 - completed_task_runs(api, run);
            } else if tasks != Some(3) && killed_around_the_end {
                tally.task_runs_in_flight_at_a_kill += 3 - completed_task_runs(api, run);
            } else if tasks != Some(3) {
                let (_, found) = api.post(
                    "/task_runs/filter",
                    &json!({"flow_runs": {"id": {"any_": [run]}}}),
                );
                let states: Vec<_> = found
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| (t["name"].clone(), t["state_type"].clone()))
                    .collect();
                panic!(
                    "run {run}'s three task runs are not all Completed, no kill fell near its end \
                     ({ended}; kills at {kills:?}), and the client reported no failure to send \
                     their events: {states:?}\n{stderr}"
                );
            }
            // The client posts log lines without ids and drops a batch it could not send
            // (saying so on stderr): a line may be stored twice (a post retried after its
            // answer was lost; Prefect's server does the same) or not at all, but only then.
            let distinct = |api: &Api| {
                let lines = logs_containing(api, run, "soak step");
                let distinct: BTreeSet<String> = lines.iter().cloned().collect();
                (lines.len(), distinct.len())
            };
            let (lines, kept) = api
                .eventually(Duration::from_secs(20), |api| {
                    let (lines, kept) = distinct(api);
                    (kept == 3).then_some((lines, kept))
                })
                .unwrap_or_else(|| distinct(api));
            tally.duplicate_logs += lines - kept;
            if kept < 3 {
                assert!(
                    stderr.contains("Error logging to API"),
                    "run {run} has {kept} of its 3 log lines, and the client reported no \
                     failure to send them:\n{stderr}"
                );
                tally.logs_dropped_by_client += 3 - kept;
            }
            tally.completed += 1;
        }
        let (_, count) = api.post(
            "/flow_runs/count",
            &json!({"flows": {"name": {"any_": ["soak-flow"]}}}),
        );
        assert!(
            count.as_u64().unwrap() as usize >= tally.completed + tally.other,
            "{count}"
        );
        tally
    }
}

impl Drop for PrefectLoad {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
