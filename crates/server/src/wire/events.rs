//! Events on the wire.

use flowgate_core::{Event, Micros, Payload};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

/// An event as a client emits it.
#[derive(Deserialize, Debug)]
pub struct EventIn {
    /// Client-chosen id.
    pub id: Uuid,
    /// When it happened.
    pub occurred: Micros,
    /// Event name.
    pub event: String,
    /// The resource it is about; must carry `prefect.resource.id`.
    pub resource: Map<String, Value>,
    /// Related resources.
    #[serde(default)]
    pub related: Vec<Map<String, Value>>,
    /// Payload.
    #[serde(default)]
    pub payload: Option<Box<RawValue>>,
    /// The event this one follows.
    pub follows: Option<Uuid>,
}

impl EventIn {
    /// Validates and converts to the domain event received at `now`.
    pub fn into_event(self, now: Micros) -> Result<Event, String> {
        match self.resource.get("prefect.resource.id") {
            Some(Value::String(id)) if !id.is_empty() => {}
            _ => {
                return Err(format!(
                    "event {}: resource must have a non-empty \"prefect.resource.id\"",
                    self.id
                ));
            }
        }
        if self.event.is_empty() {
            return Err(format!(
                "event {}: \"event\" (the name) must not be empty",
                self.id
            ));
        }
        Ok(Event {
            id: self.id,
            occurred: self.occurred,
            event: self.event,
            resource: self.resource,
            related: self.related,
            payload: match self.payload {
                Some(raw) if raw.get() != "null" => Payload::from_json_text(raw.get().to_owned()),
                _ => Payload::from_json_text("{}".to_owned()),
            },
            follows: self.follows,
            received: now,
        })
    }
}

/// The payload's JSON text as a raw value (stored payloads are valid JSON; anything else
/// renders as `{}`).
fn raw(payload: &Payload) -> &RawValue {
    serde_json::from_str(payload.as_str())
        .unwrap_or_else(|_| serde_json::from_str("{}").expect("`{}` is JSON"))
}

/// An event as a reader sees it.
#[derive(Serialize, Debug)]
pub struct EventOut<'a> {
    id: Uuid,
    occurred: Micros,
    event: &'a str,
    resource: &'a Map<String, Value>,
    related: &'a [Map<String, Value>],
    payload: &'a RawValue,
    follows: Option<Uuid>,
    received: Micros,
}

impl<'a> From<&'a Event> for EventOut<'a> {
    fn from(e: &'a Event) -> Self {
        EventOut {
            id: e.id,
            occurred: e.occurred,
            event: &e.event,
            resource: &e.resource,
            related: &e.related,
            payload: raw(&e.payload),
            follows: e.follows,
            received: e.received,
        }
    }
}
