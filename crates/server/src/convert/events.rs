//! Events between the wire and the core.

use flowgate_core::{Event, Micros, Payload};
use flowgate_wire::events::Event as EventWire;
use serde_json::Value;
use serde_json::value::RawValue;

/// Checks an emitted event and converts it to the domain event received at `now`.
pub fn event_in(e: EventWire, now: Micros) -> Result<Event, String> {
    match e.resource.get("prefect.resource.id") {
        Some(Value::String(id)) if !id.is_empty() => {}
        _ => {
            return Err(format!(
                "event {}: resource must have a non-empty \"prefect.resource.id\"",
                e.id
            ));
        }
    }
    if e.event.is_empty() {
        return Err(format!(
            "event {}: \"event\" (the name) must not be empty",
            e.id
        ));
    }
    let resource_id = e
        .resource
        .get("prefect.resource.id")
        .and_then(Value::as_str);
    super::plain_texts([
        ("event", Some(e.event.as_str())),
        ("resource.\"prefect.resource.id\"", resource_id),
    ])
    .map_err(|why| format!("event {}: {why}", e.id))?;
    Ok(Event {
        id: e.id,
        occurred: e.occurred,
        event: e.event,
        resource: e.resource,
        related: e.related,
        payload: match e.payload {
            Some(raw) if raw.get() != "null" => Payload::from_json_text(raw.get().to_owned()),
            _ => Payload::from_json_text("{}".to_owned()),
        },
        follows: e.follows,
        received: now,
    })
}

/// A stored event as readers get it (a payload that is not JSON renders as `{}`).
pub fn event_out(e: &Event) -> EventWire {
    let payload = RawValue::from_string(e.payload.as_str().to_owned())
        .ok()
        .or_else(|| RawValue::from_string("{}".to_owned()).ok());
    EventWire {
        id: e.id,
        occurred: e.occurred,
        event: e.event.clone(),
        resource: e.resource.clone(),
        related: e.related.clone(),
        payload,
        follows: e.follows,
        received: Some(e.received),
    }
}
