//! Metric triggers: a measure of matching flow runs over a trailing range, compared with a
//! threshold, firing once it has stayed breached for `firing_for` and resolving when it
//! recovers.
//!
//! The measures follow Prefect's definitions, computed from flow-run state events:
//! - **successes**: of the runs that went Pending within the range, the fraction whose latest
//!   state is not Failed or Crashed (a retried run that completes counts as a success);
//! - **duration**: the mean time runs that reached a terminal state within the range spent
//!   from Running to that state, in seconds;
//! - **lateness**: the mean time runs marked Late waited before Running (or Crashed), for those
//!   that got there within the range, in seconds.
//!
//! With no samples in the range the value is unknown: nothing fires or resolves and any breach
//! timer stops. The value only changes when an event adds a sample or a sample leaves the
//! range, so the engine looks again exactly then (and when `firing_for` elapses), not on a poll.

use super::event_trigger::{Mark, Signal, micros};
use super::labels::NamePattern;
use super::state::{MetricState, RunTrack, Sample};
use super::trigger::{Metric, MetricTrigger};
use crate::StateType;
use crate::event::Event;
use crate::time::Micros;

/// A flow run's marks older than this are forgotten (a run Running for over a week no longer
/// yields a duration sample).
const TRACK_HORIZON: i64 = 7 * 86_400 * 1_000_000;

/// Flow-run state events start with this.
const FLOW_RUN_EVENT: &str = "prefect.flow-run.";

/// A metric trigger, ready to evaluate.
#[derive(Clone, Debug)]
pub(super) struct MetricLeaf {
    pub spec: MetricTrigger,
    range: i64,
    firing_for: i64,
}

impl MetricLeaf {
    pub fn new(spec: MetricTrigger) -> MetricLeaf {
        MetricLeaf {
            range: micros(spec.query.range).max(1),
            firing_for: micros(spec.query.firing_for),
            spec,
        }
    }

    /// The events a metric looks at: flow-run state events.
    pub fn names() -> Vec<NamePattern> {
        vec![NamePattern::Prefix(FLOW_RUN_EVENT.to_owned())]
    }

    /// Takes one flow-run event at event time `at`, then re-evaluates at `now`.
    pub fn on_event(
        &self,
        st: &mut MetricState,
        ev: &Event,
        at: Micros,
        now: Micros,
        out: &mut Vec<Signal>,
    ) {
        let Some(state_name) = ev.event.strip_prefix(FLOW_RUN_EVENT) else {
            return;
        };
        if !self.spec.match_resource.matches(&ev.resource)
            || !self
                .spec
                .match_related
                .iter()
                .all(|s| s.matches_any(&ev.related))
        {
            return;
        }
        let Some(kind) = state_type(ev, state_name) else {
            return;
        };
        let run = ev.resource_id();
        let track = st.runs.entry(run.to_owned()).or_default();
        let sample = match self.spec.query.metric {
            Metric::Successes => successes(track, kind, at),
            Metric::Duration => match kind {
                StateType::Running => {
                    track.running_at = Some(at);
                    None
                }
                k if k.is_terminal() => track.running_at.take().map(|r| at.0 - r.0),
                _ => None,
            },
            Metric::Lateness => match kind {
                _ if state_name == "Late" => {
                    track.late_at = Some(at);
                    None
                }
                StateType::Running | StateType::Crashed => track.late_at.take().map(|l| at.0 - l.0),
                _ => None,
            },
        };
        if let Some(value) = sample {
            self.add(st, run, at, value, now);
        }
        if self.spec.query.metric == Metric::Successes {
            self.settle_success(st, run);
        }
        st.cause = Some(ev.id);
        self.evaluate(st, now, out);
    }

    /// Brings a run's live successes sample in line with its latest state.
    fn settle_success(&self, st: &mut MetricState, run: &str) -> Option<()> {
        let track = st.runs.get(run)?;
        let at = track.sampled_at?;
        let want = i64::from(!track.failed);
        let from = st.samples.partition_point(|s| s.at < at);
        let sample = st
            .samples
            .range_mut(from..)
            .take_while(|s| s.at == at)
            .find(|s| s.run == run)?;
        st.sum += want - sample.value;
        sample.value = want;
        Some(())
    }

    /// Adds a sample taken at `at` unless it is already outside the range.
    fn add(&self, st: &mut MetricState, run: &str, at: Micros, value: i64, now: Micros) {
        if at.0.saturating_add(self.range) <= now.0 {
            if let Some(t) = st.runs.get_mut(run)
                && t.sampled_at == Some(at)
            {
                t.sampled_at = None;
            }
            return;
        }
        let pos = st.samples.partition_point(|s| s.at <= at);
        st.samples.insert(
            pos,
            Sample {
                at,
                run: run.to_owned(),
                value,
            },
        );
        st.sum += value;
    }

    /// The current value: a fraction for successes, seconds otherwise; `None` without samples.
    pub fn value(&self, st: &MetricState) -> Option<f64> {
        if st.samples.is_empty() {
            return None;
        }
        let mean = st.sum as f64 / st.samples.len() as f64;
        Some(match self.spec.query.metric {
            Metric::Successes => mean,
            Metric::Duration | Metric::Lateness => mean / 1e6,
        })
    }

    /// Drops samples that left the range by `now`, compares, fires or resolves, and sets when
    /// to look again.
    pub fn evaluate(&self, st: &mut MetricState, now: Micros, out: &mut Vec<Signal>) {
        while let Some(front) = st.samples.front() {
            if front.at.0.saturating_add(self.range) > now.0 {
                break;
            }
            let Some(gone) = st.samples.pop_front() else {
                break;
            };
            st.sum -= gone.value;
            if let Some(t) = st.runs.get_mut(&gone.run)
                && t.sampled_at == Some(gone.at)
            {
                t.sampled_at = None;
            }
        }
        let mark = |st: &MetricState| Mark {
            key: String::new(),
            occurred: now,
            event: st.cause,
        };
        let q = &self.spec.query;
        match self.value(st) {
            None => st.breached_since = None,
            Some(v) if q.operator.holds(v, q.threshold) => {
                let since = *st.breached_since.get_or_insert(now);
                if !st.fired && now.0 - since.0 >= self.firing_for {
                    st.fired = true;
                    out.push(Signal::Fired(mark(st)));
                }
            }
            Some(_) => {
                st.breached_since = None;
                if st.fired {
                    st.fired = false;
                    out.push(Signal::Resolved(mark(st)));
                }
            }
        }
        let expiry = st
            .samples
            .front()
            .map(|s| s.at.0.saturating_add(self.range));
        let breach_due = st
            .breached_since
            .filter(|_| !st.fired)
            .map(|s| s.0.saturating_add(self.firing_for));
        st.next_check = expiry.into_iter().chain(breach_due).min().map(Micros);
    }

    /// Forgets runs with nothing live: no sample in range and no mark younger than a week.
    pub fn prune(&self, st: &mut MetricState, now: Micros) {
        st.runs.retain(|_, t| {
            let fresh = |m: Option<Micros>| m.is_some_and(|m| now.0 - m.0 < TRACK_HORIZON);
            t.sampled_at.is_some() || fresh(t.running_at) || fresh(t.late_at)
        });
    }
}

/// Successes: a Pending run gets its sample (once per range); every state says whether the
/// run is currently failed.
fn successes(track: &mut RunTrack, kind: StateType, at: Micros) -> Option<i64> {
    track.failed = matches!(kind, StateType::Failed | StateType::Crashed);
    if kind == StateType::Pending && track.sampled_at.is_none() {
        track.sampled_at = Some(at);
        return Some(1);
    }
    None
}

/// The state type a flow-run event reports: its `prefect.state-type` label, or for events
/// without one, the type of a state with the event's name. `None` for events that are not
/// state changes (heartbeats).
fn state_type(ev: &Event, state_name: &str) -> Option<StateType> {
    let label = ev
        .resource
        .get("prefect.state-type")
        .and_then(|v| v.as_str());
    if let Some(t) = label.and_then(|l| StateType::ALL.into_iter().find(|s| s.as_str() == l)) {
        return Some(t);
    }
    match state_name {
        "Late" | "AwaitingRetry" => Some(StateType::Scheduled),
        "TimedOut" => Some(StateType::Failed),
        "Retrying" => Some(StateType::Running),
        "Suspended" => Some(StateType::Paused),
        _ => StateType::ALL
            .into_iter()
            .find(|s| s.default_name() == state_name),
    }
}
