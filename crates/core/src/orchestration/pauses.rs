//! Prefect's rules for runs entering and leaving a pause (`HandlePausingFlows`,
//! `HandleResumingPausedFlows`, and the suspended branch of
//! `BypassCancellingFlowRunsWithNoInfra`), with the same outcomes on the wire: only a Running
//! run pauses, a pause fires once per key, only a deployment's top-level run can be suspended
//! (a pause that reschedules: a worker runs it again); a paused run may be resumed (Running,
//! Scheduled), cancelled, or finished, but not once its pause timed out (it is failed instead),
//! and a suspended run has no process to stop, so cancelling it cancels it at once.

use uuid::Uuid;

use super::{Decision, FlowRunSnapshot};
use crate::state::{State, StateType};
use crate::time::Micros;

/// "suspend" for a proposed `Suspended` state, else "pause", as Prefect words its reasons.
fn verb(proposed: &State) -> &'static str {
    if proposed.name == "Suspended" {
        "suspend"
    } else {
        "pause"
    }
}

/// Whether a state is a pause that reschedules the run (a suspension).
fn reschedules(state: &State) -> bool {
    state
        .details
        .get("pause_reschedule")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
}

/// A proposed `Paused` state: `None` lets the other rules decide.
pub(super) fn entering(
    run: FlowRunSnapshot<'_>,
    current: &State,
    proposed: &State,
) -> Option<Decision> {
    if proposed.state_type != StateType::Paused {
        return None;
    }
    let verb = verb(proposed);
    if current.state_type != StateType::Running {
        return Some(Decision::Reject {
            reason: format!("Cannot {verb} flows that are not currently running."),
        });
    }
    if let Some(key) = proposed.detail_str("pause_key")
        && run.pause_keys.iter().any(|k| k == key)
    {
        return Some(Decision::Reject {
            reason: format!("This {verb} has already fired."),
        });
    }
    if reschedules(proposed) {
        if run.subflow {
            return Some(Decision::Abort {
                reason: format!("Cannot {verb} subflows."),
            });
        }
        if !run.deployment {
            return Some(Decision::Abort {
                reason: format!(
                    "Cannot {verb} flows without a deployment: a suspended run is run again by \
                     a worker, so deploy the flow."
                ),
            });
        }
    }
    None
}

/// A proposal for a run that is `Paused`: `None` lets the other rules decide.
pub(super) fn leaving(
    run: FlowRunSnapshot<'_>,
    current: &State,
    proposed: &State,
    now: Micros,
    new_id: Uuid,
) -> Option<Decision> {
    if current.state_type != StateType::Paused {
        return None;
    }
    let to = proposed.state_type;
    let allowed = matches!(
        to,
        StateType::Running | StateType::Scheduled | StateType::Cancelling
    ) || to.is_terminal();
    if !allowed {
        return Some(Decision::Reject {
            reason: format!(
                "This run cannot transition to the {} state from the PAUSED state.",
                to.as_str()
            ),
        });
    }
    // Prefect names the proposed state in these reasons ("a resuming flow run").
    let shown = if proposed.name.is_empty() {
        to.as_str().to_lowercase()
    } else {
        proposed.name.to_lowercase()
    };
    if reschedules(current) {
        if to == StateType::Cancelling {
            let mut state = State::new(new_id, StateType::Cancelled, now);
            state.message = proposed.message.clone();
            return Some(Decision::Substitute {
                state,
                reason: "Suspended flow run has no infrastructure to terminate.".to_owned(),
            });
        }
        if !run.deployment {
            return Some(Decision::Reject {
                reason: format!("Cannot reschedule a {shown} flow run without a deployment."),
            });
        }
    }
    if to == StateType::Cancelling {
        // A pause that holds its process: the cancellation must reach the process even after
        // the pause's deadline.
        return None;
    }
    let timed_out = crate::pause::deadline(current).is_some_and(|until| until < now);
    if timed_out {
        let mut failed = State::new(new_id, StateType::Failed, now);
        failed.message = Some(format!("The flow was {shown} and never resumed."));
        return Some(Decision::Substitute {
            state: failed,
            reason: format!(
                "The flow run {} has timed out and can no longer resume.",
                verb(proposed)
            ),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::decide_flow_run;
    use super::*;

    fn state(t: StateType, name: &str, at: i64) -> State {
        let mut s = State::new(Uuid::from_u128(at as u128), t, Micros(at));
        s.name = name.to_owned();
        s
    }

    fn suspended(at: i64) -> State {
        let mut s = state(StateType::Paused, "Suspended", at);
        s.details.insert("pause_reschedule".into(), json!(true));
        s.details.insert("pause_key".into(), json!("k1"));
        s
    }

    fn deployed(current: &State) -> FlowRunSnapshot<'_> {
        FlowRunSnapshot {
            current: Some(current),
            run_count: 1,
            deployment: true,
            ..Default::default()
        }
    }

    fn decide(run: FlowRunSnapshot<'_>, proposed: &State) -> Decision {
        decide_flow_run(run, proposed, false, Micros(100), Uuid::from_u128(99))
    }

    #[test]
    fn only_a_running_run_pauses_and_each_pause_key_fires_once() {
        let pending = state(StateType::Pending, "Pending", 1);
        assert!(matches!(
            decide(deployed(&pending), &suspended(2)),
            Decision::Reject { reason } if reason == "Cannot suspend flows that are not currently running."
        ));
        let running = state(StateType::Running, "Running", 1);
        let fired = ["k1".to_owned()];
        let run = FlowRunSnapshot {
            pause_keys: &fired,
            ..deployed(&running)
        };
        assert!(matches!(
            decide(run, &suspended(2)),
            Decision::Reject { reason } if reason == "This suspend has already fired."
        ));
        assert_eq!(decide(deployed(&running), &suspended(2)), Decision::Accept);
    }

    #[test]
    fn only_a_deployments_top_level_run_can_be_suspended_but_any_run_can_pause_in_process() {
        let running = state(StateType::Running, "Running", 1);
        let local = FlowRunSnapshot {
            deployment: false,
            ..deployed(&running)
        };
        assert!(matches!(
            decide(local, &suspended(2)),
            Decision::Abort { reason } if reason.starts_with("Cannot suspend flows without a deployment")
        ));
        let subflow = FlowRunSnapshot {
            subflow: true,
            ..deployed(&running)
        };
        assert!(matches!(
            decide(subflow, &suspended(2)),
            Decision::Abort { reason } if reason == "Cannot suspend subflows."
        ));
        let in_process = state(StateType::Paused, "Paused", 2);
        assert_eq!(decide(local, &in_process), Decision::Accept);
    }

    #[test]
    fn a_paused_run_may_be_resumed_cancelled_or_finished_but_not_made_pending() {
        let paused = state(StateType::Paused, "Paused", 1);
        for to in [
            StateType::Running,
            StateType::Scheduled,
            StateType::Cancelling,
            StateType::Completed,
            StateType::Failed,
            StateType::Cancelled,
            StateType::Crashed,
        ] {
            assert_eq!(
                decide(deployed(&paused), &state(to, to.default_name(), 2)),
                Decision::Accept,
                "{to:?}"
            );
        }
        assert!(matches!(
            decide(deployed(&paused), &state(StateType::Pending, "Pending", 2)),
            Decision::Reject { reason } if reason == "This run cannot transition to the PENDING state from the PAUSED state."
        ));
    }

    #[test]
    fn a_pause_that_timed_out_fails_the_run_instead_of_finishing_it_unless_it_is_cancelled() {
        let mut paused = state(StateType::Paused, "Paused", 1);
        paused
            .details
            .insert("pause_timeout".into(), json!(Micros(50).to_string()));
        match decide(
            deployed(&paused),
            &state(StateType::Completed, "Completed", 2),
        ) {
            Decision::Substitute { state, reason } => {
                assert_eq!(state.state_type, StateType::Failed);
                assert_eq!(
                    state.message.as_deref(),
                    Some("The flow was completed and never resumed.")
                );
                assert_eq!(
                    reason,
                    "The flow run pause has timed out and can no longer resume."
                );
            }
            other => panic!("{other:?}"),
        }
        let cancelling = state(StateType::Cancelling, "Cancelling", 2);
        assert_eq!(decide(deployed(&paused), &cancelling), Decision::Accept);
    }

    #[test]
    fn a_suspended_run_has_no_process_so_cancelling_it_cancels_it_at_once() {
        let run = suspended(1);
        let mut cancelling = state(StateType::Cancelling, "Cancelling", 2);
        cancelling.message = Some("from the CLI".into());
        match decide(deployed(&run), &cancelling) {
            Decision::Substitute { state, .. } => {
                assert_eq!(state.state_type, StateType::Cancelled);
                assert_eq!(state.message.as_deref(), Some("from the CLI"));
            }
            other => panic!("{other:?}"),
        }
        let local = FlowRunSnapshot {
            deployment: false,
            ..deployed(&run)
        };
        assert!(matches!(
            decide(local, &state(StateType::Scheduled, "Resuming", 2)),
            Decision::Reject { reason } if reason == "Cannot reschedule a resuming flow run without a deployment."
        ));
    }
}
