//! "Why did it (not) fire": an automation's live trigger state as a report, one entry per
//! trigger in its tree, each with the numbers and a sentence. The server serialises it and
//! the CLI reads it back (`flowgate automation inspect`), so every type goes both ways.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::composite::{CompositeNode, Shape};
use super::engine::{Engine, NodeView, View};
use super::labels::KEY_SEPARATOR;
use super::state::{Bucket, EventState, MetricState, NearMiss, SeenEvent};
use super::trigger::{EventTrigger, Metric, MetricTrigger, Posture, Require};
use crate::time::Micros;

/// At most this many buckets are listed per trigger (the most recently active).
pub const LISTED_BUCKETS: usize = 20;

/// An automation's trigger state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The automation.
    pub automation_id: Uuid,
    /// How many firings (triggered and resolved) it has produced.
    pub firings: u64,
    /// When it last fired.
    pub last_fired: Option<Micros>,
    /// Its trigger tree.
    pub trigger: NodeReport,
}

/// One trigger's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeReport {
    /// An event trigger.
    Event(EventReport),
    /// A compound or sequence trigger.
    Composite(CompositeReport),
    /// A metric trigger.
    Metric(MetricReport),
}

/// An event trigger's counts, buckets and latest near miss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventReport {
    /// The trigger.
    pub trigger_id: Uuid,
    /// What it is waiting for, in a sentence.
    pub summary: String,
    /// Events whose name it looks at.
    pub seen: u64,
    /// Of those, the ones whose resources matched.
    pub matched: u64,
    /// Of those, the ones counted in a window.
    pub counted: u64,
    /// The latest matched event.
    pub last_matched: Option<SeenEvent>,
    /// The latest event with the right name but the wrong resources, and the rule it failed.
    pub last_rejected: Option<NearMiss>,
    /// How many buckets it holds.
    pub bucket_count: usize,
    /// The most recently active buckets.
    pub buckets: Vec<BucketReport>,
}

/// One bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketReport {
    /// Its `for_each` labels and values.
    pub labels: Vec<(String, String)>,
    /// What it is doing.
    pub status: BucketStatus,
    /// Expected events counted in the open window.
    pub counted: usize,
    /// When the window opened.
    pub window_start: Option<Micros>,
    /// When a proactive watch fires unless the expected events arrive.
    pub deadline: Option<Micros>,
    /// When a proactive watch fired.
    pub fired_at: Option<Micros>,
    /// Until when a reactive bucket that fired stays quiet.
    pub quiet_until: Option<Micros>,
}

/// What a bucket is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BucketStatus {
    /// A reactive bucket counting events in its window.
    Counting,
    /// A reactive bucket that fired and ignores events until its window ends.
    Quiet,
    /// Waiting for the `after` event that opens its window.
    WaitingForAfter,
    /// A proactive bucket whose deadline fires unless the expected events arrive.
    Watching,
    /// A proactive bucket that fired.
    Fired,
}

/// The two kinds of composite trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompositeKind {
    /// Parts in any order.
    Compound,
    /// Parts in order.
    Sequence,
}

/// A compound or sequence trigger and its parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompositeReport {
    /// The trigger.
    pub trigger_id: Uuid,
    /// `compound` or `sequence`.
    pub kind: CompositeKind,
    /// How many parts must fire.
    pub needed: usize,
    /// What it is waiting for, in a sentence.
    pub summary: String,
    /// When it last fired.
    pub last_fired: Option<Micros>,
    /// Its parts.
    pub parts: Vec<PartReport>,
}

/// One part of a composite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartReport {
    /// Whether it counts toward the composite now.
    pub satisfied: bool,
    /// When it last fired (since the composite last fired).
    pub fired_at: Option<Micros>,
    /// The part's own state.
    pub trigger: NodeReport,
}

/// A metric trigger's value and breach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// The trigger.
    pub trigger_id: Uuid,
    /// The measure.
    pub metric: Metric,
    /// Its value now (a fraction for successes, seconds otherwise); `None` without samples.
    pub value: Option<f64>,
    /// How many samples are in the range.
    pub samples: usize,
    /// Since when the value has been beyond the threshold.
    pub breached_since: Option<Micros>,
    /// Whether it has fired and not resolved.
    pub fired: bool,
    /// What it is waiting for, in a sentence.
    pub summary: String,
}

impl Engine {
    /// The report for a loaded automation at `now`; `None` if it is not loaded (disabled or
    /// unknown).
    pub fn explain(&self, id: Uuid, now: Micros) -> Option<Report> {
        let view = self.view(id)?;
        let mut next = 0;
        let trigger = node_report(&view, &mut next, now)?;
        Some(Report {
            automation_id: id,
            firings: view.state().firings,
            last_fired: view.state().last_fired,
            trigger,
        })
    }
}

/// Reports node `*next` (pre-order) and advances past its subtree.
fn node_report(view: &View<'_>, next: &mut usize, now: Micros) -> Option<NodeReport> {
    let n = *next;
    *next += 1;
    Some(match view.node(n)? {
        NodeView::Event(spec, st) => NodeReport::Event(event_report(spec, st, view, now)),
        NodeView::Metric(spec, st, value) => NodeReport::Metric(metric_report(spec, st, value)),
        NodeView::Composite(c, st) => {
            let mut parts = Vec::new();
            for pos in 0..c.conditions.len() {
                let trigger = node_report(view, next, now)?;
                let fired_at = st.parts.get(pos).and_then(|p| p.fired).map(|f| f.0);
                parts.push(PartReport {
                    satisfied: c.satisfied(st, pos, now),
                    fired_at,
                    trigger,
                });
            }
            NodeReport::Composite(composite_report(
                view.state().trigger_ids[n],
                c,
                st.last_fired,
                parts,
            ))
        }
    })
}

fn event_report(spec: &EventTrigger, st: &EventState, view: &View<'_>, now: Micros) -> EventReport {
    let mut recent: Vec<(&String, &Bucket)> = st.buckets.iter().collect();
    recent.sort_by(|a, b| b.1.touched.cmp(&a.1.touched).then(a.0.cmp(b.0)));
    let buckets: Vec<BucketReport> = recent
        .iter()
        .take(LISTED_BUCKETS)
        .map(|(key, b)| bucket_report(spec, key, b, now))
        .collect();
    EventReport {
        trigger_id: spec.id,
        summary: event_summary(spec, st, &buckets, view),
        seen: st.stats.seen,
        matched: st.stats.matched,
        counted: st.stats.counted,
        last_matched: st.stats.last_matched.clone(),
        last_rejected: st.stats.last_rejected.clone(),
        bucket_count: st.buckets.len(),
        buckets,
    }
}

fn bucket_report(spec: &EventTrigger, key: &str, b: &Bucket, now: Micros) -> BucketReport {
    let labels = (spec.for_each.iter())
        .zip(key.split(KEY_SEPARATOR))
        .map(|(l, v)| (l.to_text(), v.to_owned()))
        .collect();
    let status = match spec.posture {
        Posture::Proactive if b.fired_at.is_some() => BucketStatus::Fired,
        Posture::Proactive if b.armed_at.is_some() => BucketStatus::Watching,
        Posture::Proactive => BucketStatus::WaitingForAfter,
        Posture::Reactive if b.quiet_until.is_some_and(|q| now < q) => BucketStatus::Quiet,
        Posture::Reactive if !spec.after.is_empty() && b.armed_at.is_none() => {
            BucketStatus::WaitingForAfter
        }
        Posture::Reactive => BucketStatus::Counting,
    };
    BucketReport {
        labels,
        status,
        counted: b.times.len(),
        window_start: b.armed_at.or(b.times.front().copied()),
        deadline: b.deadline,
        fired_at: b.fired_at,
        quiet_until: b.quiet_until.filter(|q| now < *q),
    }
}

fn names(patterns: &[super::labels::NamePattern]) -> String {
    let all: Vec<String> = patterns.iter().map(|p| p.to_text()).collect();
    if all.is_empty() {
        "any event".into()
    } else {
        all.join(" or ")
    }
}

fn event_summary(
    spec: &EventTrigger,
    st: &EventState,
    buckets: &[BucketReport],
    view: &View<'_>,
) -> String {
    let within = spec.within.as_secs_f64();
    let expect = names(&spec.expect);
    let mut s = match spec.posture {
        Posture::Reactive if within > 0.0 => format!(
            "fires when {} {expect} occur within {within} s",
            spec.threshold
        ),
        Posture::Reactive => format!("fires on every {} {expect}", ordinal(spec.threshold)),
        Posture::Proactive => format!(
            "fires when fewer than {} {expect} occur within {within} s{}",
            spec.threshold,
            if spec.after.is_empty() {
                String::new()
            } else {
                format!(" after {}", names(&spec.after))
            },
        ),
    };
    if !spec.after.is_empty() && spec.posture == Posture::Reactive {
        s.push_str(&format!(", once {} has been seen", names(&spec.after)));
    }
    s.push_str(". ");
    if st.stats.seen == 0 {
        s.push_str("No event with a matching name has arrived yet.");
    } else if st.stats.matched == 0 {
        let rule = st
            .stats
            .last_rejected
            .as_ref()
            .map_or("", |m| m.rule.as_str());
        s.push_str(&format!(
            "{} events had a matching name but none matched the resources (the latest failed {rule}).",
            st.stats.seen
        ));
    } else {
        let open: usize = buckets
            .iter()
            .filter(|b| b.status == BucketStatus::Watching)
            .count();
        let fired: usize = buckets
            .iter()
            .filter(|b| b.status == BucketStatus::Fired)
            .count();
        s.push_str(&format!(
            "{} of {} events matched; {} buckets ({open} watching, {fired} fired).",
            st.stats.matched,
            st.stats.seen,
            st.buckets.len()
        ));
        if spec.posture == Posture::Proactive && !view.settings().proactive_grace.is_zero() {
            s.push_str(&format!(
                " Deadlines fire {} s late to let in-flight events arrive.",
                view.settings().proactive_grace.as_secs_f64()
            ));
        }
    }
    s
}

fn ordinal(n: u32) -> String {
    if n == 1 {
        "matching".into()
    } else {
        format!("{n} matching")
    }
}

fn composite_report(
    id: Uuid,
    c: &CompositeNode,
    last_fired: Option<Micros>,
    parts: Vec<PartReport>,
) -> CompositeReport {
    let satisfied = parts.iter().filter(|p| p.satisfied).count();
    let needed = c.needed();
    let window = if c.within == 0 {
        String::new()
    } else {
        format!(" within {} s", c.within as f64 / 1e6)
    };
    let (kind, summary) = match c.shape {
        Shape::Compound(req) => {
            let how = match req {
                Require::All => "all".to_owned(),
                Require::Any => "any".to_owned(),
                Require::AtLeast(k) => k.to_string(),
            };
            (
                CompositeKind::Compound,
                format!(
                    "fires when {how} of its {} parts fire{window}; {satisfied} of {needed} needed are satisfied now.",
                    parts.len()
                ),
            )
        }
        Shape::Sequence => (
            CompositeKind::Sequence,
            format!(
                "fires when its {} parts fire in order{window}; {satisfied} have fired since it last fired.",
                parts.len()
            ),
        ),
    };
    CompositeReport {
        trigger_id: id,
        kind,
        needed,
        summary,
        last_fired,
        parts,
    }
}

fn metric_report(spec: &MetricTrigger, st: &MetricState, value: Option<f64>) -> MetricReport {
    let q = &spec.query;
    let shown = |v: f64| match q.metric {
        Metric::Successes => format!("{:.1}%", v * 100.0),
        _ => format!("{v:.1} s"),
    };
    let now_text = value.map_or("unknown (no runs in range)".to_owned(), shown);
    let summary = format!(
        "fires when {} {} {} over the last {} s for {} s; now {now_text}{}.",
        q.metric.as_str(),
        q.operator.as_str(),
        shown(q.threshold),
        q.range.as_secs_f64(),
        q.firing_for.as_secs_f64(),
        match (st.fired, st.breached_since) {
            (true, _) => ", fired".to_owned(),
            (false, Some(since)) => format!(", breached since {since}"),
            (false, None) => String::new(),
        }
    );
    MetricReport {
        trigger_id: spec.id,
        metric: q.metric,
        value,
        samples: st.samples.len(),
        breached_since: st.breached_since,
        fired: st.fired,
        summary,
    }
}
