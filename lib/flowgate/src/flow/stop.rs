//! Stopping a run's body from outside at its next task call. A deployment's run (one a worker
//! started this process for, or one a serving program runs on a thread) is watched: a
//! subscription to its state events on `/events/out` (re-reading the run every few seconds
//! while the subscription cannot be made) raises the run's [`StopSignal`] when someone else
//! suspends it (`Paused` with `pause_reschedule`, as Prefect's `suspend_flow_run(flow_run_id=…)`
//! and `flowgate flow-run suspend` propose) or cancels it. A task call reads the signal (one
//! atomic load, nothing sent) and does not run; the flow's driver then ends the call as the
//! signal says: suspended (no final state, the process may exit) or cancelled. Subflows share
//! their top-level run's signal, as Prefect's child flows share the suspension request.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowgate_wire::events::EventFrame;
use flowgate_wire::flow_runs::FlowRun;
use flowgate_wire::{Micros, StateType};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::engine::Engine;

/// How often a watch without a subscription re-reads the run.
const POLL: Duration = Duration::from_secs(5);

/// Why a run's body stops at its next task call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stop {
    /// Suspended from outside: the run waits to be resumed and run again by a worker.
    Suspended,
    /// Cancelled from outside (Cancelling, or already Cancelled), with the state's message.
    Cancelled(String),
}

const NOT_ASKED: u8 = 0;
const SUSPENDED: u8 = 1;
const CANCELLED: u8 = 2;

/// Whether a run (and its subflows) was asked to stop, and whether a task call obeyed.
pub(crate) struct StopSignal {
    /// The run that is watched: the top-level run of its subflows.
    pub run: Uuid,
    asked: AtomicU8,
    obeyed: AtomicBool,
    message: Mutex<String>,
}

impl StopSignal {
    /// A signal nobody raises yet, for `run`.
    pub fn new(run: Uuid) -> StopSignal {
        StopSignal {
            run,
            asked: AtomicU8::new(NOT_ASKED),
            obeyed: AtomicBool::new(false),
            message: Mutex::new(String::new()),
        }
    }

    /// Raises the signal; the first stop asked for stands.
    pub fn ask(&self, stop: Stop) {
        let (code, message) = match stop {
            Stop::Suspended => (SUSPENDED, String::new()),
            Stop::Cancelled(m) => (CANCELLED, m),
        };
        // The message is written before the code that makes it readable.
        let mut kept = self.message.lock().expect("not poisoned");
        if self.asked.load(Ordering::Acquire) == NOT_ASKED {
            *kept = message;
            self.asked.store(code, Ordering::Release);
        }
    }

    /// At a task call: the stop asked for, if any, noting that the body was stopped by it. The
    /// cost of a task call while nobody asks is this one load.
    pub fn check(&self) -> Option<Stop> {
        if self.asked.load(Ordering::Acquire) == NOT_ASKED {
            return None;
        }
        self.obeyed.store(true, Ordering::Release);
        self.asked()
    }

    /// The stop a task call obeyed, if one did: the body did not run to its end.
    pub fn obeyed(&self) -> Option<Stop> {
        if self.obeyed.load(Ordering::Acquire) {
            self.asked()
        } else {
            None
        }
    }

    fn asked(&self) -> Option<Stop> {
        match self.asked.load(Ordering::Acquire) {
            SUSPENDED => Some(Stop::Suspended),
            CANCELLED => Some(Stop::Cancelled(
                self.message.lock().expect("not poisoned").clone(),
            )),
            _ => None,
        }
    }
}

/// The stop a run's new state asks of its body, if any: a suspension (a pause that
/// reschedules the run) or a cancellation. An in-process pause does not stop the body (the
/// flow itself waits in it).
pub(crate) fn stop_for(
    state_type: StateType,
    details: Option<&Map<String, Value>>,
    message: &str,
) -> Option<Stop> {
    let message = || {
        if message.is_empty() {
            "the run was cancelled".to_owned()
        } else {
            message.to_owned()
        }
    };
    match state_type {
        StateType::Paused
            if details
                .and_then(|d| d.get("pause_reschedule"))
                .and_then(Value::as_bool)
                == Some(true) =>
        {
            Some(Stop::Suspended)
        }
        StateType::Cancelling | StateType::Cancelled => Some(Stop::Cancelled(message())),
        _ => None,
    }
}

/// Watches a run until dropped.
pub(crate) struct Watch(tokio::task::AbortHandle);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts watching `signal.run` for states from `since` on (the Running state this process
/// started from: a suspension before it belongs to an earlier process's turn).
pub(crate) fn watch(engine: &Arc<Engine>, signal: Arc<StopSignal>, since: Micros) -> Watch {
    let task = engine
        .handle()
        .spawn(watching(engine.clone(), signal, since));
    Watch(task.abort_handle())
}

async fn watching(engine: Arc<Engine>, signal: Arc<StopSignal>, since: Micros) {
    let run = signal.run;
    loop {
        if let Some(mut events) = crate::pause::subscribe(&engine, run, since.to_timestamp()).await
        {
            while let Some(Ok(message)) = events.next().await {
                if let Message::Text(text) = message
                    && let Some(stop) = stop_in_frame(&text)
                {
                    signal.ask(stop);
                    return;
                }
            }
        }
        // No subscription (or it ended): read the run, then try again after a while.
        let path = format!("/flow_runs/{run}");
        if let Ok(read) = engine.api.get::<FlowRun>("the watched run", &path).await
            && let Some(state) = read.state.filter(|s| s.timestamp >= since)
            && let Some(stop) = stop_for(
                state.state_type,
                Some(&state.state_details),
                state.message.as_deref().unwrap_or_default(),
            )
        {
            signal.ask(stop);
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The stop a `/events/out` frame's flow-run state event asks for.
fn stop_in_frame(text: &str) -> Option<Stop> {
    let frame: EventFrame = serde_json::from_str(text).ok()?;
    let event = frame.event;
    let state_type = StateType::parse(event.resource.get("prefect.state-type")?.as_str()?)?;
    let payload: Value = serde_json::from_str(event.payload?.get()).ok()?;
    let state = &payload["validated_state"];
    stop_for(
        state_type,
        state["state_details"].as_object(),
        state["message"].as_str().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn details(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_rescheduling_pause_suspends_and_a_cancellation_cancels_but_a_plain_pause_does_not() {
        let suspend = details(json!({"pause_reschedule": true}));
        let wait = details(json!({"pause_reschedule": false}));
        assert_eq!(
            stop_for(StateType::Paused, Some(&suspend), ""),
            Some(Stop::Suspended)
        );
        assert_eq!(stop_for(StateType::Paused, Some(&wait), ""), None);
        assert_eq!(stop_for(StateType::Paused, None, ""), None);
        assert_eq!(
            stop_for(StateType::Cancelling, None, "from the CLI"),
            Some(Stop::Cancelled("from the CLI".to_owned()))
        );
        assert_eq!(
            stop_for(StateType::Cancelled, None, ""),
            Some(Stop::Cancelled("the run was cancelled".to_owned()))
        );
        for other in [
            StateType::Running,
            StateType::Scheduled,
            StateType::Completed,
        ] {
            assert_eq!(stop_for(other, Some(&suspend), ""), None);
        }
    }

    #[test]
    fn the_signal_is_obeyed_only_once_a_task_call_saw_it_and_the_first_stop_stands() {
        let signal = StopSignal::new(Uuid::nil());
        assert_eq!(signal.check(), None);
        signal.ask(Stop::Suspended);
        assert_eq!(signal.obeyed(), None, "no task call saw it yet");
        signal.ask(Stop::Cancelled("later".to_owned()));
        assert_eq!(signal.check(), Some(Stop::Suspended));
        assert_eq!(signal.obeyed(), Some(Stop::Suspended));
    }
}
