//! Events: immutable facts about resources ("task run X entered Running"), the input of task-run
//! records today and of automations later.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::time::Micros;

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
    pub payload: Value,
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
            payload: Value::Null,
            follows: None,
            received: Micros(2),
        };
        assert_eq!(resource_uuid(ev.resource_id(), "prefect.task-run"), Some(id));
        assert_eq!(resource_uuid(ev.resource_id(), "prefect.flow-run"), None);
        let fr = ev.related_id("flow-run").unwrap();
        assert_eq!(resource_uuid(fr, "prefect.flow-run"), Some(id));
        assert_eq!(ev.related_id("flow"), None);
    }
}
