//! Typed builders for the four triggers: events (present or absent), compound (parts in any
//! order), sequence (parts in order) and metric (a measure of flow runs beyond a threshold).

use std::time::Duration;

use flowgate_wire::automations as wire;

/// What an automation waits for. Start from [`Trigger::event`], [`Trigger::compound`],
/// [`Trigger::sequence`] or [`Trigger::metric`].
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger(pub(crate) wire::Trigger);

impl Trigger {
    /// Fires when an event named `expect` (a name, or a prefix ending in `*`) occurs; add
    /// more names with [`EventTrigger::or_event`].
    pub fn event(expect: impl Into<String>) -> EventTrigger {
        EventTrigger(wire::EventTrigger {
            expect: vec![expect.into()],
            threshold: 1,
            ..Default::default()
        })
    }

    /// Fires when all of `parts` fire within a window, in any order (see
    /// [`CompoundTrigger::require`], [`CompoundTrigger::within`]).
    pub fn compound<T: Into<Trigger>>(parts: impl IntoIterator<Item = T>) -> CompoundTrigger {
        CompoundTrigger(wire::CompoundTrigger {
            id: None,
            triggers: parts.into_iter().map(|p| p.into().0).collect(),
            require: wire::Require::Word(wire::RequireWord::All),
            within: None,
        })
    }

    /// Fires when `parts` fire in the given order (within [`SequenceTrigger::within`]); out of
    /// order does not fire.
    pub fn sequence<T: Into<Trigger>>(parts: impl IntoIterator<Item = T>) -> SequenceTrigger {
        SequenceTrigger(wire::SequenceTrigger {
            id: None,
            triggers: parts.into_iter().map(|p| p.into().0).collect(),
            within: None,
        })
    }

    /// Fires when a measure of flow runs stays beyond a threshold: `Trigger::metric(
    /// Metric::Successes).below(0.7).range(10 min).firing_for(1 min)`.
    pub fn metric(metric: Metric) -> MetricTrigger {
        MetricTrigger(wire::MetricTrigger {
            id: None,
            match_: Default::default(),
            match_related: Default::default(),
            posture: Some("Metric".to_owned()),
            metric: wire::MetricQuery {
                name: metric.wire(),
                threshold: 0.0,
                operator: wire::MetricOperator::Lt,
                range: 300.0,
                firing_for: 300.0,
            },
        })
    }
}

/// Adds `label` = `value` to a resource specification (a second value for the same label
/// makes alternatives).
fn add_label(spec: &mut wire::ResourceSpecification, label: String, value: String) {
    match spec.remove(&label) {
        None => spec.insert(label, wire::LabelValues::One(value)),
        Some(wire::LabelValues::One(first)) => {
            spec.insert(label, wire::LabelValues::Many(vec![first, value]))
        }
        Some(wire::LabelValues::Many(mut all)) => {
            all.push(value);
            spec.insert(label, wire::LabelValues::Many(all))
        }
    };
}

/// Adds a label to the related-resource specification (one specification, all labels met by
/// one related resource).
fn add_related(spec: &mut wire::RelatedSpecification, label: String, value: String) {
    if let wire::RelatedSpecification::Many(list) = spec {
        let first = list.drain(..).next().unwrap_or_default();
        *spec = wire::RelatedSpecification::One(first);
    }
    if let wire::RelatedSpecification::One(one) = spec {
        add_label(one, label, value);
    }
}

/// An event trigger: reactive (the events happen) unless [`EventTrigger::proactive`] (they
/// fail to happen within the window).
#[derive(Clone, Debug, PartialEq)]
pub struct EventTrigger(wire::EventTrigger);

impl EventTrigger {
    /// Also counts events named `expect`.
    pub fn or_event(mut self, expect: impl Into<String>) -> Self {
        self.0.expect.push(expect.into());
        self
    }

    /// Only events whose resource has `label` = `value` (`*` ends a prefix, `!` negates):
    /// `.matching("prefect.resource.id", "acme.order.*")`. A second value for the same label
    /// is an alternative.
    pub fn matching(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        add_label(&mut self.0.match_, label.into(), value.into());
        self
    }

    /// Only events with a related resource carrying `label` = `value`
    /// (`.matching_related("prefect.resource.role", "flow")`).
    pub fn matching_related(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        add_related(&mut self.0.match_related, label.into(), value.into());
        self
    }

    /// Counts only after an event named `after` (it opens the window).
    pub fn after(mut self, after: impl Into<String>) -> Self {
        self.0.after.push(after.into());
        self
    }

    /// Evaluates separately for each value of this resource label (e.g.
    /// `prefect.resource.id`: one window per flow run).
    pub fn for_each(mut self, label: impl Into<String>) -> Self {
        self.0.for_each.push(label.into());
        self
    }

    /// How many events (default 1).
    pub fn threshold(mut self, count: u32) -> Self {
        self.0.threshold = i64::from(count);
        self
    }

    /// The window the events must occur within.
    pub fn within(mut self, window: Duration) -> Self {
        self.0.within = window.as_secs_f64();
        self
    }

    /// Fires when fewer than the threshold occur within the window (at least 10 s).
    pub fn proactive(mut self) -> Self {
        self.0.posture = wire::Posture::Proactive;
        self
    }
}

impl From<EventTrigger> for Trigger {
    fn from(t: EventTrigger) -> Trigger {
        Trigger(wire::Trigger::Event(t.0))
    }
}

/// Parts firing in any order.
#[derive(Clone, Debug, PartialEq)]
pub struct CompoundTrigger(wire::CompoundTrigger);

impl CompoundTrigger {
    /// At least `count` of the parts (instead of all).
    pub fn require(mut self, count: u32) -> Self {
        self.0.require = wire::Require::Count(i64::from(count));
        self
    }

    /// Any one part.
    pub fn require_any(mut self) -> Self {
        self.0.require = wire::Require::Word(wire::RequireWord::Any);
        self
    }

    /// The window the parts must fire within.
    pub fn within(mut self, window: Duration) -> Self {
        self.0.within = Some(window.as_secs_f64());
        self
    }
}

impl From<CompoundTrigger> for Trigger {
    fn from(t: CompoundTrigger) -> Trigger {
        Trigger(wire::Trigger::Compound(t.0))
    }
}

/// Parts firing in order.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceTrigger(wire::SequenceTrigger);

impl SequenceTrigger {
    /// The window the parts must fire within.
    pub fn within(mut self, window: Duration) -> Self {
        self.0.within = Some(window.as_secs_f64());
        self
    }
}

impl From<SequenceTrigger> for Trigger {
    fn from(t: SequenceTrigger) -> Trigger {
        Trigger(wire::Trigger::Sequence(t.0))
    }
}

/// The flow-run measures a metric trigger watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// The fraction (0 to 1) of flow runs that did not fail or crash.
    Successes,
    /// Mean seconds flow runs spent Running.
    Duration,
    /// Mean seconds Late flow runs waited.
    Lateness,
}

impl Metric {
    fn wire(self) -> wire::MetricName {
        match self {
            Metric::Successes => wire::MetricName::Successes,
            Metric::Duration => wire::MetricName::Duration,
            Metric::Lateness => wire::MetricName::Lateness,
        }
    }
}

/// A measure of flow runs compared with a threshold over a range.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricTrigger(wire::MetricTrigger);

impl MetricTrigger {
    fn compare(mut self, operator: wire::MetricOperator, threshold: f64) -> Self {
        self.0.metric.operator = operator;
        self.0.metric.threshold = threshold;
        self
    }

    /// Breached while the value is `< threshold` (successes: a fraction, 0.7 for 70%).
    pub fn below(self, threshold: f64) -> Self {
        self.compare(wire::MetricOperator::Lt, threshold)
    }

    /// Breached while the value is `<= threshold`.
    pub fn at_most(self, threshold: f64) -> Self {
        self.compare(wire::MetricOperator::Lte, threshold)
    }

    /// Breached while the value is `> threshold` (duration and lateness: seconds).
    pub fn above(self, threshold: f64) -> Self {
        self.compare(wire::MetricOperator::Gt, threshold)
    }

    /// Breached while the value is `>= threshold`.
    pub fn at_least(self, threshold: f64) -> Self {
        self.compare(wire::MetricOperator::Gte, threshold)
    }

    /// How far back the measure looks ("over the last"; default 5 minutes, from 1 s).
    pub fn range(mut self, range: Duration) -> Self {
        self.0.metric.range = range.as_secs_f64();
        self
    }

    /// How long it must stay breached before firing ("for"; default 5 minutes).
    pub fn firing_for(mut self, duration: Duration) -> Self {
        self.0.metric.firing_for = duration.as_secs_f64();
        self
    }

    /// Only flow runs whose resource has `label` = `value`.
    pub fn matching(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        add_label(&mut self.0.match_, label.into(), value.into());
        self
    }

    /// Only flow runs with a related resource carrying `label` = `value` (their flow by
    /// name: `.matching_related("prefect.resource.name", "etl")`).
    pub fn matching_related(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        add_related(&mut self.0.match_related, label.into(), value.into());
        self
    }
}

impl From<MetricTrigger> for Trigger {
    fn from(t: MetricTrigger) -> Trigger {
        Trigger(wire::Trigger::Metric(t.0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::{Metric, Trigger};

    fn json_of(t: impl Into<Trigger>) -> serde_json::Value {
        serde_json::to_value(t.into().0).unwrap()
    }

    #[test]
    fn builders_write_prefects_trigger_json() {
        let event = Trigger::event("acme.order.paid")
            .or_event("acme.order.refunded")
            .matching("prefect.resource.id", "acme.order.*")
            .matching("prefect.resource.id", "legacy.order.*")
            .matching_related("prefect.resource.role", "flow")
            .for_each("prefect.resource.id")
            .threshold(2)
            .within(Duration::from_secs(60));
        let v = json_of(event);
        assert_eq!(v["type"], "event");
        assert_eq!(
            v["expect"],
            json!(["acme.order.paid", "acme.order.refunded"])
        );
        assert_eq!(
            v["match"]["prefect.resource.id"],
            json!(["acme.order.*", "legacy.order.*"])
        );
        assert_eq!(v["match_related"], json!({"prefect.resource.role": "flow"}));
        assert_eq!(
            (v["threshold"].clone(), v["within"].clone()),
            (json!(2), json!(60.0))
        );
        assert_eq!(v["posture"], "Reactive");

        let v = json_of(
            Trigger::compound([Trigger::event("a"), Trigger::event("b").proactive()])
                .require(1)
                .within(Duration::from_secs(30)),
        );
        assert_eq!(
            (v["type"].clone(), v["require"].clone()),
            (json!("compound"), json!(1))
        );
        assert_eq!(v["triggers"][1]["posture"], "Proactive");
        let v = json_of(Trigger::sequence([
            Trigger::event("a"),
            Trigger::event("b"),
        ]));
        assert_eq!(v["type"], "sequence");
        assert_eq!(v["triggers"].as_array().map(Vec::len), Some(2));

        let v = json_of(
            Trigger::metric(Metric::Successes)
                .below(0.7)
                .range(Duration::from_secs(600))
                .firing_for(Duration::from_secs(60))
                .matching_related("prefect.resource.name", "etl"),
        );
        assert_eq!(
            v["metric"],
            json!({"name": "successes", "operator": "<", "threshold": 0.7, "range": 600.0, "firing_for": 60.0})
        );
    }
}
