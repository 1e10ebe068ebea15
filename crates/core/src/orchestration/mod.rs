//! Orchestration rules for flow runs: given a run's current state and a proposed one, decide
//! whether the transition is accepted, replaced, rejected, delayed or aborted, and keep the
//! run's timing fields in step. Mirrors the outcomes of Prefect's core flow policy.

mod pauses;

use uuid::Uuid;

use crate::state::{State, StateType};
use crate::time::Micros;

/// What the rules need to know about a flow run when a new state is proposed.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowRunSnapshot<'a> {
    /// The run's current state, if it has one.
    pub current: Option<&'a State>,
    /// How many times the run has entered `Running`.
    pub run_count: i64,
    /// Flow-level retries allowed (`empirical_policy.retries`).
    pub retries: i64,
    /// Seconds to wait before a retry (`empirical_policy.retry_delay`).
    pub retry_delay_seconds: f64,
    /// Whether the run belongs to a deployment (a worker can run it again after a suspension).
    pub deployment: bool,
    /// Whether the run is a subflow's (it has a parent task run).
    pub subflow: bool,
    /// The pauses the run already made (`empirical_policy.pause_keys`).
    pub pause_keys: &'a [String],
}

/// The rules' answer to a proposed state. Maps one-to-one onto the API's
/// `ACCEPT` / `REJECT` / `WAIT` / `ABORT` statuses.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Commit the proposed state (`ACCEPT`).
    Accept,
    /// Commit `state` instead of the proposal, e.g. `AwaitingRetry` for a `Failed` run that has
    /// retries left (`REJECT`, and the run moves to `state`).
    Substitute {
        /// The state committed in place of the proposal.
        state: State,
        /// Why the proposal was replaced.
        reason: String,
    },
    /// Keep the current state (`REJECT`).
    Reject {
        /// Why the proposal was refused.
        reason: String,
    },
    /// Propose again after `delay_seconds` (`WAIT`).
    Wait {
        /// Seconds until the proposal may succeed.
        delay_seconds: f64,
        /// Why the caller must wait.
        reason: String,
    },
    /// The transition cannot happen without `force` (`ABORT`).
    Abort {
        /// Why the transition is impossible.
        reason: String,
    },
}

/// Decides a proposed flow-run transition. `force` skips every rule, as Prefect's does.
/// `now` is the server's clock; `new_id` names a substituted state.
pub fn decide_flow_run(
    run: FlowRunSnapshot<'_>,
    proposed: &State,
    force: bool,
    now: Micros,
    new_id: Uuid,
) -> Decision {
    if force {
        return Decision::Accept;
    }
    let Some(current) = run.current else {
        return Decision::Accept;
    };
    let (from, to) = (current.state_type, proposed.state_type);

    if let (Some(a), Some(b)) = (current.transition_id(), proposed.transition_id())
        && a == b
    {
        return Decision::Reject {
            reason: "This run has already made this state transition.".to_owned(),
        };
    }
    if from.is_terminal() {
        return Decision::Abort {
            reason: format!(
                "This run is already in terminal state {}; propose with force=true to move it.",
                from.as_str()
            ),
        };
    }
    // A pending run may take a named pending sub-state once (Prefect's runner proposes
    // `Submitting` after `Pending`); any other move to Pending from a started run is refused.
    let named_sub_state = from == StateType::Pending
        && proposed.name != StateType::Pending.default_name()
        && proposed.name != current.name;
    if to == StateType::Pending
        && !named_sub_state
        && matches!(
            from,
            StateType::Pending | StateType::Running | StateType::Cancelling
        )
    {
        return Decision::Abort {
            reason: format!(
                "This run is in a {} state and cannot transition to a PENDING state.",
                from.as_str()
            ),
        };
    }
    if let Some(decision) = pauses::entering(run, current, proposed)
        .or_else(|| pauses::leaving(run, current, proposed, now, new_id))
    {
        return decision;
    }
    if from == StateType::Scheduled
        && to == StateType::Pending
        && let Some(at) = current.scheduled_time()
        && at > now
    {
        let delay_seconds = at.seconds_since(now);
        return Decision::Wait {
            delay_seconds,
            reason: format!("Scheduled for {at}; wait {delay_seconds:.1} s before starting."),
        };
    }
    // Nothing runs a Scheduled run yet, so no process would finish a cancellation: asked to
    // cancel (Prefect's CLI always proposes Cancelling), it is Cancelled at once.
    if from == StateType::Scheduled && to == StateType::Cancelling {
        let mut state = State::new(new_id, StateType::Cancelled, now);
        state.message = proposed.message.clone();
        state.details = proposed.details.clone();
        return Decision::Substitute {
            state,
            reason: "The run had not started: no process to stop, so it is cancelled at once."
                .to_owned(),
        };
    }
    if from == StateType::Cancelling && to == StateType::Running {
        return Decision::Abort {
            reason: "This run is being cancelled and cannot start running.".to_owned(),
        };
    }
    if to == StateType::Failed && from == StateType::Running && run.run_count <= run.retries {
        let retry_at = now.plus_seconds(run.retry_delay_seconds.max(0.0));
        let mut state = State::new(new_id, StateType::Scheduled, now);
        state.name = "AwaitingRetry".to_owned();
        state.message = proposed.message.clone();
        state
            .details
            .insert("scheduled_time".to_owned(), retry_at.to_string().into());
        return Decision::Substitute {
            state,
            reason: format!(
                "Retrying: attempt {} of {} failed.",
                run.run_count,
                run.retries + 1
            ),
        };
    }
    Decision::Accept
}

/// The state a request to cancel a run proposes (`flowgate flow-run cancel`). A started run
/// (Pending or Running) that a worker or serving process holds (it came from a deployment, or
/// reported its process id) is asked to stop: `Cancelling`, and the process holder stops the
/// process, runs the flow's `on_cancellation` hooks and ends it `Cancelled`, as Prefect does.
/// Any other run, which no process would stop, is `Cancelled` at once (a flow still running
/// in its own process finds out at its next state change).
pub fn cancellation_state(current: Option<StateType>, held_by_process: bool) -> StateType {
    match current {
        Some(StateType::Pending | StateType::Running | StateType::Cancelling)
            if held_by_process =>
        {
            StateType::Cancelling
        }
        _ => StateType::Cancelled,
    }
}

/// A run's timing fields, derived from its state history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunClock {
    /// When the run first entered `Running`.
    pub start_time: Option<Micros>,
    /// When the run entered a terminal state (cleared if it leaves it).
    pub end_time: Option<Micros>,
    /// How many times the run has entered `Running`.
    pub run_count: i64,
    /// Seconds spent in `Running`, summed over attempts.
    pub total_run_time: f64,
    /// When the run was expected to start.
    pub expected_start_time: Option<Micros>,
    /// The scheduled time while the run is `Scheduled`.
    pub next_scheduled_start_time: Option<Micros>,
}

impl RunClock {
    /// Updates the clock for a committed transition from `previous` to `next`.
    pub fn advance(&mut self, previous: Option<&State>, next: &State) {
        if let Some(prev) = previous
            && prev.state_type == StateType::Running
        {
            self.total_run_time += next.timestamp.seconds_since(prev.timestamp).max(0.0);
        }
        match next.state_type {
            StateType::Running => {
                self.run_count += 1;
                self.start_time.get_or_insert(next.timestamp);
            }
            StateType::Scheduled => {
                let at = next.scheduled_time().unwrap_or(next.timestamp);
                self.next_scheduled_start_time = Some(at);
                if self.start_time.is_none() {
                    self.expected_start_time = Some(at);
                }
            }
            _ => {}
        }
        if next.state_type != StateType::Scheduled {
            self.next_scheduled_start_time = None;
        }
        self.expected_start_time.get_or_insert(next.timestamp);
        self.end_time = next.state_type.is_terminal().then_some(next.timestamp);
    }
}

#[cfg(test)]
mod cancellation_tests {
    use super::*;

    #[test]
    fn a_scheduled_run_asked_to_cancel_is_cancelled_at_once() {
        let scheduled = State::new(Uuid::from_u128(1), StateType::Scheduled, Micros(1));
        let run = FlowRunSnapshot {
            current: Some(&scheduled),
            run_count: 0,
            retries: 0,
            retry_delay_seconds: 0.0,
            ..Default::default()
        };
        let cancelling = State::new(Uuid::from_u128(2), StateType::Cancelling, Micros(2));
        match decide_flow_run(run, &cancelling, false, Micros(2), Uuid::from_u128(3)) {
            Decision::Substitute { state, .. } => {
                assert_eq!(state.state_type, StateType::Cancelled);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_started_run_a_process_holds_is_asked_to_stop_and_others_end_at_once() {
        use StateType::*;
        for (current, held, expected) in [
            (Some(Running), true, Cancelling),
            (Some(Pending), true, Cancelling),
            (Some(Cancelling), true, Cancelling),
            (Some(Running), false, Cancelled),
            (Some(Scheduled), true, Cancelled),
            (Some(Paused), true, Cancelled),
            (None, true, Cancelled),
        ] {
            assert_eq!(
                cancellation_state(current, held),
                expected,
                "{current:?} held={held}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn state(t: StateType, at: i64) -> State {
        State::new(Uuid::from_u128(at as u128), t, Micros(at))
    }

    fn snapshot(current: Option<&State>) -> FlowRunSnapshot<'_> {
        FlowRunSnapshot {
            current,
            run_count: 1,
            retries: 0,
            retry_delay_seconds: 0.0,
            ..Default::default()
        }
    }

    fn decide(current: Option<&State>, to: StateType) -> Decision {
        decide_flow_run(
            snapshot(current),
            &state(to, 10),
            false,
            Micros(10),
            Uuid::nil(),
        )
    }

    #[test]
    fn the_happy_path_is_accepted() {
        let pending = state(StateType::Pending, 1);
        let running = state(StateType::Running, 2);
        assert_eq!(decide(None, StateType::Pending), Decision::Accept);
        assert_eq!(decide(Some(&pending), StateType::Running), Decision::Accept);
        assert_eq!(
            decide(Some(&running), StateType::Completed),
            Decision::Accept
        );
    }

    #[test]
    fn a_terminal_run_cannot_run_again_without_force() {
        let done = state(StateType::Completed, 1);
        let d = decide(Some(&done), StateType::Running);
        assert!(
            matches!(d, Decision::Abort { ref reason } if reason.contains("terminal")),
            "{d:?}"
        );
        let forced = decide_flow_run(
            snapshot(Some(&done)),
            &state(StateType::Running, 2),
            true,
            Micros(2),
            Uuid::nil(),
        );
        assert_eq!(forced, Decision::Accept);
    }

    #[test]
    fn a_repeated_transition_id_is_rejected() {
        let mut running = state(StateType::Running, 1);
        running.details.insert("transition_id".into(), "t-1".into());
        let mut again = state(StateType::Running, 2);
        again.details.insert("transition_id".into(), "t-1".into());
        let d = decide_flow_run(
            snapshot(Some(&running)),
            &again,
            false,
            Micros(2),
            Uuid::nil(),
        );
        assert!(matches!(d, Decision::Reject { .. }), "{d:?}");
    }

    #[test]
    fn pending_twice_aborts() {
        let pending = state(StateType::Pending, 1);
        assert!(matches!(
            decide(Some(&pending), StateType::Pending),
            Decision::Abort { .. }
        ));
    }

    #[test]
    fn a_pending_run_may_enter_a_named_pending_sub_state_once() {
        let pending = state(StateType::Pending, 1);
        let mut submitting = state(StateType::Pending, 2);
        submitting.name = "Submitting".to_owned();
        let decide_named = |current: &State| {
            decide_flow_run(
                FlowRunSnapshot {
                    current: Some(current),
                    run_count: 0,
                    retries: 0,
                    retry_delay_seconds: 0.0,
                    ..Default::default()
                },
                &submitting,
                false,
                Micros(10),
                Uuid::nil(),
            )
        };
        assert_eq!(decide_named(&pending), Decision::Accept);
        assert!(
            matches!(decide_named(&submitting), Decision::Abort { .. }),
            "not twice"
        );
        assert!(matches!(
            decide_named(&state(StateType::Running, 3)),
            Decision::Abort { .. }
        ));
    }

    #[test]
    fn a_future_schedule_makes_the_caller_wait() {
        let mut scheduled = state(StateType::Scheduled, 1);
        scheduled.details.insert(
            "scheduled_time".into(),
            Micros(5_000_010).to_string().into(),
        );
        match decide(Some(&scheduled), StateType::Pending) {
            Decision::Wait { delay_seconds, .. } => assert!((delay_seconds - 5.0).abs() < 1e-9),
            d => panic!("expected WAIT, got {d:?}"),
        }
    }

    #[test]
    fn a_failure_with_retries_left_becomes_awaiting_retry() {
        let running = state(StateType::Running, 1);
        let run = FlowRunSnapshot {
            current: Some(&running),
            run_count: 1,
            retries: 2,
            retry_delay_seconds: 3.0,
            ..Default::default()
        };
        let failed = state(StateType::Failed, 2);
        match decide_flow_run(run, &failed, false, Micros(2), Uuid::from_u128(9)) {
            Decision::Substitute { state, .. } => {
                assert_eq!(state.state_type, StateType::Scheduled);
                assert_eq!(state.name, "AwaitingRetry");
                assert_eq!(state.scheduled_time(), Some(Micros(3_000_002)));
            }
            d => panic!("expected a substitute, got {d:?}"),
        }
        let exhausted = FlowRunSnapshot {
            run_count: 3,
            ..run
        };
        assert_eq!(
            decide_flow_run(exhausted, &failed, false, Micros(2), Uuid::nil()),
            Decision::Accept
        );
    }

    fn any_state_type() -> impl Strategy<Value = StateType> {
        prop::sample::select(StateType::ALL.to_vec())
    }

    proptest! {
        /// No rule lets a terminal run move anywhere unless forced, and force always wins.
        #[test]
        fn terminal_states_are_sticky(from in any_state_type(), to in any_state_type(), retries in 0i64..3) {
            let current = state(from, 1);
            let run = FlowRunSnapshot { current: Some(&current), run_count: 1, retries, retry_delay_seconds: 0.0, ..Default::default() };
            let proposed = state(to, 2);
            let d = decide_flow_run(run, &proposed, false, Micros(2), Uuid::nil());
            if from.is_terminal() {
                prop_assert!(matches!(d, Decision::Abort { .. }), "{:?}", d);
            }
            prop_assert_eq!(decide_flow_run(run, &proposed, true, Micros(2), Uuid::nil()), Decision::Accept);
        }

        /// Over any accepted history, run_count counts Running entries and total_run_time sums
        /// the time spent running.
        #[test]
        fn the_clock_follows_the_history(types in prop::collection::vec(any_state_type(), 1..20)) {
            let mut clock = RunClock::default();
            let mut previous: Option<State> = None;
            let (mut runs, mut running_time) = (0, 0.0);
            for (i, t) in types.iter().enumerate() {
                let next = state(*t, (i as i64 + 1) * 1_000_000);
                if let Some(p) = &previous && p.state_type == StateType::Running {
                    running_time += 1.0;
                }
                if *t == StateType::Running { runs += 1; }
                clock.advance(previous.as_ref(), &next);
                previous = Some(next);
            }
            prop_assert_eq!(clock.run_count, runs);
            prop_assert!((clock.total_run_time - running_time).abs() < 1e-9);
            let last = previous.unwrap();
            prop_assert_eq!(clock.end_time.is_some(), last.state_type.is_terminal());
            prop_assert!(clock.expected_start_time.is_some());
        }
    }
}
