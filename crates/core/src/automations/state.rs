//! The engine's memory of one automation, as plain serialisable data: what each of its
//! triggers has counted, armed, fired and is waiting for. The server stores it as JSON and
//! hands it back after a restart, so windows that were open stay open.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::time::Micros;

/// Version of this layout; a stored state of another version is discarded (with a note in the
/// automation's report) rather than misread.
pub const STATE_VERSION: u32 = 1;

/// Everything the engine remembers about one automation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AutomationState {
    /// [`STATE_VERSION`] when written.
    pub version: u32,
    /// The ids of the automation's triggers in pre-order: a stored state is used only for the
    /// same tree.
    pub trigger_ids: Vec<Uuid>,
    /// One entry per trigger, in the same order.
    pub nodes: Vec<NodeState>,
    /// How many firings (triggered and resolved) this automation has produced; the next
    /// firing's sequence number.
    pub firings: u64,
    /// Orders part firings that share an instant (sequence triggers).
    pub ticks: u64,
    /// When the automation last fired (engine time).
    pub last_fired: Option<Micros>,
    /// The last instant on the engine's pruning grid at which idle buckets were swept (kept
    /// here so that a restarted engine sweeps at the same instants).
    pub pruned_at: Micros,
}

/// The state of one trigger in the tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeState {
    /// An event trigger.
    Event(EventState),
    /// A compound or sequence trigger.
    Composite(CompositeState),
    /// A metric trigger.
    Metric(MetricState),
}

/// An event trigger's buckets and what it has seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventState {
    /// One bucket per distinct value of the `for_each` labels.
    pub buckets: BTreeMap<String, Bucket>,
    /// Counts and the latest near miss, for "why did it (not) fire".
    pub stats: MatchStats,
}

/// One bucket of an event trigger.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// When the current window opened: the `after` event that armed it, or (proactive without
    /// `after`) the start of monitoring. `None` while nothing is armed.
    pub armed_at: Option<Micros>,
    /// The times of the latest counted events, oldest first (at most `threshold`).
    pub times: VecDeque<Micros>,
    /// Reactive: the window that fired lasts until here; events before it are not counted.
    pub quiet_until: Option<Micros>,
    /// Proactive: when the watch fired (it stays fired until the expected events return).
    pub fired_at: Option<Micros>,
    /// Proactive: when the open watch fires unless enough expected events arrive.
    pub deadline: Option<Micros>,
    /// Proactive with `after`: the latest expected event, so that an `after` event arriving
    /// after it (but having occurred before it) does not start a watch that is already settled.
    pub last_expected: Option<Micros>,
    /// The event behind the current window (the arming or latest counted event), named as the
    /// triggering event when the window fires.
    pub cause: Option<Uuid>,
    /// When the engine last changed this bucket (for pruning).
    pub touched: Micros,
}

/// What an event trigger has seen, for explaining it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchStats {
    /// Events whose name matched `expect` or `after`.
    pub seen: u64,
    /// Of those, the ones whose resources matched too.
    pub matched: u64,
    /// Of those, the ones counted in a window (not the arming events, not ignored as early or
    /// quiet).
    pub counted: u64,
    /// The latest matched event.
    pub last_matched: Option<SeenEvent>,
    /// The latest event whose name matched but whose resources did not, and why.
    pub last_rejected: Option<NearMiss>,
}

/// An event, by id, name and time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeenEvent {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub event: String,
    /// When it occurred (as the engine placed it).
    pub occurred: Micros,
}

/// An event the trigger nearly took, and the rule it failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NearMiss {
    /// The event.
    pub seen: SeenEvent,
    /// Which rule failed: `match.<label>` or `match_related[<i>]`.
    pub rule: String,
}

/// A compound or sequence trigger's parts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompositeState {
    /// One entry per part, in order.
    pub parts: Vec<PartState>,
    /// When this composite last fired.
    pub last_fired: Option<Micros>,
}

/// What one part of a composite has done since the composite last fired.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PartState {
    /// When it last fired (event time) and the engine tick that orders equal times.
    pub fired: Option<(Micros, u64)>,
    /// The event behind that firing.
    pub event: Option<Uuid>,
    /// Proactive and metric parts: how many of its buckets are fired and not yet resolved.
    /// Such a part counts as satisfied in a compound while this is above zero.
    pub open: u32,
}

/// A metric trigger's samples and breach.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricState {
    /// The samples inside the range, oldest first.
    pub samples: VecDeque<Sample>,
    /// The sum of their values (exact: integers).
    pub sum: i64,
    /// Flow runs being followed, by resource id.
    pub runs: BTreeMap<String, RunTrack>,
    /// Since when the value has been beyond the threshold.
    pub breached_since: Option<Micros>,
    /// Whether the trigger has fired and not resolved.
    pub fired: bool,
    /// When the metric must next be looked at again (a sample leaves the range or the breach
    /// has lasted `firing_for`).
    pub next_check: Option<Micros>,
    /// The event behind the latest change, named as the triggering event.
    pub cause: Option<Uuid>,
}

/// One measurement: a run that went Pending (1 = not failed, 0 = failed), or a duration or
/// lateness in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was taken (event time).
    pub at: Micros,
    /// The flow run it is about.
    pub run: String,
    /// Its value.
    pub value: i64,
}

/// What a metric trigger remembers of one flow run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTrack {
    /// Successes: when its sample was taken (it went Pending).
    pub sampled_at: Option<Micros>,
    /// Successes: whether its latest state is Failed or Crashed.
    pub failed: bool,
    /// Duration: when it entered Running.
    pub running_at: Option<Micros>,
    /// Lateness: when it was marked Late.
    pub late_at: Option<Micros>,
}
