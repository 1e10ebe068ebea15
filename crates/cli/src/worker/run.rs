//! One handed-out run's life in a worker: moved to Pending, its command found (the run's or
//! deployment's `command` job variable, else the deployment's entrypoint), moved to Running,
//! started as a process in a process group of its own, watched until it exits (a cancellation
//! signals the group: SIGTERM, then SIGKILL after a grace period), and ended with the state
//! its exit means unless the process reported one itself.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use flowgate_core::StateType;
use flowgate_wire::deployments::Deployment;
use flowgate_wire::flow_runs::{FlowRun, FlowRunUpdate};
use flowgate_wire::states::{
    OrchestrationDetails, OrchestrationResult, SetState, SetStateStatus, StateCreate,
};
use rustix::process::{Pid, Signal, kill_process_group};
use serde_json::{Map, Value};
use tokio::process::Command;
use tokio::sync::watch;
use uuid::Uuid;

use super::Worker;
use super::output::Output;
use crate::client::{Client, is_transient};
use crate::out::outln_or_drop;

/// How long a cancelled run's process has after SIGTERM before it is killed.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// What a held run's supervisor is asked to do to its process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Nothing: let it run.
    No,
    /// The run is being cancelled: stop the process, then end the run Cancelled.
    Cancel,
    /// The worker is shutting down for good: stop the process.
    Terminate,
}

/// Runs one handed-out run to its end. Failures to reach the server are waited out; a refusal
/// (another worker took the run, it was cancelled) ends the supervision.
pub async fn supervise(worker: &Worker, run: FlowRun, stop: watch::Receiver<Stop>) {
    let label = format!("{} ({})", run.name, short(run.id));
    if let Err(e) = execute(worker, &run, &label, stop).await {
        eprintln!("{label}: {e:#}");
    }
}

fn short(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

async fn execute(
    worker: &Worker,
    run: &FlowRun,
    label: &str,
    mut stop: watch::Receiver<Stop>,
) -> anyhow::Result<()> {
    let client = &worker.client;
    if let Err(why) = propose(client, run.id, StateCreate::new(StateType::Pending)).await? {
        outln_or_drop!("{label}: not started: {why}");
        return Ok(());
    }
    let deployment = match run.deployment_id {
        Some(id) => {
            let path = format!("/deployments/{id}");
            Some(
                retry(|| client.get::<Deployment>(&path))
                    .await
                    .context("cannot read the run's deployment")?,
            )
        }
        None => None,
    };
    let Some(job) = Job::of(run, deployment.as_ref()) else {
        let why = "the run's deployment has no entrypoint and no `command` job variable; \
                   set one of them to the command that runs the flow";
        finish(client, run.id, failed(why)).await?;
        outln_or_drop!("{label}: Failed: {why}");
        return Ok(());
    };
    if let Err(why) = propose(client, run.id, StateCreate::new(StateType::Running)).await? {
        outln_or_drop!("{label}: not started: {why}");
        return Ok(());
    }
    let mut command = job.command(worker, run);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let why = format!("the worker could not start `{}`: {e}", job.command);
            finish(client, run.id, crashed(&why)).await?;
            outln_or_drop!("{label}: Crashed: {why}");
            return Ok(());
        }
    };
    let pid = child.id().unwrap_or_default();
    outln_or_drop!("{label}: started process {pid}: {}", job.command);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let update = FlowRunUpdate {
        infrastructure_pid: Some(format!("{host}:{pid}")),
        ..Default::default()
    };
    let _ = client
        .patch(&format!("/flow_runs/{}", run.id), &update)
        .await;
    let output = Output::new(client.clone(), run.id);
    let readers = [
        child
            .stdout
            .take()
            .map(|s| output.read(s, run.id, label.to_owned(), false)),
        child
            .stderr
            .take()
            .map(|s| output.read(s, run.id, label.to_owned(), true)),
    ]
    .into_iter()
    .flatten()
    .collect();

    let group = Pid::from_raw(pid as i32);
    let mut asked = Stop::No;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let status = loop {
        let grace = async {
            match kill_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => break status.context("waiting for the run's process")?,
            changed = stop.changed(), if asked == Stop::No => {
                if changed.is_err() {
                    continue;
                }
                asked = *stop.borrow();
                if asked != Stop::No {
                    outln_or_drop!("{label}: stopping process {pid} ({asked:?})");
                    signal(group, Signal::TERM);
                    kill_at = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                }
            }
            () = grace => {
                signal(group, Signal::KILL);
                kill_at = None;
            }
        }
    };
    // The group may hold the process's children: they end with it.
    signal(group, Signal::KILL);
    output.finish(readers).await;
    let end = ended(client, run.id, status, asked).await?;
    outln_or_drop!(
        "{label}: {}",
        end.unwrap_or_else(|| format!("process exited ({status})"))
    );
    Ok(())
}

fn signal(group: Option<Pid>, signal: Signal) {
    if let Some(group) = group {
        let _ = kill_process_group(group, signal);
    }
}

/// Ends the run as its process's exit means, unless the process ended it (or paused it) itself;
/// says which state it ended in.
async fn ended(
    client: &Client,
    id: Uuid,
    status: ExitStatus,
    asked: Stop,
) -> anyhow::Result<Option<String>> {
    let path = format!("/flow_runs/{id}");
    let run: FlowRun = retry(|| client.get(&path)).await?;
    let state = match run.state_type {
        Some(StateType::Cancelling) => cancelled(),
        Some(StateType::Running | StateType::Pending) if asked == Stop::Cancel => cancelled(),
        Some(StateType::Running | StateType::Pending) => match (status.code(), signal_of(status)) {
            (Some(0), _) => StateCreate::new(StateType::Completed),
            (Some(code), _) => failed(&format!("the flow run's process exited with code {code}")),
            (None, Some(sig)) => crashed(&format!(
                "the flow run's process was killed by signal {sig}"
            )),
            (None, None) => crashed("the flow run's process ended without an exit code"),
        },
        // Ended, paused or rescheduled by the process itself.
        _ => {
            return Ok(run
                .state_name
                .map(|n| format!("{n} (not changed by the worker)")));
        }
    };
    let name = state.state_type.default_name().to_owned();
    finish(client, id, state).await?;
    Ok(Some(name))
}

fn signal_of(status: ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

fn with_message(state_type: StateType, message: &str) -> StateCreate {
    StateCreate {
        message: Some(message.to_owned()),
        ..StateCreate::new(state_type)
    }
}

fn failed(message: &str) -> StateCreate {
    with_message(StateType::Failed, message)
}

fn crashed(message: &str) -> StateCreate {
    with_message(StateType::Crashed, message)
}

fn cancelled() -> StateCreate {
    with_message(
        StateType::Cancelled,
        "The worker stopped the flow run's process.",
    )
}

/// Proposes a final state, waiting out an unreachable server.
async fn finish(client: &Client, id: Uuid, state: StateCreate) -> anyhow::Result<()> {
    match propose(client, id, state).await? {
        Ok(()) => Ok(()),
        Err(why) => {
            eprintln!("flow run {id}: its final state was refused: {why}");
            Ok(())
        }
    }
}

/// Proposes `state`: `Ok(Ok(()))` when accepted, `Ok(Err(reason))` when the rules refused it.
/// A `WAIT` is waited out and the proposal made again.
async fn propose(
    client: &Client,
    id: Uuid,
    state: StateCreate,
) -> anyhow::Result<Result<(), String>> {
    let body = SetState {
        state,
        force: false,
    };
    let path = format!("/flow_runs/{id}/set_state");
    loop {
        let answer: OrchestrationResult = retry(|| client.post(&path, &body)).await?;
        match (&answer.status, &answer.details) {
            (SetStateStatus::Accept, _) => return Ok(Ok(())),
            (SetStateStatus::Wait, OrchestrationDetails::WaitDetails { delay_seconds, .. }) => {
                tokio::time::sleep(Duration::from_secs_f64(delay_seconds.clamp(0.05, 30.0))).await;
            }
            _ => {
                let why = answer.reason().unwrap_or("refused").to_owned();
                return Ok(Err(why));
            }
        }
    }
}

/// Calls `f` until it succeeds or fails for a reason other than the server being away.
pub async fn retry<T, F>(mut f: impl FnMut() -> F) -> anyhow::Result<T>
where
    F: Future<Output = anyhow::Result<T>>,
{
    let mut delay = Duration::from_millis(200);
    loop {
        match f().await {
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// What to run for a run: a shell command, where, with which variables.
struct Job {
    command: String,
    working_dir: Option<String>,
    env: Map<String, Value>,
}

impl Job {
    /// The run's job variables over its deployment's: `command` (else the deployment's
    /// entrypoint), `working_dir` (else the deployment's `path`), `env`.
    fn of(run: &FlowRun, deployment: Option<&Deployment>) -> Option<Job> {
        let mut vars = deployment
            .and_then(|d| d.job_variables.as_object().cloned())
            .unwrap_or_default();
        if let Some(own) = run.job_variables.as_object() {
            vars.extend(own.clone());
        }
        let text = |key: &str| {
            vars.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .filter(|s| !s.trim().is_empty())
        };
        let command = text("command").or_else(|| {
            deployment
                .and_then(|d| d.entrypoint.clone())
                .filter(|e| !e.trim().is_empty())
        })?;
        let working_dir = text("working_dir").or_else(|| {
            deployment
                .and_then(|d| d.path.clone())
                .filter(|p| std::path::Path::new(p).is_dir())
        });
        let env = vars
            .get("env")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Some(Job {
            command,
            working_dir,
            env,
        })
    }

    /// `sh -c COMMAND` in a process group of its own, told which run it is and where the API is.
    fn command(&self, worker: &Worker, run: &FlowRun) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .env("FLOWGATE_API_URL", &worker.api_url)
            .env("PREFECT_API_URL", &worker.api_url)
            .env("FLOWGATE_FLOW_RUN_ID", run.id.to_string())
            .env("PREFECT__FLOW_RUN_ID", run.id.to_string())
            .env("FLOWGATE_PARAMETERS", run.parameters.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        for (k, v) in &self.env {
            match v {
                Value::String(s) => cmd.env(k, s),
                Value::Null => cmd.env_remove(k),
                other => cmd.env(k, other.to_string()),
            };
        }
        if let Some(dir) = &self.working_dir {
            cmd.current_dir(dir);
        }
        cmd
    }
}
