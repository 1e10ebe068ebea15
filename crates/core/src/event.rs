//! Events: immutable facts about resources ("task run X entered Running"), the input of task-run
//! records today and of automations later.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::time::Micros;

/// An event's payload, kept as the JSON text it arrived as: stored and served without being
/// rebuilt, parsed only by readers that need parts of it (task-run folding).
#[derive(Clone, Debug, PartialEq)]
pub struct Payload(String);

impl Payload {
    /// The payload of a JSON value.
    pub fn from_value(v: &Value) -> Payload {
        Payload(v.to_string())
    }

    /// A payload from JSON text already known to be valid (a parsed frame's raw part, a stored
    /// column).
    pub fn from_json_text(text: String) -> Payload {
        Payload(text)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses the payload as `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The payload as a JSON value (null if it is not JSON).
    pub fn value(&self) -> Value {
        self.parse().unwrap_or(Value::Null)
    }
}

/// One event, as clients send it and the server stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Client-chosen unique id; the server de-duplicates on it.
    pub id: Uuid,
    /// When the fact happened, by the emitter's clock.
    pub occurred: Micros,
    /// Dotted event name, e.g. `prefect.task-run.Completed`.
    pub event: String,
    /// Labels of the resource the event is about; `prefect.resource.id` names it.
    pub resource: Map<String, Value>,
    /// Labels of related resources, each with a `prefect.resource.role`.
    pub related: Vec<Map<String, Value>>,
    /// Event-specific data.
    pub payload: Payload,
    /// The id of the event this one follows, when the emitter knows it.
    pub follows: Option<Uuid>,
    /// When the server received it.
    pub received: Micros,
}

impl Event {
    /// The resource's `prefect.resource.id`.
    pub fn resource_id(&self) -> &str {
        self.resource
            .get("prefect.resource.id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The `prefect.resource.id` of the first related resource with `role`.
    pub fn related_id(&self, role: &str) -> Option<&str> {
        self.related
            .iter()
            .find(|r| r.get("prefect.resource.role").and_then(Value::as_str) == Some(role))
            .and_then(|r| r.get("prefect.resource.id"))
            .and_then(Value::as_str)
    }
}

/// Builds a resource label map from pairs.
pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect()
}

/// The uuid in a resource id such as `prefect.flow-run.<uuid>`, if it has that prefix.
pub fn resource_uuid(resource_id: &str, prefix: &str) -> Option<Uuid> {
    resource_id
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|id| Uuid::parse_str(id).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_resources_by_prefix_and_role() {
        let id = Uuid::now_v7();
        let ev = Event {
            id: Uuid::now_v7(),
            occurred: Micros(1),
            event: "x".into(),
            resource: labels([("prefect.resource.id", format!("prefect.task-run.{id}"))]),
            related: vec![labels([
                ("prefect.resource.id", format!("prefect.flow-run.{id}")),
                ("prefect.resource.role", "flow-run".to_owned()),
            ])],
            payload: Payload::from_value(&Value::Null),
            follows: None,
            received: Micros(2),
        };
        assert_eq!(
            resource_uuid(ev.resource_id(), "prefect.task-run"),
            Some(id)
        );
        assert_eq!(resource_uuid(ev.resource_id(), "prefect.flow-run"), None);
        let fr = ev.related_id("flow-run").unwrap();
        assert_eq!(resource_uuid(fr, "prefect.flow-run"), Some(id));
        assert_eq!(ev.related_id("flow"), None);
    }
}

/// What a flow-run state event says about the run it is emitted for.
#[derive(Clone, Copy, Debug)]
pub struct FlowRunFacts<'a> {
    /// The run's id.
    pub id: Uuid,
    /// The run's name.
    pub name: &'a str,
    /// Its flow's id.
    pub flow_id: Uuid,
    /// Its flow's name.
    pub flow_name: &'a str,
    /// The run's tags.
    pub tags: &'a [String],
    /// Its deployment, if any.
    pub deployment_id: Option<Uuid>,
    /// Its work queue, if any.
    pub work_queue_name: Option<&'a str>,
}

/// The `prefect.flow-run.<State>` event the server emits when it commits `new` after `previous`.
/// Its id is the new state's id, so emitting it twice stores it once.
pub fn flow_run_state_event(
    run: FlowRunFacts<'_>,
    previous: Option<&crate::State>,
    new: &crate::State,
    received: Micros,
) -> Event {
    let state_json = |s: &crate::State| {
        serde_json::json!({
            "type": s.state_type, "name": s.name, "message": s.message.clone().unwrap_or_default(),
            "state_details": s.details,
        })
    };
    let mut related = vec![labels([
        (
            "prefect.resource.id",
            format!("prefect.flow.{}", run.flow_id),
        ),
        ("prefect.resource.role", "flow".to_owned()),
        ("prefect.resource.name", run.flow_name.to_owned()),
    ])];
    if let Some(d) = run.deployment_id {
        related.push(labels([
            ("prefect.resource.id", format!("prefect.deployment.{d}")),
            ("prefect.resource.role", "deployment".to_owned()),
        ]));
    }
    if let Some(q) = run.work_queue_name {
        related.push(labels([
            ("prefect.resource.id", format!("prefect.work-queue.{q}")),
            ("prefect.resource.role", "work-queue".to_owned()),
            ("prefect.resource.name", q.to_owned()),
        ]));
    }
    related.extend(run.tags.iter().map(|t| {
        labels([
            ("prefect.resource.id", format!("prefect.tag.{t}")),
            ("prefect.resource.role", "tag".to_owned()),
        ])
    }));
    Event {
        id: new.id,
        occurred: new.timestamp,
        event: format!("prefect.flow-run.{}", new.name),
        resource: labels([
            (
                "prefect.resource.id",
                format!("prefect.flow-run.{}", run.id),
            ),
            ("prefect.resource.name", run.name.to_owned()),
            (
                "prefect.state-message",
                new.message.clone().unwrap_or_default(),
            ),
            ("prefect.state-name", new.name.clone()),
            ("prefect.state-timestamp", new.timestamp.to_string()),
            ("prefect.state-type", new.state_type.as_str().to_owned()),
        ]),
        related,
        payload: Payload::from_value(&serde_json::json!({
            "intended": {"from": previous.map(|p| p.state_type), "to": new.state_type},
            "initial_state": previous.map(state_json),
            "validated_state": state_json(new),
        })),
        follows: previous.map(|p| p.id),
        received,
    }
}

#[cfg(test)]
mod emitted_tests {
    use super::*;
    use crate::{State, StateType};

    #[test]
    fn flow_run_events_name_the_state_and_relate_flow_deployment_and_tags() {
        let (run_id, flow_id, dep) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let tags = vec!["etl".to_owned()];
        let facts = FlowRunFacts {
            id: run_id,
            name: "brave-otter",
            flow_id,
            flow_name: "etl",
            tags: &tags,
            deployment_id: Some(dep),
            work_queue_name: Some("default"),
        };
        let prev = State::new(Uuid::now_v7(), StateType::Pending, Micros(1));
        let new = State::new(Uuid::now_v7(), StateType::Running, Micros(2));
        let ev = flow_run_state_event(facts, Some(&prev), &new, Micros(3));
        assert_eq!(ev.event, "prefect.flow-run.Running");
        assert_eq!(ev.id, new.id);
        assert_eq!(ev.resource_id(), format!("prefect.flow-run.{run_id}"));
        assert_eq!(
            ev.related_id("flow"),
            Some(format!("prefect.flow.{flow_id}").as_str())
        );
        assert_eq!(
            ev.related_id("deployment"),
            Some(format!("prefect.deployment.{dep}").as_str())
        );
        assert_eq!(ev.related_id("tag"), Some("prefect.tag.etl"));
        assert_eq!(ev.payload.value()["intended"]["from"], "PENDING");
        assert_eq!(ev.follows, Some(prev.id));
    }
}
