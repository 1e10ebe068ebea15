//! Automations between the wire and the domain: Prefect's trigger JSON read into the core's
//! [`Trigger`] (each bad field named by its path, then checked by the core's `validate`), an
//! automation's definition kept as the JSON documents it arrived as (with server-assigned
//! trigger ids), and stored automations rendered back.

use std::time::Duration;

use flowgate_core::automations::labels::{BucketLabel, NamePattern, ResourceSpec};
use flowgate_core::automations::trigger::MAX_WINDOW;
use flowgate_core::automations::{
    CompoundTrigger, EventTrigger, Metric, MetricQuery, MetricTrigger, Operator, Posture, Require,
    SequenceTrigger, SpecError, Trigger, validate,
};
use flowgate_store::StoreError;
use flowgate_store::model::{Automation, AutomationSpec};
use flowgate_wire::automations as wire;
use uuid::Uuid;

use super::plain_texts;

/// Gives every trigger of the tree a fresh id, as Prefect's server does (a client's ids are
/// not kept: two automations made from one Python object must not share trigger ids).
pub fn assign_ids(t: &mut wire::Trigger) {
    match t {
        wire::Trigger::Event(e) => e.id = Some(Uuid::new_v4()),
        wire::Trigger::Metric(m) => m.id = Some(Uuid::new_v4()),
        wire::Trigger::Compound(c) => {
            c.id = Some(Uuid::new_v4());
            c.triggers.iter_mut().for_each(assign_ids);
        }
        wire::Trigger::Sequence(s) => {
            s.id = Some(Uuid::new_v4());
            s.triggers.iter_mut().for_each(assign_ids);
        }
    }
}

/// The core's trigger for a wire trigger, or every field that is wrong (paths start at
/// `trigger`).
pub fn trigger(t: &wire::Trigger) -> Result<Trigger, Vec<SpecError>> {
    let mut errors = Vec::new();
    let core = read(t, "trigger", &mut errors);
    if let Err(more) = validate(&core) {
        // A field already reported as unreadable was read as a stand-in: not reported again.
        let fresh: Vec<_> = (more.into_iter())
            .filter(|m| errors.iter().all(|e| e.field != m.field))
            .collect();
        errors.extend(fresh);
    }
    if errors.is_empty() {
        Ok(core)
    } else {
        Err(errors)
    }
}

/// One sentence listing what is wrong, for a 422.
pub fn explain(errors: &[SpecError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

fn read(t: &wire::Trigger, path: &str, errors: &mut Vec<SpecError>) -> Trigger {
    let mut err = |field: &str, message: String| {
        errors.push(SpecError {
            field: format!("{path}.{field}"),
            message,
        })
    };
    match t {
        wire::Trigger::Event(e) => {
            let threshold = u32::try_from(e.threshold).unwrap_or_else(|_| {
                err(
                    "threshold",
                    format!("must be a whole number from 1, got {}", e.threshold),
                );
                1
            });
            let for_each = (e.for_each.iter())
                .filter_map(|label| {
                    BucketLabel::parse(label).or_else(|| {
                        err(
                            "for_each",
                            format!("{label:?} is not a label; write a label such as \"prefect.resource.id\" or \"related:flow:prefect.resource.name\""),
                        );
                        None
                    })
                })
                .collect();
            Trigger::Event(EventTrigger {
                id: e.id.unwrap_or_else(Uuid::new_v4),
                match_resource: spec(&e.match_),
                match_related: related(&e.match_related),
                after: e.after.iter().map(|n| NamePattern::parse(n)).collect(),
                expect: e.expect.iter().map(|n| NamePattern::parse(n)).collect(),
                for_each,
                posture: match e.posture {
                    wire::Posture::Reactive => Posture::Reactive,
                    wire::Posture::Proactive => Posture::Proactive,
                },
                threshold,
                within: seconds(e.within, "within", &mut err),
            })
        }
        wire::Trigger::Compound(c) => {
            let require = match c.require {
                wire::Require::Word(wire::RequireWord::All) => Require::All,
                wire::Require::Word(wire::RequireWord::Any) => Require::Any,
                wire::Require::Count(n) => Require::AtLeast(u32::try_from(n).unwrap_or(0)),
            };
            let within = c.within.map(|w| seconds(w, "within", &mut err));
            Trigger::Compound(CompoundTrigger {
                id: c.id.unwrap_or_else(Uuid::new_v4),
                triggers: parts(&c.triggers, path, errors),
                require,
                within,
            })
        }
        wire::Trigger::Sequence(s) => {
            let within = s.within.map(|w| seconds(w, "within", &mut err));
            Trigger::Sequence(SequenceTrigger {
                id: s.id.unwrap_or_else(Uuid::new_v4),
                triggers: parts(&s.triggers, path, errors),
                within,
            })
        }
        wire::Trigger::Metric(m) => {
            if m.posture.as_deref().is_some_and(|p| p != "Metric") {
                err("posture", "a metric trigger's posture is \"Metric\"".into());
            }
            let q = &m.metric;
            Trigger::Metric(MetricTrigger {
                id: m.id.unwrap_or_else(Uuid::new_v4),
                match_resource: spec(&m.match_),
                match_related: related(&m.match_related),
                query: MetricQuery {
                    metric: match q.name {
                        wire::MetricName::Successes => Metric::Successes,
                        wire::MetricName::Duration => Metric::Duration,
                        wire::MetricName::Lateness => Metric::Lateness,
                    },
                    threshold: q.threshold,
                    operator: match q.operator {
                        wire::MetricOperator::Lt => Operator::Lt,
                        wire::MetricOperator::Lte => Operator::Lte,
                        wire::MetricOperator::Gt => Operator::Gt,
                        wire::MetricOperator::Gte => Operator::Gte,
                    },
                    range: seconds(q.range, "metric.range", &mut err),
                    firing_for: seconds(q.firing_for, "metric.firing_for", &mut err),
                },
            })
        }
    }
}

fn parts(triggers: &[wire::Trigger], path: &str, errors: &mut Vec<SpecError>) -> Vec<Trigger> {
    (triggers.iter().enumerate())
        .map(|(i, t)| read(t, &format!("{path}.triggers[{i}]"), errors))
        .collect()
}

/// A window in seconds: finite, from 0, at most a year (a bad one is reported and read as 0).
fn seconds(value: f64, field: &str, err: &mut impl FnMut(&str, String)) -> Duration {
    if value.is_finite() && (0.0..=MAX_WINDOW.as_secs_f64()).contains(&value) {
        Duration::from_secs_f64(value)
    } else {
        err(
            field,
            format!("must be a number of seconds from 0 to a year (31,622,400), got {value}"),
        );
        Duration::ZERO
    }
}

fn spec(s: &wire::ResourceSpecification) -> ResourceSpec {
    ResourceSpec::new(
        s.iter()
            .map(|(label, values)| (label.as_str(), values.patterns())),
    )
}

fn related(r: &wire::RelatedSpecification) -> Vec<ResourceSpec> {
    r.specs().into_iter().map(spec).collect()
}

/// The resources an automation's actions refer to, for `related-to`: the deployments it runs
/// (as Prefect relates them).
pub fn related_resources(body: &wire::AutomationCreate) -> Vec<String> {
    let all = body
        .actions
        .iter()
        .chain(&body.actions_on_trigger)
        .chain(&body.actions_on_resolve);
    all.filter_map(|a| match a {
        wire::Action::RunDeployment(r) if r.source == wire::Source::Selected => {
            r.deployment_id.map(|id| format!("prefect.deployment.{id}"))
        }
        _ => None,
    })
    .collect()
}

/// What is stored of a checked automation: its definition as JSON documents. Text a column
/// cannot hold is refused by field.
pub fn automation_spec(body: &wire::AutomationCreate) -> Result<AutomationSpec, String> {
    plain_texts(
        [
            ("name", Some(body.name.as_str())),
            ("description", Some(body.description.as_str())),
        ]
        .into_iter()
        .chain(body.tags.iter().map(|t| ("tags", Some(t.as_str())))),
    )?;
    Ok(AutomationSpec {
        name: body.name.clone(),
        description: body.description.clone(),
        enabled: body.enabled,
        tags: body.tags.clone(),
        trigger: json(&body.trigger),
        actions: json(&body.actions),
        actions_on_trigger: json(&body.actions_on_trigger),
        actions_on_resolve: json(&body.actions_on_resolve),
    })
}

/// A wire value as JSON (wire types always serialise).
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A stored automation's trigger, read back.
pub fn stored_trigger(a: &Automation) -> Result<wire::Trigger, StoreError> {
    serde_json::from_value(a.spec.trigger.clone())
        .map_err(|e| StoreError::Corrupt(format!("automation {} trigger: {e}", a.id)))
}

/// A stored list of actions, read back.
pub fn stored_actions(
    a: &Automation,
    list: &serde_json::Value,
) -> Result<Vec<wire::Action>, StoreError> {
    serde_json::from_value(list.clone())
        .map_err(|e| StoreError::Corrupt(format!("automation {} actions: {e}", a.id)))
}

/// A stored automation as clients read it.
pub fn automation_out(a: &Automation) -> Result<wire::Automation, StoreError> {
    Ok(wire::Automation {
        id: a.id,
        created: a.created,
        updated: a.updated,
        name: a.spec.name.clone(),
        description: a.spec.description.clone(),
        enabled: a.spec.enabled,
        tags: a.spec.tags.clone(),
        trigger: stored_trigger(a)?,
        actions: stored_actions(a, &a.spec.actions)?,
        actions_on_trigger: stored_actions(a, &a.spec.actions_on_trigger)?,
        actions_on_resolve: stored_actions(a, &a.spec.actions_on_resolve)?,
    })
}
