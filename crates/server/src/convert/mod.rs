//! The server's edge between the wire format (`flowgate_wire`: Prefect 3's JSON, API 0.8.4) and
//! the domain (`flowgate_core`, `flowgate_store`): requests are read into wire types and
//! converted here to domain values; domain values are rendered here into wire types. One module
//! per capability; `filters.rs` reads every filter body.

pub mod concurrency_limits;
pub mod events;
pub mod filters;
pub mod flow_runs;
pub mod flows;
pub mod inputs;
pub mod logs;
pub mod states;
pub mod task_queue;
pub mod task_runs;

use serde_json::{Map, Value};

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
