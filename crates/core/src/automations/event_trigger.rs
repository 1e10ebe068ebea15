//! Evaluating one event trigger: which events it takes, how they fill its buckets, and when a
//! bucket fires or resolves.
//!
//! Windows are half-open: a window of `within` opened at `a` holds events at `a <= t < a + within`.
//!
//! **Reactive.** A bucket fires when `threshold` counted events lie within one window (a
//! sliding window over event times). The window that fired then stays quiet until it ends:
//! events inside it are not counted again, so `threshold: 1, within: 1 day` fires at most once
//! a day, and an event just past that day fires at once (Prefect #15343). With `after`, a
//! bucket counts only once an `after` event has armed it, within `within` of arming, and is
//! disarmed by firing. `within: 0` means no time limit.
//!
//! **Proactive with `after`.** Each `after` event (re)starts a watch for its bucket; the watch
//! fires at `armed + within` unless `threshold` expected events arrive first. The latest
//! `after` event restarts the watch, so "stays in a state for N hours" measures from the latest
//! state change (Prefect #16545), and an event that is both `after` and expected first settles
//! the old watch, then starts a new one. An expected event remembered from before (one that
//! occurred after the `after` event but arrived earlier) settles the watch at once, so runs
//! that did move on never fire (Prefect #14692). A fired watch resolves when an expected event
//! finally arrives, or when a newer `after` event replaces it.
//!
//! **Proactive without `after`.** Monitoring: the bucket fires as soon as fewer than
//! `threshold` expected events fall in the trailing `within` (and at least `within` has passed
//! since monitoring started), and resolves when they are back. Monitoring of the unkeyed bucket
//! starts when the automation is loaded; a `for_each` bucket starts at its first event.

use std::collections::VecDeque;
use std::fmt::Write;

use uuid::Uuid;

use std::collections::BTreeMap;

use super::labels::{NamePattern, name_matches, write_bucket_key};
use super::state::{Bucket, EventState, NearMiss, SeenEvent};
use super::trigger::{EventTrigger, Posture};
use crate::event::Event;
use crate::time::Micros;

/// What a bucket did.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Signal {
    /// It fired.
    Fired(Mark),
    /// A fired bucket resolved.
    Resolved(Mark),
}

/// Which bucket, at what event time, because of which event.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Mark {
    pub key: String,
    pub occurred: Micros,
    pub event: Option<Uuid>,
}

/// A bucket's proactive deadline moved: the engine updates its timers.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct DeadlineMove {
    pub key: String,
    pub old: Option<Micros>,
    pub new: Option<Micros>,
}

/// An event trigger, ready to evaluate.
#[derive(Clone, Debug)]
pub(super) struct EventLeaf {
    pub spec: EventTrigger,
    /// `within` in microseconds; 0 means unbounded (reactive only).
    within: i64,
    threshold: usize,
}

/// Microseconds in a duration, saturating.
pub(super) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Inserts `t` in order and keeps the latest `keep` times.
fn insert_sorted(times: &mut VecDeque<Micros>, t: Micros, keep: usize) {
    let at = times.partition_point(|x| *x <= t);
    times.insert(at, t);
    while times.len() > keep {
        times.pop_front();
    }
}

impl EventLeaf {
    pub fn new(spec: EventTrigger) -> EventLeaf {
        EventLeaf {
            within: micros(spec.within),
            threshold: spec.threshold.max(1) as usize,
            spec,
        }
    }

    fn has_after(&self) -> bool {
        !self.spec.after.is_empty()
    }

    /// The event names this trigger looks at; `None` for every event (empty `expect`).
    pub fn names(&self) -> Option<Vec<NamePattern>> {
        if self.spec.expect.is_empty() {
            return None;
        }
        Some(
            self.spec
                .expect
                .iter()
                .chain(&self.spec.after)
                .cloned()
                .collect(),
        )
    }

    /// Proactive without `after` or `for_each`: monitoring of the one bucket starts at load.
    pub fn start(&self, st: &mut EventState, now: Micros) -> Option<DeadlineMove> {
        if self.spec.posture != Posture::Proactive
            || self.has_after()
            || !self.spec.for_each.is_empty()
            || st.buckets.contains_key("")
        {
            return None;
        }
        let b = st.buckets.entry(String::new()).or_default();
        b.armed_at = Some(now);
        b.touched = now;
        b.deadline = self.deadline(b);
        Some(DeadlineMove {
            key: String::new(),
            old: None,
            new: b.deadline,
        })
    }

    /// Takes one event at event time `at` (its `occurred`, bounded by the engine); `key` is a
    /// scratch buffer for the bucket key.
    pub fn on_event(
        &self,
        st: &mut EventState,
        ev: &Event,
        at: Micros,
        now: Micros,
        key: &mut String,
        out: &mut Vec<Signal>,
    ) -> Option<DeadlineMove> {
        let is_after = self.has_after() && name_matches(&self.spec.after, &ev.event);
        let is_expect = self.spec.expect.is_empty() || name_matches(&self.spec.expect, &ev.event);
        if !is_after && !is_expect {
            return None;
        }
        st.stats.seen += 1;
        if let Some(rule) = self.resource_miss(ev) {
            let miss = st.stats.last_rejected.get_or_insert_with(NearMiss::default);
            note(&mut miss.seen, ev, at);
            miss.rule.clear();
            rule.write_to(&mut miss.rule, &self.spec);
            return None;
        }
        st.stats.matched += 1;
        note(
            st.stats.last_matched.get_or_insert_with(SeenEvent::default),
            ev,
            at,
        );
        write_bucket_key(&self.spec.for_each, &ev.resource, &ev.related, key);
        let input = Input {
            id: ev.id,
            at,
            now,
            is_after,
            is_expect,
        };
        match self.spec.posture {
            Posture::Reactive => {
                self.reactive(st, key.as_str(), input, out);
                None
            }
            Posture::Proactive => self.proactive(st, key.as_str(), input, out),
        }
    }

    fn resource_miss(&self, ev: &Event) -> Option<Rule> {
        if let Some(i) = self.spec.match_resource.first_miss(&ev.resource) {
            return Some(Rule::Match(i));
        }
        (self.spec.match_related.iter())
            .position(|spec| !spec.matches_any(&ev.related))
            .map(Rule::Related)
    }

    fn reactive(&self, st: &mut EventState, key: &str, i: Input, out: &mut Vec<Signal>) {
        let Some(b) = bucket(&mut st.buckets, key) else {
            return;
        };
        b.touched = i.now;
        if self.has_after() {
            let armed = b
                .armed_at
                .filter(|a| self.within == 0 || i.at.0 < a.0.saturating_add(self.within));
            match armed {
                None => {
                    b.armed_at = None;
                    b.times.clear();
                    if i.is_after {
                        b.armed_at = Some(i.at);
                        b.cause = Some(i.id);
                    }
                    return;
                }
                Some(a) if !i.is_expect || i.at < a => return,
                Some(_) => {}
            }
        }
        if let Some(q) = b.quiet_until {
            if i.at < q {
                return;
            }
            b.quiet_until = None;
        }
        st.stats.counted += 1;
        insert_sorted(&mut b.times, i.at, self.threshold);
        let (Some(first), Some(last)) = (b.times.front().copied(), b.times.back().copied()) else {
            return;
        };
        if b.times.len() < self.threshold || (self.within > 0 && last.0 - first.0 >= self.within) {
            return;
        }
        b.times.clear();
        if self.within > 0 {
            b.quiet_until = Some(Micros(first.0.saturating_add(self.within)));
        }
        b.armed_at = None;
        out.push(Signal::Fired(Mark {
            key: key.to_owned(),
            occurred: i.at,
            event: Some(i.id),
        }));
    }

    fn proactive(
        &self,
        st: &mut EventState,
        key: &str,
        i: Input,
        out: &mut Vec<Signal>,
    ) -> Option<DeadlineMove> {
        let has_after = self.has_after();
        if st.buckets.len() >= MAX_BUCKETS && !st.buckets.contains_key(key) {
            shed_settled(&mut st.buckets);
        }
        let b = bucket(&mut st.buckets, key)?;
        b.touched = i.now;
        let old = b.deadline;
        let answered_before = b.last_expected.is_some_and(|e| e >= i.at);
        let mark = || Mark {
            key: key.to_owned(),
            occurred: i.at,
            event: Some(i.id),
        };
        if i.is_expect {
            if has_after {
                b.last_expected = b.last_expected.max(Some(i.at));
            }
            match b.armed_at {
                Some(a) if i.at >= a => {
                    if b.fired_at.is_some() {
                        insert_sorted(&mut b.times, i.at, self.threshold);
                        if has_after || self.trailing_full(b) {
                            out.push(Signal::Resolved(mark()));
                            b.fired_at = None;
                            if has_after {
                                end_watch(b);
                            }
                        }
                    } else if !has_after || i.at.0 < a.0.saturating_add(self.within) {
                        st.stats.counted += 1;
                        insert_sorted(&mut b.times, i.at, self.threshold);
                        b.cause = Some(i.id);
                        if has_after && b.times.len() >= self.threshold {
                            end_watch(b);
                        }
                    }
                }
                Some(_) => {}
                None if !has_after => {
                    st.stats.counted += 1;
                    b.armed_at = Some(i.at);
                    b.times = VecDeque::from([i.at]);
                    b.cause = Some(i.id);
                }
                None => {}
            }
        }
        let newer_watch = b.armed_at.is_some_and(|a| a > i.at);
        if i.is_after && !newer_watch && !answered_before {
            if b.fired_at.take().is_some() {
                out.push(Signal::Resolved(mark()));
            }
            b.armed_at = Some(i.at);
            b.times.clear();
            b.cause = Some(i.id);
        }
        b.deadline = self.deadline(b);
        (b.deadline != old).then(|| DeadlineMove {
            key: key.to_owned(),
            old,
            new: b.deadline,
        })
    }

    /// True when the trailing window holds `threshold` expected events again.
    fn trailing_full(&self, b: &Bucket) -> bool {
        match (b.times.front(), b.times.back()) {
            (Some(f), Some(l)) => b.times.len() >= self.threshold && l.0 - f.0 < self.within,
            _ => false,
        }
    }

    /// When an open (unfired) watch fires if nothing more arrives.
    fn deadline(&self, b: &Bucket) -> Option<Micros> {
        if b.fired_at.is_some() || self.spec.posture != Posture::Proactive {
            return None;
        }
        let armed = b.armed_at?;
        let mut d = armed.0.saturating_add(self.within);
        if !self.has_after()
            && b.times.len() >= self.threshold
            && let Some(f) = b.times.front()
        {
            d = d.max(f.0.saturating_add(self.within));
        }
        Some(Micros(d))
    }

    /// A watch's deadline has passed: it fires (and stays fired until resolved).
    pub fn on_deadline(&self, st: &mut EventState, key: &str, now: Micros) -> Option<Signal> {
        let b = st.buckets.get_mut(key)?;
        let d = b.deadline.take()?;
        b.fired_at = Some(d);
        b.touched = now;
        Some(Signal::Fired(Mark {
            key: key.to_owned(),
            occurred: d,
            event: b.cause,
        }))
    }

    /// Drops buckets that hold nothing any more: no window open, nothing fired, nothing to
    /// remember for late `after` events.
    pub fn prune(&self, st: &mut EventState, now: Micros, horizon: i64) {
        let within = self.within;
        let reactive = self.spec.posture == Posture::Reactive;
        st.buckets.retain(|_, b| {
            if reactive {
                let window_open = b
                    .times
                    .back()
                    .is_some_and(|t| within == 0 || now.0 < t.0.saturating_add(within));
                let armed = b
                    .armed_at
                    .is_some_and(|a| within == 0 || now.0 < a.0.saturating_add(within));
                let quiet = b.quiet_until.is_some_and(|q| now < q);
                window_open || armed || quiet
            } else {
                let remembered = b
                    .last_expected
                    .is_some_and(|e| now.0 < e.0.saturating_add(horizon));
                b.armed_at.is_some() || b.fired_at.is_some() || remembered
            }
        });
    }
}

/// Most buckets a proactive trigger keeps; past it, the longest-settled buckets (kept only to
/// catch late `after` events) are forgotten first. Open and fired watches are never dropped.
pub(super) const MAX_BUCKETS: usize = 10_000;

/// The bucket for `key`, created when new (looked up without allocating when it exists).
fn bucket<'b>(buckets: &'b mut BTreeMap<String, Bucket>, key: &str) -> Option<&'b mut Bucket> {
    if !buckets.contains_key(key) {
        buckets.insert(key.to_owned(), Bucket::default());
    }
    buckets.get_mut(key)
}

/// Forgets the oldest settled buckets (no open or fired watch) until a quarter of the room is
/// free again.
fn shed_settled(buckets: &mut BTreeMap<String, Bucket>) {
    let mut settled: Vec<(Micros, String)> = (buckets.iter())
        .filter(|(_, b)| b.armed_at.is_none() && b.fired_at.is_none())
        .map(|(k, b)| (b.touched, k.clone()))
        .collect();
    settled.sort_unstable();
    let excess = buckets.len().saturating_sub(MAX_BUCKETS * 3 / 4);
    for (_, key) in settled.into_iter().take(excess) {
        buckets.remove(&key);
    }
}

/// Ends a proactive watch that was answered.
fn end_watch(b: &mut Bucket) {
    b.armed_at = None;
    b.times.clear();
}

/// One event as a bucket sees it.
#[derive(Clone, Copy)]
struct Input {
    id: Uuid,
    at: Micros,
    now: Micros,
    is_after: bool,
    is_expect: bool,
}

/// Which resource rule an event failed.
enum Rule {
    Match(usize),
    Related(usize),
}

impl Rule {
    fn write_to(&self, s: &mut String, spec: &EventTrigger) {
        let _ = match self {
            Rule::Match(i) => write!(s, "match.{}", spec.match_resource.rules()[*i].label),
            Rule::Related(_) if spec.match_related.len() == 1 => write!(s, "match_related"),
            Rule::Related(i) => write!(s, "match_related[{i}]"),
        };
    }
}

/// Records an event in a reusable slot (no allocation once the name fits).
fn note(seen: &mut SeenEvent, ev: &Event, at: Micros) {
    seen.id = ev.id;
    seen.occurred = at;
    seen.event.clear();
    seen.event.push_str(&ev.event);
}
