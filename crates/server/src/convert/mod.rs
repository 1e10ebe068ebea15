//! The server's edge between the wire format (`flowgate_wire`: Prefect 3's JSON, API 0.8.4) and
//! the domain (`flowgate_core`, `flowgate_store`): requests are read into wire types and
//! converted here to domain values; domain values are rendered here into wire types. One module
//! per capability; `filters.rs` reads every filter body.

pub mod artifacts;
pub mod automations;
pub mod blocks;
pub mod concurrency_limits;
pub mod deployments;
pub mod events;
pub mod filters;
pub mod flow_runs;
pub mod flows;
pub mod inputs;
pub mod logs;
pub mod states;
pub mod task_queue;
pub mod task_runs;
pub mod variables;
pub mod work_pools;

use serde_json::{Map, Value};

/// Refuses text a database column cannot hold: a NUL character (`\u0000`), which
/// PostgreSQL's text type has no room for. `field` names where it was found.
pub fn plain_text(field: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        Err(format!(
            "{field} contains a NUL character (\\u0000), which cannot be stored; remove it"
        ))
    } else {
        Ok(())
    }
}

/// [`plain_text`] for each of `fields` that is present.
pub fn plain_texts<'a>(
    fields: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<(), String> {
    fields
        .into_iter()
        .try_for_each(|(field, value)| value.map_or(Ok(()), |v| plain_text(field, v)))
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
