//! The trigger engine: automations' triggers fed with events and a clock, returning firings.
//!
//! The engine does no IO and reads no clock: every call says what time it is. Given the same
//! automations, states, events and times it returns the same firings in the same order, so a
//! restart that restores [`AutomationState`]s and replays the events after them reaches the
//! same decisions. Events are routed by name through an index; timers (proactive deadlines,
//! metric checks) are kept in order, so [`Engine::next_wakeup`] says exactly when to call
//! [`Engine::advance`] next.

use std::collections::BTreeSet;
use std::time::Duration;

use uuid::Uuid;

use super::cascade;
use super::composite::CompositeNode;
use super::event_trigger::{DeadlineMove, Mark, Signal, micros};
use super::index::{NameIndex, Target};
use super::labels::KEY_SEPARATOR;
use super::metric::MetricLeaf;
use super::state::{AutomationState, CompositeState, EventState, MetricState, NodeState};
use super::tree::{Compiled, Node, compatible, compile, fresh_state};
use super::trigger::Trigger;
use crate::event::Event;
use crate::time::Micros;

/// Tunables of the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineSettings {
    /// How long after a proactive deadline the engine waits for events that occurred before it
    /// but are still on their way, before firing.
    pub proactive_grace: Duration,
    /// How long an expected event is remembered for an `after` event that occurred before it
    /// but arrives after it.
    pub reorder_horizon: Duration,
    /// How often idle buckets are swept away.
    pub prune_every: Duration,
    /// How far ahead of the engine's clock an event's `occurred` is believed (a client's clock
    /// may run a little fast); later times are taken as this far ahead.
    pub future_tolerance: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            proactive_grace: Duration::from_secs(1),
            reorder_horizon: Duration::from_secs(300),
            prune_every: Duration::from_secs(60),
            future_tolerance: Duration::from_secs(60),
        }
    }
}

/// Whether a firing starts or ends a triggered period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FiringState {
    /// The trigger's condition was met.
    Triggered,
    /// A proactive or metric trigger's condition stopped holding.
    Resolved,
}

impl FiringState {
    /// Prefect's name (`Triggered`, `Resolved`).
    pub fn as_str(self) -> &'static str {
        match self {
            FiringState::Triggered => "Triggered",
            FiringState::Resolved => "Resolved",
        }
    }
}

/// A decision: an automation's trigger fired or resolved. The caller runs the automation's
/// actions for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    /// The automation.
    pub automation_id: Uuid,
    /// Its firings counted from zero: with the automation id, a stable identity (replaying the
    /// same events yields the same numbers).
    pub sequence: u64,
    /// Triggered or resolved.
    pub state: FiringState,
    /// The automation's (top-level) trigger.
    pub trigger_id: Uuid,
    /// The event time the decision is about: the completing event's time, or the deadline
    /// that passed.
    pub occurred: Micros,
    /// The engine's clock when it decided.
    pub decided: Micros,
    /// The event that completed the trigger (or started the window that ran out).
    pub triggering_event: Option<Uuid>,
    /// The bucket's `for_each` labels and values (empty for an unkeyed or composite trigger).
    pub triggering_labels: Vec<(String, String)>,
}

/// What loading an automation did with its stored state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restored {
    /// The stored state was taken up.
    Resumed,
    /// There was none: the automation starts fresh.
    Fresh,
    /// It was for another trigger tree or layout, and was dropped.
    Discarded(String),
}

/// One automation in the engine.
#[derive(Debug)]
struct Loaded {
    id: Uuid,
    nodes: Vec<Node>,
    /// Per node: its parent and its position among the parent's parts.
    parents: Vec<Option<(usize, usize)>>,
    state: AutomationState,
    /// (due, node, bucket key), earliest first.
    timers: BTreeSet<(Micros, usize, String)>,
    dirty: bool,
}

/// The trigger engine.
#[derive(Debug, Default)]
pub struct Engine {
    settings: EngineSettings,
    /// Loaded automations, ordered by id (their slot numbers key the index).
    slots: Vec<Loaded>,
    index: NameIndex,
    scratch: Vec<Target>,
    key: String,
    next_prune: Micros,
    /// No timer is due before this (a lower bound kept as timers are added, made exact after
    /// each run of timers), so most events skip the search for due timers.
    earliest: Option<Micros>,
}

impl Engine {
    /// An engine with no automations.
    pub fn new(settings: EngineSettings) -> Engine {
        Engine {
            settings,
            ..Engine::default()
        }
    }

    /// Loads (or replaces) an enabled automation's trigger, taking up `stored` when it belongs
    /// to the same trigger tree. Assumes the trigger passed [`super::validate`].
    pub fn load(
        &mut self,
        id: Uuid,
        trigger: &Trigger,
        stored: Option<AutomationState>,
        now: Micros,
    ) -> Restored {
        let Compiled {
            nodes,
            parents,
            ids,
        } = compile(trigger);
        let (state, restored) = match stored {
            None => (fresh_state(&nodes, ids), Restored::Fresh),
            Some(s) => match compatible(&s, &nodes, &ids) {
                Ok(()) => (s, Restored::Resumed),
                Err(why) => (fresh_state(&nodes, ids), Restored::Discarded(why)),
            },
        };
        let mut loaded = Loaded {
            id,
            nodes,
            parents,
            state,
            timers: BTreeSet::new(),
            dirty: restored != Restored::Resumed,
        };
        loaded.start(now, &self.settings);
        self.earliest = min_opt(self.earliest, loaded.timers.first().map(|t| t.0));
        match self.slots.binary_search_by_key(&id, |l| l.id) {
            Ok(i) => self.slots[i] = loaded,
            Err(i) => self.slots.insert(i, loaded),
        }
        self.reindex();
        restored
    }

    /// Removes an automation (deleted or disabled); its state is forgotten.
    pub fn unload(&mut self, id: Uuid) -> bool {
        let Ok(i) = self.slots.binary_search_by_key(&id, |l| l.id) else {
            return false;
        };
        self.slots.remove(i);
        self.reindex();
        true
    }

    /// The loaded automations' ids.
    pub fn automation_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.slots.iter().map(|l| l.id)
    }

    fn reindex(&mut self) {
        let mut index = NameIndex::default();
        for (slot, l) in self.slots.iter().enumerate() {
            for (n, node) in l.nodes.iter().enumerate() {
                let names = match node {
                    Node::Event(leaf) => leaf.names(),
                    Node::Metric(_) => Some(MetricLeaf::names()),
                    Node::Composite(_) => continue,
                };
                index.add((slot as u32, n as u32), names);
            }
        }
        self.index = index;
    }

    /// Takes one stored event: first runs timers due by `now`, then evaluates the event with
    /// the triggers its name concerns (but never an automation's own, and none when the event
    /// is too deep in a cascade of automations: see [`cascade`]). Its event time is its
    /// `occurred`, even slightly ahead of `now` (an event that occurred after a window belongs
    /// after it, whatever the server's clock says: Prefect #15343), but at most
    /// [`EngineSettings::future_tolerance`] ahead.
    pub fn on_event(&mut self, ev: &Event, now: Micros) -> Vec<Firing> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        if !cascade::feeds_automations(ev) {
            return out;
        }
        let about = cascade::automation_of(ev);
        let at = ev.occurred.min(Micros(
            now.0.saturating_add(micros(self.settings.future_tolerance)),
        ));
        let mut targets = std::mem::take(&mut self.scratch);
        self.index.lookup(&ev.event, &mut targets);
        for &(slot, node) in &targets {
            if let Some(l) = self.slots.get_mut(slot as usize) {
                if about == Some(l.id) {
                    continue;
                }
                let input = Arrival {
                    ev,
                    at,
                    now,
                    key: &mut self.key,
                };
                l.on_event(node as usize, input, &self.settings, &mut out);
                self.earliest = min_opt(self.earliest, l.timers.first().map(|t| t.0));
            }
        }
        self.scratch = targets;
        out
    }

    /// Runs every timer due by `now`, in time order: proactive deadlines (plus the grace) and
    /// metric checks.
    pub fn advance(&mut self, now: Micros) -> Vec<Firing> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }

    fn advance_into(&mut self, now: Micros, out: &mut Vec<Firing>) {
        if self.earliest.is_some_and(|e| e <= now) {
            self.run_timers(now, out);
            self.earliest = self.next_wakeup();
        }
        self.prune_if_due(now);
    }

    fn run_timers(&mut self, now: Micros, out: &mut Vec<Firing>) {
        loop {
            let due = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.timers.first().map(|t| (t.0, i)))
                .filter(|(t, _)| *t <= now)
                .min();
            let Some((_, slot)) = due else { break };
            let l = &mut self.slots[slot];
            let Some((at, node, key)) = l.timers.pop_first() else {
                break;
            };
            l.on_timer(node, &key, at, now, out);
        }
    }

    fn prune_if_due(&mut self, now: Micros) {
        if now >= self.next_prune {
            let every = micros(self.settings.prune_every).max(1);
            let grid = Micros(now.0 - now.0.rem_euclid(every));
            let horizon = micros(self.settings.reorder_horizon);
            for l in &mut self.slots {
                if grid > l.state.pruned_at {
                    l.prune(grid, horizon);
                    l.state.pruned_at = grid;
                }
            }
            self.next_prune = Micros(grid.0.saturating_add(every));
        }
    }

    /// When [`Engine::advance`] next has work: the earliest timer.
    pub fn next_wakeup(&self) -> Option<Micros> {
        self.slots
            .iter()
            .filter_map(|l| l.timers.first().map(|t| t.0))
            .min()
    }

    /// An automation's state, to store.
    pub fn state(&self, id: Uuid) -> Option<&AutomationState> {
        self.find(id).map(|l| &l.state)
    }

    /// The automations whose state changed since the last call (to store them), in id order.
    pub fn take_dirty(&mut self) -> Vec<Uuid> {
        (self.slots.iter_mut())
            .filter_map(|l| std::mem::take(&mut l.dirty).then_some(l.id))
            .collect()
    }

    fn find(&self, id: Uuid) -> Option<&Loaded> {
        let i = self.slots.binary_search_by_key(&id, |l| l.id).ok()?;
        self.slots.get(i)
    }

    /// The compiled trigger and state of an automation, for reports.
    pub(super) fn view(&self, id: Uuid) -> Option<View<'_>> {
        self.find(id).map(|l| View {
            nodes: &l.nodes,
            state: &l.state,
            settings: &self.settings,
        })
    }
}

/// The earlier of two optional instants.
fn min_opt(a: Option<Micros>, b: Option<Micros>) -> Option<Micros> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An event arriving at a trigger: the event, its event time, the clock, and a scratch buffer
/// for its bucket key.
struct Arrival<'a> {
    ev: &'a Event,
    at: Micros,
    now: Micros,
    key: &'a mut String,
}

/// A read-only look at one automation, for [`super::explain`].
pub(super) struct View<'a> {
    nodes: &'a [Node],
    state: &'a AutomationState,
    settings: &'a EngineSettings,
}

impl View<'_> {
    /// Node `n`'s compiled form and state.
    pub fn node(&self, n: usize) -> Option<NodeView<'_>> {
        match (self.nodes.get(n)?, self.state.nodes.get(n)?) {
            (Node::Event(leaf), NodeState::Event(st)) => Some(NodeView::Event(&leaf.spec, st)),
            (Node::Metric(leaf), NodeState::Metric(st)) => {
                Some(NodeView::Metric(&leaf.spec, st, leaf.value(st)))
            }
            (Node::Composite(c), NodeState::Composite(st)) => Some(NodeView::Composite(c, st)),
            _ => None,
        }
    }

    /// The whole state.
    pub fn state(&self) -> &AutomationState {
        self.state
    }

    /// The engine's settings.
    pub fn settings(&self) -> &EngineSettings {
        self.settings
    }
}

/// One node of a [`View`].
pub(super) enum NodeView<'a> {
    Event(&'a super::trigger::EventTrigger, &'a EventState),
    Metric(
        &'a super::trigger::MetricTrigger,
        &'a MetricState,
        Option<f64>,
    ),
    Composite(&'a CompositeNode, &'a CompositeState),
}

impl Loaded {
    /// Starts monitoring where loading starts it, and rebuilds timers from the state.
    fn start(&mut self, now: Micros, settings: &EngineSettings) {
        let grace = micros(settings.proactive_grace);
        for (n, node) in self.nodes.iter().enumerate() {
            match (node, &mut self.state.nodes[n]) {
                (Node::Event(leaf), NodeState::Event(st)) => {
                    if leaf.start(st, now).is_some() {
                        self.dirty = true;
                    }
                    for (key, b) in &st.buckets {
                        if let Some(d) = b.deadline {
                            self.timers
                                .insert((Micros(d.0.saturating_add(grace)), n, key.clone()));
                        }
                    }
                }
                (Node::Metric(_), NodeState::Metric(st)) => {
                    if let Some(c) = st.next_check {
                        self.timers.insert((c, n, String::new()));
                    }
                }
                _ => {}
            }
        }
    }

    fn on_event(
        &mut self,
        n: usize,
        a: Arrival<'_>,
        settings: &EngineSettings,
        out: &mut Vec<Firing>,
    ) {
        let Arrival { ev, at, now, key } = a;
        let mut signals = Vec::new();
        let moved = match (&self.nodes[n], &mut self.state.nodes[n]) {
            (Node::Event(leaf), NodeState::Event(st)) => {
                let seen = st.stats.seen;
                let moved = leaf.on_event(st, ev, at, now, key, &mut signals);
                self.dirty |= st.stats.seen != seen;
                moved.map(|m| (m, micros(settings.proactive_grace)))
            }
            (Node::Metric(leaf), NodeState::Metric(st)) => {
                let old = st.next_check;
                leaf.on_event(st, ev, at, now, &mut signals);
                self.dirty = true;
                let new = st.next_check;
                (old != new).then(|| {
                    (
                        DeadlineMove {
                            key: String::new(),
                            old,
                            new,
                        },
                        0,
                    )
                })
            }
            _ => None,
        };
        if let Some((m, grace)) = moved {
            self.move_timer(n, m, grace);
        }
        for s in signals {
            self.propagate(n, s, now, out);
        }
    }

    fn on_timer(&mut self, n: usize, key: &str, due: Micros, now: Micros, out: &mut Vec<Firing>) {
        let mut signals = Vec::new();
        match (&self.nodes[n], &mut self.state.nodes[n]) {
            (Node::Event(leaf), NodeState::Event(st)) => {
                signals.extend(leaf.on_deadline(st, key, now))
            }
            (Node::Metric(leaf), NodeState::Metric(st)) => {
                leaf.evaluate(st, due, &mut signals);
                if let Some(c) = st.next_check {
                    self.timers.insert((c, n, String::new()));
                }
            }
            _ => {}
        }
        self.dirty = true;
        for s in signals {
            self.propagate(n, s, now, out);
        }
    }

    fn move_timer(&mut self, n: usize, m: DeadlineMove, grace: i64) {
        if let Some(old) = m.old {
            self.timers
                .remove(&(Micros(old.0.saturating_add(grace)), n, m.key.clone()));
        }
        if let Some(new) = m.new {
            self.timers
                .insert((Micros(new.0.saturating_add(grace)), n, m.key));
        }
    }

    /// Carries a node's signal up the tree; a signal reaching the top is a firing.
    fn propagate(&mut self, mut n: usize, mut signal: Signal, now: Micros, out: &mut Vec<Firing>) {
        self.dirty = true;
        loop {
            let Some((parent, pos)) = self.parents[n] else {
                out.push(self.firing(n, signal, now));
                return;
            };
            let (Node::Composite(c), NodeState::Composite(st)) =
                (&self.nodes[parent], &mut self.state.nodes[parent])
            else {
                return;
            };
            match signal {
                Signal::Resolved(_) => {
                    c.on_resolved(st, pos);
                    return;
                }
                Signal::Fired(mark) => {
                    self.state.ticks += 1;
                    match c.on_fired(st, pos, &mark, self.state.ticks) {
                        Some(up) => {
                            signal = Signal::Fired(up);
                            n = parent;
                        }
                        None => return,
                    }
                }
            }
        }
    }

    fn firing(&mut self, root: usize, signal: Signal, now: Micros) -> Firing {
        let (state, mark) = match signal {
            Signal::Fired(m) => (FiringState::Triggered, m),
            Signal::Resolved(m) => (FiringState::Resolved, m),
        };
        let sequence = self.state.firings;
        self.state.firings += 1;
        if state == FiringState::Triggered {
            self.state.last_fired = Some(now);
        }
        Firing {
            automation_id: self.id,
            sequence,
            state,
            trigger_id: self
                .state
                .trigger_ids
                .get(root)
                .copied()
                .unwrap_or_default(),
            occurred: mark.occurred,
            decided: now,
            triggering_event: mark.event,
            triggering_labels: self.labels(root, &mark),
        }
    }

    fn labels(&self, n: usize, mark: &Mark) -> Vec<(String, String)> {
        let Node::Event(leaf) = &self.nodes[n] else {
            return Vec::new();
        };
        (leaf.spec.for_each.iter())
            .zip(mark.key.split(KEY_SEPARATOR))
            .map(|(l, v)| (l.to_text(), v.to_owned()))
            .collect()
    }

    /// Sweeps idle buckets as of the grid instant `at`.
    fn prune(&mut self, at: Micros, horizon: i64) {
        let now = at;
        self.dirty = true;
        for (node, st) in self.nodes.iter().zip(&mut self.state.nodes) {
            match (node, st) {
                (Node::Event(leaf), NodeState::Event(st)) => leaf.prune(st, now, horizon),
                (Node::Metric(leaf), NodeState::Metric(st)) => leaf.prune(st, now),
                _ => {}
            }
        }
    }
}
