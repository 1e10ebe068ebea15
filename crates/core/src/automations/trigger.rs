//! What an automation waits for: an event trigger (events present or absent), a compound or
//! sequence of triggers, or a metric over flow runs. These are the domain forms; the server
//! reads Prefect's JSON into them and [`validate`] says, field by field, what is wrong.

use std::time::Duration;

use uuid::Uuid;

use super::labels::{BucketLabel, NamePattern, ResourceSpec};

/// Whether an event trigger reacts to events that happen or to events that fail to happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posture {
    /// Fires when `threshold` expected events occur within `within`.
    Reactive,
    /// Fires when fewer than `threshold` expected events occur within `within`.
    Proactive,
}

/// Fires on the presence or absence of matching events.
#[derive(Clone, Debug, PartialEq)]
pub struct EventTrigger {
    /// Stable id of this trigger (a part of a composite is named by it).
    pub id: Uuid,
    /// Labels the event's own resource must carry.
    pub match_resource: ResourceSpec,
    /// Specifications each met by some related resource of the event.
    pub match_related: Vec<ResourceSpec>,
    /// Events one of which must be seen first (it starts the window).
    pub after: Vec<NamePattern>,
    /// Events counted toward the threshold; empty counts every matching event.
    pub expect: Vec<NamePattern>,
    /// Labels whose values split evaluation into independent buckets.
    pub for_each: Vec<BucketLabel>,
    /// Presence or absence.
    pub posture: Posture,
    /// How many expected events.
    pub threshold: u32,
    /// The window; zero means no time limit for a reactive trigger.
    pub within: Duration,
}

/// How many parts of a compound trigger must fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Require {
    /// Every part.
    All,
    /// At least one part.
    Any,
    /// At least this many parts.
    AtLeast(u32),
}

/// Several triggers firing within a window, in any order.
#[derive(Clone, Debug, PartialEq)]
pub struct CompoundTrigger {
    /// Stable id.
    pub id: Uuid,
    /// The parts.
    pub triggers: Vec<Trigger>,
    /// How many parts must fire.
    pub require: Require,
    /// How close together the parts must fire; `None` (or zero) for no limit.
    pub within: Option<Duration>,
}

/// Several triggers firing in the given order within a window.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceTrigger {
    /// Stable id.
    pub id: Uuid,
    /// The parts, in the order they must fire.
    pub triggers: Vec<Trigger>,
    /// How close together the parts must fire; `None` (or zero) for no limit.
    pub within: Option<Duration>,
}

/// The flow-run measures a metric trigger can watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// The fraction (0 to 1) of flow runs that went Pending whose latest state is not Failed or
    /// Crashed.
    Successes,
    /// The mean time, in seconds, flow runs spent Running before a terminal state.
    Duration,
    /// The mean time, in seconds, Late flow runs waited before Running (or Crashed).
    Lateness,
}

impl Metric {
    /// Prefect's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Successes => "successes",
            Metric::Duration => "duration",
            Metric::Lateness => "lateness",
        }
    }
}

/// How a metric's value is compared with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

impl Operator {
    /// The symbol, as Prefect writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Lt => "<",
            Operator::Lte => "<=",
            Operator::Gt => ">",
            Operator::Gte => ">=",
        }
    }

    /// True when `value <op> threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Operator::Lt => value < threshold,
            Operator::Lte => value <= threshold,
            Operator::Gt => value > threshold,
            Operator::Gte => value >= threshold,
        }
    }
}

/// What a metric trigger computes and when it counts as breached.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricQuery {
    /// Which measure.
    pub metric: Metric,
    /// The value compared against.
    pub threshold: f64,
    /// The comparison that means "breached".
    pub operator: Operator,
    /// How far back the measure looks.
    pub range: Duration,
    /// How long it must stay breached before the trigger fires.
    pub firing_for: Duration,
}

/// Fires when a measure of matching flow runs stays beyond a threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricTrigger {
    /// Stable id.
    pub id: Uuid,
    /// Labels the flow run's resource must carry.
    pub match_resource: ResourceSpec,
    /// Specifications each met by some related resource (e.g. the flow by name).
    pub match_related: Vec<ResourceSpec>,
    /// The measure and its threshold.
    pub query: MetricQuery,
}

/// Any trigger.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// Events present or absent.
    Event(EventTrigger),
    /// Parts in any order.
    Compound(CompoundTrigger),
    /// Parts in order.
    Sequence(SequenceTrigger),
    /// A flow-run measure.
    Metric(MetricTrigger),
}

impl Trigger {
    /// This trigger's id.
    pub fn id(&self) -> Uuid {
        match self {
            Trigger::Event(t) => t.id,
            Trigger::Compound(t) => t.id,
            Trigger::Sequence(t) => t.id,
            Trigger::Metric(t) => t.id,
        }
    }

    /// Prefect's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Event(_) => "event",
            Trigger::Compound(_) => "compound",
            Trigger::Sequence(_) => "sequence",
            Trigger::Metric(_) => "metric",
        }
    }

    /// Its parts (none for event and metric triggers).
    pub fn children(&self) -> &[Trigger] {
        match self {
            Trigger::Compound(t) => &t.triggers,
            Trigger::Sequence(t) => &t.triggers,
            Trigger::Event(_) | Trigger::Metric(_) => &[],
        }
    }
}

/// Shortest window of a proactive trigger (as Prefect).
pub const MIN_PROACTIVE_WITHIN: Duration = Duration::from_secs(10);
/// Longest window or range accepted anywhere: a year.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);
/// Shortest metric range.
pub const MIN_METRIC_RANGE: Duration = Duration::from_secs(1);
/// Largest event threshold (a reactive bucket remembers up to this many event times).
pub const MAX_THRESHOLD: u32 = 10_000;
/// Deepest nesting of compound and sequence triggers.
pub const MAX_DEPTH: usize = 8;
/// Most triggers in one automation, parts included.
pub const MAX_TRIGGERS: usize = 256;

/// One thing wrong with a trigger: where (`trigger.triggers[1].within`) and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// The field's path, starting at `trigger`.
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Checks a trigger tree; every problem found is reported with its field.
pub fn validate(trigger: &Trigger) -> Result<(), Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut ids = Vec::new();
    check(trigger, "trigger", 1, &mut ids, &mut errors);
    if ids.len() > MAX_TRIGGERS {
        errors.push(SpecError {
            field: "trigger".into(),
            message: format!(
                "{} triggers in one automation; at most {MAX_TRIGGERS} are allowed",
                ids.len()
            ),
        });
    }
    ids.sort();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        errors.push(SpecError {
            field: "trigger".into(),
            message: "two triggers share an id; give each part its own id or leave ids out".into(),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check(t: &Trigger, path: &str, depth: usize, ids: &mut Vec<Uuid>, errors: &mut Vec<SpecError>) {
    ids.push(t.id());
    let mut err = |field: &str, message: String| {
        errors.push(SpecError {
            field: if field.is_empty() {
                path.to_owned()
            } else {
                format!("{path}.{field}")
            },
            message,
        })
    };
    match t {
        Trigger::Event(e) => {
            if e.threshold == 0 || e.threshold > MAX_THRESHOLD {
                err(
                    "threshold",
                    format!("must be between 1 and {MAX_THRESHOLD}, got {}", e.threshold),
                );
            }
            if e.within > MAX_WINDOW {
                err(
                    "within",
                    "must be at most a year (31,622,400 seconds)".into(),
                );
            }
            if e.posture == Posture::Proactive && e.within < MIN_PROACTIVE_WITHIN {
                err(
                    "within",
                    format!(
                        "a Proactive trigger needs a window of at least 10 seconds, got {} s",
                        e.within.as_secs_f64()
                    ),
                );
            }
            for (field, names) in [("expect", &e.expect), ("after", &e.after)] {
                for n in names.iter() {
                    let text = n.to_text();
                    if text.is_empty() {
                        err(field, "an empty event name matches nothing; write e.g. \"prefect.flow-run.Completed\"".into());
                    } else if text.strip_suffix('*').unwrap_or(&text).contains('*') {
                        err(
                            field,
                            format!(
                                "{text:?}: only a trailing * is supported (\"prefect.flow-run.*\")"
                            ),
                        );
                    }
                }
            }
        }
        Trigger::Compound(c) => {
            composite_parts(&c.triggers, c.within, &mut err);
            let n = c.triggers.len() as u32;
            if let Require::AtLeast(k) = c.require
                && (k == 0 || k > n)
            {
                err(
                    "require",
                    format!(
                        "must be \"any\", \"all\" or a number from 1 to {n} (the number of triggers), got {k}"
                    ),
                );
            }
        }
        Trigger::Sequence(s) => composite_parts(&s.triggers, s.within, &mut err),
        Trigger::Metric(m) => {
            let q = &m.query;
            if q.range < MIN_METRIC_RANGE || q.range > MAX_WINDOW {
                err("metric.range", "must be between 1 second and a year".into());
            }
            if q.firing_for > MAX_WINDOW {
                err("metric.firing_for", "must be at most a year".into());
            }
            if !q.threshold.is_finite() {
                err("metric.threshold", "must be a number".into());
            } else if q.metric == Metric::Successes && !(0.0..=1.0).contains(&q.threshold) {
                err(
                    "metric.threshold",
                    format!(
                        "successes is a fraction from 0 to 1 (write 0.7 for 70%), got {}",
                        q.threshold
                    ),
                );
            } else if q.metric != Metric::Successes && q.threshold < 0.0 {
                err(
                    "metric.threshold",
                    "a duration in seconds cannot be negative".into(),
                );
            }
        }
    }
    if depth > MAX_DEPTH {
        errors.push(SpecError {
            field: path.to_owned(),
            message: format!("triggers nest at most {MAX_DEPTH} levels deep"),
        });
        return;
    }
    for (i, child) in t.children().iter().enumerate() {
        check(
            child,
            &format!("{path}.triggers[{i}]"),
            depth + 1,
            ids,
            errors,
        );
    }
}

fn composite_parts(
    parts: &[Trigger],
    within: Option<Duration>,
    err: &mut impl FnMut(&str, String),
) {
    if parts.is_empty() {
        err("triggers", "needs at least one trigger".into());
    }
    if within.is_some_and(|w| w > MAX_WINDOW) {
        err(
            "within",
            "must be at most a year (31,622,400 seconds)".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(posture: Posture, within: u64) -> Trigger {
        Trigger::Event(EventTrigger {
            id: Uuid::new_v4(),
            match_resource: ResourceSpec::default(),
            match_related: vec![],
            after: vec![],
            expect: vec![NamePattern::parse("x")],
            for_each: vec![],
            posture,
            threshold: 1,
            within: Duration::from_secs(within),
        })
    }

    #[test]
    fn a_valid_tree_passes() {
        let t = Trigger::Compound(CompoundTrigger {
            id: Uuid::new_v4(),
            triggers: vec![event(Posture::Reactive, 0), event(Posture::Proactive, 10)],
            require: Require::AtLeast(2),
            within: Some(Duration::from_secs(60)),
        });
        assert_eq!(validate(&t), Ok(()));
    }

    #[test]
    fn errors_name_the_field_and_say_what_to_write() {
        let t = Trigger::Sequence(SequenceTrigger {
            id: Uuid::new_v4(),
            triggers: vec![
                event(Posture::Reactive, 0),
                event(Posture::Proactive, 5),
                Trigger::Compound(CompoundTrigger {
                    id: Uuid::new_v4(),
                    triggers: vec![event(Posture::Reactive, 0)],
                    require: Require::AtLeast(3),
                    within: None,
                }),
            ],
            within: None,
        });
        let errors = validate(&t).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["trigger.triggers[1].within", "trigger.triggers[2].require"]
        );
        assert!(
            errors[0].message.contains("at least 10 seconds"),
            "{}",
            errors[0]
        );
        assert!(errors[1].message.contains("from 1 to 1"), "{}", errors[1]);
    }

    #[test]
    fn a_success_rate_given_as_a_percentage_is_refused_with_the_fraction_to_write() {
        let t = Trigger::Metric(MetricTrigger {
            id: Uuid::new_v4(),
            match_resource: ResourceSpec::default(),
            match_related: vec![],
            query: MetricQuery {
                metric: Metric::Successes,
                threshold: 70.0,
                operator: Operator::Lt,
                range: Duration::from_secs(600),
                firing_for: Duration::from_secs(60),
            },
        });
        let errors = validate(&t).unwrap_err();
        assert_eq!(errors[0].field, "trigger.metric.threshold");
        assert!(errors[0].message.contains("write 0.7 for 70%"));
    }

    #[test]
    fn wildcards_only_trail_and_ids_are_unique() {
        let mut e = event(Posture::Reactive, 0);
        if let Trigger::Event(ev) = &mut e {
            ev.expect = vec![NamePattern::parse("prefect.*.Completed")];
        }
        let errors = validate(&e).unwrap_err();
        assert_eq!(errors[0].field, "trigger.expect");
        let same = event(Posture::Reactive, 0);
        let t = Trigger::Compound(CompoundTrigger {
            id: Uuid::new_v4(),
            triggers: vec![same.clone(), same],
            require: Require::All,
            within: None,
        });
        assert!(validate(&t).unwrap_err()[0].message.contains("share an id"));
    }
}
