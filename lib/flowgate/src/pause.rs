//! Human in the loop: a flow pauses until a person resumes it, optionally with typed input they
//! fill in through a form generated from the input type's JSON Schema (the web UI, the CLI's
//! `flowgate flow-run resume ID --input JSON`, or the API). The server checks the input against
//! the schema; [`RunInput::validate`] then runs here, and a refusal pauses the run again with
//! its message shown above the form.
//!
//! The flow learns of the resume from the server's event stream as it happens, not by polling.

use std::time::Duration;

use flowgate_wire::events::SubscribeFrame;
use flowgate_wire::filters::{EventFilter, OccurredFilter, ResourceFilter};
use flowgate_wire::flow_runs::FlowRun;
use flowgate_wire::inputs::FlowRunInputCreate;
use flowgate_wire::states::{RunInputKeyset, StateCreate};
use flowgate_wire::{Micros, StateType};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::api::Answer;
use crate::context::{self, Frame};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::logging;
use crate::sinks::Ws;

/// Input a paused flow waits for. Derive it with `#[derive(RunInput)]` next to `Serialize`,
/// `Deserialize` and `schemars::JsonSchema`; field rules (`#[schemars(length(..), range(..),
/// regex(..))]`), enums (dropdowns), `Option` (optional) and `#[serde(default)]` all reach the
/// form and the server's check.
pub trait RunInput: schemars::JsonSchema + Serialize + DeserializeOwned + Send + 'static {
    /// Rules the schema cannot express; `Err(message)` pauses the run again, showing `message`.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Checks, in `#[derive(RunInput)]`, that the type derives schemars 1's `JsonSchema`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` needs `#[derive(JsonSchema)]` to be a `RunInput`",
    label = "`JsonSchema` (schemars 1) is not implemented for `{Self}`",
    note = "derive it beside `RunInput`: `#[derive(Serialize, Deserialize, schemars::JsonSchema, RunInput)]` with `schemars = \"1\"` in Cargo.toml; or use the copy flowgate re-exports: `#[derive(flowgate::schemars::JsonSchema)]` plus `#[schemars(crate = \"flowgate::schemars\")]`",
    note = "`schemars = \"0.8\"` derives 0.8's `JsonSchema`, a different trait that flowgate cannot read"
)]
pub trait DerivesJsonSchema {}

impl<T: schemars::JsonSchema> DerivesJsonSchema for T {}

/// Why a pause did not end with the run resumed.
#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    /// `pause_flow_run` was called outside a flow.
    #[error("pause_flow_run must be called inside a flow")]
    NotInFlow,
    /// `suspend_flow_run` was called in a task: only the flow's own body can end its process.
    #[error(
        "suspend_flow_run must be called in the flow's body, not in a task; return from the task and suspend after it"
    )]
    InTask,
    /// `suspend_flow_run` was called in a run of no deployment: nothing would run it again
    /// once resumed.
    #[error(
        "only a deployment's run can be suspended (nothing would run it again when resumed); deploy the flow, or use pause_flow_run, which waits in the process"
    )]
    NotDeployed,
    /// Nobody resumed the run before its timeout.
    #[error("nobody resumed the flow run within {0:?}")]
    TimedOut(Duration),
    /// The run was cancelled (or otherwise ended) while paused.
    #[error("the flow run ended while paused: {0}")]
    Ended(String),
    /// The server could not be reached or refused the pause.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The stored input could not be read as the input type.
    #[error("the resume input could not be read: {0}")]
    BadInput(String),
}

/// How to pause: timeout (default 1 hour), a markdown description shown above the form, and
/// initial data that prefills it.
pub struct Pause<T> {
    timeout: Duration,
    description: Option<String>,
    initial: Option<T>,
}

impl<T> Default for Pause<T> {
    fn default() -> Self {
        Pause {
            timeout: Duration::from_secs(3600),
            description: None,
            initial: None,
        }
    }
}

impl<T> Pause<T> {
    /// A pause with the defaults.
    pub fn new() -> Pause<T> {
        Pause::default()
    }

    /// How long to wait for a person.
    pub fn timeout(mut self, timeout: Duration) -> Pause<T> {
        self.timeout = timeout;
        self
    }

    /// Markdown shown above the form.
    pub fn description(mut self, markdown: impl Into<String>) -> Pause<T> {
        self.description = Some(markdown.into());
        self
    }

    /// Values that prefill the form.
    pub fn with_initial_data(mut self, initial: T) -> Pause<T> {
        self.initial = Some(initial);
        self
    }
}

/// How a pause waits: in the process, or with the process gone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// The flow waits in its process (`pause_flow_run`).
    InProcess,
    /// The run is Suspended and the process ends (`suspend_flow_run`).
    Suspend,
}

/// How a pause ended for this process.
enum Ended {
    /// The run was resumed (now, or before this process took the run over).
    Resumed,
    /// The run is Suspended: the process has nothing more to do for it.
    Suspended,
}

/// The panic payload that unwinds a suspended flow's body to its run's driver, which ends the
/// call with [`crate::FlowError::Suspended`] instead of a final state.
pub(crate) struct Suspension;

/// Unwinds the flow's body: the run is Suspended.
fn unwind_suspended() -> ! {
    std::panic::resume_unwind(Box::new(Suspension))
}

/// Whether a caught panic is a suspension unwinding the body.
pub(crate) fn is_suspension(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<Suspension>()
}

/// Pauses the current flow run until someone resumes it (no input).
pub fn pause_flow_run(timeout: Duration) -> Result<(), PauseError> {
    hold_without_input(Hold::InProcess, timeout)
}

/// Suspends the current flow run until someone resumes it (no input), without holding a
/// process: the run is Suspended, the flow's body ends here (tasks it submitted are waited
/// for) and the call of the flow returns [`crate::FlowError::Suspended`] (`Deployments::main`
/// exits 0; a plain top-level call exits the process). Once resumed, the run is Scheduled
/// again and a worker (or a serving program) runs the flow again from the start: the tasks
/// that completed before are not run again (their recorded results are used), and this call
/// returns at once. Only a deployment's run can be suspended, from the flow's own body.
pub fn suspend_flow_run(timeout: Duration) -> Result<(), PauseError> {
    hold_without_input(Hold::Suspend, timeout)
}

fn hold_without_input(hold: Hold, timeout: Duration) -> Result<(), PauseError> {
    let frame = held_frame(hold)?;
    let engine = frame.flow.engine.clone();
    let key = frame.flow.next_key("__flowgate_pause") + 1;
    let run = frame.flow.id;
    let log = logging::for_frame(&frame);
    let waiting = wait_for_resume(engine.clone(), run, key, timeout, None, hold, log);
    let ended = engine.block_on(waiting)?;
    continue_or_unwind(&frame, ended);
    Ok(())
}

/// The frame a pause holds: a flow's; for a suspension, its own body's.
fn held_frame(hold: Hold) -> Result<Frame, PauseError> {
    let frame = context::current().ok_or(PauseError::NotInFlow)?;
    if hold == Hold::Suspend && frame.task.is_some() {
        return Err(PauseError::InTask);
    }
    Ok(frame)
}

/// After a pause: continue, or unwind the body of a suspended run.
fn continue_or_unwind(frame: &Frame, ended: Ended) {
    match ended {
        Ended::Resumed => logging::for_frame(frame).info("Resuming flow run execution!"),
        Ended::Suspended => unwind_suspended(),
    }
}

/// Pauses the current flow run until someone resumes it with a valid `T`, and returns it.
pub fn pause_flow_run_for<T: RunInput>(pause: Pause<T>) -> Result<T, PauseError> {
    hold_for(Hold::InProcess, pause)
}

/// Suspends the current flow run until someone resumes it with a valid `T`, without holding a
/// process (see [`suspend_flow_run`]): when the flow runs again after the resume, this call
/// returns the input at once. A flow can wait days for a person at no cost.
pub fn suspend_flow_run_for<T: RunInput>(pause: Pause<T>) -> Result<T, PauseError> {
    hold_for(Hold::Suspend, pause)
}

fn hold_for<T: RunInput>(hold: Hold, pause: Pause<T>) -> Result<T, PauseError> {
    let frame = held_frame(hold)?;
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
    if let Some(initial) = pause
        .initial
        .as_ref()
        .and_then(|i| serde_json::to_value(i).ok())
    {
        prefill(&mut schema, &initial);
    }
    let mut refusal: Option<String> = None;
    loop {
        let description = match (&refusal, &pause.description) {
            (Some(r), Some(d)) => Some(format!("**Invalid input:** {r}\n\n{d}")),
            (Some(r), None) => Some(format!("**Invalid input:** {r}")),
            (None, d) => d.clone(),
        };
        let value = pause_once(&frame, &schema, description, pause.timeout, hold)?;
        let input: T =
            serde_json::from_value(value).map_err(|e| PauseError::BadInput(e.to_string()))?;
        match input.validate() {
            Ok(()) => return Ok(input),
            Err(message) => {
                logging::for_frame(&frame)
                    .warning(format!("Invalid input ({message}); pausing again."));
                refusal = Some(message);
            }
        }
    }
}

/// Puts each initial value into its property's `default`, so the form starts filled in.
fn prefill(schema: &mut Value, initial: &Value) {
    if let (Some(props), Some(values)) = (
        schema.get_mut("properties").and_then(Value::as_object_mut),
        initial.as_object(),
    ) {
        for (k, v) in values {
            if let Some(Value::Object(prop)) = props.get_mut(k) {
                prop.insert("default".to_owned(), v.clone());
            }
        }
    }
}

/// One pause with input: store the schema and description, pause, wait, read the response.
fn pause_once(
    frame: &Frame,
    schema: &Value,
    description: Option<String>,
    timeout: Duration,
    hold: Hold,
) -> Result<Value, PauseError> {
    let engine = frame.flow.engine.clone();
    let key = frame.flow.next_key("__flowgate_pause") + 1;
    let run = frame.flow.id;
    let keyset = keyset(key);
    let (schema, keys) = (schema.clone(), keyset.clone());
    let waiting = engine.clone();
    let log = logging::for_frame(frame);
    let ended = engine.block_on(async move {
        let ended = wait_for_resume(
            waiting.clone(),
            run,
            key,
            timeout,
            Some((keys, schema, description)),
            hold,
            log,
        )
        .await?;
        if let Ended::Suspended = ended {
            return Ok(None);
        }
        let path = format!("/flow_runs/{run}/input/{}", keyset.response);
        Ok::<_, PauseError>(Some(waiting.api.get("the resume input", &path).await?))
    })?;
    match ended {
        Some(value) => {
            continue_or_unwind(frame, Ended::Resumed);
            Ok(value)
        }
        None => unwind_suspended(),
    }
}

/// The input keys of the `n`-th pause of a run (Prefect's naming).
fn keyset(n: u64) -> RunInputKeyset {
    RunInputKeyset {
        schema: format!("paused-{n}-schema"),
        description: Some(format!("paused-{n}-description")),
        response: format!("paused-{n}-response"),
    }
}

/// Pauses `run` at its `key`-th pause and, in the process, waits until it leaves Paused: `Ok`
/// when Running again. A suspension returns once the run is Suspended. A run that already
/// passed this pause (it was resumed from it before this process took the run over: the key
/// is among its `pause_keys`) does not pause again.
async fn wait_for_resume(
    engine: std::sync::Arc<Engine>,
    run: Uuid,
    key: u64,
    timeout: Duration,
    input: Option<(RunInputKeyset, Value, Option<String>)>,
    hold: Hold,
    log: logging::RunLogger,
) -> Result<Ended, PauseError> {
    let current: FlowRun = engine
        .api
        .get("the run to pause", &format!("/flow_runs/{run}"))
        .await?;
    let passed = current.empirical_policy["pause_keys"]
        .as_array()
        .is_some_and(|keys| keys.iter().any(|k| k.as_str() == Some(&key.to_string())));
    if passed {
        return Ok(Ended::Resumed);
    }
    if hold == Hold::Suspend && current.deployment_id.is_none() {
        return Err(PauseError::NotDeployed);
    }
    log.info(match hold {
        Hold::InProcess => "Pausing flow, execution will continue when this flow run is resumed.",
        Hold::Suspend => {
            "Suspending flow run: this process ends, and the run runs again when it is resumed."
        }
    });
    let since = jiff::Timestamp::now();
    let deadline = since
        + jiff::SignedDuration::try_from(timeout).unwrap_or(jiff::SignedDuration::from_hours(1));
    let mut details = Map::new();
    details.insert("pause_key".to_owned(), json!(key.to_string()));
    details.insert(
        "pause_timeout".to_owned(),
        json!(Micros::from_timestamp(deadline)),
    );
    details.insert("pause_reschedule".to_owned(), json!(hold == Hold::Suspend));
    if let Some((keys, _, _)) = &input {
        details.insert("run_input_keyset".to_owned(), json!(keys));
    }
    // Subscribe first, so a resume right after the pause is not missed; a subscription that
    // cannot be made in time only costs the push (the run is re-read every 5 s regardless).
    let mut events = match hold {
        Hold::InProcess => {
            tokio::time::timeout(Duration::from_secs(5), subscribe(&engine, run, since))
                .await
                .ok()
                .flatten()
        }
        Hold::Suspend => None,
    };
    // The input's schema and description are stored before the run pauses, so whoever sees
    // the run paused can read what it waits for (and the server can refuse a resume whose
    // schema is missing).
    if let Some((keys, schema, description)) = input {
        let post = |key: String, value: String| {
            let api = engine.api.clone();
            let input = FlowRunInputCreate {
                key,
                value,
                sender: None,
            };
            async move {
                let path = format!("/flow_runs/{run}/input");
                api.post::<()>("storing pause input", &path, &input).await
            }
        };
        post(keys.schema, schema.to_string()).await?;
        if let (Some(key), Some(d)) = (keys.description, description) {
            post(key, Value::String(d).to_string()).await?;
        }
    }
    let answer = engine
        .api
        .set_flow_run_state(
            run,
            StateCreate {
                name: Some(
                    match hold {
                        Hold::InProcess => "Paused",
                        Hold::Suspend => "Suspended",
                    }
                    .to_owned(),
                ),
                state_details: Some(details),
                ..StateCreate::new(StateType::Paused)
            },
        )
        .await?;
    match answer {
        Answer::Accepted(_) => {}
        Answer::Rejected { reason, .. } | Answer::Aborted { reason, .. } => {
            return Err(PauseError::Ended(reason));
        }
    }
    if hold == Hold::Suspend {
        return Ok(Ended::Suspended);
    }
    loop {
        // Wake on the next event for this run, or re-read the run at least every 5 s.
        let wake = tokio::time::sleep(Duration::from_secs(5));
        match events.as_mut() {
            Some(ws) => {
                tokio::select! {
                    msg = ws.next() => if !matches!(msg, Some(Ok(_))) { events = None; },
                    () = wake => {}
                }
            }
            None => wake.await,
        }
        let state: FlowRun = engine
            .api
            .get("the paused run", &format!("/flow_runs/{run}"))
            .await?;
        match state.state_type {
            Some(StateType::Paused) => {
                if jiff::Timestamp::now() > deadline + jiff::SignedDuration::from_secs(2) {
                    return Err(PauseError::TimedOut(timeout));
                }
            }
            Some(StateType::Running) => return Ok(Ended::Resumed),
            Some(other) => {
                let message = state
                    .state
                    .and_then(|s| s.message)
                    .unwrap_or_else(|| other.as_str().to_owned());
                return Err(if message.contains("timed out") {
                    PauseError::TimedOut(timeout)
                } else {
                    PauseError::Ended(message)
                });
            }
            None => return Err(PauseError::Ended("the run has no state".to_owned())),
        }
    }
}

/// Subscribes to the run's state events (best effort: without it, the pause re-reads the run).
pub(crate) async fn subscribe(engine: &Engine, run: Uuid, since: jiff::Timestamp) -> Option<Ws> {
    let url = format!("{}/events/out", engine.api_url().replacen("http", "ws", 1));
    let mut ws = crate::sinks::connect(&url).await.ok()?;
    let filter = EventFilter {
        resource: Some(ResourceFilter {
            id: Some(vec![format!("prefect.flow-run.{run}")]),
            ..ResourceFilter::default()
        }),
        occurred: Some(OccurredFilter {
            since: Some(Micros::from_timestamp(since)),
            until: None,
        }),
        ..Default::default()
    };
    let frame = serde_json::to_string(&SubscribeFrame::new(filter)).ok()?;
    ws.send(Message::text(frame)).await.ok()?;
    Some(ws)
}
