//! Prefect 3's JSON wire format (API 0.8.4), kept apart from the domain: requests are read into
//! these types and converted to domain values, domain values are rendered through them. Field
//! names and defaults follow what the `prefect==3.9.1` client sends and reads.

pub mod events;
pub mod filters;
pub mod flow_runs;
pub mod flows;
pub mod logs;
pub mod state;
pub mod task_runs;

use serde_json::{Map, Value};

/// Fails when `extra` (the fields a request type did not name) holds a non-null value, so an
/// unsupported filter or option is an error rather than silently ignored.
pub fn reject_unknown(context: &str, extra: &Map<String, Value>) -> Result<(), String> {
    let unknown: Vec<&str> = extra
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.as_str())
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{context}: unsupported field(s) {}; remove them or see the API docs for supported fields",
            unknown.join(", ")
        ))
    }
}

/// `defaults` (a JSON object) with each field of `stored` put over it: what the client reads
/// when the server keeps only what was given.
pub fn overlay(mut defaults: Value, stored: &Map<String, Value>) -> Value {
    if let Value::Object(out) = &mut defaults {
        out.extend(stored.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    defaults
}

/// `v` if it is an object, else an empty object.
pub fn object_or_empty(v: Value) -> Value {
    if v.is_object() {
        v
    } else {
        Value::Object(Map::new())
    }
}
